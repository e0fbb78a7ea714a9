// The active-learning loop end to end on the fake VLLM: `seke label`, reviews simulated from
// ground truth (bench/review_loop.cpp), `seke fit`, and the review queue judged on the faces
// nobody reviewed yet.
#include <boost/test/unit_test.hpp>

#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;

namespace {

json last_json_line(const test::ProcessResult& result) {
    auto end = result.out.find_last_not_of('\n');
    auto start = result.out.rfind('\n', end);
    std::string line = result.out.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
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
        for (const std::string& extra : std::vector<std::string>{"--db", f.db().string(), "--truth", (f.data() / "truth.jsonl").string()})
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

BOOST_AUTO_TEST_SUITE_END()
