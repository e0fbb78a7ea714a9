#include <boost/test/unit_test.hpp>
#include <cmath>

#include "tests/support/test_support.hpp"
#include "verify/uamc.hpp"

using namespace seke;
using seke::test::test_knowledge;
namespace tt = boost::test_tools;
using Aus = std::vector<std::string>;

BOOST_AUTO_TEST_SUITE(verify_uamc_vote)

BOOST_AUTO_TEST_CASE(tally_shares_entropy_margin) {
    auto t = tally_expressions({{"happy", 1}, {"sad", 1}, {"happy", 1}}, test_knowledge());
    BOOST_REQUIRE(t.leader());
    BOOST_TEST(*t.leader() == "happy");
    BOOST_TEST(t.total == 3.0);
    BOOST_TEST(t.leader_votes() == 2.0);
    BOOST_TEST(t.runner_up_votes() == 1.0);
    BOOST_TEST(t.shares[0].second == 2.0 / 3, tt::tolerance(1e-12));
    // H(2/3, 1/3) / ln 8
    BOOST_TEST(t.entropy == 0.3060986113514965, tt::tolerance(1e-9));
    BOOST_TEST(t.margin == 1.0 / 3, tt::tolerance(1e-12));

    auto unanimous = tally_expressions({{"fear", 1}, {"fear", 1}}, test_knowledge());
    BOOST_TEST(unanimous.entropy == 0.0);
    BOOST_TEST(unanimous.margin == 1.0);

    auto none = tally_expressions({}, test_knowledge());
    BOOST_TEST(!none.leader());
    BOOST_TEST(none.margin == 0.0);
    BOOST_TEST(expression_uncertainty(none) == 1.0);
}

BOOST_AUTO_TEST_CASE(weights_and_tie_order) {
    // A verification answer worth 2 outvotes one sample.
    auto t = tally_expressions({{"happy", 1}, {"sad", 2}}, test_knowledge());
    BOOST_TEST(*t.leader() == "sad");
    BOOST_TEST(t.shares[0].second == 2.0 / 3, tt::tolerance(1e-12));
    // Ties go to the schema's class order (happy before sad), whatever the arrival order.
    auto tie = tally_expressions({{"sad", 1}, {"happy", 1}}, test_knowledge());
    BOOST_TEST(*tie.leader() == "happy");
    BOOST_TEST(tie.margin == 0.0);
}

BOOST_AUTO_TEST_CASE(posterior_exact_for_integer_counts) {
    // P(Bin(v1+v2+1, 1/2) <= v1)
    BOOST_TEST(prob_leader_is_mode(3, 0) == 15.0 / 16, tt::tolerance(1e-12));
    BOOST_TEST(prob_leader_is_mode(2, 1) == 11.0 / 16, tt::tolerance(1e-12));
    BOOST_TEST(prob_leader_is_mode(3, 1) == 26.0 / 32, tt::tolerance(1e-12));
    BOOST_TEST(prob_leader_is_mode(4, 1) == 57.0 / 64, tt::tolerance(1e-12));
    BOOST_TEST(prob_leader_is_mode(5, 1) == 120.0 / 128, tt::tolerance(1e-12));
    BOOST_TEST(prob_leader_is_mode(1, 0) == 0.75, tt::tolerance(1e-12));
    BOOST_TEST(prob_leader_is_mode(2, 2) == 0.5);
    BOOST_TEST(prob_leader_is_mode(0, 0) == 0.5);
}

BOOST_AUTO_TEST_CASE(posterior_numeric_for_weighted_counts) {
    // Closed forms: I_x(a, 1) = x^a, I_x(1, b) = 1 − (1 − x)^b, I_{1/2}(a, a) = 1/2.
    BOOST_TEST(regularized_incomplete_beta(4, 1, 0.5) == 1.0 / 16, tt::tolerance(1e-10));
    BOOST_TEST(regularized_incomplete_beta(1, 2.5, 0.5) == 1 - std::pow(0.5, 2.5), tt::tolerance(1e-10));
    BOOST_TEST(regularized_incomplete_beta(3.7, 3.7, 0.5) == 0.5, tt::tolerance(1e-10));
    BOOST_TEST(regularized_incomplete_beta(2, 3, 0.0) == 0.0);
    BOOST_TEST(regularized_incomplete_beta(2, 3, 1.0) == 1.0);
    // The numeric path agrees with the exact sum, and weighted counts fall in between.
    BOOST_TEST(1 - regularized_incomplete_beta(4, 2, 0.5) == 26.0 / 32, tt::tolerance(1e-10));
    double p = prob_leader_is_mode(2.5, 1);
    BOOST_TEST(p > 11.0 / 16);
    BOOST_TEST(p < 26.0 / 32);
    BOOST_TEST(prob_leader_is_mode(3.0000001, 0) == 15.0 / 16, tt::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(expression_uncertainty_values) {
    auto unanimous = tally_expressions({{"happy", 1}, {"happy", 1}, {"happy", 1}}, test_knowledge());
    BOOST_TEST(expression_uncertainty(unanimous) == 1.0 / 16, tt::tolerance(1e-12));  // 1 − 15/16
    auto split = tally_expressions({{"happy", 1}, {"happy", 1}, {"sad", 1}}, test_knowledge());
    BOOST_TEST(expression_uncertainty(split) == 0.5 * 0.3060986113514965 + 0.5 * (2.0 / 3), tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_uamc_levels)

BOOST_AUTO_TEST_CASE(binary_entropy_values) {
    BOOST_TEST(binary_entropy(0.5) == 1.0, tt::tolerance(1e-12));
    BOOST_TEST(binary_entropy(0.0) == 0.0);
    BOOST_TEST(binary_entropy(1.0) == 0.0);
    BOOST_TEST(binary_entropy(0.25) == 0.8112781244591328, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(au_frequency_threshold_and_entropy) {
    auto t = tally_action_units({{"AU12", "AU6"}, {"AU6", "AU12"}, {"AU6"}}, test_knowledge(), 0.5);
    BOOST_TEST(t.samples == 3);
    BOOST_REQUIRE(t.frequency.size() == 2u);
    BOOST_TEST(t.frequency[0].first == "AU6");  // schema order
    BOOST_TEST(t.frequency[0].second == 1.0);
    BOOST_TEST(t.frequency[1].second == 2.0 / 3, tt::tolerance(1e-12));
    BOOST_TEST(t.present == (Aus{"AU6", "AU12"}), tt::per_element());
    // mean of H(3.25/3.5) and H(2.25/3.5)
    BOOST_TEST(t.uncertainty == 0.6557591426557533, tt::tolerance(1e-9));
    BOOST_TEST(au_ambiguous(t, 0.5));  // 2/3 is within 0.2 of 0.5

    auto one = tally_action_units({{"AU6", "AU12"}, {"AU4"}, {"AU6", "AU12"}, {"AU6", "AU12"}, {"AU6", "AU12"}},
                                  test_knowledge(), 0.5);
    BOOST_TEST(one.present == (Aus{"AU6", "AU12"}), tt::per_element());  // AU4 at 0.2: absent
    BOOST_TEST(!au_ambiguous(one, 0.5));                                 // 0.8 and 0.2 are 0.3 away

    auto none = tally_action_units({{}, {}}, test_knowledge(), 0.5);
    BOOST_TEST(none.frequency.empty());
    BOOST_TEST(none.uncertainty == 0.0);
    BOOST_TEST(!au_ambiguous(none, 0.5));

    // Greedy: one sample keeps some uncertainty, H(1.25 / 1.5).
    auto single = tally_action_units({{"AU6"}}, test_knowledge(), 0.5);
    BOOST_TEST(single.uncertainty == 0.6500224216483541, tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(va_median_and_robust_spread) {
    BOOST_TEST(median({0.9, 0.5, 0.6}) == 0.6);
    BOOST_TEST(median({0.1, 0.4, 0.2, 1.0}) == 0.3, tt::tolerance(1e-12));
    BOOST_TEST(robust_spread({0.3}) == 0.0);
    BOOST_TEST(robust_spread({0.2, 0.6}) == 0.2, tt::tolerance(1e-12));
    BOOST_TEST(robust_spread({0.5, 0.6, 0.9}) == 0.1 * 1.4826, tt::tolerance(1e-9));
    BOOST_TEST(robust_spread({0.1, 0.2, 0.4, 1.0}) == 0.15 * 1.4826, tt::tolerance(1e-9));
    // One outlier does not move a majority that agrees.
    BOOST_TEST(robust_spread({0.6, 0.6, -0.9}) == 0.0);

    auto va = tally_va({0.5, 0.6, 0.9}, {0.1, 0.1, 0.1});
    BOOST_TEST(*va.valence == 0.6);
    BOOST_TEST(*va.arousal == 0.1);
    BOOST_TEST(va.spread == 0.1 * 1.4826, tt::tolerance(1e-9));
    BOOST_TEST(va.uncertainty == 0.2 * 1.4826, tt::tolerance(1e-9));
    auto wide = tally_va({-1, 1}, {0, 0});
    BOOST_TEST(wide.uncertainty == 1.0);
    auto none = tally_va({}, {});
    BOOST_TEST(!none.valence);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_uamc_consistency)

BOOST_AUTO_TEST_CASE(au_versus_prototype) {
    const auto& k = test_knowledge();
    BOOST_TEST(au_expression_inconsistency(k, "happy", {"AU6", "AU12"}) == 0.0);
    BOOST_TEST(au_expression_inconsistency(k, "happy", {"AU6", "AU12", "AU25"}) == 0.0);  // variant
    BOOST_TEST(au_expression_inconsistency(k, "happy", {"AU4", "AU15"}) == 1.0);
    BOOST_TEST(au_expression_inconsistency(k, "happy", {"AU6"}) == 0.5, tt::tolerance(1e-12));
    // AU4 belongs to sad/fear/anger: 0.5 · 1/3 on top of full recall.
    BOOST_TEST(au_expression_inconsistency(k, "happy", {"AU4", "AU6", "AU12"}) == 0.5 / 3, tt::tolerance(1e-12));
    // AU17 is in no prototype: not foreign, just not part of happy.
    BOOST_TEST(au_expression_inconsistency(k, "happy", {"AU6", "AU12", "AU17"}) == 0.0);
    BOOST_TEST(au_expression_inconsistency(k, "disgust", {"AU10", "AU17"}) == 0.0);
    BOOST_TEST(au_expression_inconsistency(k, "sad", {"AU1", "AU4", "AU15", "AU17"}) == 0.0);
    BOOST_TEST(au_expression_inconsistency(k, "neutral", {}) == 0.0);
    BOOST_TEST(au_expression_inconsistency(k, "neutral", {"AU1", "AU2"}) == 0.5);
    BOOST_TEST(au_expression_inconsistency(k, "neutral", {"AU1", "AU2", "AU4", "AU5", "AU6"}) == 1.0);
    BOOST_TEST(au_expression_inconsistency(k, "bored", {"AU1"}) == 0.0);
}

BOOST_AUTO_TEST_CASE(va_versus_region) {
    const auto& k = test_knowledge();
    BOOST_TEST(va_expression_inconsistency(k, "happy", 0.6, 0.3) == 0.0);
    BOOST_TEST(va_expression_inconsistency(k, "happy", -0.25, 0.3) == 0.5, tt::tolerance(1e-12));
    BOOST_TEST(va_expression_inconsistency(k, "happy", -0.3, -0.6) == 1.0, tt::tolerance(1e-12));
    BOOST_TEST(va_expression_inconsistency(k, "sad", -0.5, -0.3) == 0.0);
}

BOOST_AUTO_TEST_CASE(cross_level_combination) {
    const auto& k = test_knowledge();
    LabelSet consistent;
    consistent.expression = "happy";
    consistent.action_units = Aus{"AU6", "AU12"};
    consistent.valence = 0.6;
    consistent.arousal = 0.3;
    BOOST_TEST(cross_level_inconsistency(k, consistent) == 0.0);

    LabelSet bad_au = consistent;
    bad_au.action_units = Aus{"AU4", "AU15"};
    BOOST_TEST(cross_level_inconsistency(k, bad_au) == 0.6, tt::tolerance(1e-12));

    LabelSet bad_va = consistent;
    bad_va.valence = -0.25;
    BOOST_TEST(cross_level_inconsistency(k, bad_va) == 0.4 * 0.5, tt::tolerance(1e-12));

    LabelSet au_only;
    au_only.expression = "happy";
    au_only.action_units = Aus{"AU6"};
    BOOST_TEST(cross_level_inconsistency(k, au_only) == 0.5, tt::tolerance(1e-12));

    LabelSet no_expression = bad_au;
    no_expression.expression.reset();
    BOOST_TEST(cross_level_inconsistency(k, no_expression) == 0.0);
}

BOOST_AUTO_TEST_CASE(overall_renormalises_over_answered_levels) {
    Uncertainty u;
    u.expression = 0.2;
    u.va = 0.4;
    u.au = 0.6;
    u.consistency = 0.1;
    UncertaintyWeights w;  // 0.45, 0.10, 0.10, 0.35
    BOOST_TEST(overall_uncertainty(u, w, {true, true, true}) == 0.225, tt::tolerance(1e-12));
    BOOST_TEST(overall_uncertainty(u, w, {false, true, false}) == 0.075 / 0.45, tt::tolerance(1e-12));
    BOOST_TEST(overall_uncertainty(u, w, {false, false, false}) == 0.1, tt::tolerance(1e-12));
    u.expression = 5;  // clamped
    BOOST_TEST(overall_uncertainty(u, w, {true, false, false}) == 1.0);
}

BOOST_AUTO_TEST_CASE(jaccard) {
    BOOST_TEST(au_jaccard({"AU6", "AU12"}, {"AU6"}) == 0.5);
    BOOST_TEST(au_jaccard({}, {}) == 1.0);
    BOOST_TEST(au_jaccard({"AU1"}, {"AU2"}) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_uamc_expert)

namespace {

// An opinion with the given expression probabilities (largest first), VA and judged AUs.
ExpertOpinion opinion(std::vector<std::pair<std::string, double>> probabilities, double valence = 0.5,
                      double arousal = 0.2, std::vector<AuJudgement> judged = {}) {
    ExpertOpinion o;
    o.expression_probabilities = std::move(probabilities);
    o.labels.expression = o.expression_probabilities.front().first;
    o.labels.valence = valence;
    o.labels.arousal = arousal;
    o.action_units = std::move(judged);
    return o;
}

AuJudgement judged(std::string code, double score, bool reliable) {
    AuJudgement j;
    j.code = std::move(code);
    j.score = score;
    j.margin = std::abs(score - 0.5) * 2;
    j.reliable = reliable;
    return j;
}

}  // namespace

BOOST_AUTO_TEST_CASE(expression_disagreement_is_relative_to_the_experts_top) {
    const ExpertOpinion o = opinion({{"happy", 0.6}, {"sad", 0.3}, {"neutral", 0.1}});
    BOOST_TEST(*expert_expression_disagreement(o, "happy") == 0.0);
    BOOST_TEST(*expert_expression_disagreement(o, "sad") == 0.5, tt::tolerance(1e-12));
    BOOST_TEST(*expert_expression_disagreement(o, "neutral") == 1 - 0.1 / 0.6, tt::tolerance(1e-12));
    // Not covered (contempt): the expert cannot say.
    BOOST_TEST(!expert_expression_disagreement(o, "contempt").has_value());
    BOOST_TEST(!expert_expression_disagreement(ExpertOpinion{}, "happy").has_value());
}

BOOST_AUTO_TEST_CASE(va_disagreement_over_the_components_given) {
    const ExpertOpinion o = opinion({{"happy", 1}}, 0.5, 0.2);
    BOOST_TEST(*expert_va_disagreement(o, 0.5, 0.2) == 0.0);
    BOOST_TEST(*expert_va_disagreement(o, 0.5 - 0.21, 0.2 + 0.28) == 0.35 / 0.7, tt::tolerance(1e-9));
    BOOST_TEST(*expert_va_disagreement(o, std::nullopt, 0.2 - 0.35) == 0.5, tt::tolerance(1e-9));  // arousal only
    BOOST_TEST(*expert_va_disagreement(o, -0.9, -0.9) == 1.0);                                     // capped
    BOOST_TEST(!expert_va_disagreement(o, std::nullopt, std::nullopt).has_value());
}

BOOST_AUTO_TEST_CASE(au_disagreement_weighs_reliable_aus_twice_and_only_judged_ones) {
    const ExpertOpinion o = opinion({{"happy", 1}}, 0.5, 0.2, {judged("AU12", 0.9, true), judged("AU4", 0.2, false)});
    // The vote saw AU12 in all answers, AU4 in half, AU6 (not judged by the expert) in all.
    const AuTally tally = tally_action_units({{"AU12", "AU4", "AU6"}, {"AU12", "AU6"}}, test_knowledge(), 0.5);
    BOOST_TEST(*expert_au_disagreement(o, tally) == (2 * 0.1 + 1 * 0.3) / 3, tt::tolerance(1e-12));
    // An AU no answer named counts with frequency 0.
    const AuTally none = tally_action_units({{"AU6"}}, test_knowledge(), 0.5);
    BOOST_TEST(*expert_au_disagreement(o, none) == (2 * 0.9 + 1 * 0.2) / 3, tt::tolerance(1e-12));
    BOOST_TEST(!expert_au_disagreement(opinion({{"happy", 1}}), tally).has_value());
}

BOOST_AUTO_TEST_CASE(raised_uncertainty_is_monotone_and_capped) {
    BOOST_TEST(raised_uncertainty(0.2, 0.5, 0.4) == 0.4, tt::tolerance(1e-12));
    BOOST_TEST(raised_uncertainty(0.9, 0.5, 0.8) == 1.0);
    BOOST_TEST(raised_uncertainty(0.2, 0.0, 1.0) == 0.2);
    BOOST_TEST(raised_uncertainty(0.2, -1.0, 1.0) == 0.2);  // never lowers
    BOOST_TEST(raised_uncertainty(0.2, 0.5, std::nan("")) == 0.2);
    BOOST_TEST(raised_uncertainty(0.2, 0.5, 3.0) == 0.7, tt::tolerance(1e-12));  // disagreement counts at most 1
}

BOOST_AUTO_TEST_SUITE_END()
