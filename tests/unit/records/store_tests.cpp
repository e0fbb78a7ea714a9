// Every case runs on both engines: a SQLite file and a database on the test PostgreSQL server.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "plugin/records/store.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
namespace bdata = boost::unit_test::data;

namespace {

ItemOutcome outcome(const std::string& id, ItemStatus status, int faces) {
    ItemOutcome o;
    o.item.id = id;
    o.item.image = id + ".jpg";
    o.item.status = status;
    for (int i = 0; i < faces; ++i) {
        FaceRow f;
        f.id = faces == 1 ? id : id + "_face" + std::to_string(i + 1);
        f.item_id = id;
        f.face_index = i;
        f.model_version = "v1";
        f.overall = 0.25;
        f.record_json = R"({"id":")" + f.id + R"("})";
        f.trace_json = "{}";
        o.faces.push_back(f);
    }
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_store)

BOOST_DATA_TEST_CASE(outcomes_survive_reopen_and_resume_skips_finished, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    const std::string& path = where.target();
    {
        auto store = Store::open(path);
        BOOST_TEST_REQUIRE(store.ok());
        BOOST_TEST((*store)
                       ->save_outcomes({outcome("a", ItemStatus::done, 1), outcome("b", ItemStatus::failed, 0),
                                        outcome("c", ItemStatus::skipped, 0), outcome("d", ItemStatus::done, 2)})
                       .ok());
    }
    auto store = Store::open(path);
    BOOST_TEST_REQUIRE(store.ok());
    auto finished = (*store)->finished_item_ids();
    BOOST_TEST_REQUIRE(finished.ok());
    std::set<std::string> ids(finished->begin(), finished->end());
    BOOST_TEST((ids == std::set<std::string>{"a", "c", "d"}));
    auto counts = (*store)->counts();
    BOOST_TEST_REQUIRE(counts.ok());
    BOOST_TEST(counts->faces == 3);
    BOOST_TEST(counts->failed == 1);
    std::vector<std::string> faces;
    (*store)->for_each_face([&](const FaceRow& row) {
        faces.push_back(row.id);
        return true;
    });
    BOOST_TEST((faces == std::vector<std::string>{"a", "d_face1", "d_face2"}));
}

BOOST_DATA_TEST_CASE(failed_item_can_be_retried_to_done, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto store = Store::open(where.target());
    BOOST_TEST_REQUIRE(store.ok());
    BOOST_TEST((*store)->save_outcomes({outcome("x", ItemStatus::failed, 0)}).ok());
    BOOST_TEST((*store)->save_outcomes({outcome("x", ItemStatus::done, 1)}).ok());
    auto row = (*store)->item("x");
    BOOST_TEST_REQUIRE(row.ok());
    BOOST_TEST_REQUIRE(row->has_value());
    BOOST_TEST(((*row)->status == ItemStatus::done));
}

BOOST_DATA_TEST_CASE(reviewed_faces_are_never_overwritten_by_a_rerun, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    const std::string& path = where.target();
    auto store = Store::open(path);
    BOOST_TEST_REQUIRE(store.ok());
    BOOST_TEST((*store)->save_outcomes({outcome("h", ItemStatus::done, 1)}).ok());
    where.exec("UPDATE faces SET status='corrected', record='{\"human\":true}' WHERE id='h'");
    BOOST_TEST((*store)->save_outcomes({outcome("h", ItemStatus::done, 1)}).ok());
    std::string record;
    (*store)->for_each_face([&](const FaceRow& row) {
        record = row.record_json;
        return true;
    });
    BOOST_TEST(record == "{\"human\":true}");
}

BOOST_DATA_TEST_CASE(cache_round_trip, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto store = Store::open(where.target());
    BOOST_TEST_REQUIRE(store.ok());
    StoreResponseCache cache(**store);
    BOOST_TEST(!cache.get("k").has_value());
    cache.put("k", "v1");
    cache.put("k", "v2");
    BOOST_TEST(cache.get("k").value_or("") == "v2");
}

BOOST_DATA_TEST_CASE(task_predictions_read_back_what_was_written_last, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto store = Store::open(where.target());
    BOOST_TEST_REQUIRE(store.ok());
    auto& s = **store;
    BOOST_TEST(!s.task_prediction("1", 7, "v1")->has_value());
    BOOST_TEST_REQUIRE(s.save_task_prediction({"1", 7, "v1", "done", R"({"a":1})", "", ""}).ok());
    BOOST_TEST(s.task_prediction("1", 7, "v1")->value().prediction_json == R"({"a":1})");
    BOOST_TEST(!s.task_prediction("1", 7, "v1")->value().updated_at.empty());
    BOOST_TEST_REQUIRE(s.save_task_prediction({"1", 7, "v1", "done", R"({"a":2})", "", ""}).ok());
    BOOST_TEST(s.task_prediction("1", 7, "v1")->value().prediction_json == R"({"a":2})");
    BOOST_TEST_REQUIRE(s.save_task_prediction({"1", 7, "v1", "failed", "", "timeout", ""}).ok());
    auto failed = s.task_prediction("1", 7, "v1");
    BOOST_TEST(failed->value().status == "failed");
    BOOST_TEST(failed->value().error == "timeout");
    BOOST_TEST(!s.task_prediction("1", 7, "v2")->has_value());
    BOOST_TEST(!s.task_prediction("2", 7, "v1")->has_value());
    BOOST_TEST(s.task_predictions("1", 7, "").value().size() == 1u);
}

BOOST_DATA_TEST_CASE(a_prediction_written_by_another_process_is_seen_within_a_second, bdata::make(test::kStoreEngines),
                     engine) {
    test::StoreTarget where(engine);
    const std::string& path = where.target();
    auto serving = Store::open(path);
    auto other = Store::open(path);  // another process's connection to the same file
    BOOST_TEST_REQUIRE((serving.ok() && other.ok()));
    BOOST_TEST_REQUIRE((*serving)->save_task_prediction({"1", 7, "v1", "done", R"({"a":1})", "", ""}).ok());
    BOOST_TEST((*serving)->task_prediction("1", 7, "v1")->value().prediction_json == R"({"a":1})");
    BOOST_TEST_REQUIRE((*other)->save_task_prediction({"1", 7, "v1", "done", R"({"a":2})", "", ""}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    BOOST_TEST((*serving)->task_prediction("1", 7, "v1")->value().prediction_json == R"({"a":2})");
}

BOOST_AUTO_TEST_CASE(unusable_path_is_a_clear_error) {
    test::TempDir dir;
    auto store = Store::open((dir / "missing-dir" / "s.db").string());
    BOOST_TEST_REQUIRE(!store.ok());
    BOOST_TEST((store.error().code == errc::io_error));
    BOOST_TEST(store.error().message.find("missing-dir") != std::string::npos);
    test::write_file(dir / "junk.db", std::string(4096, 'x'));
    auto junk = Store::open((dir / "junk.db").string());
    BOOST_TEST(!junk.ok());
}

BOOST_DATA_TEST_CASE(documents_stats_queue_events_and_thumbnails_answer_alike, bdata::make(test::kStoreEngines),
                     engine) {
    test::StoreTarget where(engine);
    auto store = Store::open(where.target());
    BOOST_TEST_REQUIRE(store.ok(), (store.ok() ? "" : store.error().message));
    auto& s = **store;

    // Documents: replaced on save, the newest of a kind when no key is given.
    BOOST_TEST_REQUIRE(s.save_document("fit", "a", R"({"v":1})").ok());
    BOOST_TEST_REQUIRE(s.save_document("fit", "b", R"({"v":2})").ok());
    BOOST_TEST(s.document("fit")->value().key == "b");  // made last, in the same second as a
    BOOST_TEST_REQUIRE(s.save_document("fit", "a", R"({"v":3})").ok());
    BOOST_TEST(s.document("fit", "a")->value().body == R"({"v":3})");
    BOOST_TEST(!s.document("report")->has_value());

    // Faces with records the summaries read numbers and strings from.
    ItemOutcome o = outcome("img", ItemStatus::done, 2);
    o.item.content_hash = "hash1";
    o.faces[0].overall = 0.05;
    o.faces[0].record_json = R"({"id":"img_face1","cost":{"requests":3,"samples":5,"prompt_tokens":100},)"
                             R"("uncertainty":{"expression":0.5,"va":0.25,"au":0.125,"consistency":0.1},)"
                             R"("provenance":{"expression":"human","va":"model","au":"model"},"phash":"abcd"})";
    o.faces[1].overall = 0.99;
    o.faces[1].record_json = R"({"id":"img_face2","cost":{"requests":2,"cached_requests":1}})";
    const std::string jpeg("\xff\xd8\x00\x01binary\x00\xff\xd9", 12);  // NULs and high bytes survive
    o.faces[0].thumbnail_jpeg = jpeg;
    BOOST_TEST_REQUIRE(s.save_outcomes({o}).ok());
    BOOST_TEST(s.thumbnail("img_face1").value() == jpeg);
    BOOST_TEST(s.thumbnail("img_face2").value().empty());

    auto stats = s.face_stats(10);
    BOOST_TEST_REQUIRE(stats.ok());
    BOOST_TEST(stats->requests == 5);
    BOOST_TEST(stats->cached_requests == 1);
    BOOST_TEST(stats->samples == 5);
    BOOST_TEST(stats->prompt_tokens == 100);
    BOOST_TEST(stats->by_status["auto"] == 2);
    BOOST_TEST(stats->overall_histogram[0] == 1);  // 0.05 in the first of ten bins
    BOOST_TEST(stats->overall_histogram[9] == 1);  // 0.99 in the last

    auto queue = s.queue_candidates("im");
    BOOST_TEST_REQUIRE(queue.ok());
    BOOST_TEST_REQUIRE(queue->size() == 2u);
    auto first = (*queue)[0].id == "img_face1" ? (*queue)[0] : (*queue)[1];
    BOOST_TEST(first.uncertainty.expression == 0.5);
    BOOST_TEST(first.uncertainty.au == 0.125);
    BOOST_TEST(first.uncertainty.consistency == 0.1);
    BOOST_TEST((first.provenance.expression == Provenance::human));
    BOOST_TEST(first.phash == "abcd");
    BOOST_TEST(s.queue_candidates("other").value().empty());

    // The same bytes under another id find what was paid for.
    BOOST_TEST(s.done_item_with_content("hash1", "v1").value().value().id == "img");
    BOOST_TEST(!s.done_item_with_content("hash1", "v2").value().has_value());

    // Reviews, all of one event at once; a human's face beside the model's.
    FeidRecord reviewed;
    reviewed.id = "img_face1";
    BOOST_TEST_REQUIRE(s.save_reviews({{"img_face1", "corrected", reviewed, std::nullopt},
                                       {"img_face2", "accepted", reviewed, std::nullopt}})
                           .ok());
    BOOST_TEST(s.face("img_face1").value().value().status == "corrected");
    BOOST_TEST(s.queue_candidates("").value().empty());
    FaceRow human;
    human.id = "drawn";
    human.item_id = "drawn_item";
    human.status = "added";
    human.record_json = "{}";
    ItemRow item;
    item.id = "drawn_item";
    item.image = "x.jpg";
    item.status = ItemStatus::done;
    BOOST_TEST_REQUIRE(s.save_human_face(item, human).ok());
    BOOST_TEST_REQUIRE(s.save_human_face(item, human).ok());  // again: no conflict
    BOOST_TEST(s.faces_of_item("drawn_item").value().size() == 1u);

    // Events get increasing ids; projects round-trip.
    auto e1 = s.save_event("label_studio", "ANNOTATION_CREATED", "{}");
    auto e2 = s.save_event("label_studio", "ANNOTATION_UPDATED", "{}");
    BOOST_TEST_REQUIRE((e1.ok() && e2.ok()));
    BOOST_TEST(*e2 > *e1);
    BOOST_TEST_REQUIRE(s.save_project({"7", "<View/>", R"({"x":1})"}).ok());
    BOOST_TEST(s.project("7").value().value().extra_params_json == R"({"x":1})");
    BOOST_TEST(s.items_with_status(ItemStatus::done).value().size() == 2u);
}

BOOST_AUTO_TEST_CASE(an_unreachable_database_is_a_clear_error_without_the_password) {
    // Nothing listens on port 1; the password must not be in what is said.
    auto start = std::chrono::steady_clock::now();
    auto store = Store::open("postgresql://seke:hunter2secret@127.0.0.1:1/seke", 600);
    BOOST_TEST_REQUIRE(!store.ok());
    BOOST_TEST(store.error().message.find("hunter2secret") == std::string::npos);
    BOOST_TEST(store.error().message.find("127.0.0.1:1/seke") != std::string::npos, store.error().message);
    // It tried again for the wait it was given, and no longer than a few seconds past it.
    auto waited = std::chrono::steady_clock::now() - start;
    BOOST_TEST(waited >= std::chrono::milliseconds(200));
    BOOST_TEST(waited < std::chrono::seconds(5));
}

BOOST_AUTO_TEST_SUITE_END()
