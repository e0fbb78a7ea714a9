// `seke label` with prices and caps, end to end on the fake VLLM: money in the summary, a run
// stopped by --max-requests or --max-cost, resumed by the same command, nothing paid twice.
#include <boost/test/unit_test.hpp>

#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;

namespace {

// USD per million tokens for the fake model: input, cached input, output.
const std::string kPrice = "1,0.1,4";

std::uint64_t chat_requests(const fake::FakeStats& stats) {
    std::uint64_t total = 0;
    for (const auto& [kind, count] : stats.by_kind) total += count;
    return total;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_cost)

BOOST_AUTO_TEST_CASE(the_summary_prices_the_tokens_and_counts_the_cached_ones) {
    test::LabelFixture f;
    f.make_data(12);
    f.start_fake();
    auto result = f.label({"--price", kPrice});
    BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
    json summary = test::LabelFixture::summary(result);
    BOOST_TEST(!summary.contains("stopped"));
    const auto stats = f.server->stats();
    // What seke says it paid is what the model reported, cached prompt tokens included.
    BOOST_TEST(summary["spent"]["prompt_tokens"].get<std::uint64_t>() == stats.prompt_tokens);
    BOOST_TEST(summary["spent"]["cached_prompt_tokens"].get<std::uint64_t>() == stats.cached_prompt_tokens);
    BOOST_TEST(summary["spent"]["completion_tokens"].get<std::uint64_t>() == stats.completion_tokens);
    BOOST_TEST(stats.cached_prompt_tokens > 0u);  // the knowledge prompt is cached after the first request
    const double expected =
        (static_cast<double>(stats.prompt_tokens - stats.cached_prompt_tokens) * 1.0 +
         static_cast<double>(stats.cached_prompt_tokens) * 0.1 + static_cast<double>(stats.completion_tokens) * 4.0) /
        1e6;
    BOOST_TEST(summary["spent"]["usd"].get<double>() == expected, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(summary["cost_usd"].get<double>() == expected, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(summary["price"]["model"] == "fake");
    BOOST_TEST(summary["price"]["as_of"].is_null());
    BOOST_TEST(result.err.find("spent $") != std::string::npos, result.err);

    // Without a price: tokens, and a note that says why there is no money.
    auto unpriced = f.label();
    BOOST_TEST_REQUIRE(unpriced.exit_code == 0, unpriced.err);
    json plain = test::LabelFixture::summary(unpriced);
    BOOST_TEST(plain["cost_usd"].is_null());
    BOOST_TEST(plain["price_note"].get<std::string>().find("fake") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_request_cap_stops_cleanly_and_the_same_command_goes_on_paying_nothing_twice) {
    test::LabelFixture f;
    f.make_data(24);
    f.start_fake();
    const std::vector<std::string> capped = {"--price", kPrice, "--max-requests", "12", "--jobs", "4"};
    auto first = f.label(capped);
    BOOST_TEST_REQUIRE(first.exit_code == 4, first.err);
    json one = test::LabelFixture::summary(first);
    BOOST_TEST(one["stopped"] == "max_requests");
    BOOST_TEST(one["interrupted"] == false);
    BOOST_TEST(one["http_requests"].get<int>() <= 12);
    const int done_first = one["labeled_now"].get<int>();
    BOOST_TEST(done_first < 24);
    BOOST_TEST(chat_requests(f.server->stats()) <= 12u);

    // The same command again: it resumes where the first stopped, within its own cap.
    auto second = f.label(capped);
    BOOST_TEST_REQUIRE((second.exit_code == 4 || second.exit_code == 0), second.err);
    json two = test::LabelFixture::summary(second);
    BOOST_TEST(two["already_done"].get<int>() == done_first);
    BOOST_TEST(two["http_requests"].get<int>() <= 12);

    // A higher cap finishes the job.
    auto third = f.label({"--price", kPrice, "--max-requests", "100000", "--jobs", "4"});
    BOOST_TEST_REQUIRE(third.exit_code == 0, third.err);
    json three = test::LabelFixture::summary(third);
    BOOST_TEST(!three.contains("stopped"));
    BOOST_TEST(three["already_done"].get<int>() + three["labeled_now"].get<int>() == 24);

    // Nothing paid twice: every request the model answered is in exactly one face's record,
    // either sent by the run that stored it or taken from the response cache that an earlier,
    // stopped run filled.
    const auto stats = f.server->stats();
    auto records = f.export_records();
    BOOST_TEST_REQUIRE(records.size() == 24u);
    std::uint64_t used = 0, reused = 0, prompt_tokens = 0;
    for (const auto& r : records) {
        used += r["cost"]["requests"].get<std::uint64_t>() + r["cost"]["cached_requests"].get<std::uint64_t>();
        reused += r["cost"]["cached_requests"].get<std::uint64_t>();
        prompt_tokens += r["cost"]["prompt_tokens"].get<std::uint64_t>();
    }
    BOOST_TEST(used == chat_requests(stats));
    BOOST_TEST(prompt_tokens == stats.prompt_tokens);
    // The totals add up: the three runs' spending is what the model reported.
    std::uint64_t spent_prompt = 0, spent_completion = 0, sent = 0;
    for (const json* s : {&one, &two, &three}) {
        spent_prompt += (*s)["spent"]["prompt_tokens"].get<std::uint64_t>();
        spent_completion += (*s)["spent"]["completion_tokens"].get<std::uint64_t>();
        sent += (*s)["http_requests"].get<std::uint64_t>();
    }
    BOOST_TEST(spent_prompt == stats.prompt_tokens);
    BOOST_TEST(spent_completion == stats.completion_tokens);
    BOOST_TEST(sent == chat_requests(stats));
    BOOST_TEST_MESSAGE("answers reused from stopped runs: " << reused);
}

BOOST_AUTO_TEST_CASE(a_money_cap_stops_before_the_next_request_would_pass_it) {
    test::LabelFixture f;
    f.make_data(24);
    f.start_fake();
    auto run = f.label({"--price", kPrice, "--max-cost", "0.03", "--jobs", "4"});
    BOOST_TEST_REQUIRE(run.exit_code == 4, run.err);
    json summary = test::LabelFixture::summary(run);
    BOOST_TEST(summary["stopped"] == "max_cost");
    BOOST_TEST(summary["spent"]["usd"].get<double>() <= 0.03);
    BOOST_TEST(summary["spent"]["usd"].get<double>() > 0.0);
    BOOST_TEST(summary["labeled_now"].get<int>() < 24);
    // Going on with a higher cap finishes what the first left.
    auto more = f.label({"--price", kPrice, "--max-cost", "100", "--jobs", "4"});
    BOOST_TEST_REQUIRE(more.exit_code == 0, more.err);
    json rest = test::LabelFixture::summary(more);
    BOOST_TEST(rest["already_done"].get<int>() == summary["labeled_now"].get<int>());
    BOOST_TEST(f.export_records().size() == 24u);
}

BOOST_AUTO_TEST_SUITE_END()
