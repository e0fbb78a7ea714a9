#pragma once
// SV-UAMC arithmetic as pure functions: vote tallies, the posterior stop rule, per-level
// uncertainty and cross-level consistency. No state, no I/O: face_labeler.cpp decides when to
// call them, tests check them against hand-computed values.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "verify/engine_config.hpp"
#include "verify/expert.hpp"
#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke {

// ---- expression -------------------------------------------------------------------------------

struct WeightedVote {
    std::string expression;
    double weight = 1;  // 1 per sample; verification answers weigh more
};

struct ExpressionTally {
    // expression → summed weight, largest first; ties in the schema's class order.
    std::vector<std::pair<std::string, double>> votes;
    std::vector<std::pair<std::string, double>> shares;  // same order, summing to 1
    double total = 0;
    double entropy = 0;  // Shannon entropy of the shares / log(K), K = classes in the schema
    double margin = 0;   // share(top1) − share(top2); 1 when unanimous, 0 when no votes

    [[nodiscard]] const std::string* leader() const noexcept;
    [[nodiscard]] double leader_votes() const noexcept;
    [[nodiscard]] double runner_up_votes() const noexcept;
};

ExpressionTally tally_expressions(const std::vector<WeightedVote>& votes, const Knowledge& knowledge);

// Regularized incomplete beta I_x(a, b) for a, b > 0, x in [0, 1] (continued fraction).
double regularized_incomplete_beta(double a, double b, double x);

// Adaptive-Consistency stop rule on the top-two counts: with a uniform prior, the leader's share
// among the two is p ~ Beta(v1 + 1, v2 + 1), and this is P(p > 1/2) = 1 − I_{1/2}(v1+1, v2+1),
// the probability that the leader is the true mode. Exact finite binomial sum for integer counts,
// the continued fraction for weighted (non-integer) counts. 0.5 when v1 == v2.
double prob_leader_is_mode(double leader_votes, double runner_up_votes);

// Expression uncertainty in [0, 1]: the mean of normalised entropy and (1 − margin), but never
// below 1 − P(leader is mode), so that a unanimous vote of few samples is not called certain.
double expression_uncertainty(const ExpressionTally& tally);

// ---- action units -----------------------------------------------------------------------------

// Binary entropy in bits, in [0, 1].
double binary_entropy(double p);

struct AuTally {
    int samples = 0;
    // Frequency of each AU that appeared in at least one sample, in the schema's AU order.
    std::vector<std::pair<std::string, double>> frequency;
    std::vector<std::string> present;  // frequency ≥ threshold, schema order
    // Mean binary entropy over the AUs that appeared, on smoothed frequencies
    // (c + 0.25) / (n + 0.5): unanimity over few samples keeps a little uncertainty. 0 if none.
    double uncertainty = 0;
};

AuTally tally_action_units(const std::vector<std::vector<std::string>>& samples, const Knowledge& knowledge,
                           double threshold);

// True when some AU's frequency is within `band` (strictly) of the threshold: not settled.
bool au_ambiguous(const AuTally& tally, double threshold, double band = 0.2);

// ---- valence-arousal --------------------------------------------------------------------------

double median(std::vector<double> values);
// Robust spread: MAD · 1.4826 for three or more values, half the range for one or two.
double robust_spread(const std::vector<double>& values);

struct VaTally {
    std::optional<double> valence;  // median; nullopt when no values
    std::optional<double> arousal;
    double valence_spread = 0;
    double arousal_spread = 0;
    double spread = 0;       // the larger of the two: VA is settled only when both are
    double uncertainty = 0;  // min(1, spread / 0.5)
};

VaTally tally_va(const std::vector<double>& valence, const std::vector<double>& arousal);

// ---- cross-level consistency ------------------------------------------------------------------

// How badly the AUs fit the expression, in [0, 1]: 1 − the best recall of the prototype (or a
// variant) among the AUs, plus 0.5 · (share of AUs that belong to no combination of this
// expression but to the prototype of another). Neutral: grows with the number of AUs (n / 4).
// 0 for an expression not in the knowledge.
double au_expression_inconsistency(const Knowledge& knowledge, const std::string& expression,
                                   const std::vector<std::string>& action_units);

// Distance of the VA point outside the expression's prior region, scaled to 1 at 0.5 outside.
double va_expression_inconsistency(const Knowledge& knowledge, const std::string& expression, double valence,
                                   double arousal);

// 0.6 · AU part + 0.4 · VA part over whatever levels `labels` holds (known or voted); the weights
// renormalise when one part is missing; 0 without an expression.
double cross_level_inconsistency(const Knowledge& knowledge, const LabelSet& labels);

// ---- overall ----------------------------------------------------------------------------------

struct AnsweredLevels {
    bool expression = false;
    bool va = false;
    bool au = false;
};

// Weighted mean of the per-level uncertainties the model answered plus consistency; known
// levels' weights are dropped and the rest renormalised. Clamped to [0, 1].
double overall_uncertainty(const Uncertainty& u, const UncertaintyWeights& weights, AnsweredLevels answered);

// Jaccard index of two AU sets (1 when both are empty).
double au_jaccard(const std::vector<std::string>& a, const std::vector<std::string>& b);

// ---- the face expert as evidence --------------------------------------------------------------
// How far the aggregate is from a (non-abstained) expert opinion, per level, in [0, 1]; nullopt
// when the expert has nothing to say about it.

// 1 − p(leader) / p(expert's top): 0 when the vote leader is the expert's own top class (however
// sure it is), near 1 when it gives the leader almost nothing. Nullopt when the leader is an
// expression no network covers (contempt): the expert cannot see it.
std::optional<double> expert_expression_disagreement(const ExpertOpinion& expert, const std::string& leader);

// Distance between the aggregate's and the expert's VA over the components given (either may
// be missing: a known one is not compared), / 0.7, capped at 1. Nullopt when none is compared.
std::optional<double> expert_va_disagreement(const ExpertOpinion& expert, std::optional<double> valence,
                                             std::optional<double> arousal);

// Weighted mean of |vote frequency − the expert's evidence| over the AUs the expert judged;
// reliable ones weigh twice. AUs it cannot see (au_unknown) and AUs in `fixed` (coded by the
// source: facts, not votes) are not counted. Nullopt when none is left.
std::optional<double> expert_au_disagreement(const ExpertOpinion& expert, const AuTally& tally,
                                             const std::vector<std::string>& fixed = {});

// u + weight · disagreement, capped at 1; never below u (a negative weight counts as 0).
double raised_uncertainty(double u, double weight, double disagreement);

}  // namespace seke
