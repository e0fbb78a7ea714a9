#pragma once
// The three grained levels of one face, and what seke says about them.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seke {

enum class Level { expression, va, au };
inline constexpr std::array<Level, 3> kAllLevels{Level::expression, Level::va, Level::au};
std::string_view level_name(Level level) noexcept;  // "expression", "va", "au"

// Where a level's label came from: the vision LLM (model), the built-in face expert's networks
// (expert), the source dataset, a human. Source and human labels are facts: never overwritten.
// Model and expert labels are the engine's guesses: a review may correct them.
enum class Provenance { model, source, human, expert };
std::string_view provenance_name(Provenance p) noexcept;
std::optional<Provenance> parse_provenance(std::string_view text) noexcept;
// Source and human: a label the engine neither asks for nor overwrites, nor doubts.
[[nodiscard]] bool is_fact(Provenance p) noexcept;

// Any subset of the labels of one face. Valence and arousal are each in [-1, 1].
//
// The AU level may be known in part: a source that coded only some AUs (BP4D codes 12 of the
// knowledge's 17) gives `au_coded`, and `action_units` then lists the present ones among them.
// Each AU is present, absent (coded, not listed) or unknown (not coded). Without `au_coded`,
// `action_units` judges every AU of the knowledge, as it always did.
struct LabelSet {
    std::optional<std::string> expression;
    std::optional<double> valence;
    std::optional<double> arousal;
    std::optional<std::vector<std::string>> action_units;  // AU codes judged present, e.g. "AU12"
    // The AUs `action_units` judges, present or absent, when not every AU was coded. Set only
    // together with `action_units` (au_prior.hpp puts a prior in that form).
    std::optional<std::vector<std::string>> au_coded;

    // va: both valence and arousal; au: every AU judged (action_units without au_coded).
    [[nodiscard]] bool has(Level level) const noexcept;
    // Some AUs judged, others unknown.
    [[nodiscard]] bool au_partly_known() const noexcept { return action_units && au_coded; }
    // Whether this set judges the AU `code` (present or absent).
    [[nodiscard]] bool judges_au(std::string_view code) const noexcept;
    [[nodiscard]] bool empty() const noexcept;
};

struct Descriptions {
    std::string expression;
    std::string va;
    std::string au;
};

// One value per level (provenance, review verdicts, ...), addressable by Level.
template <class T, T Default>
struct PerLevel {
    T expression = Default;
    T va = Default;
    T au = Default;

    [[nodiscard]] T of(Level level) const noexcept {
        switch (level) {
            case Level::expression: return expression;
            case Level::va: return va;
            case Level::au: return au;
        }
        return Default;
    }
    void set(Level level, T value) noexcept {
        switch (level) {
            case Level::expression: expression = value; break;
            case Level::va: va = value; break;
            case Level::au: au = value; break;
        }
    }
};

using LevelProvenance = PerLevel<Provenance, Provenance::model>;

// Who gave each AU's presence or absence, one entry per AU of the knowledge in its order. It
// differs from the level's provenance only where a source coded some AUs and the engine the rest.
using AuProvenance = std::vector<std::pair<std::string, Provenance>>;

struct Uncertainty {
    double expression = 0;   // vote entropy / margin, 0 = settled
    double va = 0;           // spread of the sampled VA
    double au = 0;           // mean Bernoulli entropy of the AUs
    double consistency = 0;  // disagreement between the levels (AUs vs prototype, VA vs expression)
    double overall = 0;      // what ranks items for human review, in [0, 1]
    // Mean disagreement with the built-in face expert over the levels compared with it, in
    // [0, 1]; 0 without an opinion. Recorded as a feature: `overall` already carries its effect.
    double expert_disagreement = 0;
};

// Tokens as a provider bills them.
struct TokenCounts {
    std::int64_t prompt = 0;         // input tokens, cached_prompt included
    std::int64_t cached_prompt = 0;  // of prompt: read from the provider's prefix cache (its cached rate)
    std::int64_t completion = 0;

    TokenCounts& operator+=(const TokenCounts& other) noexcept {
        prompt += other.prompt;
        cached_prompt += other.cached_prompt;
        completion += other.completion;
        return *this;
    }
};

struct Cost {
    int requests = 0;                       // model requests sent (cache hits not counted)
    int cached_requests = 0;                // requests answered from the response cache
    int samples = 0;                        // answers received (choices), malformed ones included
    int malformed = 0;                      // answers dropped because they could not be used
    std::int64_t prompt_tokens = 0;         // of every answer used, response-cache hits included
    std::int64_t completion_tokens = 0;     // likewise
    std::int64_t cached_prompt_tokens = 0;  // of prompt_tokens: the provider's prefix cache
    // Of the tokens above, those of answers from the response cache: paid for once, by the run
    // that asked first, and not again.
    TokenCounts reused;

    Cost& operator+=(const Cost& other) noexcept {
        requests += other.requests;
        cached_requests += other.cached_requests;
        samples += other.samples;
        malformed += other.malformed;
        prompt_tokens += other.prompt_tokens;
        completion_tokens += other.completion_tokens;
        cached_prompt_tokens += other.cached_prompt_tokens;
        reused += other.reused;
        return *this;
    }
    // The tokens this cost paid for now: every answer's, less the response cache's.
    [[nodiscard]] TokenCounts paid() const noexcept {
        return {prompt_tokens - reused.prompt, cached_prompt_tokens - reused.cached_prompt,
                completion_tokens - reused.completion};
    }
};

}  // namespace seke
