// What the built-in face expert said goes into the FEID record with what it could not say (a
// class it never gives, AUs it cannot see), survives a round trip, reaches the training views
// when the expert gave a level, and is drawn in the picture view.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "plugin/records/feid.hpp"
#include "plugin/records/pictures.hpp"
#include "plugin/records/store.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using nlohmann::ordered_json;

namespace {

ExpertOpinion happy_opinion() {
    ExpertOpinion o;
    o.labels.expression = "happy";
    o.labels.valence = 0.55;
    o.labels.arousal = 0.2;
    o.labels.action_units = std::vector<std::string>{"AU12", "AU25"};
    o.expression_probabilities = {{"happy", 0.91}, {"neutral", 0.06}, {"surprise", 0.03}};
    o.classifier_agreement = 0.88;
    o.not_covered = {"contempt"};
    o.action_units = {{"AU12", 0.8, 0.6, true}, {"AU15", 0.1, 0.8, true}, {"AU25", 0.7, 0.4, true}};
    o.au_unknown = {"AU6", "AU9", "AU14"};
    return o;
}

// A face labeled by the expert alone, as the expert provider gives it.
FaceResult expert_result() {
    FaceResult r;
    r.ok = true;
    ExpertOpinion o = happy_opinion();
    r.labels = o.labels;
    r.descriptions = {"Built-in face expert: happy.", "Derived from the expression.", "AU12 and AU25 from geometry."};
    for (Level level : kAllLevels) r.provenance.set(level, Provenance::expert);
    r.uncertainty = {0.1, 0.3, 0.2, 0.05, 0.15};
    r.expert = std::move(o);
    return r;
}

FeidRecord record_of(const FaceResult& r, std::optional<Box> box = Box{4, 6, 40, 40}) {
    FeidInput input{"p1", "photo.jpg", box, false, &r, "seke-x/expert/expert-1", "auto", {}, {}, {}, {}, {}};
    return feid_record(test::test_knowledge(), input);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_expert_record)

BOOST_AUTO_TEST_CASE(the_record_keeps_what_the_expert_said_and_could_not_say) {
    ordered_json json = record_of(expert_result()).to_json();
    BOOST_TEST(json["provenance"]["expression"] == "expert");
    BOOST_TEST(json["provenance"]["au"] == "expert");
    const ordered_json& expert = json["expert"];
    BOOST_TEST(expert["abstained"] == false);
    BOOST_TEST(expert["expression"] == "happy");
    BOOST_TEST(expert["probabilities"]["happy"] == 0.91);
    BOOST_TEST(expert["va"] == "derived");
    BOOST_TEST(expert["not_covered"] == ordered_json({"contempt"}));
    BOOST_TEST(expert["au_unknown"] == ordered_json({"AU6", "AU9", "AU14"}));
    BOOST_TEST(expert["au_judged"] == ordered_json({"AU12", "AU15", "AU25"}));
    BOOST_TEST(expert["action_units"] == ordered_json({"AU12", "AU25"}));
    BOOST_TEST(!json["uncertainty"].contains("expert_disagreement"));  // no vision LLM labeled this face
}

BOOST_AUTO_TEST_CASE(an_expert_record_read_and_written_again_is_the_same_bytes) {
    std::string text = record_of(expert_result()).to_json().dump();
    auto parsed = FeidRecord::parse(text);
    BOOST_TEST_REQUIRE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    BOOST_TEST(parsed->to_json().dump() == text);
    BOOST_TEST_REQUIRE(parsed->expert.has_value());
    BOOST_TEST((parsed->provenance.va == Provenance::expert));
}

BOOST_AUTO_TEST_CASE(an_abstention_is_recorded_with_its_reason_only) {
    FaceResult r = expert_result();
    r.expert = ExpertOpinion{};
    r.expert->abstained = true;
    r.expert->abstain_reason = "face score 0.02 below 0.50: not a face";
    for (Level level : kAllLevels) r.provenance.set(level, Provenance::model);
    ordered_json expert = record_of(r).to_json()["expert"];
    BOOST_TEST(expert == ordered_json({{"abstained", true}, {"reason", "face score 0.02 below 0.50: not a face"}}));
}

BOOST_AUTO_TEST_CASE(wrong_types_in_the_expert_block_are_errors_that_name_the_member) {
    ordered_json json = record_of(expert_result()).to_json();
    for (auto [path, value] :
         std::vector<std::pair<std::string, ordered_json>>{{"probabilities", ordered_json({{"happy", "high"}})},
                                                           {"au_unknown", ordered_json({1, 2})},
                                                           {"abstained", ordered_json("no")},
                                                           {"valence", ordered_json::array()}}) {
        ordered_json broken = json;
        broken["expert"][path] = value;
        auto parsed = FeidRecord::from_json(broken);
        BOOST_TEST_REQUIRE(!parsed.ok(), path);
        BOOST_TEST((parsed.error().code == errc::bad_json));
        BOOST_TEST(parsed.error().message.find("expert." + path) != std::string::npos, parsed.error().message);
    }
    ordered_json not_object = json;
    not_object["expert"] = 3;
    BOOST_TEST(!FeidRecord::from_json(not_object).ok());
}

BOOST_AUTO_TEST_CASE(training_views_carry_the_experts_limits_when_it_gave_a_level) {
    FeidRecord from_expert = record_of(expert_result());
    for (ExportFormat format : {ExportFormat::llava, ExportFormat::sharegpt}) {
        ordered_json entry = export_entry(from_expert, format);
        BOOST_TEST(entry["provenance"]["au"] == "expert");
        BOOST_TEST(entry["not_covered"] == ordered_json({"contempt"}));
        BOOST_TEST(entry["au_unknown"] == ordered_json({"AU6", "AU9", "AU14"}));
    }
    // The vision LLM's labels with the expert as evidence only: the views stay as they were.
    FaceResult vllm = expert_result();
    for (Level level : kAllLevels) vllm.provenance.set(level, Provenance::model);
    FeidRecord from_vllm = record_of(vllm);
    BOOST_TEST(from_vllm.to_json().contains("expert"));
    for (ExportFormat format : {ExportFormat::llava, ExportFormat::sharegpt}) {
        ordered_json entry = export_entry(from_vllm, format);
        BOOST_TEST(!entry.contains("provenance"));
        BOOST_TEST(!entry.contains("au_unknown"));
    }
}

BOOST_AUTO_TEST_CASE(picture_lines_say_who_gave_each_level_and_what_was_not_seen) {
    auto lines = picture_lines(record_of(expert_result()));
    BOOST_TEST_REQUIRE(lines.size() == 5u);
    BOOST_TEST(lines[0] == "happy 0.91 (expert)");
    BOOST_TEST(lines[1] == "V +0.55 A +0.20 (expert, derived)");
    BOOST_TEST(lines[2] == "AU12 AU25 (expert)");
    BOOST_TEST(lines[3] == "not seen: AU6 AU9 AU14");
    BOOST_TEST(lines[4] == "uncertainty 0.15");
}

BOOST_AUTO_TEST_CASE(pictures_are_drawn_for_each_item_and_a_missing_image_is_a_problem) {
    test::TempDir dir;
    cv::Mat photo(120, 160, CV_8UC3, cv::Scalar(90, 120, 150));
    cv::circle(photo, {40, 40}, 20, cv::Scalar(200, 200, 200), cv::FILLED);
    std::vector<unsigned char> jpeg;
    cv::imencode(".jpg", photo, jpeg);
    test::write_file(dir / "photo.jpg", std::string(jpeg.begin(), jpeg.end()));
    auto store = Store::open((dir / "seke.db").string());
    BOOST_TEST_REQUIRE(store.ok());
    FaceResult r = expert_result();
    std::vector<ItemOutcome> outcomes;
    for (const std::string id : {"p1", "gone"}) {
        ItemOutcome outcome;
        outcome.item.id = id;
        outcome.item.image = (dir / (id == "p1" ? "photo.jpg" : "missing.jpg")).string();
        outcome.item.status = ItemStatus::done;
        FeidInput input{id, outcome.item.image, Box{20, 20, 40, 40}, false, &r, "v", "auto", {}, {}, {}, {}, {}};
        outcome.faces.push_back(face_row(test::test_knowledge(), input, id, 0));
        outcomes.push_back(std::move(outcome));
    }
    BOOST_TEST_REQUIRE((*store)->save_outcomes(outcomes).ok());
    auto written = write_pictures(**store, (dir / "boxes").string(), ImageLimits{});
    BOOST_TEST_REQUIRE(written.ok(), (written.ok() ? "" : written.error().message));
    BOOST_TEST(written->pictures == 1u);
    BOOST_TEST_REQUIRE(written->problems.size() == 1u);
    BOOST_TEST(written->problems[0].rfind("gone: ", 0) == 0);
    cv::Mat drawn = cv::imread((dir / "boxes" / "p1.jpg").string());
    BOOST_TEST_REQUIRE(!drawn.empty());
    BOOST_TEST(drawn.cols == 160);
    // The box's edge is drawn in green over the grey-blue photo.
    cv::Vec3b edge = drawn.at<cv::Vec3b>(20, 40);
    BOOST_TEST((edge[1] > 150 && edge[0] < 120), "edge pixel " << edge);
}

BOOST_AUTO_TEST_SUITE_END()
