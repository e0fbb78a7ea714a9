// The SV-UAMC state machine for one face.
//
// Phases: sampling → (verifying)* → (describing) → done. Each step hands back one ModelRequest;
// feed() records the reply (trace, cost), parses every choice whole-or-nothing, and moves on.
//
// - Only levels missing from `known` are asked (valence and arousal each on its own); known
//   levels are facts: shown in every prompt, never read back from an answer, never overwritten.
//   They still take part in the cross-level consistency check.
// - A partly known AU level (a source that coded some AUs): only the AUs not coded are asked and
//   voted on; the coded ones are fixed evidence, merged into every aggregate (so they count in the
//   consistency check) but never tallied (so AU uncertainty is over the AUs the model decided).
// - Modes: greedy = one request, n=1, temperature 0; fixed = one request of fixed_samples at
//   `temperature`, majority vote (both baselines: no verification). uamc = rounds: k_min first,
//   then round_size, up to k_max answers. After each round it stops when every asked level has
//   settled: P(leader is mode) ≥ stop_confidence (Adaptive-Consistency posterior on the top two),
//   VA spread ≤ va_settled_spread, no AU frequency within au_settled_band of au_threshold.
// - Self-verification (uamc only) when the aggregate is inconsistent across levels or the vote
//   margin is thin: one temperature-0 request shows the aggregate as candidates; its answer votes
//   with verification_weight for the expression and counts as one more sample for AU and VA,
//   because a checked answer is worth more than one more draw but must not override a clear vote.
// - Descriptions are chosen per level, each from an answer that agrees with the final label of
//   that level, so that no exported description contradicts an exported label: expression from
//   an answer with the final expression; AU from one whose AU set equals the final set; VA from
//   one whose valence and arousal are each within kVaDescriptionTolerance of the final ones (and
//   on the same side of 0 where the final value is clearly non-zero). A known level's
//   description comes, as before, from an answer with the final expression (when that is asked):
//   the fact was shown to the model, so its description is about the fact. When some level has
//   no such answer, one describe request (final labels as facts) is spent and its answer gives
//   every level it describes. If that request fails, or an earlier failure ends the work, a
//   level without a consistent answer is left blank: no description beats a contradicting one.
// - Failures: a failed or all-malformed request counts towards max_request_failures. With no
//   usable answer yet the round is retried until that limit, then ok=false. With usable answers,
//   a failed request ends the work with what there is (stop_reason says why): labels from a few
//   good samples beat no labels, and the model is evidently unwell.
// - The built-in face expert (an ExpertOpinion, when given). expert_only: it is the provider;
//   start() returns its labels for the missing levels (provenance expert), known facts as they
//   are, no request, stop reason "expert"; an abstained opinion fails the face with no_face.
//   Otherwise it is evidence, never a vote: a confident expert whose top expression is not the
//   vote leader asks for self-verification, and at the end each level's disagreement with it
//   raises that level's uncertainty by expert_weight. The networks see the same pixels but are
//   independent of the model, so their disagreement is doubt worth a reviewer's look; they are
//   too weak (7 classes, derived VA, geometry AUs) to overrule the vote. An abstained opinion
//   is ignored.
#include "verify/face_labeler.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <exception>

#include "verify/au_prior.hpp"
#include "verify/uamc.hpp"

namespace seke {

namespace {

constexpr std::size_t kMaxTraceRaw = 4096;
constexpr double kDisagreementPenalty = 0.25;  // added to expression uncertainty
// A VA description may come from an answer whose valence and arousal are each this close to the
// final ones: about the width of one word ("slightly positive" vs "positive").
constexpr double kVaDescriptionTolerance = 0.15;
// Beyond this distance from 0 a final valence or arousal has a sign, and a description of the
// opposite sign would contradict it even within the tolerance.
constexpr double kVaNearZero = 0.05;
constexpr double kEps = 1e-9;

bool same_au_set(std::vector<std::string> a, std::vector<std::string> b) {
    std::sort(a.begin(), a.end());
    a.erase(std::unique(a.begin(), a.end()), a.end());
    std::sort(b.begin(), b.end());
    b.erase(std::unique(b.begin(), b.end()), b.end());
    return a == b;
}

bool va_close(const std::optional<double>& answered, const std::optional<double>& final_value) {
    if (!answered || !final_value) return false;
    if (std::abs(*answered - *final_value) > kVaDescriptionTolerance + kEps) return false;
    return std::abs(*final_value) <= kVaNearZero || *answered * *final_value > 0;
}

std::string& description_of(Descriptions& d, Level level) {
    switch (level) {
        case Level::expression: return d.expression;
        case Level::va: return d.va;
        case Level::au: return d.au;
    }
    return d.expression;
}

const std::string& description_of(const Descriptions& d, Level level) {
    switch (level) {
        case Level::expression: return d.expression;
        case Level::va: return d.va;
        case Level::au: return d.au;
    }
    return d.expression;
}

bool complete(const Descriptions& d) {
    return !d.expression.empty() && !d.va.empty() && !d.au.empty();
}

// Cut at a UTF-8 boundary: the trace is serialised as JSON later, and a split sequence would
// make that fail.
std::string bounded(const std::string& raw) {
    if (raw.size() <= kMaxTraceRaw) return raw;
    std::size_t cut = kMaxTraceRaw;
    while (cut > 0 && (static_cast<unsigned char>(raw[cut]) & 0xC0) == 0x80) --cut;
    return raw.substr(0, cut);
}

enum class Phase { idle, sampling, verifying, describing, done };

struct Usable {
    Answer answer;
    double weight = 1;  // expression vote weight
};

struct Aggregate {
    ExpressionTally expression;
    AuTally au;
    VaTally va;
    LabelSet labels;  // known facts + voted model labels
    double inconsistency = 0;
};

}  // namespace

struct FaceLabeler::State {
    const Knowledge* knowledge = nullptr;
    EngineConfig config;
    LabelSet known;
    LevelProvenance known_provenance;
    std::shared_ptr<const FewShotExamples> examples;
    std::optional<ExpertOpinion> expert;  // as given; used as evidence only when not abstained
    // Built once: every sample request of a face asks the same question.
    std::optional<std::vector<ExampleTurn>> sample_turns;

    AnsweredLevels asked;  // levels the model answers (va: at least one of the two)
    bool ask_valence = false;
    bool ask_arousal = false;

    Phase phase = Phase::idle;
    ModelRequest pending;
    PromptSpec pending_spec;
    int next_ordinal = 0;

    std::vector<Usable> usable;
    int sample_answers = 0;  // answers to sample requests, malformed included (bounded by k_max)
    int failures = 0;
    std::optional<Error> last_error;
    std::string stop_reason;
    LabelSet candidates;  // what the last verification request showed

    Cost cost;
    Trace trace;
    std::optional<FaceResult> result;

    // ---- steps --------------------------------------------------------------------------------

    LabelerStep request(RequestKind kind, PromptSpec spec, int n, double temperature) {
        pending = ModelRequest{};
        pending.ordinal = next_ordinal++;
        pending.kind = kind;
        pending.prompt = build_prompt(*knowledge, spec);
        pending.n = n;
        pending.temperature = temperature;
        if (kind == RequestKind::sample) pending.examples = example_turns(spec);
        pending_spec = std::move(spec);
        if (kind == RequestKind::sample) {
            phase = Phase::sampling;
            ++trace.rounds;
        } else {
            phase = kind == RequestKind::verify ? Phase::verifying : Phase::describing;
        }
        return pending;
    }

    const std::vector<ExampleTurn>& example_turns(const PromptSpec& spec) {
        if (sample_turns) return *sample_turns;
        sample_turns.emplace();
        if (!examples) return *sample_turns;
        for (std::size_t i = 0; i < examples->size(); ++i) {
            // More would be cut by the client's bound anyway (it keeps a prefix).
            if (sample_turns->size() >= kMaxFewShotExamples) break;
            const FewShotExample& example = (*examples)[i];
            auto question = example_spec(spec, example.labels);
            if (!question) continue;
            auto answer = example_answer(*knowledge, *question, example.labels, example.descriptions);
            if (!answer) continue;
            ExampleTurn turn;
            turn.example = i;
            turn.image_hash = example.image_hash;
            turn.user = build_prompt(*knowledge, *question).user;
            turn.assistant = std::move(*answer);
            sample_turns->push_back(std::move(turn));
        }
        return *sample_turns;
    }

    PromptSpec sample_spec() const {
        PromptSpec spec;
        spec.kind = RequestKind::sample;
        spec.known = known;
        return spec;
    }

    LabelerStep sample_round(int n, double temperature) {
        return request(RequestKind::sample, sample_spec(), std::max(1, n), temperature);
    }

    LabelerStep start() {
        if (phase != Phase::idle) return current();
        asked.expression = !known.expression.has_value();
        asked.au = !known.has(Level::au);
        ask_valence = !known.valence.has_value();
        ask_arousal = !known.arousal.has_value();
        asked.va = ask_valence || ask_arousal;
        if (config.expert_only) return from_expert();
        if (expert) trace.expert = expert_trace(*expert);
        if (!asked.expression && !asked.au && !asked.va) {
            stop_reason = "known";
            return describe_or_finish(known);
        }
        switch (config.mode) {
            case SamplingMode::greedy: return sample_round(1, 0);
            case SamplingMode::fixed: return sample_round(config.fixed_samples, config.temperature);
            case SamplingMode::uamc: break;
        }
        return sample_round(config.k_min, config.temperature);
    }

    // ---- the face expert ----------------------------------------------------------------------

    static ExpertTrace expert_trace(const ExpertOpinion& opinion) {
        ExpertTrace t;
        t.used = !opinion.abstained;
        if (opinion.abstained) t.abstain_reason = opinion.abstain_reason;
        if (!opinion.expression_probabilities.empty()) {
            t.expression = opinion.expression_probabilities.front().first;
            t.probability = opinion.expression_probabilities.front().second;
        }
        return t;
    }

    // The AUs a partly known AU level codes: fixed, never compared or tallied.
    std::vector<std::string> coded_aus() const {
        return known.au_partly_known() ? *known.au_coded : std::vector<std::string>{};
    }

    bool expert_is_evidence() const { return !config.expert_only && expert && !expert->abstained; }

    // expert_only: the opinion is the answer for every missing level; nothing is requested.
    LabelerStep from_expert() {
        if (!asked.expression && !asked.au && !asked.va) {
            stop_reason = "known";
            return finish({});
        }
        if (!expert)
            return fail(make_error(errc::invalid_argument, "engine.expert_only: no face expert opinion for this face"));
        trace.expert = expert_trace(*expert);
        if (expert->abstained) return fail(make_error(errc::no_face, expert->abstain_reason));
        const LabelSet& said = expert->labels;
        const bool complete_answer = (!asked.expression || said.expression) && (!asked.au || said.action_units) &&
                                     (!ask_valence || said.valence) && (!ask_arousal || said.arousal);
        if (!complete_answer)
            return fail(make_error(errc::internal, "the face expert's opinion lacks a level it should give"));

        FaceResult out;
        out.ok = true;
        out.labels = known;
        out.provenance = known_provenance;
        if (asked.expression) {
            out.labels.expression = said.expression;
            out.provenance.expression = Provenance::expert;
            out.descriptions.expression = expert->descriptions.expression;
            out.uncertainty.expression = expert->uncertainty.expression;
        }
        if (asked.au) {
            out.labels.action_units = with_known_aus(*knowledge, known, *said.action_units);
            out.labels.au_coded.reset();
            out.provenance.au = Provenance::expert;
            // Its text is about every AU it saw: with some AUs coded it could contradict them.
            if (!known.au_partly_known()) out.descriptions.au = expert->descriptions.au;
            // Over the AUs it decided: with some AUs coded, the others only.
            out.uncertainty.au =
                known.au_partly_known() ? expert_au_uncertainty(*expert, coded_aus()) : expert->uncertainty.au;
        }
        out.au_provenance = au_provenance_of(*knowledge, known, known_provenance.au,
                                             asked.au ? Provenance::expert : known_provenance.au);
        if (asked.va) {
            if (ask_valence) out.labels.valence = said.valence;
            if (ask_arousal) out.labels.arousal = said.arousal;
            out.provenance.va = Provenance::expert;
            // Its text states both values: with one of them a fact it would contradict that fact.
            if (ask_valence && ask_arousal) out.descriptions.va = expert->descriptions.va;
            out.uncertainty.va = expert->uncertainty.va;
        }
        // Known facts take part: the expert's AUs against a human's expression, say.
        out.uncertainty.consistency = cross_level_inconsistency(*knowledge, out.labels);
        out.uncertainty.overall = overall_uncertainty(out.uncertainty, config.weights, asked);
        trace.stop_reason = kExpertStopReason;
        return done(std::move(out));
    }

    // A confident expert whose top expression is not the vote leader (and which covers the
    // leader, or it could not tell) is a reason to verify.
    bool expert_contradicts(const Aggregate& agg) const {
        if (!expert_is_evidence() || !asked.expression || !agg.labels.expression) return false;
        if (expert->expression_probabilities.empty()) return false;
        const auto& [top, probability] = expert->expression_probabilities.front();
        return probability >= config.expert_verify_confidence && top != *agg.labels.expression &&
               expert_expression_disagreement(*expert, *agg.labels.expression).has_value();
    }

    // Each asked level's disagreement with the expert raises its uncertainty; the trace and
    // expert_disagreement (the mean over the levels compared) record it.
    void weigh_expert(const Aggregate& agg, Uncertainty& u) {
        ExpertTrace& t = *trace.expert;
        double sum = 0;
        int compared = 0;
        auto weigh = [&](std::optional<double> disagreement, double& level, double& traced) {
            if (!disagreement) return;
            traced = *disagreement;
            level = raised_uncertainty(level, config.expert_weight, *disagreement);
            sum += *disagreement;
            ++compared;
        };
        if (asked.expression && agg.labels.expression)
            weigh(expert_expression_disagreement(*expert, *agg.labels.expression), u.expression,
                  t.disagreement_expression);
        if (asked.va)
            weigh(expert_va_disagreement(*expert, ask_valence ? agg.va.valence : std::nullopt,
                                         ask_arousal ? agg.va.arousal : std::nullopt),
                  u.va, t.disagreement_va);
        if (asked.au && agg.au.samples > 0)
            weigh(expert_au_disagreement(*expert, agg.au, coded_aus()), u.au, t.disagreement_au);
        u.expert_disagreement = compared > 0 ? sum / compared : 0;
    }

    LabelerStep current() {
        if (result) return *result;
        return pending;
    }

    LabelerStep feed(const ModelReply& reply) {
        if (phase == Phase::done && result) return *result;
        if (phase == Phase::idle) return fail(make_error(errc::internal, "feed() before start()"));

        std::optional<Usable> verification;
        const int got = record(reply, verification);
        const bool failed = reply.error.has_value() || got == 0;
        if (failed) {
            ++failures;
            last_error =
                reply.error ? *reply.error : make_error(errc::malformed_answer, "no usable answer in the reply");
        }
        switch (phase) {
            case Phase::sampling: return after_sampling(reply, failed);
            case Phase::verifying:
                if (failed) {
                    stop_reason = "verify_failed";
                    return finish_with_answers_only();
                }
                accept_verification(std::move(*verification));
                return after_labels();
            case Phase::describing: {
                if (failed) {
                    // The labels stand; levels without a consistent sample stay blank.
                    stop_reason = "describe_failed";
                    return finish(matched);
                }
                // The describe answer was written with all final labels as facts: it gives every
                // level it describes, in one voice; a level it left blank keeps its sample match.
                Descriptions out = matched;
                for (Level level : kAllLevels)
                    if (!description_of(describe_answer, level).empty())
                        description_of(out, level) = description_of(describe_answer, level);
                return finish(std::move(out));
            }
            case Phase::idle:
            case Phase::done: break;
        }
        return fail(make_error(errc::internal, "labeler in an unexpected state"));
    }

    // Trace + cost for one reply; usable sample answers go to `usable`, a usable verification to
    // `verification`, a usable describe answer to `describe_answer`. Returns the usable count.
    int record(const ModelReply& reply, std::optional<Usable>& verification) {
        int got = 0;
        TraceRequest entry;
        entry.ordinal = pending.ordinal;
        entry.kind = pending.kind;
        entry.n = pending.n;
        entry.temperature = pending.temperature;
        entry.cached = reply.cached;
        entry.prompt_tokens = reply.prompt_tokens;
        entry.cached_prompt_tokens = reply.cached_prompt_tokens;
        entry.completion_tokens = reply.completion_tokens;
        const TokenCounts tokens{reply.prompt_tokens, reply.cached_prompt_tokens, reply.completion_tokens};
        if (reply.cached) {
            ++cost.cached_requests;
            cost.reused += tokens;
        } else {
            ++cost.requests;
        }
        cost.prompt_tokens += tokens.prompt;
        cost.cached_prompt_tokens += tokens.cached_prompt;
        cost.completion_tokens += tokens.completion;
        if (reply.error) {
            entry.error = std::string(errc_name(reply.error->code)) + ": " + reply.error->message;
        } else {
            for (const auto& content : reply.contents) {
                TraceSample sample;
                sample.raw = bounded(content);
                ++cost.samples;
                if (pending.kind == RequestKind::sample) ++sample_answers;
                auto parsed = parse_answer(content, *knowledge, pending_spec);
                if (!parsed) {
                    ++cost.malformed;
                    sample.error = parsed.error().message;
                    entry.samples.push_back(std::move(sample));
                    continue;
                }
                sample.answer = *parsed;
                entry.samples.push_back(std::move(sample));
                ++got;
                // One answer per verify/describe request is enough; extra choices are traced.
                switch (pending.kind) {
                    case RequestKind::sample: usable.push_back(Usable{std::move(*parsed), 1}); break;
                    case RequestKind::verify:
                        if (!verification) verification = Usable{std::move(*parsed), config.verification_weight};
                        break;
                    case RequestKind::describe:
                        if (!has_describe_answer) {
                            describe_answer = parsed->descriptions;
                            has_describe_answer = true;
                        }
                        break;
                }
            }
        }
        trace.requests.push_back(std::move(entry));
        return got;
    }

    Descriptions describe_answer;
    bool has_describe_answer = false;
    Descriptions matched;  // consistent descriptions found among the answers before describing

    LabelerStep after_sampling(const ModelReply& reply, bool failed) {
        if (failed) {
            if (usable.empty()) {
                if (failures >= config.max_request_failures) {
                    return fail(last_error ? *last_error : make_error(errc::malformed_answer, "no usable answer"));
                }
                return request(RequestKind::sample, pending_spec, pending.n, pending.temperature);
            }
            if (reply.error || failures >= config.max_request_failures) {
                stop_reason = "request_failed";
                return finish_with_answers_only();
            }
        }
        switch (config.mode) {
            case SamplingMode::greedy: stop_reason = "greedy"; return descriptions_step();
            case SamplingMode::fixed: stop_reason = "fixed"; return descriptions_step();
            case SamplingMode::uamc: break;
        }
        const Aggregate agg = aggregate();
        if (settled(agg)) {
            stop_reason = "settled";
            return after_labels();
        }
        if (sample_answers >= config.k_max) {
            stop_reason = "k_max";
            return after_labels();
        }
        return sample_round(std::min(config.round_size, config.k_max - sample_answers), config.temperature);
    }

    bool settled(const Aggregate& agg) const {
        if (asked.expression && prob_leader_is_mode(agg.expression.leader_votes(), agg.expression.runner_up_votes()) <
                                    config.stop_confidence)
            return false;
        if (asked.va && agg.va.spread > config.va_settled_spread) return false;
        if (asked.au && au_ambiguous(agg.au, config.au_threshold, config.au_settled_band)) return false;
        return true;
    }

    // Sampling is over: verify if the levels disagree or the vote is close, else describe.
    LabelerStep after_labels() {
        const Aggregate agg = aggregate();
        const bool expert_doubts = expert_contradicts(agg);
        const bool wanted = config.mode == SamplingMode::uamc && config.self_verify &&
                            trace.verifications < config.max_verifications &&
                            (agg.inconsistency >= config.verify_inconsistency ||
                             (asked.expression && agg.expression.margin < config.verify_margin) || expert_doubts);
        if (!wanted) return descriptions_step();
        if (expert_doubts) trace.expert->triggered_verification = true;
        PromptSpec spec;
        spec.kind = RequestKind::verify;
        spec.known = known;
        spec.candidates = model_part(agg.labels);
        candidates = spec.candidates;
        return request(RequestKind::verify, std::move(spec), 1, 0);
    }

    void accept_verification(Usable answer) {
        ++trace.verifications;
        const auto& said = answer.answer.labels.expression;
        if (answer.answer.verdict == Verdict::disagree && said && candidates.expression &&
            *said != *candidates.expression)
            trace.verifier_disagreed = true;
        usable.push_back(std::move(answer));
    }

    LabelSet model_part(const LabelSet& labels) const {
        LabelSet out;
        if (asked.expression) out.expression = labels.expression;
        if (asked.au && labels.action_units) out.action_units = without_judged_aus(known, *labels.action_units);
        if (ask_valence) out.valence = labels.valence;
        if (ask_arousal) out.arousal = labels.arousal;
        return out;
    }

    LabelerStep descriptions_step() {
        const Aggregate agg = aggregate();
        matched = consistent_descriptions(agg.labels);
        if (complete(matched)) return finish(matched);
        return describe_or_finish(agg.labels);
    }

    // No further requests: used after a failure. A level without a consistent answer is left
    // blank rather than described by an answer that contradicts its label.
    LabelerStep finish_with_answers_only() { return finish(consistent_descriptions(aggregate().labels)); }

    LabelerStep describe_or_finish(const LabelSet& facts) {
        PromptSpec spec;
        spec.kind = RequestKind::describe;
        spec.known = facts;
        if (answer_keys(spec).empty()) return finish(matched);
        return request(RequestKind::describe, std::move(spec), 1, 0);
    }

    bool is_asked(Level level) const {
        switch (level) {
            case Level::expression: return asked.expression;
            case Level::va: return asked.va;
            case Level::au: return asked.au;
        }
        return false;
    }

    // Whether answer labels `l` may describe `level` of `final_labels`. Only asked levels are
    // read back from an answer; a known level is a fact the answer was shown.
    bool consistent(Level level, const LabelSet& l, const LabelSet& final_labels) const {
        const bool same_expression = !asked.expression || l.expression == final_labels.expression;
        if (!is_asked(level)) return same_expression;  // the rule before per-level selection
        switch (level) {
            case Level::expression: return same_expression;
            case Level::au:
                return l.action_units && final_labels.action_units &&
                       same_au_set(without_judged_aus(known, *l.action_units),
                                   without_judged_aus(known, *final_labels.action_units));
            case Level::va:
                return (!ask_valence || va_close(l.valence, final_labels.valence)) &&
                       (!ask_arousal || va_close(l.arousal, final_labels.arousal));
        }
        return false;
    }

    // Per level, the non-blank description of the closest answer consistent with that level's
    // final label; blank when there is none. Closest: the same expression, then the nearest VA,
    // then the best AU Jaccard; for VA the nearest VA comes first.
    Descriptions consistent_descriptions(const LabelSet& final_labels) const {
        Descriptions out;
        for (Level level : kAllLevels) {
            const Usable* best = nullptr;
            std::array<double, 3> best_key{};
            for (const auto& u : usable) {
                const LabelSet& l = u.answer.labels;
                if (description_of(u.answer.descriptions, level).empty()) continue;
                if (!consistent(level, l, final_labels)) continue;
                auto key = closeness(l, final_labels);
                if (level == Level::va) std::swap(key[0], key[1]);
                if (!best || before(key, best_key)) {
                    best = &u;
                    best_key = key;
                }
            }
            if (best) description_of(out, level) = description_of(best->answer.descriptions, level);
        }
        return out;
    }

    // Lower is closer: {other expression, VA distance, 1 − AU Jaccard}, asked levels only.
    std::array<double, 3> closeness(const LabelSet& l, const LabelSet& final_labels) const {
        const double other_expression = asked.expression && l.expression != final_labels.expression ? 1 : 0;
        double distance = 0;
        if (ask_valence && l.valence && final_labels.valence)
            distance += std::pow(*l.valence - *final_labels.valence, 2);
        if (ask_arousal && l.arousal && final_labels.arousal)
            distance += std::pow(*l.arousal - *final_labels.arousal, 2);
        const double jaccard = asked.au && l.action_units && final_labels.action_units
                                   ? au_jaccard(without_judged_aus(known, *l.action_units),
                                                without_judged_aus(known, *final_labels.action_units))
                                   : 1;
        return {other_expression, std::sqrt(distance), 1 - jaccard};
    }

    // Lexicographic, ties within kEps: the earlier answer wins a tie.
    static bool before(const std::array<double, 3>& a, const std::array<double, 3>& b) {
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (a[i] < b[i] - kEps) return true;
            if (a[i] > b[i] + kEps) return false;
        }
        return false;
    }

    Aggregate aggregate() const {
        std::vector<WeightedVote> votes;
        std::vector<std::vector<std::string>> au_samples;
        std::vector<double> valence;
        std::vector<double> arousal;
        for (const auto& u : usable) {
            const LabelSet& l = u.answer.labels;
            if (asked.expression && l.expression) votes.push_back({*l.expression, u.weight});
            if (asked.au && l.action_units) au_samples.push_back(without_judged_aus(known, *l.action_units));
            if (ask_valence && l.valence) valence.push_back(*l.valence);
            if (ask_arousal && l.arousal) arousal.push_back(*l.arousal);
        }
        Aggregate agg;
        agg.expression = tally_expressions(votes, *knowledge);
        agg.au = tally_action_units(au_samples, *knowledge, config.au_threshold);
        agg.va = tally_va(valence, arousal);
        agg.labels = known;
        if (asked.expression && agg.expression.leader()) agg.labels.expression = *agg.expression.leader();
        if (asked.au && agg.au.samples > 0) {
            agg.labels.action_units = with_known_aus(*knowledge, known, agg.au.present);
            agg.labels.au_coded.reset();
        }
        if (ask_valence) agg.labels.valence = agg.va.valence;
        if (ask_arousal) agg.labels.arousal = agg.va.arousal;
        agg.inconsistency = cross_level_inconsistency(*knowledge, agg.labels);
        return agg;
    }

    LabelerStep finish(Descriptions descriptions) {
        const Aggregate agg = aggregate();
        FaceResult out;
        out.ok = true;
        out.labels = agg.labels;
        out.descriptions = std::move(descriptions);
        out.provenance.expression = asked.expression ? Provenance::model : known_provenance.expression;
        out.provenance.au = asked.au ? Provenance::model : known_provenance.au;
        out.provenance.va = asked.va ? Provenance::model : known_provenance.va;
        out.au_provenance = au_provenance_of(*knowledge, known, known_provenance.au,
                                             asked.au ? Provenance::model : known_provenance.au);
        if (asked.expression) {
            double u = expression_uncertainty(agg.expression);
            if (trace.verifier_disagreed) u = std::min(1.0, u + kDisagreementPenalty);
            out.uncertainty.expression = u;
            trace.expression_votes = agg.expression.shares;
        }
        if (asked.va) out.uncertainty.va = agg.va.uncertainty;
        if (asked.au) out.uncertainty.au = agg.au.uncertainty;
        if (expert_is_evidence()) weigh_expert(agg, out.uncertainty);
        out.uncertainty.consistency = agg.inconsistency;
        out.uncertainty.overall = overall_uncertainty(out.uncertainty, config.weights, asked);
        trace.stop_reason = stop_reason;
        out.cost = cost;
        return done(std::move(out));
    }

    LabelerStep fail(Error error) {
        FaceResult out;
        out.ok = false;
        out.failure = std::move(error);
        out.labels = known;
        out.provenance = known_provenance;
        trace.stop_reason = "failed";
        out.cost = cost;
        return done(std::move(out));
    }

    // Every result leaves through here: with the trace, the expert's opinion, and the machine done.
    LabelerStep done(FaceResult out) {
        out.trace = trace;
        out.expert = expert;
        phase = Phase::done;
        result = out;
        return out;
    }
};

namespace {

// Odd settings must not make the machine loop or ask for nothing.
EngineConfig sanitised(EngineConfig config) {
    config.k_min = std::max(1, config.k_min);
    config.k_max = std::max(config.k_min, config.k_max);
    config.round_size = std::max(1, config.round_size);
    config.fixed_samples = std::max(1, config.fixed_samples);
    config.max_request_failures = std::max(1, config.max_request_failures);
    config.max_verifications = std::max(0, config.max_verifications);
    if (!(config.verification_weight > 0)) config.verification_weight = 1;
    if (!(config.temperature >= 0)) config.temperature = 0;
    if (!(config.expert_weight >= 0)) config.expert_weight = 0;
    return config;
}

}  // namespace

FaceLabeler::FaceLabeler(const Knowledge& knowledge, const EngineConfig& config, LabelSet known,
                         LevelProvenance known_provenance, std::shared_ptr<const FewShotExamples> examples,
                         std::optional<ExpertOpinion> expert)
    : state_(std::make_unique<State>()) {
    state_->knowledge = &knowledge;
    state_->config = sanitised(config);
    state_->known = normalise_au_prior(knowledge, std::move(known));
    state_->known_provenance = known_provenance;
    state_->examples = std::move(examples);
    state_->expert = std::move(expert);
}

FaceLabeler::~FaceLabeler() = default;
FaceLabeler::FaceLabeler(FaceLabeler&&) noexcept = default;
FaceLabeler& FaceLabeler::operator=(FaceLabeler&&) noexcept = default;

// Exceptions never leave the engine: a throw here is a bug (or out of memory), reported as
// an internal failure of this face only.
LabelerStep FaceLabeler::start() {
    try {
        return state_->start();
    } catch (const std::exception& e) {
        return state_->fail(make_error(errc::internal, e.what()));
    } catch (...) {
        return state_->fail(make_error(errc::internal, "unknown exception"));
    }
}

LabelerStep FaceLabeler::feed(const ModelReply& reply) {
    try {
        return state_->feed(reply);
    } catch (const std::exception& e) {
        return state_->fail(make_error(errc::internal, e.what()));
    } catch (...) {
        return state_->fail(make_error(errc::internal, "unknown exception"));
    }
}

}  // namespace seke
