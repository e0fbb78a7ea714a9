// The cost of the scored labels: read from the records, priced, and put next to accuracy.
#include <boost/test/unit_test.hpp>

#include "plugin/feab/report.hpp"
#include "plugin/feab/score.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using namespace seke::feab;

BOOST_AUTO_TEST_SUITE(feab_cost)

BOOST_AUTO_TEST_CASE(a_record_s_cost_is_read_and_a_bad_one_ignored) {
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    auto priced = parse_prediction_line(
        R"({"id":"a","labels":{"expression":"happy"},"cost":{"requests":2,"prompt_tokens":3000,"cached_prompt_tokens":2048,"completion_tokens":200}})",
        1, RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(priced.has_value());
    BOOST_TEST_REQUIRE(priced->tokens.has_value());
    BOOST_TEST(priced->tokens->prompt == 3000);
    BOOST_TEST(priced->tokens->cached_prompt == 2048);
    BOOST_TEST(priced->tokens->completion == 200);
    for (const char* line : {R"({"id":"b","labels":{"expression":"happy"}})",
                             R"({"id":"b","labels":{"expression":"happy"},"cost":"cheap"})",
                             R"({"id":"b","labels":{"expression":"happy"},"cost":{"prompt_tokens":-5}})",
                             R"({"id":"b","labels":{"expression":"happy"},"cost":{"prompt_tokens":"9"}})"}) {
        auto prediction = parse_prediction_line(line, 2, RecordLabels::current, vocabulary, problems);
        BOOST_TEST_REQUIRE(prediction.has_value(), line);
        BOOST_TEST(!prediction->tokens.has_value(), line);
    }
}

BOOST_AUTO_TEST_CASE(cost_per_correct_label_is_the_bill_over_the_right_answers) {
    std::vector<std::optional<Prediction>> predictions(4);
    for (int i = 0; i < 3; ++i) {
        predictions[static_cast<std::size_t>(i)] = Prediction{};
        predictions[static_cast<std::size_t>(i)]->tokens = TokenCounts{1'000'000, 0, 100'000};
    }
    predictions[3] = Prediction{};  // a prediction without a cost counts no tokens
    Scores scores;
    scores.overall.expression.scored = 4;
    scores.overall.expression.accuracy = 0.5;
    const Price price{1.0, 0.1, 10.0, 0, {}};
    auto cost = label_cost(predictions, scores, "m", price);
    BOOST_TEST_REQUIRE(cost.has_value());
    BOOST_TEST(cost->predictions == 3u);
    BOOST_TEST(cost->correct_expressions == 2u);
    BOOST_TEST(cost->usd.value_or(0) == 3 * (1.0 + 1.0), boost::test_tools::tolerance(1e-9));
    BOOST_TEST(cost->usd_per_correct_expression.value_or(0) == 3.0, boost::test_tools::tolerance(1e-9));

    Report report;
    report.scores = scores;
    report.cost = cost;
    BOOST_TEST(summary_text(report).find("per correct expression label") != std::string::npos);
    BOOST_TEST(report_json(report)["cost"]["usd_per_correct_expression"] == 3.0);
    BOOST_TEST(report_html(report).find("per correct expression label") != std::string::npos);

    auto unpriced = label_cost(predictions, scores, "m", std::nullopt);
    BOOST_TEST_REQUIRE(unpriced.has_value());
    BOOST_TEST(!unpriced->usd.has_value());
    report.cost = unpriced;
    BOOST_TEST(summary_text(report).find("no price for model m") != std::string::npos);
    BOOST_TEST(report_json(report)["cost"]["usd"].is_null());
    // No prediction with a cost: no cost section.
    BOOST_TEST(!label_cost({std::nullopt, Prediction{}}, scores, "m", price).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
