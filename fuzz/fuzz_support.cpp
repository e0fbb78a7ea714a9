#include "fuzz/fuzz_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "plugin/labeling/knowledge_json.hpp"

namespace seke::fuzz {

std::string source_file(const std::string& relative_path) {
    const std::string path = std::string(SEKE_SOURCE_DATA_DIR) + "/" + relative_path;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "fuzz: cannot read %s\n", path.c_str());
        std::abort();
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

const Knowledge& knowledge() {
    static const Knowledge loaded = [] {
        auto parsed = parse_knowledge(source_file("config/knowledge.json"));
        if (!parsed) {
            std::fprintf(stderr, "fuzz: config/knowledge.json: %s\n", parsed.error().message.c_str());
            std::abort();
        }
        return std::move(parsed).value();
    }();
    return loaded;
}

bool canonical_labels(const LabelSet& labels) {
    const Knowledge& known = knowledge();
    if (labels.expression && known.canonical_expression(*labels.expression) != labels.expression) return false;
    for (const auto& value : {labels.valence, labels.arousal})
        if (value && !(*value >= -1 && *value <= 1)) return false;
    if (labels.action_units)
        for (const auto& code : *labels.action_units)
            if (known.canonical_action_unit(code) != code) return false;
    return true;
}

void invariant_failed(const char* file, int line, const char* what) {
    std::fprintf(stderr, "%s:%d: invariant does not hold: %s\n", file, line, what);
    std::abort();
}

}  // namespace seke::fuzz
