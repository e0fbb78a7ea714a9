// FEAB scoring of a small benchmark, every figure computed by hand.
#include <cmath>

#include <boost/test/unit_test.hpp>

#include "plugin/feab/score.hpp"
#include "tests/unit/feab/feab_sample.hpp"

using namespace seke;
using namespace seke::feab;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(feab_score)

BOOST_AUTO_TEST_CASE(item_errors_per_level) {
    FaceLabels truth{1, std::vector<int>{4, 8}, 0.5, 0.2, {}};
    FaceLabels same = truth;
    auto none = item_errors(truth, same, 0.3);
    BOOST_TEST((none.expression == false && none.au == false && none.va == false && none.any == false));

    FaceLabels off{2, std::vector<int>{4}, 0.5, 0.55, {}};  // class differs, AU8 missed, arousal off by .35
    auto all = item_errors(truth, off, 0.3);
    BOOST_TEST((all.expression == true && all.au == true && all.va == true && all.any == true));

    // Exactly at the tolerance is still right; only valence compared when arousal is missing.
    FaceLabels edge{1, std::nullopt, 0.75, std::nullopt, {}};
    auto partial = item_errors(truth, edge, 0.25);
    BOOST_TEST((partial.va == false && partial.any == false));
    BOOST_TEST(!partial.au.has_value());

    FaceLabels nothing;
    auto undefined = item_errors(truth, nothing, 0.3);
    BOOST_TEST((!undefined.expression && !undefined.au && !undefined.va && !undefined.any));
}

BOOST_AUTO_TEST_CASE(scores_by_hand) {
    auto sample = test::feab_sample();
    Scores s = score(sample.classes, sample.action_units, sample.truth, sample.predictions, ScoreOptions{});
    const GroupScores& g = s.overall;
    BOOST_TEST(g.items == 5u);
    BOOST_TEST(g.predicted == 4u);

    // Expression: a, b, d right, c wrong (happy → surprise); e has no prediction.
    BOOST_TEST(g.expression.truth_items == 5u);
    BOOST_TEST(g.expression.scored == 4u);
    BOOST_TEST(g.expression.accuracy == 0.75, tt::tolerance(1e-12));
    // happy tp1 fn1 → 2/3, sad 1, anger 1, surprise tp0 fp1 → 0: mean 8/3 / 4.
    BOOST_TEST(g.expression.macro_f1 == 2.0 / 3.0, tt::tolerance(1e-12));
    BOOST_TEST(g.expression.class_f1[1] == 2.0 / 3.0, tt::tolerance(1e-12));
    BOOST_TEST(g.expression.class_f1[3] == 0.0);
    BOOST_TEST(g.expression.confusion[1][1] == 1u);
    BOOST_TEST(g.expression.confusion[1][3] == 1u);
    BOOST_TEST(g.expression.confusion[2][2] == 1u);
    BOOST_TEST(g.expression.confusion[6][6] == 1u);

    // AUs (indices into the 17): AU1 F1 0 (missed on b), AU4 1, AU6 2/3, AU12 1, AU15 1; the other
    // twelve are absent everywhere and stay out of the mean.
    BOOST_TEST(g.action_units.scored == 4u);
    BOOST_TEST(g.action_units.mean_f1 == (0 + 1 + 2.0 / 3.0 + 1 + 1) / 5, tt::tolerance(1e-12));
    const auto& au = g.action_units.per_au;
    BOOST_TEST(au[0].code == "AU1");
    BOOST_TEST(au[0].f1 == 0.0);
    BOOST_TEST(au[0].in_mean);
    BOOST_TEST(au[4].code == "AU6");
    BOOST_TEST(au[4].f1 == 2.0 / 3.0, tt::tolerance(1e-12));
    BOOST_TEST(au[4].counts.tp == 1u);
    BOOST_TEST(au[4].counts.fn == 1u);
    BOOST_TEST(au[4].counts.tn == 2u);
    BOOST_TEST(!au[1].in_mean);  // AU2: nobody has it, nobody claims it

    // Valence: truth (.6 −.5 .8 −.6), predicted (.5 −.4 .8 −.6): means .075 both, var .396875 and
    // .346875, cov .369375 → CCC .73875 / .74375; RMSE sqrt(.02 / 4).
    BOOST_TEST(g.valence.scored == 4u);
    BOOST_TEST(g.valence.ccc == 0.73875 / 0.74375, tt::tolerance(1e-9));
    BOOST_TEST(g.valence.rmse == std::sqrt(0.005), tt::tolerance(1e-9));
    // Arousal: truth (.2 −.3 .4 .5), predicted (.2 −.3 .9 .5): means .2 / .325, var .095 / .191875,
    // cov .12 → CCC .24 / .3025; RMSE sqrt(.25 / 4) = .25.
    BOOST_TEST(g.arousal.ccc == 0.24 / 0.3025, tt::tolerance(1e-9));
    BOOST_TEST(g.arousal.rmse == 0.25, tt::tolerance(1e-9));

    // Per source: A = a, b (both right); B = c, d, e (one of two right, e without prediction).
    BOOST_TEST_REQUIRE(s.per_source.size() == 2u);
    BOOST_TEST(s.per_source[0].name == "A");
    BOOST_TEST(s.per_source[0].expression.accuracy == 1.0);
    BOOST_TEST(s.per_source[1].name == "B");
    BOOST_TEST(s.per_source[1].items == 3u);
    BOOST_TEST(s.per_source[1].predicted == 2u);
    BOOST_TEST(s.per_source[1].expression.accuracy == 0.5);
    BOOST_TEST(s.valence_scatter.total == 4u);
    BOOST_TEST(s.valence_scatter.points.size() == 4u);
}

BOOST_AUTO_TEST_CASE(an_au_the_predictor_did_not_judge_is_neither_right_nor_wrong) {
    auto sample = test::feab_sample();
    feab::Vocabulary vocabulary(test::test_knowledge());
    const int au1 = *vocabulary.action_unit_index("AU1");
    // b missed AU1; said unknown instead, AU1 has no counts left and b has no AU error.
    sample.predictions[1]->labels.action_units_unknown = {au1};
    Scores s = score(sample.classes, sample.action_units, sample.truth, sample.predictions, ScoreOptions{});
    const auto& au = s.overall.action_units.per_au;
    BOOST_TEST(au[0].code == "AU1");
    BOOST_TEST(!au[0].in_mean);
    BOOST_TEST(s.overall.action_units.mean_f1 == (1 + 2.0 / 3.0 + 1 + 1) / 4, tt::tolerance(1e-12));
    auto errors = item_errors(sample.truth[1].labels, sample.predictions[1]->labels, 0.3);
    BOOST_TEST_REQUIRE(errors.au.has_value());
    BOOST_TEST(!*errors.au);
}

BOOST_AUTO_TEST_CASE(uncertainty_by_hand) {
    auto sample = test::feab_sample();
    Scores s = score(sample.classes, sample.action_units, sample.truth, sample.predictions, ScoreOptions{});
    BOOST_TEST_REQUIRE(s.uncertainty.size() == 7u);

    // Expression uncertainty (.1 .2 .9 .3) against expression errors (c only): a perfect ranking.
    const UncertaintyRow& expression = s.uncertainty[0];
    BOOST_TEST((expression.target == ErrorTarget::expression && expression.signal == UncertaintySignal::expression));
    BOOST_TEST(expression.items == 4u);
    BOOST_TEST(expression.errors == 1u);
    BOOST_TEST(expression.auroc == 1.0);
    // Top 10 % of 4 items is 0.4 of the most uncertain item (c, the error): 0.4 of one error.
    BOOST_TEST(expression.caught[0] == 0.4, tt::tolerance(1e-12));
    BOOST_TEST(expression.caught[1] == 0.8, tt::tolerance(1e-12));
    BOOST_TEST(expression.caught[2] == 1.0, tt::tolerance(1e-12));
    // Bins .1 (right), .2 (right), .3 (right), .9 (wrong): ECE (.1 + .2 + .3 + .1) / 4.
    BOOST_TEST(expression.ece == 0.175, tt::tolerance(1e-12));
    BOOST_TEST(expression.reliability[9].count == 1u);
    BOOST_TEST(expression.reliability[9].observed_rate == 1.0);
    BOOST_TEST(expression.caught_curve.size() == curve_budgets().size());
    BOOST_TEST(expression.caught_curve.back() == 1.0, tt::tolerance(1e-12));

    // AU uncertainty (.1 .6 .7 .3) against AU errors (b, c): top 30 % = c and 0.2 of b → 1.2 / 2.
    const UncertaintyRow& au = s.uncertainty[2];
    BOOST_TEST((au.target == ErrorTarget::au && au.signal == UncertaintySignal::au));
    BOOST_TEST(au.errors == 2u);
    BOOST_TEST(au.auroc == 1.0);
    BOOST_TEST(au.caught[0] == 0.2, tt::tolerance(1e-12));
    BOOST_TEST(au.caught[2] == 0.6, tt::tolerance(1e-12));

    // VA: c's arousal is off by .5 (> .3); the others within .1.
    const UncertaintyRow& va = s.uncertainty[1];
    BOOST_TEST(va.errors == 1u);
    BOOST_TEST(va.auroc == 1.0);

    // Overall (.1 .5 .9 .2) against any error (b, c).
    const UncertaintyRow& any = s.uncertainty[3];
    BOOST_TEST((any.target == ErrorTarget::any && any.signal == UncertaintySignal::overall));
    BOOST_TEST(any.errors == 2u);
    BOOST_TEST(any.auroc == 1.0);

    // A wider tolerance forgives c's arousal.
    ScoreOptions lenient;
    lenient.va_tolerance = 0.6;
    Scores forgiving = score(sample.classes, sample.action_units, sample.truth, sample.predictions, lenient);
    BOOST_TEST(forgiving.uncertainty[1].errors == 0u);
    BOOST_TEST(forgiving.uncertainty[1].auroc == 0.5);
}

BOOST_AUTO_TEST_CASE(predictions_without_uncertainty_have_no_rows) {
    auto sample = test::feab_sample();
    for (auto& prediction : sample.predictions)
        if (prediction) prediction->uncertainty = {};
    Scores s = score(sample.classes, sample.action_units, sample.truth, sample.predictions, ScoreOptions{});
    BOOST_TEST(s.uncertainty.empty());
    BOOST_TEST(s.overall.expression.accuracy == 0.75, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(empty_input_gives_defined_values) {
    auto sample = test::feab_sample();
    Scores s = score(sample.classes, sample.action_units, {}, {}, ScoreOptions{});
    BOOST_TEST(s.overall.items == 0u);
    BOOST_TEST(s.overall.expression.accuracy == 0.0);
    BOOST_TEST(s.overall.expression.macro_f1 == 0.0);
    BOOST_TEST(s.overall.action_units.mean_f1 == 0.0);
    BOOST_TEST(s.overall.valence.ccc == 0.0);
    BOOST_TEST(s.overall.arousal.rmse == 0.0);
    BOOST_TEST(s.overall.expression.confusion.size() == sample.classes.size());
    BOOST_TEST(s.per_source.empty());
    BOOST_TEST(s.uncertainty.empty());
    for (const auto& au : s.overall.action_units.per_au) BOOST_TEST(!au.in_mean);
}

BOOST_AUTO_TEST_CASE(no_source_no_per_source_table) {
    auto sample = test::feab_sample();
    for (auto& item : sample.truth) item.source.clear();
    Scores s = score(sample.classes, sample.action_units, sample.truth, sample.predictions, ScoreOptions{});
    BOOST_TEST(s.per_source.empty());
}

BOOST_AUTO_TEST_CASE(scatter_is_thinned_evenly) {
    auto sample = test::feab_sample();
    ScoreOptions options;
    options.scatter_points = 2;
    Scores s = score(sample.classes, sample.action_units, sample.truth, sample.predictions, options);
    BOOST_TEST(s.valence_scatter.total == 4u);
    BOOST_TEST(s.valence_scatter.points.size() == 2u);
    BOOST_TEST(s.valence_scatter.points[1].first == 0.8);  // items 0 and 2 of the four
}

BOOST_AUTO_TEST_SUITE_END()
