// The FEAB metric functions against hand-computed values, degenerate inputs included.
#include <cmath>

#include <boost/test/unit_test.hpp>

#include "plugin/feab/metrics.hpp"

using namespace seke::metrics;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(plugin_metrics)

BOOST_AUTO_TEST_CASE(accuracy_and_macro_f1_by_hand) {
    std::vector<std::string> truth = {"a", "a", "b", "b", "c"};
    std::vector<std::string> pred = {"a", "b", "b", "b", "a"};
    BOOST_TEST(accuracy(truth, pred) == 0.6, tt::tolerance(1e-12));
    // a: tp1 fp1 fn1 → 0.5; b: tp2 fp1 fn0 → 0.8; c: tp0 fp0 fn1 → 0. Mean 1.3/3.
    BOOST_TEST(macro_f1(truth, pred, {"a", "b", "c", "d"}) == 1.3 / 3, tt::tolerance(1e-12));
    BOOST_TEST(accuracy({}, {}) == 0.0);
    BOOST_TEST(macro_f1({"a"}, {"a"}, {"a"}) == 1.0);
}

BOOST_AUTO_TEST_CASE(f1_degenerate) {
    BOOST_TEST(f1({0, 0, 0, 10}) == 0.0);
    BOOST_TEST(f1({3, 1, 2, 0}) == 6.0 / 9.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(ccc_by_hand) {
    BOOST_TEST(ccc({0.1, 0.5, -0.3}, {0.1, 0.5, -0.3}) == 1.0, tt::tolerance(1e-12));
    // x = (0, 1), y = (1, 2): mx .5 my 1.5, vx = vy = .25, cov .25 → 2*.25/(.5+1) = 1/3.
    BOOST_TEST(ccc({0, 1}, {1, 2}) == 1.0 / 3.0, tt::tolerance(1e-12));
    BOOST_TEST(ccc({0.2, 0.2}, {0.2, 0.2}) == 0.0);  // no variance at all
    BOOST_TEST(ccc({0.2}, {0.3}) == 0.0);
    BOOST_TEST(rmse({0, 0}, {3, 4}) == std::sqrt(12.5), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(auroc_by_hand) {
    BOOST_TEST(auroc({0.1, 0.2, 0.8, 0.9}, {false, false, true, true}) == 1.0);
    BOOST_TEST(auroc({0.9, 0.8, 0.2, 0.1}, {false, false, true, true}) == 0.0);
    // one tie between a positive and a negative counts a half: pairs (p.5 vs n.5)=.5, (p.5 vs n.1)=1
    BOOST_TEST(auroc({0.5, 0.5, 0.1}, {true, false, false}) == 0.75, tt::tolerance(1e-12));
    BOOST_TEST(auroc({0.3, 0.4}, {true, true}) == 0.5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(feab_metrics)

BOOST_AUTO_TEST_CASE(one_class_only) {
    // Every face is happy and every prediction too: perfect, and the absent classes stay out of the mean.
    std::vector<std::string> truth(5, "happy");
    BOOST_TEST(accuracy(truth, truth) == 1.0);
    BOOST_TEST(macro_f1(truth, truth, {"neutral", "happy", "sad"}) == 1.0);
    // One wrong answer: happy tp4 fn1 → 8/9; sad tp0 fp1 → 0; mean 4/9.
    std::vector<std::string> predicted = {"happy", "happy", "happy", "happy", "sad"};
    BOOST_TEST(accuracy(truth, predicted) == 0.8, tt::tolerance(1e-12));
    BOOST_TEST(macro_f1(truth, predicted, {"neutral", "happy", "sad"}) == 4.0 / 9.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(constant_predictions) {
    std::vector<std::string> truth = {"happy", "sad", "sad", "neutral"};
    std::vector<std::string> predicted(4, "sad");
    BOOST_TEST(accuracy(truth, predicted) == 0.5, tt::tolerance(1e-12));
    // sad: tp2 fp2 fn0 → 4/6; happy and neutral: tp0 fn1 → 0. Mean (2/3)/3.
    BOOST_TEST(macro_f1(truth, predicted, {"neutral", "happy", "sad"}) == 2.0 / 9.0, tt::tolerance(1e-12));
    // A constant VA answer has no covariance with the truth: CCC 0, whatever the truth does.
    BOOST_TEST(std::abs(ccc({0.1, 0.5, -0.3}, {0.2, 0.2, 0.2})) < 1e-12);
    // RMSE of (0.1, 0.5, -0.3) against 0.2: sqrt((0.01 + 0.09 + 0.25) / 3).
    BOOST_TEST(rmse({0.1, 0.5, -0.3}, {0.2, 0.2, 0.2}) == std::sqrt(0.35 / 3), tt::tolerance(1e-12));
    // A constant uncertainty ranks nothing: AUROC one half, review catches exactly the budget.
    std::vector<double> flat(4, 0.7);
    std::vector<bool> errors = {true, false, true, false};
    BOOST_TEST(auroc(flat, errors) == 0.5);
    BOOST_TEST(positives_caught_at_budget(flat, errors, 0.25) == 0.25, tt::tolerance(1e-12));
    BOOST_TEST(positives_caught_at_budget(flat, errors, 0.5) == 0.5, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(no_positives_for_an_action_unit) {
    // Nobody has it and nobody claims it: F1 is 0 by definition (the scorer leaves it out of the mean).
    BOOST_TEST(f1({0, 0, 0, 40}) == 0.0);
    // Nobody has it, two faces claimed: 0 as well, and it counts against the mean.
    BOOST_TEST(f1({0, 2, 0, 38}) == 0.0);
    // Without an error there is nothing to catch: 0, and AUROC one half.
    BOOST_TEST(positives_caught_at_budget({0.9, 0.1}, {false, false}, 0.5) == 0.0);
    BOOST_TEST(auroc({0.9, 0.1}, {false, false}) == 0.5);
}

BOOST_AUTO_TEST_CASE(empty_input_is_defined) {
    BOOST_TEST(accuracy({}, {}) == 0.0);
    BOOST_TEST(macro_f1({}, {}, {"happy"}) == 0.0);
    BOOST_TEST(ccc({}, {}) == 0.0);
    BOOST_TEST(rmse({}, {}) == 0.0);
    BOOST_TEST(auroc({}, {}) == 0.5);
    BOOST_TEST(positives_caught_at_budget({}, {}, 0.2) == 0.0);
    auto bins = reliability_bins({}, {}, 10);
    BOOST_TEST_REQUIRE(bins.size() == 10u);
    for (const auto& bin : bins) {
        BOOST_TEST(bin.count == 0u);
        BOOST_TEST(bin.mean_predicted == 0.0);
        BOOST_TEST(bin.observed_rate == 0.0);
    }
    BOOST_TEST(expected_calibration_error(bins) == 0.0);
    auto matrix = confusion_matrix({}, {}, {"a", "b"});
    BOOST_TEST((matrix == std::vector<std::vector<std::size_t>>{{0, 0}, {0, 0}}));
}

BOOST_AUTO_TEST_CASE(confusion_matrix_by_hand) {
    auto matrix = confusion_matrix({"a", "a", "b", "c", "x"}, {"a", "b", "b", "a", "a"}, {"a", "b", "c"});
    // Rows are truth, columns predictions; the unknown label "x" is left out.
    std::vector<std::vector<std::size_t>> expected = {{1, 1, 0}, {0, 1, 0}, {1, 0, 0}};
    BOOST_TEST((matrix == expected));
}

BOOST_AUTO_TEST_CASE(reliability_and_ece_by_hand) {
    // Four bins of 0.25. 0.1 and 0.2 (bin 0, one error of two), 0.6 (bin 2, error), 0.9 and 1.3 → 1
    // (bin 3, one error of two); 1.0 belongs to the last bin.
    auto bins = reliability_bins({0.1, 0.2, 0.6, 0.9, 1.3}, {true, false, true, false, true}, 4);
    BOOST_TEST_REQUIRE(bins.size() == 4u);
    BOOST_TEST(bins[0].count == 2u);
    BOOST_TEST(bins[0].mean_predicted == 0.15, tt::tolerance(1e-12));
    BOOST_TEST(bins[0].observed_rate == 0.5, tt::tolerance(1e-12));
    BOOST_TEST(bins[1].count == 0u);
    BOOST_TEST(bins[2].count == 1u);
    BOOST_TEST(bins[2].observed_rate == 1.0);
    BOOST_TEST(bins[3].count == 2u);
    BOOST_TEST(bins[3].mean_predicted == 0.95, tt::tolerance(1e-12));
    BOOST_TEST(bins[3].lower == 0.75);
    BOOST_TEST(bins[3].upper == 1.0);
    // ECE = (2·|0.5 − 0.15| + 1·|1 − 0.6| + 2·|0.5 − 0.95|) / 5 = (0.7 + 0.4 + 0.9) / 5 = 0.4.
    BOOST_TEST(expected_calibration_error(bins) == 0.4, tt::tolerance(1e-12));
    // Perfectly calibrated in every occupied bin: ECE 0.
    BOOST_TEST(expected_calibration_error(reliability_bins({0.0, 0.0, 1.0}, {false, false, true}, 10)) == 0.0);
}

BOOST_AUTO_TEST_CASE(errors_caught_by_hand) {
    // Ten items, three errors, ranked 0.9 (error), 0.8, 0.7 (error), 0.6 ... 0.1 (error at 0.3).
    std::vector<double> score = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05};
    std::vector<bool> error = {true, false, true, false, false, false, true, false, false, false};
    BOOST_TEST(positives_caught_at_budget(score, error, 0.1) == 1.0 / 3.0, tt::tolerance(1e-12));
    BOOST_TEST(positives_caught_at_budget(score, error, 0.2) == 1.0 / 3.0, tt::tolerance(1e-12));
    BOOST_TEST(positives_caught_at_budget(score, error, 0.3) == 2.0 / 3.0, tt::tolerance(1e-12));
    BOOST_TEST(positives_caught_at_budget(score, error, 1.0) == 1.0, tt::tolerance(1e-12));
    BOOST_TEST(positives_caught_at_budget(score, error, 0.0) == 0.0);
    // 25 % of ten is 2.5 items: the third item (an error) counts one half.
    BOOST_TEST(positives_caught_at_budget(score, error, 0.25) == 1.5 / 3.0, tt::tolerance(1e-12));
    // A tie at the cut counts in proportion: top 0.9 and 0.9, one error among them, budget one item.
    BOOST_TEST(positives_caught_at_budget({0.9, 0.9, 0.1}, {true, false, true}, 1.0 / 3.0) == 0.25,
               tt::tolerance(1e-12));
    auto curve = positives_caught_curve(score, error, {0.1, 0.3, 1.0});
    BOOST_TEST_REQUIRE(curve.size() == 3u);
    BOOST_TEST(curve[1] == 2.0 / 3.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()
