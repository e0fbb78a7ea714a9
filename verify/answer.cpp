#include "verify/answer.hpp"
#include "verify/au_prior.hpp"
#include "verify/text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace seke {

namespace {

using json = nlohmann::json;

// VA slightly outside [-1, 1] is a rounding habit (1.02); far outside is a misunderstood scale.
constexpr double kVaTolerance = 0.05;

Error malformed(std::string message) {
    return make_error(errc::malformed_answer, std::move(message));
}

// End (one past the closing brace) of the balanced object starting at `start`, string-aware;
// npos when the text ends first (truncated answer).
std::size_t object_end(std::string_view text, std::size_t start) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (std::size_t i = start; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '{') ++depth;
        else if (c == '}' && --depth == 0) return i + 1;
    }
    return std::string_view::npos;
}

// The first balanced `{...}` that parses as a JSON object. Code fences and prose around it are
// simply skipped, so no fence-specific handling is needed.
std::optional<json> first_object(std::string_view text) {
    for (std::size_t pos = text.find('{'); pos != std::string_view::npos; pos = text.find('{', pos + 1)) {
        std::size_t end = object_end(text, pos);
        if (end == std::string_view::npos) return std::nullopt;
        std::string_view candidate = text.substr(pos, end - pos);
        if (!json_depth_within(candidate)) return std::nullopt;  // the answer is malformed
        json parsed = json::parse(candidate, nullptr, false);
        if (!parsed.is_discarded() && parsed.is_object()) return parsed;
    }
    return std::nullopt;
}

std::optional<double> as_number(const json& value) {
    if (value.is_number()) return value.get<double>();
    if (!value.is_string()) return std::nullopt;
    std::string text = trim(value.get_ref<const std::string&>());
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    double parsed = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return std::nullopt;
    return parsed;
}

Result<double> va_value(const json& object, const std::string& key) {
    auto number = as_number(object[key]);
    if (!number || !std::isfinite(*number)) return malformed(key + " is not a number");
    double v = *number;
    if (v < -1 - kVaTolerance || v > 1 + kVaTolerance) return malformed(key + " out of [-1, 1]");
    return std::clamp(v, -1.0, 1.0);
}

// Whether an AU flagged in object form ({"AU12": true | 1 | 0.8 | "yes"}) counts as present.
std::optional<bool> au_flag(const json& value) {
    if (value.is_boolean()) return value.get<bool>();
    if (value.is_null()) return false;
    if (value.is_string()) {
        std::string text = to_lower(trim(value.get_ref<const std::string&>()));
        if (text == "true" || text == "yes" || text == "present") return true;
        if (text == "false" || text == "no" || text == "absent") return false;
    }
    auto number = as_number(value);
    if (!number || !std::isfinite(*number)) return std::nullopt;
    return *number >= 0.5;
}

Result<std::vector<std::string>> action_units(const json& value, const Knowledge& knowledge) {
    std::vector<std::string> codes;
    auto add = [&](const std::string& text) -> bool {
        auto code = knowledge.canonical_action_unit(text);
        if (!code) return false;
        codes.push_back(*code);
        return true;
    };
    if (value.is_array()) {
        for (const auto& item : value) {
            std::string text;
            if (item.is_string()) text = item.get<std::string>();
            else if (item.is_number_integer()) text = std::to_string(item.get<long long>());
            else return malformed("action_units holds a non-code");
            if (!add(text)) return malformed("unknown action unit " + text);
        }
    } else if (value.is_object()) {
        for (const auto& [key, flag] : value.items()) {
            auto present = au_flag(flag);
            if (!present) return malformed("action unit " + key + " has an unreadable flag");
            if (!knowledge.canonical_action_unit(key)) return malformed("unknown action unit " + key);
            if (*present) add(key);
        }
    } else if (value.is_string() && trim(value.get_ref<const std::string&>()).empty()) {
        // "" for "none" is a common slip; it means what [] means.
    } else {
        return malformed("action_units is not a list");
    }
    // Schema order, no duplicates: equal answers compare equal.
    std::vector<std::string> ordered;
    for (const auto& au : knowledge.action_units)
        if (std::find(codes.begin(), codes.end(), au.code) != codes.end()) ordered.push_back(au.code);
    return ordered;
}

Result<Answer> parse_object(const json& object, const Knowledge& knowledge, const PromptSpec& asked) {
    Answer answer;
    for (const auto& key : answer_keys(asked)) {
        // Answers for keys not asked (known levels, extras) are never read: facts win.
        if (!object.contains(key)) return malformed("missing key " + key);
        const json& value = object[key];
        if (key == "verdict") {
            if (value.is_boolean()) {
                answer.verdict = value.get<bool>() ? Verdict::agree : Verdict::disagree;
                continue;
            }
            if (!value.is_string()) return malformed("verdict is not a string");
            std::string text = to_lower(trim(value.get_ref<const std::string&>()));
            if (text == "agree") answer.verdict = Verdict::agree;
            else if (text == "disagree") answer.verdict = Verdict::disagree;
            else return malformed("verdict is neither agree nor disagree");
        } else if (key == "expression") {
            if (!value.is_string()) return malformed("expression is not a string");
            auto name = knowledge.canonical_expression(value.get<std::string>());
            if (!name) return malformed("unknown expression " + value.get<std::string>());
            answer.labels.expression = *name;
        } else if (key == "valence" || key == "arousal") {
            auto v = va_value(object, key);
            if (!v) return v.error();
            (key == "valence" ? answer.labels.valence : answer.labels.arousal) = *v;
        } else if (key == "action_units") {
            auto codes = action_units(value, knowledge);
            if (!codes) return codes.error();
            // AUs the source coded are facts: an answer's word on them is dropped, not an error
            // (a model may well repeat a fact it was shown).
            answer.labels.action_units = without_judged_aus(asked.known, *codes);
        } else {
            if (!value.is_string()) return malformed(key + " is not a string");
            std::string text = trim(value.get_ref<const std::string&>());
            if (key == "expression_description") answer.descriptions.expression = std::move(text);
            else if (key == "va_description") answer.descriptions.va = std::move(text);
            else answer.descriptions.au = std::move(text);
        }
    }
    return answer;
}

}  // namespace

Result<Answer> parse_answer(std::string_view content, const Knowledge& knowledge, const PromptSpec& asked) {
    // The engine promises never to throw: json accessors and allocation are fenced here.
    try {
        auto object = first_object(content);
        if (!object) return malformed("no JSON object in the answer");
        return parse_object(*object, knowledge, asked);
    } catch (const std::exception& e) {
        return malformed(std::string("unreadable answer: ") + e.what());
    } catch (...) {
        return malformed("unreadable answer");
    }
}

}  // namespace seke
