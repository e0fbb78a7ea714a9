#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "plugin/label_studio/predictions.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using namespace seke::label_studio;
using nlohmann::json;
namespace tt = boost::test_tools;

namespace {

LabelingConfig shipped(const std::string& file) {
    auto parsed =
        parse_label_config(test::read_file(test::source_path("config/label_studio/" + file)), test::test_knowledge());
    BOOST_REQUIRE(parsed.ok());
    return std::move(parsed).value();
}

LabelingConfig parse_ok(const std::string& xml) {
    auto parsed = parse_label_config(xml, test::test_knowledge());
    BOOST_REQUIRE(parsed.ok());
    return std::move(parsed).value();
}

FacePrediction happy_face() {
    FacePrediction face;
    face.box = Box{320, 142, 225, 226};
    face.labels.expression = "happy";
    face.labels.valence = 0.62;
    face.labels.arousal = 0.35;
    face.labels.action_units = std::vector<std::string>{"AU6", "AU12", "AU25"};
    face.descriptions = {"Duchenne smile", "pleasant, mildly activated", "AU6 and AU12 with lips parted"};
    face.uncertainty = {0.29, 0.1, 0.2, 0.05, 0.42};
    return face;
}

const json* find(const json& result, const std::string& from_name, const std::string& id = "") {
    for (const auto& item : result)
        if (item["from_name"] == from_name && (id.empty() || item.value("id", "") == id)) return &item;
    return nullptr;
}

void check_geometry_in_range(const json& value) {
    for (const char* key : {"x", "y", "width", "height"}) {
        BOOST_REQUIRE(value.contains(key));
        const double v = value[key].get<double>();
        BOOST_TEST(v >= 0.0);
        BOOST_TEST(v <= 100.0);
    }
    BOOST_TEST(value["x"].get<double>() + value["width"].get<double>() <= 100.0 + 1e-9);
    BOOST_TEST(value["y"].get<double>() + value["height"].get<double>() <= 100.0 + 1e-9);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(label_studio_predictions)

BOOST_AUTO_TEST_CASE(per_region_output_follows_the_protocol_example) {
    auto config = shipped("faces.xml");
    auto prediction = build_prediction(config, {1024, 768}, {happy_face()}, "seke-0.1");
    BOOST_TEST(prediction["model_version"] == "seke-0.1");
    BOOST_TEST(prediction["score"].get<double>() == 0.58, boost::test_tools::tolerance(1e-9));
    const json& result = prediction["result"];
    BOOST_REQUIRE(result.is_array());
    BOOST_REQUIRE_EQUAL(result.size(), 6u);

    const json& rect = result[0];
    BOOST_TEST(rect["from_name"] == "face");
    BOOST_TEST(rect["type"] == "rectanglelabels");
    BOOST_TEST(rect["value"]["rectanglelabels"] == json::array({"Face"}));
    BOOST_TEST(rect["score"].get<double>() == 0.58, boost::test_tools::tolerance(1e-9));
    const std::string id = rect["id"].get<std::string>();
    BOOST_TEST(id.size() == 10u);
    BOOST_TEST(rect["value"]["x"].get<double>() == 31.25, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(rect["value"]["y"].get<double>() == 142.0 / 768 * 100, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(rect["value"]["width"].get<double>() == 225.0 / 1024 * 100, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(rect["value"]["rotation"] == 0);

    const std::map<std::string, std::string> types{{"face", "rectanglelabels"}, {"expression", "choices"},
                                                   {"valence", "number"},       {"arousal", "number"},
                                                   {"action_units", "choices"}, {"description", "textarea"}};
    for (const auto& item : result) {
        const std::string from = item["from_name"];
        BOOST_TEST(types.at(from) == item["type"].get<std::string>(), from);
        BOOST_TEST(item["id"] == id, from);  // one id links the face's results to its rectangle
        BOOST_TEST(item["to_name"] == "image");
        BOOST_TEST(item["original_width"] == 1024);
        BOOST_TEST(item["original_height"] == 768);
        BOOST_TEST(item["image_rotation"] == 0);
        check_geometry_in_range(item["value"]);
        for (const char* key : {"x", "y", "width", "height", "rotation"})
            BOOST_TEST(item["value"][key] == rect["value"][key], from << " " << key);
    }
    BOOST_TEST((*find(result, "expression"))["value"]["choices"] == json::array({"Happy"}));
    BOOST_TEST((*find(result, "expression"))["score"].get<double>() == 0.71, boost::test_tools::tolerance(1e-9));
    BOOST_TEST((*find(result, "valence"))["value"]["number"].get<double>() == 0.62);
    BOOST_TEST((*find(result, "arousal"))["value"]["number"].get<double>() == 0.35);
    BOOST_TEST((*find(result, "action_units"))["value"]["choices"] == json::array({"AU6", "AU12", "AU25"}));
    BOOST_TEST((*find(result, "action_units"))["score"].get<double>() == 0.8, boost::test_tools::tolerance(1e-9));
    const std::string text = (*find(result, "description"))["value"]["text"][0];
    BOOST_TEST(text.find("Duchenne smile") != std::string::npos);
    BOOST_TEST(text.find("AU6 and AU12") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(several_faces_get_distinct_ids_and_a_drawn_region_keeps_its_id) {
    auto config = shipped("faces.xml");
    auto first = happy_face();
    first.region_id = "userBox01";
    auto second = happy_face();
    second.box = Box{10, 10, 50, 60};
    second.uncertainty.overall = 0.2;
    auto third = happy_face();
    third.region_id = "userBox01";  // a duplicate id must not merge two faces
    auto prediction = build_prediction(config, {1024, 768}, {first, second, third}, "v");
    std::set<std::string> rect_ids;
    for (const auto& item : prediction["result"])
        if (item["type"] == "rectanglelabels") rect_ids.insert(item["id"].get<std::string>());
    BOOST_TEST(rect_ids.size() == 3u);
    BOOST_TEST(rect_ids.count("userBox01") == 1u);
    BOOST_TEST(prediction["result"].size() == 18u);
    BOOST_TEST(prediction["score"].get<double>() == (0.58 + 0.8 + 0.58) / 3, boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(whole_image_output_uses_the_most_confident_face_without_geometry) {
    auto config = shipped("faces-whole-image.xml");
    auto unsure = happy_face();
    auto sure = happy_face();
    sure.labels.expression = "sad";
    sure.uncertainty.overall = 0.1;
    std::vector<std::string> notes;
    auto prediction = build_prediction(config, {640, 480}, {unsure, sure}, "v", &notes);
    const json& result = prediction["result"];
    BOOST_REQUIRE_EQUAL(result.size(), 5u);
    for (const auto& item : result) {
        BOOST_TEST(!item.contains("id"));
        BOOST_TEST(!item.contains("original_width"));
        BOOST_TEST(!item["value"].contains("x"));
        BOOST_TEST(item["to_name"] == "image");
    }
    BOOST_TEST((*find(result, "expression"))["value"]["choices"] == json::array({"Sad"}));
    BOOST_TEST(prediction["score"].get<double>() == 0.9, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(notes.size() == 1u);
}

BOOST_AUTO_TEST_CASE(labels_not_in_the_config_are_omitted) {
    auto config = parse_ok(R"(<View><Image name="img" value="$photo"/>
      <Choices name="emotion" toName="img">
        <Choice value="Neutral"/><Choice value="Happiness"/><Choice value="Sadness"/><Choice value="Surprise"/>
        <Choice value="Fear"/><Choice value="Disgust"/><Choice value="Anger"/>
      </Choices>
      <Choices name="aus" toName="img" choice="multiple"><Choice value="AU6"/><Choice value="AU12"/></Choices>
    </View>)");
    auto face = happy_face();
    face.labels.expression = "contempt";
    face.labels.action_units = std::vector<std::string>{"AU6", "AU25", "AU45"};
    std::vector<std::string> notes;
    auto prediction = build_prediction(config, {100, 100}, {face}, "v", &notes);
    const json& result = prediction["result"];
    BOOST_REQUIRE_EQUAL(result.size(), 1u);  // no expression, no valence/arousal/description controls
    BOOST_TEST(result[0]["from_name"] == "aus");
    BOOST_TEST(result[0]["value"]["choices"] == json::array({"AU6"}));
    BOOST_TEST(notes.size() == 3u);

    face.labels.expression = "happy";
    prediction = build_prediction(config, {100, 100}, {face}, "v");
    BOOST_TEST((*find(prediction["result"], "emotion"))["value"]["choices"] == json::array({"Happiness"}));
}

BOOST_AUTO_TEST_CASE(numbers_are_written_on_the_tags_own_range) {
    auto config = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Number name="valence" toName="image" min="-1"/>
      <Number name="arousal" toName="image" min="0" max="1"/></View>)");
    auto face = happy_face();
    face.labels.valence = -1.4;  // out of range: clamped
    face.labels.arousal = -0.4;
    auto result = build_prediction(config, {10, 10}, {face}, "v")["result"];
    BOOST_TEST((*find(result, "valence"))["value"]["number"].get<double>() == -1.0);
    // [-1, 1] onto 0..1: -0.4 is 0.3.
    BOOST_TEST((*find(result, "arousal"))["value"]["number"].get<double>() == 0.3, tt::tolerance(1e-12));
    auto back = parse_annotation_result(result, config);
    BOOST_REQUIRE_EQUAL(back.size(), 1u);
    BOOST_TEST(back[0].labels.arousal.value_or(9) == -0.4, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(ratings_and_choice_scales_round_trip_through_the_levels) {
    auto config = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Rating name="val" toName="image" maxRating="9"/>
      <Choices name="aro" toName="image"><Choice value="Low"/><Choice value="Medium"/><Choice value="High"/></Choices>
    </View>)");
    auto face = happy_face();  // valence 0.62, arousal 0.35
    auto result = build_prediction(config, {10, 10}, {face}, "v")["result"];
    const json* valence = find(result, "val");
    BOOST_REQUIRE(valence);
    BOOST_TEST((*valence)["type"] == "rating");
    BOOST_TEST((*valence)["value"]["rating"] == 7);  // 1 + 1.62 / 2 * 8 = 7.48
    BOOST_TEST((*valence)["score"].get<double>() == 0.9, tt::tolerance(1e-9));
    const json* arousal = find(result, "aro");
    BOOST_REQUIRE(arousal);
    BOOST_TEST((*arousal)["value"]["choices"] == json::array({"Medium"}));  // 1.35 is nearer 1 than 2

    // What an annotator picks reads back as a level.
    auto edited = json::parse(R"([
      {"from_name":"val","to_name":"image","type":"rating","value":{"rating":3}},
      {"from_name":"aro","to_name":"image","type":"choices","value":{"choices":["High"]}}])");
    auto faces = parse_annotation_result(edited, config);
    BOOST_REQUIRE_EQUAL(faces.size(), 1u);
    BOOST_TEST(faces[0].labels.valence.value_or(9) == -0.5);
    BOOST_TEST(faces[0].labels.arousal.value_or(9) == 1.0);
    BOOST_TEST(faces[0].problems.empty());
    auto wrong = json::parse(R"([
      {"from_name":"val","to_name":"image","type":"rating","value":{"rating":12}},
      {"from_name":"aro","to_name":"image","type":"choices","value":{"choices":["Extreme"]}}])");
    faces = parse_annotation_result(wrong, config);
    BOOST_REQUIRE_EQUAL(faces.size(), 1u);
    BOOST_TEST(!faces[0].labels.valence);
    BOOST_TEST(!faces[0].labels.arousal);
    BOOST_TEST(faces[0].problems.size() == 2u);
}

BOOST_AUTO_TEST_CASE(taxonomies_carry_paths_both_ways) {
    auto config = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Taxonomy name="emotion" toName="image">
        <Choice value="Positive"><Choice value="Happy"/></Choice>
        <Choice value="Negative"><Choice value="Sad"/><Choice value="Angry"/></Choice>
      </Taxonomy>
      <Taxonomy name="aus" toName="image">
        <Choice value="Upper"><Choice value="AU6"/></Choice><Choice value="Lower"><Choice value="AU12"/><Choice value="AU25"/></Choice>
      </Taxonomy></View>)");
    auto result = build_prediction(config, {10, 10}, {happy_face()}, "v")["result"];
    const json* expression = find(result, "emotion");
    BOOST_REQUIRE(expression);
    BOOST_TEST((*expression)["type"] == "taxonomy");
    BOOST_TEST((*expression)["value"]["taxonomy"] == json::parse(R"([["Positive","Happy"]])"));
    const json* aus = find(result, "aus");
    BOOST_REQUIRE(aus);
    BOOST_TEST((*aus)["value"]["taxonomy"] == json::parse(R"([["Upper","AU6"],["Lower","AU12"],["Lower","AU25"]])"));
    auto faces = parse_annotation_result(result, config);
    BOOST_REQUIRE_EQUAL(faces.size(), 1u);
    BOOST_TEST(faces[0].labels.expression.value_or("") == "happy");
    BOOST_TEST((faces[0].labels.action_units.value_or(std::vector<std::string>{}) ==
                std::vector<std::string>{"AU6", "AU12", "AU25"}));
}

BOOST_AUTO_TEST_CASE(boxes_labeled_by_expression_carry_each_faces_own) {
    auto config = parse_ok(R"(<View><Image name="image" value="$image"/>
      <RectangleLabels name="emotion" toName="image">
        <Label value="Happy"/><Label value="Sad"/><Label value="Angry"/><Label value="Surprise"/>
      </RectangleLabels>
      <Number name="valence" toName="image" perRegion="true"/></View>)");
    auto happy = happy_face();
    auto sad = happy_face();
    sad.box = Box{10, 10, 50, 50};
    sad.labels.expression = "sad";
    sad.labels.valence = -0.6;
    auto contempt = happy_face();
    contempt.box = Box{200, 10, 50, 50};
    contempt.labels.expression = "contempt";  // not a label of the config
    std::vector<std::string> notes;
    auto result = build_prediction(config, {1000, 800}, {happy, sad, contempt}, "v", &notes)["result"];
    std::vector<std::string> labels;
    for (const auto& item : result)
        if (item["type"] == "rectanglelabels") labels.push_back(item["value"]["rectanglelabels"].dump());
    BOOST_TEST((labels == std::vector<std::string>{R"(["Happy"])", R"(["Sad"])", "[]"}), tt::per_element());
    BOOST_TEST(notes.size() == 1u);
    auto faces = parse_annotation_result(result, config);
    BOOST_REQUIRE_EQUAL(faces.size(), 3u);
    BOOST_TEST(faces[1].labels.expression.value_or("") == "sad");
    BOOST_TEST(faces[1].labels.valence.value_or(0) == -0.6);
    BOOST_REQUIRE(faces[1].box);
    BOOST_TEST(faces[1].box->w == 50);
    BOOST_TEST(!faces[2].labels.expression);
}

BOOST_AUTO_TEST_CASE(every_result_carries_a_score) {
    auto result = build_prediction(shipped("faces.xml"), {1000, 800}, {happy_face()}, "v")["result"];
    BOOST_REQUIRE(!result.empty());
    for (const auto& item : result) {
        BOOST_TEST(item.contains("score"), item.dump());
        BOOST_TEST(item["score"].get<double>() >= 0.0);
        BOOST_TEST(item["score"].get<double>() <= 1.0);
    }
}

BOOST_AUTO_TEST_CASE(scores_are_json_safe_with_nan_input) {
    auto config = shipped("faces.xml");
    auto face = happy_face();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    face.uncertainty = {nan, nan, std::numeric_limits<double>::infinity(), nan, nan};
    face.labels.valence = nan;
    face.box = Box{-50, -20, 5000, 90};  // outside the image: clamped to it
    auto prediction = build_prediction(config, {1024, 768}, {face}, "v");
    BOOST_TEST(prediction["score"].is_number());
    BOOST_TEST(prediction["score"].get<double>() == 0.0);
    const std::string text = prediction.dump();
    BOOST_TEST(text.find("null") == std::string::npos);
    BOOST_TEST(text.find("nan") == std::string::npos);
    BOOST_TEST(!find(prediction["result"], "valence"));
    for (const auto& item : prediction["result"]) {
        check_geometry_in_range(item["value"]);
        if (item.contains("score")) {
            BOOST_TEST(item["score"].get<double>() >= 0.0);
            BOOST_TEST(item["score"].get<double>() <= 1.0);
        }
    }
    // Uncertainty above 1 is clamped too.
    face.uncertainty.overall = 3.0;
    BOOST_TEST(build_prediction(config, {1024, 768}, {face}, "v")["score"].get<double>() == 0.0);
}

BOOST_AUTO_TEST_CASE(face_without_box_covers_the_image_and_nothing_when_not_applicable) {
    auto config = shipped("faces.xml");
    auto face = happy_face();
    face.box.reset();
    auto result = build_prediction(config, {800, 600}, {face}, "v")["result"];
    BOOST_TEST(result[0]["value"]["x"] == 0.0);
    BOOST_TEST(result[0]["value"]["width"] == 100.0);

    auto unrelated = parse_ok("<View></View>");
    auto empty = build_prediction(unrelated, {800, 600}, {face}, "v");
    BOOST_TEST(empty["result"].empty());
    BOOST_TEST(empty["score"] == 0.0);
    BOOST_TEST(build_prediction(config, {800, 600}, {}, "v")["result"].empty());
}

BOOST_AUTO_TEST_CASE(separate_description_areas_get_their_own_level) {
    auto config = parse_ok(R"(<View><Image name="image" value="$image"/>
      <TextArea name="expression_description" toName="image"/>
      <TextArea name="description" toName="image"/></View>)");
    auto result = build_prediction(config, {10, 10}, {happy_face()}, "v")["result"];
    BOOST_TEST((*find(result, "expression_description"))["value"]["text"][0] == "Duchenne smile");
    const std::string rest = (*find(result, "description"))["value"]["text"][0];
    BOOST_TEST(rest.find("Duchenne") == std::string::npos);
    BOOST_TEST(rest.find("pleasant") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(plain_rectangle_and_mixed_per_region_controls) {
    // A Rectangle without labels carries the faces; the expression is per face, valence whole-image.
    auto config = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Rectangle name="box" toName="image"/>
      <Choices name="expression" toName="image" perRegion="true"><Choice value="Happy"/></Choices>
      <Number name="valence" toName="image"/></View>)");
    BOOST_REQUIRE(config.face);
    BOOST_TEST(!config.face->label);
    auto second = happy_face();
    second.labels.valence = -0.3;
    second.uncertainty.overall = 0.01;
    auto result = build_prediction(config, {100, 100}, {happy_face(), second}, "v")["result"];
    BOOST_REQUIRE_EQUAL(result.size(), 5u);  // 2 × (rectangle + expression) + one valence
    BOOST_TEST(result[0]["type"] == "rectangle");
    BOOST_TEST(!result[0]["value"].contains("rectangle"));
    BOOST_TEST(result[0]["value"].contains("x"));
    const json* valence = find(result, "valence");
    BOOST_REQUIRE(valence);
    BOOST_TEST(!valence->contains("id"));
    BOOST_TEST((*valence)["value"]["number"].get<double>() == -0.3);  // from the most confident face
}

BOOST_AUTO_TEST_CASE(region_ids_are_ten_characters_and_vary) {
    std::set<std::string> ids;
    for (int i = 0; i < 100; ++i) {
        auto id = new_region_id();
        BOOST_TEST(id.size() == 10u);
        ids.insert(id);
    }
    BOOST_TEST(ids.size() == 100u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(label_studio_annotations)

BOOST_AUTO_TEST_CASE(round_trip_gives_back_labels_and_box) {
    auto config = shipped("faces.xml");
    auto a = happy_face();
    auto b = happy_face();
    b.box = Box{700, 300, 201, 250};
    b.labels.expression = "surprise";
    b.labels.valence = -0.1;
    b.labels.action_units = std::vector<std::string>{"AU1", "AU2", "AU26"};
    b.descriptions = {"brows up", "", "AU1 AU2 AU26"};
    auto prediction = build_prediction(config, {1023, 767}, {a, b}, "v");
    auto faces = parse_annotation_result(prediction["result"], config);
    BOOST_REQUIRE_EQUAL(faces.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& want = i == 0 ? a : b;
        const auto& got = faces[i];
        BOOST_TEST(got.problems.empty());
        BOOST_REQUIRE(got.region_id);
        BOOST_REQUIRE(got.box);
        BOOST_TEST(std::abs(got.box->x - want.box->x) <= 1);
        BOOST_TEST(std::abs(got.box->y - want.box->y) <= 1);
        BOOST_TEST(std::abs(got.box->w - want.box->w) <= 1);
        BOOST_TEST(std::abs(got.box->h - want.box->h) <= 1);
        BOOST_TEST((got.labels.expression == want.labels.expression));
        BOOST_TEST(*got.labels.valence == *want.labels.valence);
        BOOST_TEST(*got.labels.arousal == *want.labels.arousal);
        BOOST_TEST(*got.labels.action_units == *want.labels.action_units);
        BOOST_TEST(got.descriptions.expression == want.descriptions.expression);
        BOOST_TEST(got.descriptions.va == want.descriptions.va);
        BOOST_TEST(got.descriptions.au == want.descriptions.au);
    }
}

BOOST_AUTO_TEST_CASE(whole_image_round_trip_with_synonym_values) {
    auto config = parse_ok(R"(<View><Image name="img" value="$photo"/>
      <Choices name="emotion" toName="img">
        <Choice value="Neutral"/><Choice value="Happiness"/><Choice value="Sadness"/><Choice value="Anger"/>
      </Choices>
      <Number name="valence" toName="img" min="-1" max="1"/>
    </View>)");
    auto prediction = build_prediction(config, {10, 10}, {happy_face()}, "v");
    auto faces = parse_annotation_result(prediction["result"], config);
    BOOST_REQUIRE_EQUAL(faces.size(), 1u);
    BOOST_TEST(!faces[0].region_id);
    BOOST_TEST(!faces[0].box);
    BOOST_TEST(faces[0].labels.expression.value_or("") == "happy");
    BOOST_TEST(faces[0].labels.valence.value_or(0) == 0.62);
}

BOOST_AUTO_TEST_CASE(annotator_edits_are_read_and_unknown_values_reported) {
    auto config = shipped("faces.xml");
    // As LS stores an annotation: its own ids, per-region results after the rectangle.
    auto result = json::parse(R"([
      {"id":"aB3xYz0Q1w","from_name":"face","to_name":"image","type":"rectanglelabels","origin":"manual",
       "original_width":1000,"original_height":500,"image_rotation":0,
       "value":{"x":10,"y":20,"width":30,"height":40,"rotation":0,"rectanglelabels":["Face"]}},
      {"id":"aB3xYz0Q1w","from_name":"expression","to_name":"image","type":"choices",
       "original_width":1000,"original_height":500,"value":{"x":10,"y":20,"width":30,"height":40,"rotation":0,"choices":["Bored"]}},
      {"id":"aB3xYz0Q1w","from_name":"action_units","to_name":"image","type":"choices",
       "value":{"choices":["AU4","AU45"]}},
      {"id":"aB3xYz0Q1w","from_name":"valence","to_name":"image","type":"number","value":{"number":"high"}},
      {"id":"aB3xYz0Q1w","from_name":"arousal","to_name":"image","type":"number","value":{"number":-0.25}},
      {"id":"zzz","from_name":"other_control","to_name":"image","type":"choices","value":{"choices":["x"]}},
      "garbage", 42
    ])");
    auto faces = parse_annotation_result(result, config);
    BOOST_REQUIRE_EQUAL(faces.size(), 1u);
    const auto& face = faces[0];
    BOOST_TEST(face.region_id.value_or("") == "aB3xYz0Q1w");
    BOOST_REQUIRE(face.box);
    BOOST_TEST(face.box->x == 100);
    BOOST_TEST(face.box->y == 100);
    BOOST_TEST(face.box->w == 300);
    BOOST_TEST(face.box->h == 200);
    BOOST_TEST(!face.labels.expression);  // "Bored" is not guessed
    BOOST_TEST(!face.labels.valence);
    BOOST_TEST(face.labels.arousal.value_or(0) == -0.25);
    BOOST_TEST((face.labels.action_units.value_or(std::vector<std::string>{}) == std::vector<std::string>{"AU4"}));
    BOOST_TEST(face.problems.size() == 3u);  // Bored, AU45, valence not a number

    BOOST_TEST(parse_annotation_result(json::object(), config).empty());
    BOOST_TEST(parse_annotation_result(json(nullptr), config).empty());
}

BOOST_AUTO_TEST_CASE(descriptions_combine_and_split) {
    Descriptions d{"smile", "pleasant\nand calm", "AU6"};
    auto back = split_descriptions(combine_descriptions(d));
    BOOST_TEST(back.expression == d.expression);
    BOOST_TEST(back.va == d.va);
    BOOST_TEST(back.au == d.au);
    auto plain = split_descriptions("an annotator's free text");
    BOOST_TEST(plain.expression == "an annotator's free text");
    BOOST_TEST(plain.va.empty());
    BOOST_TEST(combine_descriptions({}).empty());
}

BOOST_AUTO_TEST_SUITE_END()
