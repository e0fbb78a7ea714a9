#pragma once
// Defensive parsing of one model answer (one choice's message content) into typed labels.
#include <optional>
#include <string>
#include <string_view>

#include "verify/errors.hpp"
#include "verify/knowledge.hpp"
#include "verify/labels.hpp"
#include "verify/prompt.hpp"

namespace seke {

enum class Verdict { agree, disagree };

struct Answer {
    LabelSet labels;
    Descriptions descriptions;
    std::optional<Verdict> verdict;  // verification answers only
};

// Accepts code fences, prose around one JSON object, numbers as strings, out-of-range VA
// (clamped only when within a small tolerance, else rejected), label spellings Knowledge can
// canonicalise. Anything else that was asked for and is wrong → Error{malformed_answer}: an
// answer is used whole or not at all. AUs the facts judge (a partly coded AU level) are left out
// of `action_units`: an answer never decides a coded AU.
Result<Answer> parse_answer(std::string_view content, const Knowledge& knowledge, const PromptSpec& asked);

}  // namespace seke
