#pragma once
// How SV-UAMC samples, stops, verifies and scores. Filled from config (seke.json "engine").
#include <string>

namespace seke {

enum class SamplingMode {
    uamc,    // adaptive Monte Carlo + self-verification (the default)
    greedy,  // one request, temperature 0, one sample (baseline)
    fixed,   // fixed self-consistency: fixed_samples at `temperature`, majority vote (baseline)
};

struct UncertaintyWeights {
    double expression = 0.45;
    double va = 0.10;
    double au = 0.10;
    double consistency = 0.35;
};

struct EngineConfig {
    SamplingMode mode = SamplingMode::uamc;
    double temperature = 0.5;         // Monte Carlo sampling temperature (> 0); fixed mode uses it too
    int k_min = 3;                    // samples in the first round
    int k_max = 6;                    // hard cap on samples per face (verification not counted)
    int round_size = 2;               // samples per later round
    int fixed_samples = 10;           // for SamplingMode::fixed
    double stop_confidence = 0.88;    // posterior P(leading expression is the true mode) to stop; 4–1 clears it
    double va_settled_spread = 0.35;  // robust VA spread under which VA does not ask for more
    double au_threshold = 0.5;        // per-AU frequency at which an AU is voted present
    // An AU whose frequency is closer than this to au_threshold is a real split and asks for
    // more samples; one stray sighting in three (0.33) is noise, not a split.
    double au_settled_band = 0.1;
    bool self_verify = true;            // ask a verification request when levels disagree / margin close
    double verify_inconsistency = 0.4;  // cross-level inconsistency that triggers verification
    double verify_margin = 0.2;         // top-two vote share gap under which verification runs
    int max_verifications = 1;
    double verification_weight = 2.0;  // votes a verification answer is worth
    int max_request_failures = 2;      // failed requests (after client retries) before giving up
    // The built-in face expert (verify/expert.hpp), for faces whose labeler is given its opinion;
    // without an opinion none of these matter. expert_only: the expert is the provider: no
    // vision LLM request, missing levels come from its opinion with provenance expert.
    bool expert_only = false;
    // With a vision LLM, the expert is evidence. When its top expression has at least this
    // probability and is not the vote leader, self-verification runs (uamc, self_verify on,
    // verifications left); above 1 it never triggers.
    double expert_verify_confidence = 0.8;
    // Each level's uncertainty becomes u + expert_weight · (disagreement with the expert, in
    // [0, 1]), capped at 1: doubt the expert raises, never lowers. 0: only recorded.
    double expert_weight = 0.5;
    UncertaintyWeights weights;
};

}  // namespace seke
