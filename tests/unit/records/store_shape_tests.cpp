// The store's record of the shapes seke created in CVAT, and the faces a human added.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "plugin/records/store.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
namespace bdata = boost::unit_test::data;

namespace {

CvatShapeRow row(long long task, long long frame, long long shape, const std::string& url = "http://cvat") {
    return {url,
            task,
            7,
            frame,
            shape,
            "cvat/1/" + std::to_string(frame),
            "cvat/1/" + std::to_string(frame),
            R"({"points":[1,2,3,4]})",
            ""};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cvat_store)

BOOST_DATA_TEST_CASE(shapes_are_recorded_once_and_found_by_frame_range, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    const std::string& path = where.target();
    {
        auto store = Store::open(path);
        BOOST_REQUIRE(store);
        BOOST_TEST((*store)->save_cvat_shapes({row(1, 0, 100), row(1, 0, 101), row(1, 5, 102), row(2, 0, 103)}).ok());
        // The same shape id again (a retried write) is ignored; another CVAT may reuse an id.
        CvatShapeRow again = row(1, 9, 100);
        BOOST_TEST((*store)->save_cvat_shapes({again, row(1, 3, 100, "http://other")}).ok());
    }
    auto store = Store::open(path);  // survives a reopen
    BOOST_REQUIRE(store);
    auto frames = (*store)->cvat_annotated_frames("http://cvat", 1);
    BOOST_TEST_REQUIRE(frames.ok());
    BOOST_TEST(*frames == (std::vector<long long>{0, 5}));
    auto first = (*store)->cvat_shapes("http://cvat", 1, 0, 4);
    BOOST_TEST_REQUIRE(first.ok());
    BOOST_TEST_REQUIRE(first->size() == 2u);
    BOOST_TEST((*first)[0].shape_id == 100);
    BOOST_TEST((*first)[0].frame == 0);
    BOOST_TEST((*first)[0].job_id == 7);
    BOOST_TEST((*first)[0].shape_json == R"({"points":[1,2,3,4]})");
    BOOST_TEST(!(*first)[0].created_at.empty());
    BOOST_TEST((*store)->cvat_shapes("http://cvat", 1, 0, 100)->size() == 3u);
    BOOST_TEST((*store)->cvat_shapes("http://other", 1, 0, 100)->size() == 1u);
    BOOST_TEST((*store)->cvat_shapes("http://cvat", 3, 0, 100)->empty());
}

BOOST_DATA_TEST_CASE(job_syncs_keep_the_latest, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto store = Store::open(where.target());
    BOOST_REQUIRE(store);
    BOOST_TEST(!(*store)->cvat_job_sync("http://cvat", 4)->has_value());
    BOOST_TEST((*store)->save_cvat_job_sync({"http://cvat", 4, 1, 3, R"({"accepted":1})", ""}).ok());
    BOOST_TEST((*store)->save_cvat_job_sync({"http://cvat", 4, 1, 5, R"({"accepted":2})", ""}).ok());
    auto sync = (*store)->cvat_job_sync("http://cvat", 4);
    BOOST_TEST_REQUIRE(sync->has_value());
    BOOST_TEST((*sync)->annotations_version == 5);
    BOOST_TEST((*sync)->summary_json == R"({"accepted":2})");
}

BOOST_DATA_TEST_CASE(a_human_face_joins_an_item_without_touching_it, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto store = Store::open(where.target());
    BOOST_REQUIRE(store);
    ItemOutcome seke;
    seke.item = {"cvat/1/0", "frame.jpg", "{}", ItemStatus::done, "", "abc", 10, 10};
    FaceRow face;
    face.id = "cvat/1/0";
    face.item_id = "cvat/1/0";
    face.model_version = "v1";
    face.record_json = R"({"id":"cvat/1/0"})";
    seke.faces.push_back(face);
    BOOST_REQUIRE((*store)->save_outcomes({seke}));

    ItemRow other{"cvat/1/0", "ignored", "{}", ItemStatus::done, "", "", 0, 0};
    FaceRow human;
    human.id = "cvat/1/0_cvat77";
    human.item_id = "cvat/1/0";
    human.face_index = 77;
    human.status = "added";
    human.model_version = "human";
    human.record_json = R"({"id":"cvat/1/0_cvat77","v":1})";
    BOOST_TEST((*store)->save_human_face(other, human).ok());
    human.record_json = R"({"id":"cvat/1/0_cvat77","v":2})";
    BOOST_TEST((*store)->save_human_face(other, human).ok());  // replaced, whatever its status

    auto item = (*store)->item("cvat/1/0");
    BOOST_TEST((*item)->content_hash == "abc");  // the item kept
    auto faces = (*store)->faces_of_item("cvat/1/0");
    BOOST_TEST_REQUIRE(faces->size() == 2u);
    BOOST_TEST((*(*store)->face("cvat/1/0_cvat77"))->record_json == R"({"id":"cvat/1/0_cvat77","v":2})");
    BOOST_TEST(!(*store)->face("nope")->has_value());

    // A frame seke never labeled gets an item of its own.
    ItemRow fresh{"cvat/1/9", "frame9", "{}", ItemStatus::done, "", "", 0, 0};
    human.id = "cvat/1/9_cvat78";
    human.item_id = "cvat/1/9";
    BOOST_TEST((*store)->save_human_face(fresh, human).ok());
    BOOST_TEST((*(*store)->item("cvat/1/9"))->image == "frame9");
}

BOOST_AUTO_TEST_SUITE_END()
