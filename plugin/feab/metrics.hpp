#pragma once
// The field's metrics (FEAB conventions, see docs): accuracy, macro-F1, per-AU F1, CCC, RMSE,
// and AUROC for judging uncertainty. Pure functions over plain vectors; degenerate inputs give
// defined values (documented per function) rather than NaN.
#include <cstddef>
#include <string>
#include <vector>

namespace seke::metrics {

// Share of equal pairs; 0 for empty input.
double accuracy(const std::vector<std::string>& truth, const std::vector<std::string>& predicted);

// Mean over `classes` of per-class F1; a class absent from both truth and prediction is left
// out of the mean; 0 when no class is left.
double macro_f1(const std::vector<std::string>& truth, const std::vector<std::string>& predicted,
                const std::vector<std::string>& classes);

struct BinaryCounts {
    std::size_t tp = 0, fp = 0, fn = 0, tn = 0;
};
// F1 = 2tp / (2tp + fp + fn); 0 when tp + fp + fn = 0 (nothing to find, nothing claimed).
double f1(const BinaryCounts& counts);

// Concordance correlation coefficient; 0 for fewer than two pairs or zero total variance.
double ccc(const std::vector<double>& truth, const std::vector<double>& predicted);
double rmse(const std::vector<double>& truth, const std::vector<double>& predicted);

// Area under the ROC curve of `score` for predicting `positive` (ties count one half);
// 0.5 when either class is empty.
double auroc(const std::vector<double>& score, const std::vector<bool>& positive);

// Counts of (truth class row, predicted class column), rows and columns in `classes` order;
// a pair with a label outside `classes` is left out.
std::vector<std::vector<std::size_t>> confusion_matrix(const std::vector<std::string>& truth,
                                                       const std::vector<std::string>& predicted,
                                                       const std::vector<std::string>& classes);

// One bin of a reliability table: items whose predicted probability is in [lower, upper)
// (the last bin includes 1).
struct ReliabilityBin {
    double lower = 0, upper = 0;
    std::size_t count = 0;
    double mean_predicted = 0;  // 0 for an empty bin
    double observed_rate = 0;   // share of positives; 0 for an empty bin
};
// `bins` equal-width bins over [0, 1]; probabilities outside it are clamped into it.
std::vector<ReliabilityBin> reliability_bins(const std::vector<double>& probability, const std::vector<bool>& positive,
                                             int bins);
// Expected calibration error: sum over bins of count/N * |observed - mean predicted|; 0 when empty.
double expected_calibration_error(const std::vector<ReliabilityBin>& bins);

// Share of all positives among the `budget` share (0..1) of items with the highest `score`:
// "errors caught when reviewing the top 20 %". Reviewing budget * n items, a fractional item and
// a tie at the cut count in proportion (the expected value over orderings), so a constant score
// catches exactly `budget`. 0 when there is no positive.
double positives_caught_at_budget(const std::vector<double>& score, const std::vector<bool>& positive, double budget);
// The same for several budgets with one sort.
std::vector<double> positives_caught_curve(const std::vector<double>& score, const std::vector<bool>& positive,
                                           const std::vector<double>& budgets);

}  // namespace seke::metrics
