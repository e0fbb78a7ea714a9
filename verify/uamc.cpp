#include "verify/uamc.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace seke {

namespace {

constexpr double kAuSmoothing = 0.25;  // pseudo-count per side for AU entropy
constexpr double kMadScale = 1.4826;   // MAD → standard deviation under normality
constexpr double kVaFullScale = 0.5;   // spread / distance at which VA uncertainty reaches 1
// VA distance at which disagreement with the expert reaches 1: twice AffectNet's inter-annotator
// RMSE (0.34 valence, 0.36 arousal); a gap beyond it is another reading, not annotator noise.
constexpr double kExpertVaFullScale = 0.7;
constexpr double kReliableAuWeight = 2;  // geometry sees these well (expert.hpp: AuJudgement::reliable)

std::size_t schema_index(const Knowledge& knowledge, const std::string& expression) {
    for (std::size_t i = 0; i < knowledge.expressions.size(); ++i)
        if (knowledge.expressions[i].name == expression) return i;
    return knowledge.expressions.size();
}

bool has(const std::vector<std::string>& set, const std::string& item) {
    return std::find(set.begin(), set.end(), item) != set.end();
}

double clamp01(double v) {
    return std::clamp(v, 0.0, 1.0);
}

bool is_integer(double v) {
    return std::abs(v - std::round(v)) < 1e-9;
}

// Continued fraction for the incomplete beta (Lentz's method, as in Numerical Recipes).
double beta_continued_fraction(double a, double b, double x) {
    constexpr int kMaxIterations = 300;
    constexpr double kEpsilon = 1e-14;
    constexpr double kTiny = 1e-300;
    const double qab = a + b;
    const double qap = a + 1;
    const double qam = a - 1;
    double c = 1;
    double d = 1 - qab * x / qap;
    if (std::abs(d) < kTiny) d = kTiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= kMaxIterations; ++m) {
        const double dm = m;
        const double m2 = 2 * dm;
        double aa = dm * (b - dm) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (std::abs(d) < kTiny) d = kTiny;
        c = 1 + aa / c;
        if (std::abs(c) < kTiny) c = kTiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + dm) * (qab + dm) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (std::abs(d) < kTiny) d = kTiny;
        c = 1 + aa / c;
        if (std::abs(c) < kTiny) c = kTiny;
        d = 1 / d;
        const double delta = d * c;
        h *= delta;
        if (std::abs(delta - 1) < kEpsilon) break;
    }
    return h;
}

}  // namespace

// ---- expression -------------------------------------------------------------------------------

const std::string* ExpressionTally::leader() const noexcept {
    return votes.empty() ? nullptr : &votes.front().first;
}

double ExpressionTally::leader_votes() const noexcept {
    return votes.empty() ? 0 : votes.front().second;
}

double ExpressionTally::runner_up_votes() const noexcept {
    return votes.size() < 2 ? 0 : votes[1].second;
}

ExpressionTally tally_expressions(const std::vector<WeightedVote>& votes, const Knowledge& knowledge) {
    ExpressionTally tally;
    for (const auto& vote : votes) {
        if (vote.weight <= 0) continue;
        auto it = std::find_if(tally.votes.begin(), tally.votes.end(),
                               [&](const auto& v) { return v.first == vote.expression; });
        if (it == tally.votes.end()) tally.votes.emplace_back(vote.expression, vote.weight);
        else it->second += vote.weight;
        tally.total += vote.weight;
    }
    std::stable_sort(tally.votes.begin(), tally.votes.end(), [&](const auto& x, const auto& y) {
        if (x.second != y.second) return x.second > y.second;
        return schema_index(knowledge, x.first) < schema_index(knowledge, y.first);
    });
    if (tally.total <= 0) return tally;
    double entropy = 0;
    for (const auto& [name, weight] : tally.votes) {
        const double share = weight / tally.total;
        tally.shares.emplace_back(name, share);
        if (share > 0) entropy -= share * std::log(share);
    }
    const double classes = static_cast<double>(knowledge.expressions.size());
    tally.entropy = classes >= 2 ? clamp01(entropy / std::log(classes)) : 0;
    tally.margin = tally.shares[0].second - (tally.shares.size() > 1 ? tally.shares[1].second : 0);
    return tally;
}

double regularized_incomplete_beta(double a, double b, double x) {
    if (!(a > 0) || !(b > 0) || std::isnan(x)) return std::numeric_limits<double>::quiet_NaN();
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    const double front =
        std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
    // The continued fraction converges fast on this side of the mean; use symmetry otherwise.
    if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
    return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

double prob_leader_is_mode(double leader_votes, double runner_up_votes) {
    const double v1 = std::max(0.0, leader_votes);
    const double v2 = std::max(0.0, runner_up_votes);
    if (std::abs(v1 - v2) < 1e-12) return 0.5;
    if (is_integer(v1) && is_integer(v2)) {
        // 1 − I_{1/2}(v1+1, v2+1) = P(Binomial(v1+v2+1, 1/2) ≤ v1): a finite sum.
        const auto k1 = static_cast<long>(std::llround(v1));
        const auto n = k1 + static_cast<long>(std::llround(v2)) + 1;
        const double dn = static_cast<double>(n);
        double sum = 0;
        for (long j = 0; j <= k1; ++j) {
            const double dj = static_cast<double>(j);
            sum += std::exp(std::lgamma(dn + 1) - std::lgamma(dj + 1) - std::lgamma(dn - dj + 1) - dn * std::log(2.0));
        }
        return clamp01(sum);
    }
    return clamp01(1 - regularized_incomplete_beta(v1 + 1, v2 + 1, 0.5));
}

double expression_uncertainty(const ExpressionTally& tally) {
    if (tally.total <= 0) return 1;
    const double spread = 0.5 * tally.entropy + 0.5 * (1 - tally.margin);
    const double small_sample = 1 - prob_leader_is_mode(tally.leader_votes(), tally.runner_up_votes());
    return clamp01(std::max(spread, small_sample));
}

// ---- action units -----------------------------------------------------------------------------

double binary_entropy(double p) {
    if (!(p > 0) || !(p < 1)) return 0;
    return clamp01(-(p * std::log2(p) + (1 - p) * std::log2(1 - p)));
}

AuTally tally_action_units(const std::vector<std::vector<std::string>>& samples, const Knowledge& knowledge,
                           double threshold) {
    AuTally tally;
    tally.samples = static_cast<int>(samples.size());
    if (samples.empty()) return tally;
    const double n = static_cast<double>(samples.size());
    double entropy_sum = 0;
    for (const auto& au : knowledge.action_units) {
        int count = 0;
        for (const auto& sample : samples)
            if (has(sample, au.code)) ++count;
        if (count == 0) continue;
        const double c = count;
        const double frequency = c / n;
        tally.frequency.emplace_back(au.code, frequency);
        if (frequency >= threshold - 1e-12) tally.present.push_back(au.code);
        entropy_sum += binary_entropy((c + kAuSmoothing) / (n + 2 * kAuSmoothing));
    }
    if (!tally.frequency.empty())
        tally.uncertainty = clamp01(entropy_sum / static_cast<double>(tally.frequency.size()));
    return tally;
}

bool au_ambiguous(const AuTally& tally, double threshold, double band) {
    return std::any_of(tally.frequency.begin(), tally.frequency.end(),
                       [&](const auto& f) { return std::abs(f.second - threshold) < band; });
}

// ---- valence-arousal --------------------------------------------------------------------------

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const std::size_t mid = values.size() / 2;
    if (values.size() % 2 == 1) return values[mid];
    return 0.5 * (values[mid - 1] + values[mid]);
}

double robust_spread(const std::vector<double>& values) {
    if (values.size() <= 1) return 0;
    if (values.size() == 2) return 0.5 * std::abs(values[0] - values[1]);
    const double centre = median(values);
    std::vector<double> deviations;
    deviations.reserve(values.size());
    for (double v : values) deviations.push_back(std::abs(v - centre));
    return kMadScale * median(std::move(deviations));
}

VaTally tally_va(const std::vector<double>& valence, const std::vector<double>& arousal) {
    VaTally tally;
    if (!valence.empty()) {
        tally.valence = median(valence);
        tally.valence_spread = robust_spread(valence);
    }
    if (!arousal.empty()) {
        tally.arousal = median(arousal);
        tally.arousal_spread = robust_spread(arousal);
    }
    tally.spread = std::max(tally.valence_spread, tally.arousal_spread);
    tally.uncertainty = std::min(1.0, tally.spread / kVaFullScale);
    return tally;
}

// ---- cross-level consistency ------------------------------------------------------------------

double au_expression_inconsistency(const Knowledge& knowledge, const std::string& expression,
                                   const std::vector<std::string>& action_units) {
    const ExpressionKnowledge* e = knowledge.find_expression(expression);
    if (!e) return 0;
    std::vector<std::vector<std::string>> combinations;
    if (!e->prototype.empty()) combinations.push_back(e->prototype);
    for (const auto& v : e->variants)
        if (!v.empty()) combinations.push_back(v);
    const double voted = static_cast<double>(action_units.size());
    // No typical AUs (neutral): every active AU argues against the label.
    if (combinations.empty()) return clamp01(voted / 4);

    double best_recall = 0;
    for (const auto& combination : combinations) {
        double hit = 0;
        for (const auto& au : combination)
            if (has(action_units, au)) hit += 1;
        best_recall = std::max(best_recall, hit / static_cast<double>(combination.size()));
    }
    double foreign = 0;
    for (const auto& au : action_units) {
        bool own = std::any_of(combinations.begin(), combinations.end(), [&](const auto& c) { return has(c, au); });
        if (own) continue;
        bool other =
            std::any_of(knowledge.expressions.begin(), knowledge.expressions.end(),
                        [&](const ExpressionKnowledge& x) { return x.name != e->name && has(x.prototype, au); });
        if (other) foreign += 1;
    }
    const double penalty = voted > 0 ? 0.5 * foreign / voted : 0;
    return clamp01(1 - best_recall + penalty);
}

double va_expression_inconsistency(const Knowledge& knowledge, const std::string& expression, double valence,
                                   double arousal) {
    const ExpressionKnowledge* e = knowledge.find_expression(expression);
    if (!e) return 0;
    const double dv = std::max({e->va.valence_min - valence, 0.0, valence - e->va.valence_max});
    const double da = std::max({e->va.arousal_min - arousal, 0.0, arousal - e->va.arousal_max});
    return clamp01(std::hypot(dv, da) / kVaFullScale);
}

double cross_level_inconsistency(const Knowledge& knowledge, const LabelSet& labels) {
    if (!labels.expression) return 0;
    const bool with_au = labels.has(Level::au);
    const bool with_va = labels.has(Level::va);
    const double a = with_au ? au_expression_inconsistency(knowledge, *labels.expression, *labels.action_units) : 0;
    const double b =
        with_va ? va_expression_inconsistency(knowledge, *labels.expression, *labels.valence, *labels.arousal) : 0;
    if (with_au && with_va) return clamp01(0.6 * a + 0.4 * b);
    if (with_au) return a;
    if (with_va) return b;
    return 0;
}

// ---- overall ----------------------------------------------------------------------------------

double overall_uncertainty(const Uncertainty& u, const UncertaintyWeights& weights, AnsweredLevels answered) {
    double sum = std::max(0.0, weights.consistency) * u.consistency;
    double total = std::max(0.0, weights.consistency);
    auto add = [&](bool on, double weight, double value) {
        if (!on || weight <= 0) return;
        sum += weight * value;
        total += weight;
    };
    add(answered.expression, weights.expression, u.expression);
    add(answered.va, weights.va, u.va);
    add(answered.au, weights.au, u.au);
    return total > 0 ? clamp01(sum / total) : 0;
}

double au_jaccard(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    if (a.empty() && b.empty()) return 1;
    double common = 0;
    for (const auto& x : a)
        if (has(b, x)) common += 1;
    const double unite = static_cast<double>(a.size() + b.size()) - common;
    return unite > 0 ? common / unite : 1;
}

// ---- the face expert as evidence --------------------------------------------------------------

std::optional<double> expert_expression_disagreement(const ExpertOpinion& expert, const std::string& leader) {
    if (expert.expression_probabilities.empty()) return std::nullopt;
    const double top = expert.expression_probabilities.front().second;
    auto it = std::find_if(expert.expression_probabilities.begin(), expert.expression_probabilities.end(),
                           [&](const auto& p) { return p.first == leader; });
    if (it == expert.expression_probabilities.end() || !(top > 0)) return std::nullopt;
    return clamp01(1 - it->second / top);
}

std::optional<double> expert_va_disagreement(const ExpertOpinion& expert, std::optional<double> valence,
                                             std::optional<double> arousal) {
    double squares = 0;
    bool compared = false;
    auto add = [&](const std::optional<double>& ours, const std::optional<double>& theirs) {
        if (!ours || !theirs) return;
        squares += (*ours - *theirs) * (*ours - *theirs);
        compared = true;
    };
    add(valence, expert.labels.valence);
    add(arousal, expert.labels.arousal);
    if (!compared) return std::nullopt;
    return clamp01(std::sqrt(squares) / kExpertVaFullScale);
}

std::optional<double> expert_au_disagreement(const ExpertOpinion& expert, const AuTally& tally,
                                             const std::vector<std::string>& fixed) {
    double sum = 0;
    double total = 0;
    for (const auto& judged : expert.action_units) {
        if (has(fixed, judged.code)) continue;
        double frequency = 0;
        for (const auto& [code, f] : tally.frequency)
            if (code == judged.code) frequency = f;
        const double weight = judged.reliable ? kReliableAuWeight : 1;
        sum += weight * std::abs(frequency - clamp01(judged.score));
        total += weight;
    }
    if (total <= 0) return std::nullopt;
    return clamp01(sum / total);
}

double raised_uncertainty(double u, double weight, double disagreement) {
    if (!(weight > 0) || !(disagreement > 0)) return u;
    return std::max(u, std::min(1.0, u + weight * std::min(1.0, disagreement)));
}

}  // namespace seke
