// `seke feab run` and `seke feab score` end to end: the real binary asks the fake VLLM on
// 127.0.0.1 the three tasks on a generated benchmark, stores the answers and scores them; the
// store and an export of it score the same.
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;

namespace {

json read_json(const std::filesystem::path& path) {
    return json::parse(test::read_file(path));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_feab)

BOOST_AUTO_TEST_CASE(run_asks_the_model_and_score_agrees_on_its_store_and_export) {
    test::LabelFixture f;
    f.make_data(24, 0.5);  // the manifest carries prior labels; a benchmark run must not use them
    f.start_fake();
    auto out = f.dir / "uamc";
    auto run = f.run_seke({"feab", "run", "--truth", (f.data() / "truth.jsonl").string(), "--images",
                           (f.data() / "images").string(), "--mode", "uamc", "--out", out.string()},
                          300);
    BOOST_TEST_REQUIRE(run.exit_code == 0, run.err + run.out);
    BOOST_TEST(run.out.find("FEAB score") != std::string::npos);
    BOOST_TEST(run.out.find("AUROC") != std::string::npos);

    json report = read_json(out / "report.json");
    BOOST_TEST(report["inputs"]["truth_items"] == 24);
    BOOST_TEST(report["inputs"]["matched"] == 24);
    BOOST_TEST(report["run"]["mode"] == "uamc");
    BOOST_TEST(report["run"]["labeled_now"] == 24);
    BOOST_TEST(report["run"]["samples"].get<int>() >= 3 * 24);  // k_min samples per face at least
    BOOST_TEST(report["inputs"]["prior_levels"] == 0);
    double accuracy = report["overall"]["expression"]["accuracy"].get<double>();
    BOOST_TEST(accuracy >= 0.7, "accuracy " << accuracy);
    BOOST_TEST(report["overall"]["valence"]["ccc"].get<double>() > 0.5);
    BOOST_TEST(report["per_source"].contains("synthetic"));
    BOOST_TEST(report["uncertainty"]["available"] == true);
    BOOST_TEST(report["problems"]["total"] == 0);
    std::string html = test::read_file(out / "report.html");
    for (const char* plot :
         {"confusion-matrix", "au-f1", "va-scatter-valence", "va-scatter-arousal", "reliability", "errors-caught"})
        BOOST_TEST(html.find(std::string("<svg id=\"") + plot + "\"") != std::string::npos, plot);

    // Every level came from the model: the benchmark's known labels were never given to it.
    auto db = out / "feab-uamc.db";
    BOOST_TEST_REQUIRE(std::filesystem::exists(db));
    auto exported = f.dir / "feab.jsonl";
    auto export_run = f.run_seke({"export", "--db", db.string(), "--format", "feid-jsonl", "--out", exported.string()});
    BOOST_TEST_REQUIRE(export_run.exit_code == 0, export_run.err);
    auto records = test::read_jsonl(exported);
    BOOST_TEST(records.size() == 24u);
    for (const auto& record : records)
        for (const char* level : {"expression", "va", "au"})
            BOOST_TEST(record["provenance"][level] == "model", record["id"] << " " << level);

    // Scoring the store, and the export of it, gives the same figures.
    auto from_db = f.run_seke({"feab", "score", "--truth", (f.data() / "truth.jsonl").string(), "--db", db.string(),
                               "--out", (f.dir / "score-db").string()});
    BOOST_TEST_REQUIRE(from_db.exit_code == 0, from_db.err + from_db.out);
    auto from_file = f.run_seke({"feab", "score", "--truth", (f.data() / "truth.jsonl").string(), "--pred",
                                 exported.string(), "--out", (f.dir / "score-file").string()});
    BOOST_TEST_REQUIRE(from_file.exit_code == 0, from_file.err + from_file.out);
    json db_report = read_json(f.dir / "score-db" / "report.json");
    json file_report = read_json(f.dir / "score-file" / "report.json");
    BOOST_TEST(db_report["overall"] == report["overall"]);
    BOOST_TEST(file_report["overall"] == report["overall"]);
    BOOST_TEST(file_report["uncertainty"] == report["uncertainty"]);

    // A second run into the same store resumes: nothing is asked again.
    auto requests = f.server->stats().total_requests;
    auto again = f.run_seke({"feab", "run", "--truth", (f.data() / "truth.jsonl").string(), "--images",
                             (f.data() / "images").string(), "--mode", "uamc", "--out", out.string()});
    BOOST_TEST_REQUIRE(again.exit_code == 0, again.err);
    BOOST_TEST(f.server->stats().total_requests == requests);
    BOOST_TEST(read_json(out / "report.json")["run"]["already_done"] == 24);
}

BOOST_AUTO_TEST_CASE(greedy_run_matches_images_by_stem_and_reports_what_it_could_not_score) {
    test::LabelFixture f;
    f.make_data(12);
    f.start_fake();
    // The truth file lives elsewhere (its image paths no longer resolve: stems are used), with one
    // id that has no image and one broken line.
    std::string truth = test::read_file(f.data() / "truth.jsonl");
    truth += "{\"id\":\"ghost\",\"expression\":\"happy\"}\nnot json\n";
    auto truth_path = f.dir / "feab-truth.jsonl";
    test::write_file(truth_path, truth);
    auto out = f.dir / "greedy";
    auto run = f.run_seke({"feab", "run", "--truth", truth_path.string(), "--images", (f.data() / "images").string(),
                           "--mode", "greedy", "--out", out.string()});
    BOOST_TEST(run.exit_code == 3, run.err);  // scored, with problems to look at
    json report = read_json(out / "report.json");
    BOOST_TEST(report["run"]["mode"] == "greedy");
    BOOST_TEST(report["run"]["labeled_now"] == 12);
    BOOST_TEST(report["run"]["samples"] == 12);  // one answer per face at temperature 0
    BOOST_TEST(report["inputs"]["truth_items"] == 13);
    BOOST_TEST(report["inputs"]["matched"] == 12);
    BOOST_TEST(report["overall"]["no_prediction"] == 1);
    BOOST_TEST(report["skipped"]["truth_lines"] == 1);
    bool ghost_reported = false, broken_reported = false;
    for (const auto& problem : report["problems"]["list"]) {
        if (problem["kind"] == "no_prediction" && problem["id"] == "ghost") {
            ghost_reported = true;
            BOOST_TEST(problem["reason"].get<std::string>().find("no image") != std::string::npos);
        }
        if (problem["kind"] == "not_json" && problem["line"] == 14) broken_reported = true;
    }
    BOOST_TEST(ghost_reported);
    BOOST_TEST(broken_reported);
    BOOST_TEST(run.out.find("truth line 14: not_json") != std::string::npos, run.out);
}

BOOST_AUTO_TEST_CASE(bad_invocations_are_json_errors) {
    test::LabelFixture f;
    f.make_data(2);
    auto missing_truth = f.run_seke(
        {"feab", "score", "--truth", (f.dir / "nope.jsonl").string(), "--pred", (f.data() / "truth.jsonl").string()});
    BOOST_TEST(missing_truth.exit_code == 2);
    json error = json::parse(missing_truth.err.substr(missing_truth.err.find('{')));
    BOOST_TEST(error["error"]["code"] == "not_found");

    auto missing_db = f.run_seke(
        {"feab", "score", "--truth", (f.data() / "truth.jsonl").string(), "--db", (f.dir / "nope.db").string()});
    BOOST_TEST(missing_db.exit_code == 2);
    BOOST_TEST(!std::filesystem::exists(f.dir / "nope.db"));  // no empty store left behind

    auto both =
        f.run_seke({"feab", "score", "--truth", (f.data() / "truth.jsonl").string(), "--pred", "x", "--db", "y"});
    BOOST_TEST(both.exit_code == 2);
    BOOST_TEST(both.err.find("invalid_argument") != std::string::npos, both.err);

    auto no_subcommand = f.run_seke({"feab"});
    BOOST_TEST(no_subcommand.exit_code == 2);

    // An empty prediction file scores to defined zeros, every truth item reported as missing.
    test::write_file(f.dir / "empty.jsonl", "");
    auto empty = f.run_seke({"feab", "score", "--truth", (f.data() / "truth.jsonl").string(), "--pred",
                             (f.dir / "empty.jsonl").string(), "--out", (f.dir / "empty").string()});
    BOOST_TEST(empty.exit_code == 3, empty.err);
    BOOST_TEST(empty.out.find("nan") == std::string::npos, empty.out);
    json report = read_json(f.dir / "empty" / "report.json");
    BOOST_TEST(report["overall"]["expression"]["accuracy"] == 0.0);
    BOOST_TEST(report["skipped"]["truth_items_without_prediction"] == 2);
}

BOOST_AUTO_TEST_SUITE_END()
