#pragma once
// FEAB scoring: truth items and the predictions lined up with them → every figure of the report,
// as plain data. Pure: no I/O, no JSON; degenerate input gives the defined values of
// plugin/metrics.hpp, never NaN.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugin/feab/input.hpp"
#include "plugin/feab/metrics.hpp"
#include "verify/cost.hpp"

namespace seke::feab {

struct ScoreOptions {
    // A VA answer is an error when valence or arousal is off by more than this. 0.3 is about the
    // inter-annotator RMSE on AffectNet (0.34 / 0.36): within it, as good as a second human.
    double va_tolerance = 0.3;
    int reliability_bins = 10;
    std::vector<double> review_budgets = {0.1, 0.2, 0.3};
    std::size_t scatter_points = 2000;  // at most this many points per VA scatter plot
};

// Budgets of the errors-caught curve: 0, 5 %, ..., 100 %.
const std::vector<double>& curve_budgets();

// Whether a prediction is wrong at each level; nullopt when truth or prediction lacks the level.
//  - expression: the predicted class differs from the truth class;
//  - au: the predicted AU set differs from the true one in any AU (Hamming distance > 0: a
//    reviewer would have to change something); AUs the truth's source did not code (its
//    `au_coded`) and AUs the predictor did not judge are not compared;
//  - va: |predicted - true| > va_tolerance on valence or on arousal (whichever both sides have);
//  - any: at least one of the above levels is wrong (defined when one of them is).
struct ItemErrors {
    std::optional<bool> expression;
    std::optional<bool> va;
    std::optional<bool> au;
    std::optional<bool> any;
};
// `truth_uncoded`: sorted AU indices the truth's source did not code (TruthItem::action_units_uncoded).
ItemErrors item_errors(const FaceLabels& truth, const FaceLabels& predicted, double va_tolerance,
                       const std::vector<int>& truth_uncoded = {});

struct ExpressionScores {
    std::size_t truth_items = 0;  // truth items of the group with an expression
    std::size_t scored = 0;       // ... whose prediction has an expression too
    double accuracy = 0;
    double macro_f1 = 0;
    std::vector<double> class_f1;                     // classes order
    std::vector<std::vector<std::size_t>> confusion;  // [truth class][predicted class]
};

struct ActionUnitScore {
    std::string code;
    metrics::BinaryCounts counts;
    double f1 = 0;
    bool in_mean = false;  // false when the AU is absent from truth and prediction alike
};

struct ActionUnitScores {
    std::size_t truth_items = 0;
    std::size_t scored = 0;
    std::vector<ActionUnitScore> per_au;  // the knowledge's AU order
    double mean_f1 = 0;                   // over the AUs with in_mean
};

struct DimensionScores {
    std::size_t truth_items = 0;
    std::size_t scored = 0;
    double ccc = 0;
    double rmse = 0;
};

struct GroupScores {
    std::string name;           // "overall" or a source dataset
    std::size_t items = 0;      // truth items
    std::size_t predicted = 0;  // ... with a prediction
    ExpressionScores expression;
    ActionUnitScores action_units;
    DimensionScores valence;
    DimensionScores arousal;
};

enum class ErrorTarget { expression, va, au, any };
enum class UncertaintySignal { expression, va, au, overall };
std::string_view error_target_name(ErrorTarget target) noexcept;
std::string_view uncertainty_signal_name(UncertaintySignal signal) noexcept;

// How well one uncertainty signal predicts one kind of error.
struct UncertaintyRow {
    ErrorTarget target = ErrorTarget::any;
    UncertaintySignal signal = UncertaintySignal::overall;
    std::size_t items = 0;  // items with the signal and a defined error
    std::size_t errors = 0;
    double auroc = 0.5;
    std::vector<double> caught;                        // share of errors caught, at ScoreOptions::review_budgets
    std::vector<double> caught_curve;                  // at curve_budgets()
    std::vector<metrics::ReliabilityBin> reliability;  // uncertainty read as P(error)
    double ece = 0;
};

// Truth-vs-predicted points of one VA dimension, thinned evenly to ScoreOptions::scatter_points.
struct ScatterSample {
    std::size_t total = 0;
    std::vector<std::pair<double, double>> points;  // (truth, predicted)
};

struct Scores {
    std::vector<std::string> classes;
    std::vector<std::string> action_units;
    ScoreOptions options;
    GroupScores overall;
    std::vector<GroupScores> per_source;      // by name; empty when no truth item names a source
    std::vector<UncertaintyRow> uncertainty;  // only rows with at least one item
    ScatterSample valence_scatter;
    ScatterSample arousal_scatter;
    std::size_t prior_levels = 0;  // predicted levels whose provenance is a prior, not the model
};

// Source name of items without one, in per-source tables.
inline constexpr std::string_view kNoSource = "(none)";

// What the scored labels cost, from the predictions that carry their cost (FEID records do).
struct LabelCost {
    std::size_t predictions = 0;                       // scored predictions that carry a cost
    TokenCounts tokens;                                // summed over them
    std::string model;                                 // whose price `usd` is at
    std::optional<double> usd;                         // nullopt without a price
    std::size_t correct_expressions = 0;               // expression labels right, overall
    std::optional<double> usd_per_correct_expression;  // usd / correct_expressions, when both are known
};

// nullopt when no matched prediction carries a cost. `price`: the configured model's, if any.
std::optional<LabelCost> label_cost(const std::vector<std::optional<Prediction>>& predictions, const Scores& scores,
                                    const std::string& model, const std::optional<Price>& price);

Scores score(const std::vector<std::string>& classes, const std::vector<std::string>& action_units,
             const std::vector<TruthItem>& truth, const std::vector<std::optional<Prediction>>& predictions,
             const ScoreOptions& options);

}  // namespace seke::feab
