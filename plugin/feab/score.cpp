#include "plugin/feab/score.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace seke::feab {
namespace {

// One uncertainty signal, one error kind: the paired samples a row is computed from.
struct SignalSamples {
    std::vector<double> uncertainty;
    std::vector<bool> error;
};

ExpressionScores score_expression(const std::vector<std::string>& classes, const std::vector<TruthItem>& truth,
                                  const std::vector<std::optional<Prediction>>& predictions,
                                  const std::vector<std::size_t>& members) {
    ExpressionScores out;
    std::vector<std::string> truth_labels, predicted_labels;
    for (std::size_t i : members) {
        if (!truth[i].labels.expression) continue;
        ++out.truth_items;
        if (!predictions[i] || !predictions[i]->labels.expression) continue;
        truth_labels.push_back(classes[static_cast<std::size_t>(*truth[i].labels.expression)]);
        predicted_labels.push_back(classes[static_cast<std::size_t>(*predictions[i]->labels.expression)]);
    }
    out.scored = truth_labels.size();
    out.accuracy = metrics::accuracy(truth_labels, predicted_labels);
    out.macro_f1 = metrics::macro_f1(truth_labels, predicted_labels, classes);
    out.confusion = metrics::confusion_matrix(truth_labels, predicted_labels, classes);
    for (std::size_t c = 0; c < classes.size(); ++c) {
        metrics::BinaryCounts counts;
        for (std::size_t other = 0; other < classes.size(); ++other) {
            if (other == c) continue;
            counts.fn += out.confusion[c][other];
            counts.fp += out.confusion[other][c];
        }
        counts.tp = out.confusion[c][c];
        out.class_f1.push_back(metrics::f1(counts));
    }
    return out;
}

ActionUnitScores score_action_units(const std::vector<std::string>& action_units, const std::vector<TruthItem>& truth,
                                    const std::vector<std::optional<Prediction>>& predictions,
                                    const std::vector<std::size_t>& members) {
    ActionUnitScores out;
    out.per_au.resize(action_units.size());
    for (std::size_t a = 0; a < action_units.size(); ++a) out.per_au[a].code = action_units[a];
    std::vector<bool> in_truth(action_units.size()), in_prediction(action_units.size());
    for (std::size_t i : members) {
        if (!truth[i].labels.action_units) continue;
        ++out.truth_items;
        if (!predictions[i] || !predictions[i]->labels.action_units) continue;
        ++out.scored;
        std::fill(in_truth.begin(), in_truth.end(), false);
        std::fill(in_prediction.begin(), in_prediction.end(), false);
        for (int a : *truth[i].labels.action_units) in_truth[static_cast<std::size_t>(a)] = true;
        for (int a : *predictions[i]->labels.action_units) in_prediction[static_cast<std::size_t>(a)] = true;
        const std::vector<int>& unknown = predictions[i]->labels.action_units_unknown;
        const std::vector<int>& uncoded = truth[i].action_units_uncoded;
        for (std::size_t a = 0; a < action_units.size(); ++a) {
            // An AU the source did not code or the predictor did not judge counts for neither side.
            if (std::binary_search(unknown.begin(), unknown.end(), static_cast<int>(a)) ||
                std::binary_search(uncoded.begin(), uncoded.end(), static_cast<int>(a)))
                continue;
            metrics::BinaryCounts& c = out.per_au[a].counts;
            c.tp += in_truth[a] && in_prediction[a];
            c.fp += !in_truth[a] && in_prediction[a];
            c.fn += in_truth[a] && !in_prediction[a];
            c.tn += !in_truth[a] && !in_prediction[a];
        }
    }
    double sum = 0;
    int counted = 0;
    for (auto& au : out.per_au) {
        au.f1 = metrics::f1(au.counts);
        // Same rule as macro-F1: an AU nobody has and nobody claims says nothing either way.
        au.in_mean = au.counts.tp + au.counts.fp + au.counts.fn > 0;
        if (au.in_mean) {
            sum += au.f1;
            ++counted;
        }
    }
    out.mean_f1 = counted ? sum / counted : 0;
    return out;
}

DimensionScores score_dimension(const std::vector<TruthItem>& truth,
                                const std::vector<std::optional<Prediction>>& predictions,
                                const std::vector<std::size_t>& members, std::optional<double> FaceLabels::*field,
                                ScatterSample* scatter, std::size_t scatter_points) {
    DimensionScores out;
    std::vector<double> truth_values, predicted_values;
    for (std::size_t i : members) {
        if (!(truth[i].labels.*field)) continue;
        ++out.truth_items;
        if (!predictions[i] || !(predictions[i]->labels.*field)) continue;
        truth_values.push_back(*(truth[i].labels.*field));
        predicted_values.push_back(*(predictions[i]->labels.*field));
    }
    out.scored = truth_values.size();
    out.ccc = metrics::ccc(truth_values, predicted_values);
    out.rmse = metrics::rmse(truth_values, predicted_values);
    if (scatter) {
        scatter->total = truth_values.size();
        std::size_t stride = std::max<std::size_t>(
            1, (truth_values.size() + scatter_points - 1) / std::max<std::size_t>(scatter_points, 1));
        for (std::size_t i = 0; i < truth_values.size(); i += stride)
            scatter->points.emplace_back(truth_values[i], predicted_values[i]);
    }
    return out;
}

GroupScores score_group(std::string name, const std::vector<std::string>& classes,
                        const std::vector<std::string>& action_units, const std::vector<TruthItem>& truth,
                        const std::vector<std::optional<Prediction>>& predictions,
                        const std::vector<std::size_t>& members, Scores* scatter_owner, std::size_t scatter_points) {
    GroupScores out;
    out.name = std::move(name);
    out.items = members.size();
    for (std::size_t i : members) out.predicted += predictions[i].has_value();
    out.expression = score_expression(classes, truth, predictions, members);
    out.action_units = score_action_units(action_units, truth, predictions, members);
    out.valence = score_dimension(truth, predictions, members, &FaceLabels::valence,
                                  scatter_owner ? &scatter_owner->valence_scatter : nullptr, scatter_points);
    out.arousal = score_dimension(truth, predictions, members, &FaceLabels::arousal,
                                  scatter_owner ? &scatter_owner->arousal_scatter : nullptr, scatter_points);
    return out;
}

UncertaintyRow uncertainty_row(ErrorTarget target, UncertaintySignal signal, const SignalSamples& samples,
                               const ScoreOptions& options) {
    UncertaintyRow row;
    row.target = target;
    row.signal = signal;
    row.items = samples.error.size();
    row.errors = static_cast<std::size_t>(std::count(samples.error.begin(), samples.error.end(), true));
    row.auroc = metrics::auroc(samples.uncertainty, samples.error);
    std::vector<double> all_budgets = options.review_budgets;
    all_budgets.insert(all_budgets.end(), curve_budgets().begin(), curve_budgets().end());
    std::vector<double> caught = metrics::positives_caught_curve(samples.uncertainty, samples.error, all_budgets);
    auto split = caught.begin() + static_cast<std::ptrdiff_t>(options.review_budgets.size());
    row.caught.assign(caught.begin(), split);
    row.caught_curve.assign(split, caught.end());
    row.reliability = metrics::reliability_bins(samples.uncertainty, samples.error, options.reliability_bins);
    row.ece = metrics::expected_calibration_error(row.reliability);
    return row;
}

std::optional<double> signal_value(const PredictedUncertainty& u, UncertaintySignal signal) {
    switch (signal) {
        case UncertaintySignal::expression: return u.expression;
        case UncertaintySignal::va: return u.va;
        case UncertaintySignal::au: return u.au;
        case UncertaintySignal::overall: return u.overall;
    }
    return std::nullopt;
}

std::optional<bool> target_error(const ItemErrors& errors, ErrorTarget target) {
    switch (target) {
        case ErrorTarget::expression: return errors.expression;
        case ErrorTarget::va: return errors.va;
        case ErrorTarget::au: return errors.au;
        case ErrorTarget::any: return errors.any;
    }
    return std::nullopt;
}

}  // namespace

const std::vector<double>& curve_budgets() {
    static const std::vector<double> budgets = [] {
        std::vector<double> out;
        for (int step = 0; step <= 20; ++step) out.push_back(step * 0.05);
        return out;
    }();
    return budgets;
}

std::string_view error_target_name(ErrorTarget target) noexcept {
    switch (target) {
        case ErrorTarget::expression: return "expression";
        case ErrorTarget::va: return "va";
        case ErrorTarget::au: return "au";
        case ErrorTarget::any: return "any";
    }
    return "?";
}

std::string_view uncertainty_signal_name(UncertaintySignal signal) noexcept {
    switch (signal) {
        case UncertaintySignal::expression: return "expression";
        case UncertaintySignal::va: return "va";
        case UncertaintySignal::au: return "au";
        case UncertaintySignal::overall: return "overall";
    }
    return "?";
}

ItemErrors item_errors(const FaceLabels& truth, const FaceLabels& predicted, double va_tolerance,
                       const std::vector<int>& truth_uncoded) {
    ItemErrors out;
    if (truth.expression && predicted.expression) out.expression = *truth.expression != *predicted.expression;
    if (truth.action_units && predicted.action_units) {
        // An AU the predictor did not judge, or the source did not code, is neither right nor wrong.
        auto compared = [&](int a) {
            return !std::binary_search(predicted.action_units_unknown.begin(), predicted.action_units_unknown.end(),
                                       a) &&
                   !std::binary_search(truth_uncoded.begin(), truth_uncoded.end(), a);
        };
        auto judged = [&](const std::vector<int>& units) {
            std::vector<int> kept;
            for (int a : units)
                if (compared(a)) kept.push_back(a);
            return kept;
        };
        out.au = judged(*truth.action_units) != judged(*predicted.action_units);
    }
    auto off = [&](const std::optional<double>& t, const std::optional<double>& p) -> std::optional<bool> {
        if (!t || !p) return std::nullopt;
        return std::abs(*t - *p) > va_tolerance;
    };
    auto valence_off = off(truth.valence, predicted.valence);
    auto arousal_off = off(truth.arousal, predicted.arousal);
    if (valence_off || arousal_off) out.va = valence_off.value_or(false) || arousal_off.value_or(false);
    if (out.expression || out.va || out.au)
        out.any = out.expression.value_or(false) || out.va.value_or(false) || out.au.value_or(false);
    return out;
}

Scores score(const std::vector<std::string>& classes, const std::vector<std::string>& action_units,
             const std::vector<TruthItem>& truth, const std::vector<std::optional<Prediction>>& predictions,
             const ScoreOptions& options) {
    Scores out;
    out.classes = classes;
    out.action_units = action_units;
    out.options = options;

    std::vector<std::size_t> everyone(std::min(truth.size(), predictions.size()));
    std::iota(everyone.begin(), everyone.end(), 0);
    out.overall =
        score_group("overall", classes, action_units, truth, predictions, everyone, &out, options.scatter_points);

    std::map<std::string, std::vector<std::size_t>> by_source;
    bool any_source = false;
    for (std::size_t i : everyone) {
        by_source[truth[i].source.empty() ? std::string(kNoSource) : truth[i].source].push_back(i);
        any_source = any_source || !truth[i].source.empty();
    }
    if (any_source)
        for (const auto& [name, members] : by_source)
            out.per_source.push_back(score_group(name, classes, action_units, truth, predictions, members, nullptr, 0));

    // Each level's own uncertainty against its own error, and `overall` against every error kind.
    const std::vector<std::pair<ErrorTarget, UncertaintySignal>> pairs = {
        {ErrorTarget::expression, UncertaintySignal::expression},
        {ErrorTarget::va, UncertaintySignal::va},
        {ErrorTarget::au, UncertaintySignal::au},
        {ErrorTarget::any, UncertaintySignal::overall},
        {ErrorTarget::expression, UncertaintySignal::overall},
        {ErrorTarget::va, UncertaintySignal::overall},
        {ErrorTarget::au, UncertaintySignal::overall},
    };
    std::vector<SignalSamples> samples(pairs.size());
    for (std::size_t i : everyone) {
        if (!predictions[i]) continue;
        out.prior_levels += static_cast<std::size_t>(predictions[i]->prior_levels);
        if (!predictions[i]->uncertainty.any()) continue;
        ItemErrors errors =
            item_errors(truth[i].labels, predictions[i]->labels, options.va_tolerance, truth[i].action_units_uncoded);
        for (std::size_t p = 0; p < pairs.size(); ++p) {
            auto error = target_error(errors, pairs[p].first);
            auto value = signal_value(predictions[i]->uncertainty, pairs[p].second);
            if (!error || !value || !std::isfinite(*value)) continue;
            samples[p].uncertainty.push_back(*value);
            samples[p].error.push_back(*error);
        }
    }
    for (std::size_t p = 0; p < pairs.size(); ++p)
        if (!samples[p].error.empty())
            out.uncertainty.push_back(uncertainty_row(pairs[p].first, pairs[p].second, samples[p], options));
    return out;
}

std::optional<LabelCost> label_cost(const std::vector<std::optional<Prediction>>& predictions, const Scores& scores,
                                    const std::string& model, const std::optional<Price>& price) {
    LabelCost cost;
    for (const auto& prediction : predictions) {
        if (!prediction || !prediction->tokens) continue;
        ++cost.predictions;
        cost.tokens += *prediction->tokens;
    }
    if (cost.predictions == 0) return std::nullopt;
    cost.model = model;
    const ExpressionScores& expression = scores.overall.expression;
    cost.correct_expressions =
        static_cast<std::size_t>(std::llround(expression.accuracy * static_cast<double>(expression.scored)));
    if (price) {
        cost.usd = cost_usd(*price, cost.tokens);
        if (cost.correct_expressions > 0)
            cost.usd_per_correct_expression = *cost.usd / static_cast<double>(cost.correct_expressions);
    }
    return cost;
}

}  // namespace seke::feab
