// The CVAT function spec and detector answers, checked against CVAT's own acceptance rules.
#include <boost/test/unit_test.hpp>

#include "plugin/cvat/spec.hpp"
#include "tests/support/cvat_rules.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using namespace seke::cvat;
using nlohmann::json;

namespace {

FunctionSpec spec_for(CvatSettings settings = {}) {
    auto spec = make_function_spec(settings, test::test_knowledge());
    BOOST_REQUIRE_MESSAGE(spec, (spec ? "" : spec.error().message));
    return *spec;
}

LabeledFace happy_face() {
    LabeledFace face;
    face.box = Box{10, 20, 100, 120};
    face.labels.expression = "happy";
    face.labels.valence = 0.72;
    face.labels.arousal = -0.31;
    face.labels.action_units = std::vector<std::string>{"AU6", "AU12"};
    face.confidence = 0.934;
    return face;
}

std::string attribute(const json& element, const std::string& name) {
    for (const auto& a : element["attributes"])
        if (a["name"] == name) return a["value"].get<std::string>();
    return "<absent>";
}

// Task labels as the project would be created from `seke cvat spec --labels`, with ids.
json task_labels_from(const FunctionSpec& spec) {
    json labels = project_labels_json(spec);
    long long id = 40, spec_id = 200;
    for (auto& label : labels) {
        label["id"] = id++;
        for (auto& a : label["attributes"]) a["id"] = spec_id++;
    }
    return labels;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cvat_spec)

BOOST_AUTO_TEST_CASE(va_encoding_is_digits_only_and_round_trips) {
    BOOST_TEST(encode_va(-1.0, 100) == "0");
    BOOST_TEST(encode_va(0.0, 100) == "100");
    BOOST_TEST(encode_va(1.0, 100) == "200");
    BOOST_TEST(encode_va(-0.3, 100) == "70");
    BOOST_TEST(encode_va(-0.004, 100) == "100");  // rounds, never "-0"
    BOOST_TEST(encode_va(7.5, 100) == "200");     // clamped
    BOOST_TEST(encode_va(std::nan(""), 100) == "100");
    BOOST_TEST(*decode_va("70", 100) == -0.3, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(*decode_va("172", 100) == 0.72, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(!decode_va("-30", 100));
    BOOST_TEST(!decode_va("0.5", 100));
    BOOST_TEST(!decode_va("201", 100));
    BOOST_TEST(!decode_va("", 100));
    for (int n = 0; n <= 20; ++n) BOOST_TEST(encode_va(*decode_va(std::to_string(n), 10), 10) == std::to_string(n));
}

BOOST_AUTO_TEST_CASE(function_object_passes_cvat_listing_rules) {
    FunctionSpec spec = spec_for();
    json f = function_object(spec, "seke-test/1", 9090);
    auto problems = test::cvat_function_problems(f);
    BOOST_TEST(problems.empty(), (problems.empty() ? "" : problems.front()));
    BOOST_TEST(f["metadata"]["name"] == "seke-face-emotion");
    BOOST_TEST(f["metadata"]["annotations"]["name"] == "seke face emotion");
    BOOST_TEST(f["status"]["httpPort"] == 9090);
    json labels = json::parse(f["metadata"]["annotations"]["spec"].get<std::string>());
    BOOST_REQUIRE(labels.size() == 1u);
    BOOST_TEST(labels[0]["name"] == "face");
    BOOST_TEST(labels[0]["type"] == "rectangle");
    // expression select, valence/arousal numbers 0..200, one checkbox per AU of the knowledge file, confidence.
    const auto& k = test::test_knowledge();
    BOOST_TEST(labels[0]["attributes"].size() == 3 + k.action_units.size() + 2);
    for (const auto& a : labels[0]["attributes"]) {
        if (a["input_type"] == "checkbox") BOOST_TEST(a["values"] == json::array({"false"}));
        if (a["input_type"] == "number") BOOST_TEST(a["values"][2] == "1");
    }
}

BOOST_AUTO_TEST_CASE(a_frame_tag_label_is_added_when_configured) {
    CvatSettings s;
    s.frame_tag_label = "frame_emotion";
    FunctionSpec spec = spec_for(s);
    json labels = spec_labels_json(spec);
    BOOST_REQUIRE(labels.size() == 2u);
    BOOST_TEST(labels[1]["type"] == "tag");
    BOOST_TEST(test::cvat_function_problems(function_object(spec, "v", 1)).empty());
    json answer = detector_response(spec, {happy_face()}, 640, 480, 0, "v");
    BOOST_REQUIRE(answer.size() == 2u);
    BOOST_TEST(answer[1]["type"] == "tag");
    BOOST_TEST(attribute(answer[1], "expression") == "happy");
    BOOST_TEST(attribute(answer[1], "faces_visible") == "1");
    json none = detector_response(spec, {}, 640, 480, 0, "v");
    BOOST_REQUIRE(none.size() == 1u);
    BOOST_TEST(attribute(none[0], "expression") == "no_face");
    auto filtered = test::cvat_filter_detector_answer(answer, task_labels_from(spec), labels);
    BOOST_TEST(filtered.dropped.empty(), (filtered.dropped.empty() ? "" : filtered.dropped.front()));
}

BOOST_AUTO_TEST_CASE(every_attribute_survives_cvats_filters) {
    FunctionSpec spec = spec_for();
    json answer = detector_response(spec, {happy_face()}, 640, 480, 0.5, "seke-test/1");
    BOOST_REQUIRE(answer.size() == 1u);
    const json& face = answer[0];
    BOOST_TEST(face["label"] == "face");
    BOOST_TEST(face["type"] == "rectangle");
    BOOST_TEST(face["points"] == json::array({10.0, 20.0, 110.0, 140.0}));
    BOOST_TEST(attribute(face, "expression") == "happy");
    BOOST_TEST(attribute(face, "valence") == "172");
    BOOST_TEST(attribute(face, "arousal") == "69");
    BOOST_TEST(attribute(face, "AU12") == "true");
    BOOST_TEST(attribute(face, "AU4") == "false");
    BOOST_TEST(attribute(face, "pl_confidence") == "93");
    BOOST_TEST(attribute(face, "pl_model") == "seke-test/1");
    auto filtered = test::cvat_filter_detector_answer(answer, task_labels_from(spec), spec_labels_json(spec));
    BOOST_TEST(filtered.dropped.empty(), (filtered.dropped.empty() ? "" : filtered.dropped.front()));
    BOOST_TEST(filtered.kept[0]["attributes"].size() == face["attributes"].size());
}

BOOST_AUTO_TEST_CASE(the_checker_does_catch_what_cvat_drops) {
    // Guards the guard: the same rules must flag a signed number, a non-boolean and a foreign value.
    FunctionSpec spec = spec_for();
    json answer = detector_response(spec, {happy_face()}, 640, 480, 0, "v");
    for (auto& a : answer[0]["attributes"]) {
        if (a["name"] == "valence") a["value"] = "-0.3";
        if (a["name"] == "AU6") a["value"] = "1";
        if (a["name"] == "expression") a["value"] = "Happy";
    }
    json person = json::object();
    person["label"] = "person";
    person["type"] = "rectangle";
    person["points"] = json::array({0, 0, 1, 1});
    answer.push_back(person);
    auto filtered = test::cvat_filter_detector_answer(answer, task_labels_from(spec), spec_labels_json(spec));
    BOOST_TEST(filtered.dropped.size() == 4u);
}

BOOST_AUTO_TEST_CASE(expression_values_follow_the_tasks_spelling) {
    CvatSettings s;
    s.expression_values = "Neutral, Happy ,Sad,Surprise,Fear,Disgust,Anger,Contempt";
    FunctionSpec spec = spec_for(s);
    BOOST_TEST(spec.expression_values.front() == "Neutral");
    json answer = detector_response(spec, {happy_face()}, 640, 480, 0, "v");
    BOOST_TEST(attribute(answer[0], "expression") == "Happy");

    s.expression_values = "neutral,happy,bored";
    auto bad = make_function_spec(s, test::test_knowledge());
    BOOST_REQUIRE(!bad);
    BOOST_TEST(bad.error().message.find("bored") != std::string::npos);
    s.expression_values = "neutral,happy";
    BOOST_TEST(!make_function_spec(s, test::test_knowledge()));  // a class with no value
    CvatSettings named;
    named.function_name = "seke face";
    BOOST_TEST(!make_function_spec(named, test::test_knowledge()));
}

BOOST_AUTO_TEST_CASE(threshold_drops_less_confident_faces_and_whole_images_span_the_frame) {
    FunctionSpec spec = spec_for();
    LabeledFace sure = happy_face();
    LabeledFace unsure = happy_face();
    unsure.confidence = 0.2;
    unsure.box.reset();
    BOOST_TEST(detector_response(spec, {sure, unsure}, 640, 480, 0.5, "v").size() == 1u);
    json both = detector_response(spec, {sure, unsure}, 640, 480, 0, "v");
    BOOST_REQUIRE(both.size() == 2u);
    BOOST_TEST(both[1]["points"] == json::array({0.0, 0.0, 640.0, 480.0}));
    BOOST_TEST(attribute(both[1], "pl_confidence") == "20");
}

BOOST_AUTO_TEST_CASE(labels_read_back_from_attributes) {
    FunctionSpec spec = spec_for();
    auto written = face_attributes(spec, happy_face(), "v");
    auto read = labels_from_attributes(spec, test::test_knowledge(), written);
    BOOST_TEST(read.problems.empty());
    BOOST_TEST(*read.labels.expression == "happy");
    BOOST_TEST(*read.labels.valence == 0.72, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(*read.labels.arousal == -0.31, boost::test_tools::tolerance(1e-9));
    BOOST_TEST((*read.labels.action_units == std::vector<std::string>{"AU6", "AU12"}));

    auto partial = labels_from_attributes(spec, test::test_knowledge(), {{"expression", "bored"}, {"valence", "x"}});
    BOOST_TEST(!partial.labels.expression);
    BOOST_TEST(!partial.labels.valence);
    BOOST_TEST(!partial.labels.action_units);
    BOOST_TEST(partial.problems.size() >= 2u);
}

BOOST_AUTO_TEST_CASE(task_labels_bind_by_name_with_the_tasks_ids_and_spelling) {
    CvatSettings s;
    FunctionSpec spec = spec_for(s);
    json labels = task_labels_from(spec);
    // The task spells expressions its own way and lacks one AU.
    for (auto& a : labels[0]["attributes"])
        if (a["name"] == "expression")
            a["values"] = {"Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Contempt"};
    auto& attrs = labels[0]["attributes"];
    attrs.erase(std::remove_if(attrs.begin(), attrs.end(), [](const json& a) { return a["name"] == "AU26"; }),
                attrs.end());
    auto binding = bind_task_labels(spec, test::test_knowledge(), json{{"count", 1}, {"results", labels}});
    BOOST_REQUIRE_MESSAGE(binding, (binding ? "" : binding.error().message));
    BOOST_TEST(binding->face_label_id == 40);
    BOOST_TEST(binding->expression_value.at("happy") == "Happy");
    BOOST_TEST(binding->problems.size() == 1u);
    json shape = rest_shape(spec, *binding, happy_face(), 17, 640, 480, "v");
    BOOST_TEST(shape["frame"] == 17);
    BOOST_TEST(shape["label_id"] == 40);
    BOOST_TEST(shape["source"] == "auto");
    bool saw_expression = false;
    for (const auto& a : shape["attributes"]) {
        BOOST_TEST(a["value"].is_string());
        if (a["spec_id"] == binding->face_spec_ids.at("expression")) saw_expression = a["value"] == "Happy";
    }
    BOOST_TEST(saw_expression);

    json no_face = json::array({{{"id", 1}, {"name", "person"}, {"type", "rectangle"}, {"attributes", json::array()}}});
    BOOST_TEST(!bind_task_labels(spec, test::test_knowledge(), no_face));
}

BOOST_AUTO_TEST_CASE(function_yaml_carries_the_spec_and_body_limit) {
    FunctionSpec spec = spec_for();
    std::string yaml = function_yaml(spec, "seke-test/1");
    BOOST_TEST(yaml.find("name: \"seke-face-emotion\"") != std::string::npos);
    BOOST_TEST(yaml.find("type: detector") != std::string::npos);
    BOOST_TEST(yaml.find("\"input_type\": \"checkbox\"") != std::string::npos);
    BOOST_TEST(yaml.find("maxRequestBodySize: 67108864") != std::string::npos);
    BOOST_TEST(yaml.find("eventTimeout: 300s") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_stored_record_answers_with_its_labels_now_and_one_minus_its_uncertainty) {
    FeidRecord record;
    record.face = Box{1, 2, 3, 4};
    record.labels.expression = "sad";
    record.review = RecordReview{};
    record.review->model_labels = LabelSet{};
    record.review->model_labels->expression = "happy";
    record.uncertainty.overall = 0.25;
    cvat::LabeledFace face = cvat::labeled_face_from_record(record);
    BOOST_TEST(face.box->w == 3);
    BOOST_TEST(*face.labels.expression == "sad");  // a human's once reviewed
    BOOST_TEST(face.confidence == 0.75);
    record.uncertainty.overall.reset();  // unknown: no confidence at all
    BOOST_TEST(cvat::labeled_face_from_record(record).confidence == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
