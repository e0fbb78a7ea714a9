#include "verify/knowledge.hpp"
#include "verify/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace seke {

namespace {

std::string trim_lower(const std::string& text) {
    return to_lower(trim(text));
}

// Spellings models use for the same basic emotion. A group maps to whichever member the schema
// uses, so a project that says "Happiness" also accepts "happy" and the other way round.
constexpr std::array<std::array<std::string_view, 5>, 8> kSynonymGroups{{
    {"happy", "happiness", "", "", ""},
    {"sad", "sadness", "", "", ""},
    {"surprise", "surprised", "", "", ""},
    {"fear", "fearful", "scared", "afraid", ""},
    {"disgust", "disgusted", "", "", ""},
    {"anger", "angry", "", "", ""},
    {"contempt", "contemptuous", "", "", ""},
    {"neutral", "", "", "", ""},
}};

// "AU 12", "au_12", "12", "AU012" → "12"; empty when it is not an AU code at all.
std::string au_number(const std::string& text) {
    std::string compact;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (std::isspace(u) || c == '_' || c == '-') continue;
        compact.push_back(static_cast<char>(std::toupper(u)));
    }
    if (compact.rfind("AU", 0) == 0) compact.erase(0, 2);
    if (compact.empty()) return {};
    if (!std::all_of(compact.begin(), compact.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }))
        return {};
    std::size_t first = compact.find_first_not_of('0');
    return first == std::string::npos ? std::string("0") : compact.substr(first);
}

}  // namespace

const ExpressionKnowledge* Knowledge::find_expression(const std::string& name) const {
    for (const auto& expression : expressions)
        if (expression.name == name) return &expression;
    return nullptr;
}

const ActionUnit* Knowledge::find_action_unit(const std::string& code) const {
    for (const auto& unit : action_units)
        if (unit.code == code) return &unit;
    return nullptr;
}

std::optional<std::string> Knowledge::canonical_expression(const std::string& text) const {
    const std::string wanted = trim_lower(text);
    if (wanted.empty()) return std::nullopt;
    for (const auto& expression : expressions)
        if (trim_lower(expression.name) == wanted) return expression.name;
    for (const auto& group : kSynonymGroups) {
        if (std::find(group.begin(), group.end(), std::string_view(wanted)) == group.end()) continue;
        for (const auto& expression : expressions) {
            const std::string name = trim_lower(expression.name);
            if (!name.empty() && std::find(group.begin(), group.end(), std::string_view(name)) != group.end())
                return expression.name;
        }
    }
    return std::nullopt;
}

std::optional<std::string> Knowledge::canonical_action_unit(const std::string& text) const {
    const std::string number = au_number(text);
    if (number.empty()) return std::nullopt;
    // Compare normalised forms so the schema's own spelling is what comes back.
    for (const auto& unit : action_units)
        if (au_number(unit.code) == number) return unit.code;
    return std::nullopt;
}

}  // namespace seke
