// One model answer (verify/answer.*): the first byte picks what was asked (request kind, which
// levels are already known, descriptions or not), the rest is the message content. Any content
// gives labels in the knowledge's terms or malformed_answer; the parser never throws.
#include "fuzz/fuzz_support.hpp"
#include "verify/answer.hpp"

using namespace seke;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const Knowledge& knowledge = fuzz::knowledge();
    const unsigned pick = data[0];
    PromptSpec asked;
    asked.kind = static_cast<RequestKind>(pick % 3);
    asked.ask_descriptions = (pick & 0x04) != 0;
    const std::string first_class = knowledge.expressions.front().name;
    const std::string first_unit = knowledge.action_units.front().code;
    if (pick & 0x08) asked.known.expression = first_class;
    if (pick & 0x10) {
        asked.known.valence = 0.25;
        asked.known.arousal = -0.5;
    }
    if (pick & 0x20) asked.known.action_units = std::vector<std::string>{first_unit};
    if (asked.kind == RequestKind::verify)
        asked.candidates = LabelSet{first_class, 0.1, 0.2, std::vector<std::string>{first_unit}, std::nullopt};
    auto answer = parse_answer(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), knowledge, asked);
    if (!answer) {
        SEKE_FUZZ_CHECK(answer.error().code == errc::malformed_answer);
        return 0;
    }
    SEKE_FUZZ_CHECK(fuzz::canonical_labels(answer->labels));
    return 0;
}
