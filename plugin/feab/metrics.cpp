#include "plugin/feab/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace seke::metrics {

double accuracy(const std::vector<std::string>& truth, const std::vector<std::string>& predicted) {
    std::size_t n = std::min(truth.size(), predicted.size());
    if (n == 0) return 0;
    std::size_t hits = 0;
    for (std::size_t i = 0; i < n; ++i) hits += truth[i] == predicted[i];
    return static_cast<double>(hits) / static_cast<double>(n);
}

double macro_f1(const std::vector<std::string>& truth, const std::vector<std::string>& predicted,
                const std::vector<std::string>& classes) {
    std::size_t n = std::min(truth.size(), predicted.size());
    double sum = 0;
    int counted = 0;
    for (const auto& c : classes) {
        BinaryCounts counts;
        for (std::size_t i = 0; i < n; ++i) {
            bool t = truth[i] == c;
            bool p = predicted[i] == c;
            counts.tp += t && p;
            counts.fp += !t && p;
            counts.fn += t && !p;
        }
        if (counts.tp + counts.fp + counts.fn == 0) continue;
        sum += f1(counts);
        ++counted;
    }
    return counted ? sum / counted : 0;
}

double f1(const BinaryCounts& c) {
    double denominator = static_cast<double>(2 * c.tp + c.fp + c.fn);
    return denominator > 0 ? 2.0 * static_cast<double>(c.tp) / denominator : 0;
}

double ccc(const std::vector<double>& x, const std::vector<double>& y) {
    std::size_t n = std::min(x.size(), y.size());
    if (n < 2) return 0;
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < n; ++i) {
        mx += x[i];
        my += y[i];
    }
    mx /= static_cast<double>(n);
    my /= static_cast<double>(n);
    double vx = 0, vy = 0, cov = 0;
    for (std::size_t i = 0; i < n; ++i) {
        vx += (x[i] - mx) * (x[i] - mx);
        vy += (y[i] - my) * (y[i] - my);
        cov += (x[i] - mx) * (y[i] - my);
    }
    vx /= static_cast<double>(n);
    vy /= static_cast<double>(n);
    cov /= static_cast<double>(n);
    double denominator = vx + vy + (mx - my) * (mx - my);
    return denominator > 0 ? 2 * cov / denominator : 0;
}

double rmse(const std::vector<double>& x, const std::vector<double>& y) {
    std::size_t n = std::min(x.size(), y.size());
    if (n == 0) return 0;
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += (x[i] - y[i]) * (x[i] - y[i]);
    return std::sqrt(sum / static_cast<double>(n));
}

double auroc(const std::vector<double>& score, const std::vector<bool>& positive) {
    std::size_t n = std::min(score.size(), positive.size());
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return score[a] < score[b]; });
    // Mann-Whitney U with average ranks for ties.
    double rank_sum = 0;
    std::size_t positives = 0;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        while (j < n && score[order[j]] == score[order[i]]) ++j;
        double average_rank = (static_cast<double>(i) + static_cast<double>(j) + 1) / 2;
        for (std::size_t k = i; k < j; ++k)
            if (positive[order[k]]) {
                rank_sum += average_rank;
                ++positives;
            }
        i = j;
    }
    std::size_t negatives = n - positives;
    if (positives == 0 || negatives == 0) return 0.5;
    double p = static_cast<double>(positives);
    return (rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

std::vector<std::vector<std::size_t>> confusion_matrix(const std::vector<std::string>& truth,
                                                       const std::vector<std::string>& predicted,
                                                       const std::vector<std::string>& classes) {
    std::vector<std::vector<std::size_t>> matrix(classes.size(), std::vector<std::size_t>(classes.size(), 0));
    auto index_of = [&](const std::string& label) {
        return static_cast<std::size_t>(std::find(classes.begin(), classes.end(), label) - classes.begin());
    };
    std::size_t n = std::min(truth.size(), predicted.size());
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t row = index_of(truth[i]);
        std::size_t column = index_of(predicted[i]);
        if (row < classes.size() && column < classes.size()) ++matrix[row][column];
    }
    return matrix;
}

std::vector<ReliabilityBin> reliability_bins(const std::vector<double>& probability, const std::vector<bool>& positive,
                                             int bins) {
    bins = std::max(bins, 1);
    std::vector<ReliabilityBin> out(static_cast<std::size_t>(bins));
    std::vector<double> predicted_sum(out.size(), 0), positive_count(out.size(), 0);
    for (std::size_t b = 0; b < out.size(); ++b) {
        out[b].lower = static_cast<double>(b) / bins;
        out[b].upper = static_cast<double>(b + 1) / bins;
    }
    std::size_t n = std::min(probability.size(), positive.size());
    for (std::size_t i = 0; i < n; ++i) {
        double p = std::clamp(probability[i], 0.0, 1.0);
        auto b = std::min(static_cast<std::size_t>(p * bins), out.size() - 1);
        ++out[b].count;
        predicted_sum[b] += p;
        positive_count[b] += positive[i] ? 1 : 0;
    }
    for (std::size_t b = 0; b < out.size(); ++b) {
        if (out[b].count == 0) continue;
        auto count = static_cast<double>(out[b].count);
        out[b].mean_predicted = predicted_sum[b] / count;
        out[b].observed_rate = positive_count[b] / count;
    }
    return out;
}

double expected_calibration_error(const std::vector<ReliabilityBin>& bins) {
    std::size_t total = 0;
    double weighted_gap = 0;
    for (const auto& bin : bins) {
        total += bin.count;
        weighted_gap += static_cast<double>(bin.count) * std::abs(bin.observed_rate - bin.mean_predicted);
    }
    return total ? weighted_gap / static_cast<double>(total) : 0;
}

std::vector<double> positives_caught_curve(const std::vector<double>& score, const std::vector<bool>& positive,
                                           const std::vector<double>& budgets) {
    std::size_t n = std::min(score.size(), positive.size());
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
    // Groups of tied scores, most uncertain first: (size, positives).
    std::vector<std::pair<std::size_t, std::size_t>> groups;
    std::size_t total_positives = 0;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i, positives = 0;
        while (j < n && score[order[j]] == score[order[i]]) positives += positive[order[j++]] ? 1 : 0;
        groups.emplace_back(j - i, positives);
        total_positives += positives;
        i = j;
    }
    std::vector<double> caught;
    caught.reserve(budgets.size());
    for (double budget : budgets) {
        if (total_positives == 0) {
            caught.push_back(0);
            continue;
        }
        double to_review = std::clamp(budget, 0.0, 1.0) * static_cast<double>(n);
        double found = 0;
        for (const auto& [size, positives] : groups) {
            if (to_review <= 0) break;
            double taken = std::min(to_review, static_cast<double>(size));
            found += static_cast<double>(positives) * taken / static_cast<double>(size);
            to_review -= taken;
        }
        caught.push_back(found / static_cast<double>(total_positives));
    }
    return caught;
}

double positives_caught_at_budget(const std::vector<double>& score, const std::vector<bool>& positive, double budget) {
    return positives_caught_curve(score, positive, {budget}).front();
}

}  // namespace seke::metrics
