#include <boost/test/unit_test.hpp>
#include <cmath>
#include <set>

#include "plugin/records/crops.hpp"
#include "plugin/records/feid.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;

namespace {

FaceResult sample_result() {
    FaceResult r;
    r.ok = true;
    r.labels.expression = "happy";
    r.labels.valence = 0.62;
    r.labels.arousal = 0.31;
    r.labels.action_units = std::vector<std::string>{"AU6", "AU12"};
    r.descriptions = {"Cheeks raised and lip corners pulled up.", "Pleasant and mildly activated.",
                      "AU6 and AU12 are active."};
    r.provenance.expression = Provenance::human;
    r.uncertainty = {0.1, 0.2, 0.3, 0.05, 0.15};
    r.cost.requests = 2;
    r.cost.samples = 5;
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_feid)

BOOST_AUTO_TEST_CASE(record_has_every_field_of_the_contract) {
    FaceResult r = sample_result();
    FeidInput input{"img1_face2", "images/img1.jpg", Box{10, 20, 30, 40}, false, &r, "v1", "auto", {}, {}, {}, {}, {}};
    auto record = feid_record(test::test_knowledge(), input).to_json();
    for (const char* key : {"id", "image", "face", "labels", "descriptions", "provenance", "uncertainty", "status",
                            "model_version", "cost", "conversations"})
        BOOST_TEST(record.contains(key), key);
    BOOST_TEST(record["face"]["w"] == 30);
    BOOST_TEST(record["labels"]["expression"] == "happy");
    BOOST_TEST(record["provenance"]["expression"] == "human");
    BOOST_TEST(record["provenance"]["va"] == "model");
    BOOST_TEST(record["uncertainty"]["overall"] == 0.15);
    const auto& turns = record["conversations"];
    BOOST_TEST_REQUIRE(turns.size() == 6u);
    BOOST_TEST(turns[0]["value"].get<std::string>().rfind("<image>\n", 0) == 0);
    BOOST_TEST(turns[1]["value"].get<std::string>().find("happy") != std::string::npos);
    BOOST_TEST(turns[3]["value"].get<std::string>().find("0.62") != std::string::npos);
    BOOST_TEST(turns[5]["value"].get<std::string>().find("AU12 (Lip corner puller)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(whole_image_face_is_null_and_non_finite_numbers_become_null) {
    FaceResult r = sample_result();
    r.uncertainty.overall = NAN;
    FeidInput input{"x", "x.jpg", std::nullopt, true, &r, "v1", "auto", {}, {}, {}, {}, {}};
    auto record = feid_record(test::test_knowledge(), input).to_json();
    BOOST_TEST(record["face"].is_null());
    BOOST_TEST(record["uncertainty"]["overall"].is_null());
    BOOST_TEST(record["flags"][0] == "no_face_detected");
    BOOST_TEST(record.dump().find("NaN") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(trace_carries_the_face_experts_block_when_there_is_one) {
    Trace trace;
    BOOST_TEST(!trace_json(trace).contains("expert"));
    ExpertTrace expert;
    expert.used = true;
    expert.expression = "sad";
    expert.probability = 0.9;
    expert.disagreement_expression = 0.8;
    expert.disagreement_va = NAN;
    expert.triggered_verification = true;
    trace.expert = expert;
    auto json = trace_json(trace);
    BOOST_TEST(json["expert"]["used"] == true);
    BOOST_TEST(json["expert"]["expression"] == "sad");
    BOOST_TEST(json["expert"]["probability"] == 0.9);
    BOOST_TEST(json["expert"]["disagreement"]["expression"] == 0.8);
    BOOST_TEST(json["expert"]["disagreement"]["va"].is_null());
    BOOST_TEST(json["expert"]["triggered_verification"] == true);
    BOOST_TEST(!json["expert"].contains("abstain_reason"));

    ExpertTrace abstained;
    abstained.abstain_reason = "face score 0.08 below 0.50: not a face";
    trace.expert = abstained;
    json = trace_json(trace);
    BOOST_TEST(json["expert"]["used"] == false);
    BOOST_TEST(json["expert"]["abstain_reason"] == "face score 0.08 below 0.50: not a face");
    BOOST_TEST(!json["expert"].contains("expression"));
}

BOOST_AUTO_TEST_CASE(question_phrasing_varies_across_records) {
    FaceResult r = sample_result();
    std::set<std::string> questions;
    for (int i = 0; i < 40; ++i) {
        FeidInput input{"id" + std::to_string(i), "x.jpg", std::nullopt, false, &r, "v1", "auto", {}, {}, {}, {}, {}};
        questions.insert(feid_record(test::test_knowledge(), input).conversations[0].value);
    }
    BOOST_TEST(questions.size() >= 3u);
}

BOOST_AUTO_TEST_CASE(export_views) {
    FaceResult r = sample_result();
    FeidInput input{"x", "x.jpg", std::nullopt, false, &r, "v1", "auto", {}, {}, {}, {}, {}};
    FeidRecord record = feid_record(test::test_knowledge(), input);
    auto llava = export_entry(record, ExportFormat::llava);
    BOOST_TEST(llava["image"] == "x.jpg");
    BOOST_TEST(llava["conversations"][0]["from"] == "human");
    auto sharegpt = export_entry(record, ExportFormat::sharegpt);
    BOOST_TEST(sharegpt["messages"][0]["role"] == "user");
    BOOST_TEST(sharegpt["messages"][1]["role"] == "assistant");
    BOOST_TEST(sharegpt["images"][0] == "x.jpg");
    BOOST_TEST(sharegpt["messages"][0]["content"].get<std::string>().find("<image>") != std::string::npos);
    BOOST_TEST(!parse_export_format("csv").has_value());
}

BOOST_AUTO_TEST_CASE(crop_file_names_are_safe_and_distinct) {
    BOOST_TEST(crop_file_name("img1_face2") == "img1_face2.jpg");
    const std::string nested = crop_file_name("photos/img1_face2");
    BOOST_TEST(nested.rfind("photos_img1_face2-", 0) == 0);
    BOOST_TEST(nested.size() == std::string("photos_img1_face2-").size() + 12 + 4);
    BOOST_TEST(nested.find('/') == std::string::npos);
    BOOST_TEST(nested != crop_file_name("photos_img1_face2"));
    BOOST_TEST(nested != crop_file_name("photos:img1_face2"));
    BOOST_TEST(crop_file_name("../up").find('/') == std::string::npos);
    BOOST_TEST(crop_file_name("").front() != '.');
}

BOOST_AUTO_TEST_CASE(a_crop_replaces_the_image_in_the_training_views_and_joins_the_feid_record) {
    FaceResult r = sample_result();
    FeidInput input{"img1_face2", "images/img1.jpg", Box{10, 20, 30, 40}, false, &r, "v1", "auto", {}, {}, {}, {}, {}};
    FeidRecord record = feid_record(test::test_knowledge(), input);
    const std::string crop = "crops/img1_face2.jpg";
    auto llava = export_entry(record, ExportFormat::llava, crop);
    BOOST_TEST(llava["image"] == crop);
    BOOST_TEST(export_entry(record, ExportFormat::sharegpt, crop)["images"] == nlohmann::ordered_json({crop}));
    auto feid = export_entry(record, ExportFormat::feid_jsonl, crop);
    BOOST_TEST(feid["image"] == "images/img1.jpg");
    BOOST_TEST(feid["crop"] == crop);
    auto without_crop = feid;
    without_crop.erase("crop");
    BOOST_TEST(without_crop.dump() == export_entry(record, ExportFormat::feid_jsonl).dump());
    BOOST_TEST(export_entry(record, ExportFormat::llava, "").dump() ==
               export_entry(record, ExportFormat::llava).dump());
}

BOOST_AUTO_TEST_SUITE_END()
