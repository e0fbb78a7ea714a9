#include "plugin/metrics.hpp"

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

}  // namespace seke::metrics
