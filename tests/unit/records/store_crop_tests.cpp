// What each face's crop was cut with when it was labeled, kept beside its record on both engines:
// written with the labels, left by a review, read by every way of listing faces, and unknown for
// faces of a store written before it was kept.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "plugin/records/store.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
namespace bdata = boost::unit_test::data;

namespace {

const CropSettings kLabeledWith{0.4, 96, 70};

using test::open_store;

// An item with two faces: the first cut with `crop`, the second with nothing kept.
ItemOutcome item(const std::string& id, std::optional<CropSettings> crop) {
    ItemOutcome o;
    o.item.id = id;
    o.item.image = id + ".jpg";
    o.item.status = ItemStatus::done;
    for (int i = 0; i < 2; ++i) {
        FaceRow f;
        f.id = id + "_face" + std::to_string(i + 1);
        f.item_id = id;
        f.face_index = i;
        f.model_version = "v1";
        f.record_json = R"({"id":")" + f.id + R"("})";
        f.trace_json = "{}";
        if (i == 0) f.crop = crop;
        o.faces.push_back(f);
    }
    return o;
}

std::optional<CropSettings> crop_of(Store& store, const std::string& face_id) {
    auto face = store.face(face_id);
    BOOST_TEST_REQUIRE(face.ok());
    BOOST_TEST_REQUIRE(face->has_value(), face_id);
    return (*face)->crop;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_store_crop)

BOOST_DATA_TEST_CASE(crop_settings_are_kept_with_the_labels_and_outlive_a_review, bdata::make(test::kStoreEngines),
                     engine) {
    test::StoreTarget where(engine);
    auto store = open_store(where);
    BOOST_TEST_REQUIRE(store->save_outcomes({item("a", kLabeledWith)}).ok());

    BOOST_TEST((crop_of(*store, "a_face1") == kLabeledWith));
    BOOST_TEST(!crop_of(*store, "a_face2").has_value());
    auto listed = store->faces_of_item("a");
    BOOST_TEST_REQUIRE(listed.ok());
    BOOST_TEST_REQUIRE(listed->size() == 2u);
    BOOST_TEST(((*listed)[0].crop == kLabeledWith));
    std::vector<std::optional<CropSettings>> visited;
    BOOST_TEST_REQUIRE(store
                           ->for_each_face([&](const FaceRow& row) {
                               visited.push_back(row.crop);
                               return true;
                           })
                           .ok());
    BOOST_TEST_REQUIRE(visited.size() == 2u);
    BOOST_TEST((visited[0] == kLabeledWith));
    BOOST_TEST(!visited[1].has_value());

    // A review replaces the record, not what the face was cut with; its link reads it too.
    FeidRecord reviewed;
    reviewed.id = "a_face1";
    reviewed.status = "accepted";
    ReviewWrites writes;
    writes.reviews.push_back({"a_face1", "accepted", reviewed, ReviewSource{"label_studio", "1", 5}});
    BOOST_TEST_REQUIRE(store->save_review_writes(writes).ok());
    BOOST_TEST((crop_of(*store, "a_face1") == kLabeledWith));
    auto linked = store->faces_reviewed_by("label_studio", "1", {5});
    BOOST_TEST_REQUIRE(linked.ok());
    BOOST_TEST_REQUIRE(linked->size() == 1u);
    BOOST_TEST(((*linked)[0].face.crop == kLabeledWith));
    BOOST_TEST((*linked)[0].from.annotation_id == 5);

    // Labeled again with other options (a face no human reviewed): the new ones are kept.
    const CropSettings again{0.1, 200, 95};
    BOOST_TEST_REQUIRE(store->save_outcomes({item("b", kLabeledWith)}).ok());
    BOOST_TEST_REQUIRE(store->save_outcomes({item("b", again)}).ok());
    BOOST_TEST((crop_of(*store, "b_face1") == again));
}

BOOST_DATA_TEST_CASE(a_store_of_the_step_before_keeps_its_faces_with_no_crop_settings, bdata::make(test::kStoreEngines),
                     engine) {
    test::StoreTarget where(engine);
    {
        auto store = open_store(where);
        BOOST_TEST_REQUIRE(store->save_outcomes({item("old", kLabeledWith)}).ok());
    }
    // What a store written by the seke before step 4 looks like.
    for (const char* column : {"crop_margin", "crop_side", "crop_quality"})
        where.exec(std::string("ALTER TABLE faces DROP COLUMN ") + column);
    where.exec("DROP TABLE model_batches");  // step 5's
    where.exec("UPDATE meta SET value='3' WHERE key='schema_version'");
    auto store = open_store(where);
    BOOST_TEST(where.number("SELECT count(*) FROM meta WHERE key='schema_version' AND value='5'") == 1);
    BOOST_TEST(!crop_of(*store, "old_face1").has_value());  // labeled before: unknown, not the defaults
    BOOST_TEST_REQUIRE(store->save_outcomes({item("new", kLabeledWith)}).ok());
    BOOST_TEST((crop_of(*store, "new_face1") == kLabeledWith));
}

BOOST_AUTO_TEST_SUITE_END()
