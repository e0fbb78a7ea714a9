// The FEAB report: report.json carries every figure, report.html is self-contained with its SVG
// plots, the terminal summary prints 4 decimals, and degenerate input never prints NaN.
#include <boost/test/unit_test.hpp>

#include "plugin/feab/report.hpp"
#include "tests/unit/feab/feab_sample.hpp"

using namespace seke;
using namespace seke::feab;
using nlohmann::json;

namespace {

Report sample_report() {
    auto sample = test::feab_sample();
    Report report;
    report.inputs.truth_path = "truth.jsonl";
    report.inputs.predictions = "pred.jsonl";
    report.inputs.truth_lines = 6;
    report.inputs.truth_items = 5;
    report.inputs.prediction_records = 5;
    report.inputs.matched = 4;
    report.scores = score(sample.classes, sample.action_units, sample.truth, sample.predictions, ScoreOptions{});
    report.problems.add({InputFile::truth, 6, "", ProblemKind::not_json, "not a JSON object: line skipped"});
    report.problems.add({InputFile::predictions, 5, "<zz>", ProblemKind::not_in_truth, "id is not in the truth file"});
    report.problems.add({InputFile::truth, 5, "e", ProblemKind::no_prediction, "no prediction for this id"});
    return report;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(feab_report)

BOOST_AUTO_TEST_CASE(json_and_html_are_written_with_every_plot) {
    test::TempDir dir;
    Report report = sample_report();
    auto out = dir / "report";
    BOOST_TEST_REQUIRE(write_report(report, out.string()).ok());

    json parsed = json::parse(test::read_file(out / "report.json"));
    BOOST_TEST(parsed["overall"]["expression"]["accuracy"].get<double>() == 0.75);
    BOOST_TEST(parsed["overall"]["expression"]["confusion_matrix"]["counts"][1][3] == 1);
    BOOST_TEST(parsed["overall"]["action_units"]["per_au"].size() == 17u);
    BOOST_TEST(parsed["overall"]["no_prediction"] == 1);
    BOOST_TEST(parsed["per_source"].contains("A"));
    BOOST_TEST(parsed["per_source"]["B"]["items"] == 3);
    BOOST_TEST(parsed["uncertainty"]["available"] == true);
    BOOST_TEST(parsed["uncertainty"]["rows"].size() == 7u);
    BOOST_TEST(parsed["uncertainty"]["rows"][0]["errors_caught"][1]["budget"].get<double>() == 0.2);
    BOOST_TEST(parsed["uncertainty"]["rows"][0]["reliability"].size() == 10u);
    BOOST_TEST(parsed["error_definitions"].contains("au"));
    BOOST_TEST(parsed["skipped"]["truth_lines"] == 1);
    BOOST_TEST(parsed["skipped"]["prediction_records"] == 1);
    BOOST_TEST(parsed["skipped"]["truth_items_without_prediction"] == 1);
    BOOST_TEST(parsed["problems"]["total"] == 3);
    BOOST_TEST(parsed["problems"]["list"][0]["line"] == 6);
    BOOST_TEST(parsed["problems"]["list"][0]["reason"] == "not a JSON object: line skipped");

    std::string html = test::read_file(out / "report.html");
    for (const char* plot :
         {"confusion-matrix", "au-f1", "va-scatter-valence", "va-scatter-arousal", "reliability", "errors-caught"})
        BOOST_TEST(contains(html, std::string("<svg id=\"") + plot + "\""), plot);
    // Self-contained: no script, stylesheet, image or font is fetched from anywhere.
    for (const char* external : {"<script", "<link", "src=", "href=", "@import", "url("})
        BOOST_TEST(!contains(html, external), external);
    BOOST_TEST(contains(html, "&lt;zz&gt;"));  // ids are escaped
    BOOST_TEST(!contains(html, "<zz>"));
    BOOST_TEST(!contains(html, "nan"));
    BOOST_TEST(!std::filesystem::exists(out / "report.json.partial"));
}

BOOST_AUTO_TEST_CASE(summary_prints_four_decimals_and_the_problems) {
    std::string text = summary_text(sample_report());
    BOOST_TEST(contains(text, "0.7500"), text);  // accuracy
    BOOST_TEST(contains(text, "0.6667"), text);  // macro-F1
    BOOST_TEST(contains(text, "0.2500"), text);  // arousal RMSE
    BOOST_TEST(contains(text, "no prediction: 1 truth items"), text);
    BOOST_TEST(contains(text, "truth line 6: not_json"), text);
    BOOST_TEST(contains(text, "not_in_truth"), text);
    BOOST_TEST(contains(text, "AUROC"), text);
}

BOOST_AUTO_TEST_CASE(empty_report_has_defined_values) {
    auto sample = test::feab_sample();
    Report report;
    report.scores = score(sample.classes, sample.action_units, {}, {}, ScoreOptions{});
    std::string dumped = report_json(report).dump();
    BOOST_TEST(!contains(dumped, "null"), dumped.substr(0, 400));
    json parsed = json::parse(dumped);
    BOOST_TEST(parsed["overall"]["expression"]["accuracy"] == 0.0);
    BOOST_TEST(parsed["uncertainty"]["available"] == false);
    std::string html = report_html(report);
    BOOST_TEST(contains(html, "<svg id=\"confusion-matrix\""));
    BOOST_TEST(contains(html, "carry no uncertainty"));
    BOOST_TEST(!contains(html, "nan"));
    std::string text = summary_text(report);
    BOOST_TEST(contains(text, "0.0000"));
    BOOST_TEST(!contains(text, "nan"));
    BOOST_TEST(contains(text, "problems: 0"));
}

BOOST_AUTO_TEST_SUITE_END()
