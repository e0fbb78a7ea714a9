// The active-learning loop end to end on the fake VLLM: `seke label`, reviews simulated from
// ground truth (bench/review_loop.cpp), `seke fit`, and the review queue judged on the faces
// nobody reviewed yet.
#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;

namespace {

json last_json_line(const test::ProcessResult& result) {
    auto end = result.out.find_last_not_of('\n');
    auto start = result.out.rfind('\n', end);
    std::string line = result.out.substr(start == std::string::npos ? 0 : start + 1,
                                         end - (start == std::string::npos ? 0 : start + 1) + 1);
    json parsed = json::parse(line, nullptr, false);
    BOOST_TEST_REQUIRE(!parsed.is_discarded(), "not JSON: " << result.out << result.err);
    return parsed;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_learning_loop)

BOOST_AUTO_TEST_CASE(reviews_improve_the_queue_and_fit_versions_only_on_change) {
    test::LabelFixture f;
    f.make_data(1000, 0, 5);
    f.start_fake();
    auto labeled = f.label({"--face-detection", "off", "--jobs", "32"});
    BOOST_TEST_REQUIRE(labeled.exit_code == 0, labeled.err);
    auto review_tool = [&](std::vector<std::string> args) {
        args.insert(args.begin(), SEKE_BENCH_REVIEW_BINARY);
        for (const std::string& extra :
             std::vector<std::string>{"--db", f.db().string(), "--truth", (f.data() / "truth.jsonl").string()})
            args.push_back(extra);
        auto result = test::run_process(args, {}, 120);
        BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
        return last_json_line(result);
    };

    // No reviews: fit has nothing to learn and keeps the version.
    auto idle = f.run_seke({"fit", "--db", f.db().string()});
    BOOST_TEST_REQUIRE(idle.exit_code == 0, idle.err);
    json idle_summary = json::parse(idle.out);
    BOOST_TEST(idle_summary["changed"] == false);
    BOOST_TEST(idle_summary["model_version"] == idle_summary["previous_version"]);

    json reviews = review_tool({"simulate", "--fraction", "0.5"});
    BOOST_TEST(reviews["corrected"].get<int>() > 10);
    json before = review_tool({"caught", "--budget", "0.2"});
    BOOST_TEST(before["calibrated"] == false);

    auto fitted = f.run_seke({"fit", "--db", f.db().string()});
    BOOST_TEST_REQUIRE(fitted.exit_code == 0, fitted.err);
    json fit = json::parse(fitted.out);
    BOOST_TEST(fit["changed"] == true);
    BOOST_TEST(fit["model_version"].get<std::string>().find("+fit-") != std::string::npos);
    BOOST_TEST(fit["exemplars"].get<int>() > 0);

    json after = review_tool({"caught", "--budget", "0.2"});
    BOOST_TEST(after["calibrated"] == true);
    BOOST_TEST(after["model_version"] == fit["model_version"]);
    BOOST_TEST_MESSAGE("errors caught at 20 %: " << before["caught_uncalibrated"] << " before, "
                                                 << after["caught_calibrated"] << " after calibration");
    BOOST_TEST(after["caught_calibrated"].get<double>() > before["caught_uncalibrated"].get<double>());

    // Same reviews, same fit: the version stays.
    auto again = f.run_seke({"fit", "--db", f.db().string()});
    json again_summary = json::parse(again.out);
    BOOST_TEST(again_summary["changed"] == false);
    BOOST_TEST(again_summary["model_version"] == fit["model_version"]);
}

// `seke label` after `seke fit` labels as `seke serve` does: the new items' sample requests carry
// the fit's few-shot examples and their records the fit's model_version. Before a fit, and with
// --use-fit=false, nothing of the kind.
BOOST_AUTO_TEST_CASE(a_label_run_after_a_fit_uses_its_examples_and_version) {
    test::LabelFixture f;
    f.make_data(24, 0, 7);
    f.start_fake();
    const auto lines = f.manifest_lines();
    auto label_first = [&](std::size_t count, const std::vector<std::string>& extra) {
        std::string manifest;
        for (std::size_t i = 0; i < count; ++i) manifest += lines[i].dump() + "\n";
        test::write_file(f.manifest(), manifest);
        auto result = f.label(extra);
        BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
        return test::LabelFixture::summary(result);
    };
    auto ids_from = [&](std::size_t begin, std::size_t end) {
        std::vector<std::string> ids;
        for (std::size_t i = begin; i < end; ++i) ids.push_back(lines[i]["id"].get<std::string>());
        return ids;
    };
    auto record_versions = [&] {
        std::map<std::string, std::string> versions;
        for (const auto& r : f.export_records()) versions[r["id"].get<std::string>()] = r["model_version"];
        return versions;
    };

    // No fit yet: no example turns, the setup's own version.
    json first = label_first(16, {});
    BOOST_TEST(first["labeled_now"] == 16);
    const std::string base_version = first["model_version"];
    BOOST_TEST(base_version.find("+fit-") == std::string::npos);
    BOOST_TEST(f.server->stats().few_shot_per_item.empty());

    auto simulated = test::run_process({SEKE_BENCH_REVIEW_BINARY, "simulate", "--fraction", "1", "--db",
                                        f.db().string(), "--truth", (f.data() / "truth.jsonl").string()},
                                       {}, 120);
    BOOST_TEST_REQUIRE(simulated.exit_code == 0, simulated.err);
    auto fitted = f.run_seke({"fit", "--db", f.db().string()});
    BOOST_TEST_REQUIRE(fitted.exit_code == 0, fitted.err);
    json fit = json::parse(fitted.out);
    BOOST_TEST_REQUIRE(fit["changed"] == true, fitted.out);
    BOOST_TEST_REQUIRE(fit["exemplars"].get<int>() > 0, fitted.out);
    const std::string fit_version = fit["model_version"];
    BOOST_TEST(fit_version.rfind(base_version + "+fit-", 0) == 0);

    // Four new items: labeled with the examples, recorded under the fit's version.
    json second = label_first(20, {});
    BOOST_TEST(second["already_done"] == 16);
    BOOST_TEST(second["labeled_now"] == 4);
    BOOST_TEST(second["model_version"] == fit_version);
    auto stats = f.server->stats();
    auto versions = record_versions();
    for (const auto& id : ids_from(16, 20)) {
        BOOST_TEST(stats.few_shot_per_item[id] > 0u, id);
        BOOST_TEST(versions[id] == fit_version, id);
    }
    for (const auto& id : ids_from(0, 16)) BOOST_TEST(versions[id] == base_version, id);

    // Opting out: the last four are labeled by the setup unfitted.
    json third = label_first(24, {"--use-fit=false"});
    BOOST_TEST(third["labeled_now"] == 4);
    BOOST_TEST(third["model_version"] == base_version);
    stats = f.server->stats();
    versions = record_versions();
    for (const auto& id : ids_from(20, 24)) {
        BOOST_TEST(stats.per_item[id] > 0u, id);
        BOOST_TEST(stats.few_shot_per_item.count(id) == 0u, id);
        BOOST_TEST(versions[id] == base_version, id);
    }
}

BOOST_AUTO_TEST_SUITE_END()
