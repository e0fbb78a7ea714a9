// Which annotation each face's current review came from, on both engines: kept with the review,
// moved by a later one, and taken away when the review is undone, once, whoever asks.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "plugin/records/store.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
namespace bdata = boost::unit_test::data;

namespace {

using test::open_store;

// One task's two faces, as /predict stored them.
void seed(Store& store) {
    ItemOutcome o;
    o.item.id = "ls/9/41";
    o.item.image = "a.jpg";
    o.item.status = ItemStatus::done;
    for (int i = 0; i < 2; ++i) {
        FaceRow f;
        f.id = "ls/9/41_face" + std::to_string(i + 1);
        f.item_id = o.item.id;
        f.face_index = i;
        f.model_version = "v1";
        f.record_json = R"({"id":")" + f.id + R"("})";
        f.trace_json = "{}";
        o.faces.push_back(f);
    }
    BOOST_TEST_REQUIRE(store.save_outcomes({o}).ok());
}

FeidRecord record(const std::string& id, const std::string& status) {
    FeidRecord r;
    r.id = id;
    r.status = status;
    return r;
}

ReviewSource annotation(long long id) {
    return ReviewSource{"label_studio", "9", id};
}

ReviewWrites reviews_by(long long annotation_id, const std::string& status) {
    ReviewWrites writes;
    for (const char* face : {"ls/9/41_face1", "ls/9/41_face2"})
        writes.reviews.push_back({face, status, record(face, status), annotation(annotation_id)});
    return writes;
}

ReviewWrites reopen_of(Store& store, long long annotation_id) {
    auto linked = store.faces_reviewed_by("label_studio", "9", {annotation_id});
    BOOST_TEST_REQUIRE(linked.ok());
    ReviewWrites writes;
    for (const auto& face : *linked) writes.reopens.push_back({face.face.id, record(face.face.id, "auto"), face.from});
    return writes;
}

std::string status_of(Store& store, const std::string& face) {
    return store.face(face).value().value().status;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_store_review_links)

BOOST_DATA_TEST_CASE(a_deleted_annotation_reopens_the_faces_it_reviewed_once, bdata::make(test::kStoreEngines),
                     engine) {
    test::StoreTarget where(engine);
    auto store = open_store(where);
    seed(*store);
    BOOST_TEST_REQUIRE(store->save_review_writes(reviews_by(70, "corrected")).ok());
    auto linked = store->faces_reviewed_by("label_studio", "9", {70, 71});
    BOOST_TEST_REQUIRE(linked.ok());
    BOOST_TEST_REQUIRE(linked->size() == 2u);
    BOOST_TEST((*linked)[0].face.id == "ls/9/41_face1");
    BOOST_TEST((*linked)[0].from.annotation_id == 70);
    BOOST_TEST((*linked)[0].face.status == "corrected");
    BOOST_TEST(store->faces_reviewed_by("label_studio", "8", {70}).value().empty());  // another project
    BOOST_TEST(store->queue_candidates("ls/9/").value().empty());

    ReviewWrites reopen = reopen_of(*store, 70);
    auto first = store->save_review_writes(reopen);
    BOOST_TEST_REQUIRE(first.ok());
    BOOST_TEST(first->first);
    BOOST_TEST(first->reopened == 2);
    BOOST_TEST(status_of(*store, "ls/9/41_face1") == "auto");
    BOOST_TEST(store->queue_candidates("ls/9/").value().size() == 2u);
    BOOST_TEST(store->faces_reviewed_by("label_studio", "9", {70}).value().empty());
    // The same reopen again (another delivery, another replica that read the links first) writes nothing.
    auto again = store->save_review_writes(reopen);
    BOOST_TEST_REQUIRE(again.ok());
    BOOST_TEST(again->reopened == 0);
}

BOOST_DATA_TEST_CASE(a_later_annotations_review_stays_when_an_earlier_one_goes, bdata::make(test::kStoreEngines),
                     engine) {
    test::StoreTarget where(engine);
    auto store = open_store(where);
    seed(*store);
    BOOST_TEST_REQUIRE(store->save_review_writes(reviews_by(70, "corrected")).ok());
    ReviewWrites stale = reopen_of(*store, 70);  // read before the later review
    // Annotation 72 reviews face 1 again; a CVAT-like review without an annotation takes face 2.
    ReviewWrites later;
    later.reviews.push_back({"ls/9/41_face1", "accepted", record("ls/9/41_face1", "accepted"), annotation(72)});
    later.reviews.push_back({"ls/9/41_face2", "rejected", record("ls/9/41_face2", "rejected"), std::nullopt});
    BOOST_TEST_REQUIRE(store->save_review_writes(later).ok());
    BOOST_TEST(store->faces_reviewed_by("label_studio", "9", {70}).value().empty());
    BOOST_TEST(store->faces_reviewed_by("label_studio", "9", {72}).value().size() == 1u);

    auto reopened = store->save_review_writes(stale);
    BOOST_TEST_REQUIRE(reopened.ok());
    BOOST_TEST(reopened->reopened == 0);
    BOOST_TEST(status_of(*store, "ls/9/41_face1") == "accepted");
    BOOST_TEST(status_of(*store, "ls/9/41_face2") == "rejected");
}

BOOST_DATA_TEST_CASE(two_processes_reopening_one_event_reopen_once, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto one = open_store(where);
    auto two = open_store(where);
    seed(*one);
    BOOST_TEST_REQUIRE(one->save_review_writes(reviews_by(70, "accepted")).ok());
    const std::string body = R"({"action":"ANNOTATIONS_DELETED","annotations":[{"id":70}],"project":{"id":9}})";
    auto event_one = one->save_review_event("label_studio", "ANNOTATIONS_DELETED", body);
    auto event_two = two->save_review_event("label_studio", "ANNOTATIONS_DELETED", body);
    BOOST_TEST_REQUIRE((event_one.ok() && event_two.ok()));
    BOOST_TEST(event_one->id == event_two->id);  // one event, whichever process it reached
    ReviewWrites seen_by_one = reopen_of(*one, 70);
    ReviewWrites seen_by_two = reopen_of(*two, 70);
    auto by_one = one->save_review_writes(seen_by_one, event_one->id);
    auto by_two = two->save_review_writes(seen_by_two, event_two->id);
    BOOST_TEST_REQUIRE((by_one.ok() && by_two.ok()));
    BOOST_TEST(by_one->first);
    BOOST_TEST(by_one->reopened == 2);
    BOOST_TEST(!by_two->first);
    BOOST_TEST(by_two->reopened == 0);
    // Delivered again: found merged.
    BOOST_TEST(two->save_review_event("label_studio", "ANNOTATIONS_DELETED", body)->merged);
}

BOOST_DATA_TEST_CASE(a_store_of_the_step_before_gets_the_links_and_tags, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    {
        auto store = open_store(where);
        seed(*store);
    }
    // What a store written by the seke before these tables looks like.
    where.exec("DROP TABLE review_links");
    where.exec("DROP TABLE cvat_tags");
    for (const char* column : {"crop_margin", "crop_side", "crop_quality"})  // step 4's
        where.exec(std::string("ALTER TABLE faces DROP COLUMN ") + column);
    where.exec("DROP TABLE model_batches");  // step 5's
    where.exec("UPDATE meta SET value='2' WHERE key='schema_version'");
    auto store = open_store(where);
    BOOST_TEST(where.number("SELECT count(*) FROM meta WHERE key='schema_version' AND value='5'") == 1);
    BOOST_TEST(store->faces_of_item("ls/9/41").value().size() == 2u);  // what it held is still there
    BOOST_TEST_REQUIRE(store->save_review_writes(reviews_by(70, "accepted")).ok());
    BOOST_TEST(store->faces_reviewed_by("label_studio", "9", {70}).value().size() == 2u);

    // Frame tags seke wrote to CVAT, kept by id like its shapes, apart from them (ids may repeat).
    BOOST_TEST_REQUIRE(store
                           ->save_cvat_tags({{"http://cvat", 4, 10, 2, 1000, "cvat/4/2", R"({"attributes":[]})", ""},
                                             {"http://cvat", 4, 10, 0, 1001, "", "", ""},
                                             {"http://cvat", 4, 10, 2, 1000, "again", "", ""}})
                           .ok());
    auto tags = store->cvat_tags("http://cvat", 4, 1, 5);
    BOOST_TEST_REQUIRE(tags.ok());
    BOOST_TEST_REQUIRE(tags->size() == 1u);
    BOOST_TEST((*tags)[0].tag_id == 1000);
    BOOST_TEST((*tags)[0].face_id == "cvat/4/2");  // the first record of a tag id stays
    BOOST_TEST((*tags)[0].tag_json == R"({"attributes":[]})");
    BOOST_TEST(store->cvat_tags("http://cvat", 4, 0, 0).value()[0].tag_json == "{}");
}

BOOST_DATA_TEST_CASE(faces_humans_drew_are_listed_by_item_prefix, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto store = open_store(where);
    seed(*store);
    ItemRow item{"cvat/4/2", "frame", "{}", ItemStatus::done, "", "", 0, 0};
    FaceRow drawn;
    drawn.id = "cvat/4/2_cvat77";
    drawn.item_id = "cvat/4/2";
    drawn.status = "added";
    drawn.model_version = "human";
    drawn.record_json = R"({"id":"cvat/4/2_cvat77"})";
    BOOST_TEST_REQUIRE(store->save_human_face(item, drawn).ok());
    item.id = drawn.item_id = "cvat/40/2";
    drawn.id = "cvat/40/2_cvat78";
    BOOST_TEST_REQUIRE(store->save_human_face(item, drawn).ok());
    auto listed = store->human_faces("cvat/4/");
    BOOST_TEST_REQUIRE(listed.ok());
    BOOST_TEST_REQUIRE(listed->size() == 1u);
    BOOST_TEST((*listed)[0].id == "cvat/4/2_cvat77");
    BOOST_TEST(store->human_faces("ls/").value().empty());  // seke's faces are not a human's
}

BOOST_AUTO_TEST_SUITE_END()
