#pragma once
// The simulated vision LLM: pure functions from (ground truth, what is asked) to an answer.
// No sockets; the server (fake_server.hpp) only adds transport, faults and bookkeeping.
//
// It is a simulator, not a rigged oracle: it errs the way real models err, more on hard items,
// and repeated sampling only helps where the model's distribution is right on average.
//
// Expression. Base distribution over the 8 classes: p(true) = 1 - 0.85*d (d = difficulty),
//   75% of the rest on the item's `confusable`, the remainder spread evenly over the other 6.
//   Temperature T sharpens/flattens it: p_T ∝ p^(1/T). T = 0 (greedy) is one fixed draw per
//   item at T = 0.35 (an RNG seeded by the item only): deterministic, almost always the mode
//   where the model is sure, a coin flip between two close classes — greedy decoding follows
//   one path, it does not compute the mode of the answers. The confusable overtakes the truth
//   at d > 1/1.4875 ≈ 0.67: such items are mostly wrong under greedy decoding and (with enough
//   samples) under majority vote too.
// AUs are perceived from the face, mostly independently of the expression answer. The model
//   holds a belief per AU that is fixed per item (seeded by the item id): a true AU is believed
//   present with p = 1 - (0.08 + 0.25*d)*2.2*u, another AU with p = (0.02 + 0.06*d)*2*u
//   (u uniform), and w.p. 0.2 + 0.5*d one absent AU looks half-present (p in [0.3, 0.6]).
//   T = 0 answers the AUs with p > 0.5 — so greedy answers carry the item's systematic misses
//   and false alarms. T > 0 draws each AU with logit(p)/s, s = clamp(T, 0.3, 2). When the
//   expression answer is wrong, w.p. 0.25 the model confabulates consistency and answers that
//   wrong class's prototype instead.
// VA: truth shifted 40% towards the answered class's region centre when that class is wrong,
//   plus Gaussian noise σ = (0.08 + 0.25*d)*max(T, 0.3) per dimension, clamped to [-1, 1].
// Known facts ("Known labels (facts): " in the user text) are trusted (but for AUs when only
// some were coded, "au_coded": then it lists every AU it sees): a known expression is
//   what the AUs/VA are perceived against, known AUs/VA are used for the descriptions.
// Verification (`verdict` asked; candidates after "Candidate labels: "): candidate expression
//   right → "agree" w.p. 0.9 - 0.3*d, else "disagree" and correct it to the confusable;
//   candidate wrong → "disagree" w.p. 0.85 - 0.5*d and correct it to the truth w.p. 0.8 (else
//   the confusable), otherwise "agree". Without a candidate expression, the candidate counts as
//   right when its AUs overlap the truth (Jaccard >= 0.5) and its VA is within 0.3. The labels
//   returned are the confirmed/corrected expression with AUs/VA perceived against it.
// Descriptions are short sentences generated from the labels of the same answer.
// A verbal confidence ("confidence") is answered only when asked, as the profile says.
// Profiles (profile.hpp) change the numbers above; every function below takes the one in force.
// An unreadable image code (truth == nullptr) gives a "confused model": uniform random labels.
// Only the asked keys are returned.
//
// Randomness: one RNG per choice seeded by hash(global seed, item id, per-item request counter,
// choice index), so a run is reproducible; at T = 0 the seed leaves out counter and choice
// (greedy decoding gives the same answer every time).
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/fake_vllm/profile.hpp"
#include "tools/fake_vllm/rng.hpp"
#include "tools/fake_vllm/truth.hpp"

namespace seke::fake {

inline constexpr std::string_view kAnswerKeysMarker = "Answer keys: ";
inline constexpr std::string_view kKnownMarker = "Known labels (facts): ";
inline constexpr std::string_view kCandidateMarker = "Candidate labels: ";
inline constexpr int kMaxChoices = 128;

enum class AskKind { sample, verify, describe };
std::string_view ask_kind_name(AskKind kind) noexcept;  // "sample", "verify", "describe"

// What one chat request asks, read from the OpenAI body.
struct ChatRequest {
    std::string model = "fake-vllm";
    std::vector<std::string> keys;   // schema properties, else the "Answer keys: " line
    AskKind kind = AskKind::sample;  // verify if `verdict` asked; describe if only descriptions
    bool json_schema = false;        // response_format.type == "json_schema"
    nlohmann::json known = nlohmann::json::object();
    nlohmann::json candidates = nlohmann::json::object();
    double temperature = 1.0;              // clamped to [0, 2]
    int n = 1;                             // [1, kMaxChoices]
    std::optional<std::string> image_url;  // the first image part's URL
    std::size_t text_chars = 0;            // all text in all messages, for usage
    std::string system_prefix;             // the text of the leading system messages: the cacheable prefix
    int image_count = 0;
    int example_turns = 0;  // user turns before the question: few-shot examples
};

// Throws std::invalid_argument (message for an OpenAI-style 400) when the body is not a chat
// request: not an object, no messages, bad n/temperature types.
ChatRequest parse_chat_request(const nlohmann::json& body);

// Bytes of a data:...;base64, URI; nullopt for anything else or bad base64.
std::optional<std::string> decode_data_uri(std::string_view uri);
std::optional<std::string> base64_decode(std::string_view text);

// --- the model ---------------------------------------------------------------------------

// The item as the profile's model sees it: the confusions profile gives the paired classes
// their partner as the confusable and a higher difficulty.
TruthItem as_perceived(const TruthItem& truth, const ModelProfile& profile);

// The temperature the profile's model samples at when asked for `temperature` (0 stays 0 but
// for a temperature-insensitive model, which samples at 1).
double effective_temperature(double temperature, const ModelProfile& profile);

// The wrong class an overconfident model is stuck on for this item (fixed per item), if any.
std::optional<std::string> stuck_class(const TruthItem& truth, const ModelProfile& profile);

// The functions below take the item as perceived (as_perceived): simulate_answer makes it once.
// The expression distribution in expressions() order at temperature T (T = 0: one-hot argmax).
std::vector<double> expression_distribution(const TruthItem& truth, double temperature,
                                            const ModelProfile& profile = default_profile());

std::string perceive_expression(const TruthItem& truth, double temperature, Rng& rng,
                                const ModelProfile& profile = default_profile());
std::vector<std::string> perceive_action_units(const TruthItem& truth, std::string_view answered, double temperature,
                                               Rng& rng, const ModelProfile& profile = default_profile());
std::pair<double, double> perceive_va(const TruthItem& truth, std::string_view answered, double temperature, Rng& rng,
                                      const ModelProfile& profile = default_profile());

std::string describe_expression(std::string_view expression);
std::string describe_va(double valence, double arousal);
std::string describe_action_units(const std::vector<std::string>& aus);

// One choice's content object (only the asked keys). truth == nullptr: the confused model.
nlohmann::json simulate_answer(const TruthItem* truth, const ChatRequest& request, std::uint64_t global_seed,
                               std::uint64_t request_counter, int choice,
                               const ModelProfile& profile = default_profile());

}  // namespace seke::fake
