// labeled_image: one image's face results to its store rows, as the servers and the batch driver word them.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "plugin/labeling/image_labeling.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using seke::test::test_knowledge;

namespace {

FaceResult labeled_face(int requests) {
    FaceResult r;
    r.ok = true;
    r.labels.expression = "happy";
    r.labels.valence = 0.6;
    r.labels.arousal = 0.3;
    r.labels.action_units = std::vector<std::string>{"AU6", "AU12"};
    r.cost = {requests, 1, 2 * requests, 0, 100, 20, 0, {}};
    return r;
}

FaceResult failed_face(int requests) {
    FaceResult r;
    r.failure = make_error(errc::upstream_timeout, "no answer in time");
    r.cost = {requests, 0, 0, 1, 50, 0, 0, {}};
    return r;
}

PreparedImage image_with_faces(std::size_t count) {
    PreparedImage image;
    image.width = 640;
    image.height = 480;
    image.content_hash = "c0ffee";
    for (std::size_t i = 0; i < count; ++i) {
        FaceCrop crop;
        crop.box = Box{10 + 100 * static_cast<int>(i), 20, 80, 80};
        crop.jpeg = "crop" + std::to_string(i);
        crop.phash = "0123456789abcdef";
        image.faces.push_back(crop);
    }
    return image;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(labeling_image)

BOOST_AUTO_TEST_CASE(costs_add_field_by_field) {
    Cost total{1, 2, 3, 4, 5, 6, 7, {8, 9, 10}};
    total += Cost{10, 20, 30, 40, 50, 60, 70, {80, 90, 100}};
    BOOST_TEST(total.requests == 11);
    BOOST_TEST(total.cached_requests == 22);
    BOOST_TEST(total.samples == 33);
    BOOST_TEST(total.malformed == 44);
    BOOST_TEST(total.prompt_tokens == 55);
    BOOST_TEST(total.completion_tokens == 66);
    BOOST_TEST(total.cached_prompt_tokens == 77);
    BOOST_TEST(total.reused.prompt == 88);
    BOOST_TEST(total.reused.cached_prompt == 99);
    BOOST_TEST(total.reused.completion == 110);
}

BOOST_AUTO_TEST_CASE(every_face_labeled_makes_a_done_item_with_a_row_per_face) {
    PreparedImage image = image_with_faces(2);
    LabeledImage out =
        labeled_image(test_knowledge(), "img", "images/img.jpg", image, {labeled_face(2), labeled_face(3)}, "v1");
    const ItemRow& item = out.outcome.item;
    BOOST_TEST(item.id == "img");
    BOOST_TEST(item.image == "images/img.jpg");
    BOOST_TEST(item.content_hash == "c0ffee");
    BOOST_TEST(item.width == 640);
    BOOST_TEST(item.height == 480);
    BOOST_TEST((item.status == ItemStatus::done));
    BOOST_TEST(item.error.empty());
    BOOST_TEST(out.errors.empty());
    BOOST_TEST((out.labeled == std::vector<std::size_t>{0, 1}));
    BOOST_TEST_REQUIRE(out.outcome.faces.size() == 2u);
    BOOST_TEST(out.outcome.faces[0].id == "img_face1");
    BOOST_TEST(out.outcome.faces[1].id == "img_face2");
    BOOST_TEST(out.outcome.faces[1].face_index == 1);
    BOOST_TEST(out.outcome.faces[0].model_version == "v1");
    auto record = nlohmann::json::parse(out.outcome.faces[0].record_json);
    BOOST_TEST(record["model_version"] == "v1");
    BOOST_TEST(record["labels"]["expression"] == "happy");
    BOOST_TEST(out.cost.requests == 5);
    BOOST_TEST(out.cost.samples == 10);
    BOOST_TEST(out.cost.prompt_tokens == 200);
}

BOOST_AUTO_TEST_CASE(the_servers_name_a_failed_face_by_its_reason) {
    PreparedImage image = image_with_faces(2);
    LabeledImage out =
        labeled_image(test_knowledge(), "img", "img.jpg", image, {labeled_face(2), failed_face(4)}, "v1");
    BOOST_TEST((out.outcome.item.status == ItemStatus::failed));
    BOOST_TEST(out.errors == "upstream_timeout: no answer in time");
    BOOST_TEST(out.outcome.item.error == out.errors);
    BOOST_TEST(out.outcome.item.known_json.empty());
    BOOST_TEST((out.labeled == std::vector<std::size_t>{0}));
    BOOST_TEST(out.outcome.faces.size() == 1u);
    // The failed face's cost counts too: it was paid for.
    BOOST_TEST(out.cost.requests == 6);
    BOOST_TEST(out.cost.malformed == 1);
}

BOOST_AUTO_TEST_CASE(the_batch_driver_names_the_failed_face_and_keeps_the_known_labels) {
    PreparedImage image = image_with_faces(3);
    ItemOptions options{.known_json = R"({"expression":"sad"})",
                        .name_failed_faces = true,
                        .skip_faceless = true,
                        .source = {},
                        .source_id = {}};
    LabeledImage out = labeled_image(test_knowledge(), "img", "img.jpg", image,
                                     {failed_face(1), labeled_face(1), failed_face(1)}, "v1", {}, options);
    BOOST_TEST((out.outcome.item.status == ItemStatus::failed));
    BOOST_TEST(out.outcome.item.error ==
               "img_face1: upstream_timeout: no answer in time; img_face3: upstream_timeout: no answer in time");
    BOOST_TEST(out.outcome.item.known_json == R"({"expression":"sad"})");
    BOOST_TEST_REQUIRE(out.outcome.faces.size() == 1u);
    BOOST_TEST(out.outcome.faces[0].id == "img_face2");
}

BOOST_AUTO_TEST_CASE(given_face_ids_name_the_rows_and_the_failures) {
    PreparedImage image = image_with_faces(2);
    ItemOptions options;
    options.name_failed_faces = true;
    LabeledImage out = labeled_image(test_knowledge(), "img", "img.jpg", image, {labeled_face(1), failed_face(1)}, "v1",
                                     {"img_region_a", "img_region_b"}, options);
    BOOST_TEST_REQUIRE(out.outcome.faces.size() == 1u);
    BOOST_TEST(out.outcome.faces[0].id == "img_region_a");
    BOOST_TEST(out.errors == "img_region_b: upstream_timeout: no answer in time");
}

BOOST_AUTO_TEST_CASE(an_image_without_faces_fails_for_the_servers_and_is_skipped_by_the_batch_driver) {
    PreparedImage image = image_with_faces(0);
    LabeledImage served = labeled_image(test_knowledge(), "img", "img.jpg", image, {}, "v1");
    BOOST_TEST((served.outcome.item.status == ItemStatus::failed));
    BOOST_TEST(served.outcome.item.error == "no face to label");
    BOOST_TEST(served.labeled.empty());

    ItemOptions batch{
        .known_json = "{}", .name_failed_faces = true, .skip_faceless = true, .source = {}, .source_id = {}};
    LabeledImage skipped = labeled_image(test_knowledge(), "img", "img.jpg", image, {}, "v1", {}, batch);
    BOOST_TEST((skipped.outcome.item.status == ItemStatus::skipped));
    BOOST_TEST(skipped.outcome.item.error == "no face to label");
    BOOST_TEST(skipped.outcome.faces.empty());
}

BOOST_AUTO_TEST_CASE(a_single_face_is_named_by_its_item) {
    PreparedImage image = image_with_faces(1);
    ItemOptions batch{
        .known_json = "{}", .name_failed_faces = true, .skip_faceless = true, .source = {}, .source_id = {}};
    LabeledImage out = labeled_image(test_knowledge(), "img", "img.jpg", image, {failed_face(1)}, "v1", {}, batch);
    BOOST_TEST((out.outcome.item.status == ItemStatus::failed));
    BOOST_TEST(out.outcome.item.error == "img: upstream_timeout: no answer in time");
}

BOOST_AUTO_TEST_SUITE_END()
