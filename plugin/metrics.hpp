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

}  // namespace seke::metrics
