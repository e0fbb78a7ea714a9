#include <sqlite3.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "plugin/records/store.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;

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

BOOST_AUTO_TEST_CASE(outcomes_survive_reopen_and_resume_skips_finished) {
    test::TempDir dir;
    std::string path = (dir / "s.db").string();
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

BOOST_AUTO_TEST_CASE(failed_item_can_be_retried_to_done) {
    test::TempDir dir;
    auto store = Store::open((dir / "s.db").string());
    BOOST_TEST_REQUIRE(store.ok());
    BOOST_TEST((*store)->save_outcomes({outcome("x", ItemStatus::failed, 0)}).ok());
    BOOST_TEST((*store)->save_outcomes({outcome("x", ItemStatus::done, 1)}).ok());
    auto row = (*store)->item("x");
    BOOST_TEST_REQUIRE(row.ok());
    BOOST_TEST_REQUIRE(row->has_value());
    BOOST_TEST(((*row)->status == ItemStatus::done));
}

BOOST_AUTO_TEST_CASE(reviewed_faces_are_never_overwritten_by_a_rerun) {
    test::TempDir dir;
    std::string path = (dir / "s.db").string();
    auto store = Store::open(path);
    BOOST_TEST_REQUIRE(store.ok());
    BOOST_TEST((*store)->save_outcomes({outcome("h", ItemStatus::done, 1)}).ok());
    {
        sqlite3* db = nullptr;
        sqlite3_open(path.c_str(), &db);
        sqlite3_exec(db, "UPDATE faces SET status='corrected', record='{\"human\":true}' WHERE id='h'", nullptr,
                     nullptr, nullptr);
        sqlite3_close(db);
    }
    BOOST_TEST((*store)->save_outcomes({outcome("h", ItemStatus::done, 1)}).ok());
    std::string record;
    (*store)->for_each_face([&](const FaceRow& row) {
        record = row.record_json;
        return true;
    });
    BOOST_TEST(record == "{\"human\":true}");
}

BOOST_AUTO_TEST_CASE(cache_round_trip) {
    test::TempDir dir;
    auto store = Store::open((dir / "s.db").string());
    BOOST_TEST_REQUIRE(store.ok());
    StoreResponseCache cache(**store);
    BOOST_TEST(!cache.get("k").has_value());
    cache.put("k", "v1");
    cache.put("k", "v2");
    BOOST_TEST(cache.get("k").value_or("") == "v2");
}

BOOST_AUTO_TEST_CASE(task_predictions_read_back_what_was_written_last) {
    test::TempDir dir;
    auto store = Store::open((dir / "s.db").string());
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

BOOST_AUTO_TEST_CASE(a_prediction_written_by_another_process_is_seen_within_a_second) {
    test::TempDir dir;
    auto path = (dir / "s.db").string();
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

BOOST_AUTO_TEST_SUITE_END()
