#pragma once
// Building the knowledge-enhanced prompts of the VLLM contract (see docs/architecture.md).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke {

enum class RequestKind {
    sample,    // a Monte Carlo sample of the missing levels + descriptions
    verify,    // show candidate labels with the knowledge, ask agree/disagree (+ correction)
    describe,  // labels are settled: ask only the three descriptions, labels given as facts
};
std::string_view request_kind_name(RequestKind kind) noexcept;

// Transport-free prompt: the connector turns it into an OpenAI chat request with the image.
struct Prompt {
    std::string system;           // emotion knowledge
    std::string user;             // the question (image goes beside it)
    std::string schema_name;      // json_schema.name
    std::string response_schema;  // JSON Schema text for response_format (strict)
};

// What one prompt asks: the levels missing from `known`, and descriptions.
struct PromptSpec {
    RequestKind kind = RequestKind::sample;
    LabelSet known;       // facts (source/human labels), shown to the model, never asked
    LabelSet candidates;  // for verify: the labels to check
    bool ask_descriptions = true;
};

Prompt build_prompt(const Knowledge& knowledge, const PromptSpec& spec);

// The JSON keys a prompt asks for, in the order they are asked (AUs → expression → VA →
// descriptions; verify puts `verdict` first). Empty when the prompt would ask nothing.
// sample/verify: labels missing from `known` (valence and arousal each on its own; action_units
// also when `known` codes only some AUs: then the schema and the question name only the others) and, when
// ask_descriptions, the three descriptions; describe: the three descriptions only.
std::vector<std::string> answer_keys(const PromptSpec& spec);

// Few-shot examples (verify/few_shot.hpp) are earlier turns of the conversation: the same
// question about the example's face, then the answer that face should get.
//
// The question about an example: `spec` with the example's own labels as the facts (and, for
// verify, the candidates) for the levels `spec` gives, so the same keys are asked and nothing
// shown is false for that face. nullopt when the example lacks one of those levels.
std::optional<PromptSpec> example_spec(const PromptSpec& spec, const LabelSet& example_labels);
// The answer an example face should get for `spec`: one compact JSON object with exactly
// answer_keys(spec), in order, in the form the model is asked to write (a verify answer agrees).
// Blank descriptions are replaced by a short factual sentence built from the labels, so an
// example never teaches empty strings. nullopt when the labels lack an asked level or hold
// anything the parser would reject, asked or not (unknown label, VA outside [-1, 1]): such an
// example is not shown.
std::optional<std::string> example_answer(const Knowledge& knowledge, const PromptSpec& spec, const LabelSet& labels,
                                          const Descriptions& descriptions);

// The machine-readable markers inside the user text (stable, documented: a fake or a real model
// can read them). Each is followed by one line of compact JSON.
inline constexpr const char* kKnownLabelsMarker = "Known labels (facts): ";
inline constexpr const char* kCandidateLabelsMarker = "Candidate labels: ";
// Followed by the asked JSON keys, comma-separated, on one line (for providers without
// json_schema and for the fake model).
inline constexpr const char* kAnswerKeysMarker = "Answer keys: ";

}  // namespace seke
