#include "verify/prompt.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "verify/au_prior.hpp"
#include "verify/text.hpp"

namespace seke {

namespace {

// ordered_json keeps the property order we write: the schema text is part of a cache key and
// the order (AUs → expression → VA → descriptions) mirrors the order the model is asked to reason.
using ojson = nlohmann::ordered_json;

std::string number_text(double value) {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    if (ec != std::errc()) return "0";
    return std::string(buffer, end);
}

std::string join(const std::vector<std::string>& items, const char* separator) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i != 0) out += separator;
        out += items[i];
    }
    return out;
}

// `codes` less those in `listed`, in `codes`' order.
std::vector<std::string> without_listed(const std::vector<std::string>& codes, const std::vector<std::string>& listed) {
    std::vector<std::string> out;
    for (const auto& code : codes)
        if (std::find(listed.begin(), listed.end(), code) == listed.end()) out.push_back(code);
    return out;
}

std::string listed_or_none(const std::vector<std::string>& codes) {
    return codes.empty() ? std::string("none") : join(codes, ", ");
}

bool contains(const std::vector<std::string>& keys, const char* key) {
    for (const auto& k : keys)
        if (k == key) return true;
    return false;
}

// Compact JSON of a partial label set, keys in the asking order. Empty object when empty.
std::string labels_json(const LabelSet& labels) {
    ojson out = ojson::object();
    if (labels.action_units) out["action_units"] = *labels.action_units;
    if (labels.au_coded) out["au_coded"] = *labels.au_coded;
    if (labels.expression) out["expression"] = *labels.expression;
    if (labels.valence) out["valence"] = *labels.valence;
    if (labels.arousal) out["arousal"] = *labels.arousal;
    return out.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

std::string system_text(const Knowledge& knowledge) {
    std::string s;
    s += "You are an expert facial expression analyst and certified FACS coder. You label one face "
         "at three grained levels: facial action units (AUs), the discrete expression, and "
         "valence-arousal. Use the emotion knowledge below: the levels are correlated, so keep "
         "your answers consistent with each other.\n\n";
    s += "Expressions (answer with exactly one of these names):\n";
    for (const auto& e : knowledge.expressions) {
        s += "- " + e.name + ": " + e.cue + ". EMFACS prototype: ";
        s += e.prototype.empty() ? std::string("none") : join(e.prototype, "+");
        if (!e.variants.empty()) {
            s += "; variants: ";
            for (std::size_t i = 0; i < e.variants.size(); ++i) {
                if (i != 0) s += ", ";
                s += join(e.variants[i], "+");
            }
        }
        s += ". Prior VA region: valence [" + number_text(e.va.valence_min) + ", " + number_text(e.va.valence_max) +
             "], arousal [" + number_text(e.va.arousal_min) + ", " + number_text(e.va.arousal_max) + "].\n";
    }
    s += "\nAction units (FACS; answer with these codes only):\n";
    for (const auto& au : knowledge.action_units) s += "- " + au.code + ": " + au.name + "\n";
    s += "\nValence-arousal (circumplex model): valence from -1 (very negative) to 1 (very "
         "positive), arousal from -1 (calm, sleepy) to 1 (excited, alert); 0 is neutral.\n";
    if (!knowledge.relations.empty()) {
        s += "\nRelations between the levels:\n";
        for (const auto& r : knowledge.relations) s += "- " + r + "\n";
    }
    return s;
}

std::string user_text(const Knowledge& knowledge, const PromptSpec& spec, const std::vector<std::string>& keys) {
    std::string s = "Analyse the face in the image.\n";
    if (!spec.known.empty()) {
        s += kKnownLabelsMarker + labels_json(spec.known) + "\n";
        s += "These known labels were given by human annotators or the source dataset: treat them "
             "as correct, do not label them again, and use them to inform the other levels.\n";
        if (spec.known.au_partly_known()) {
            const auto coded_absent = without_listed(*spec.known.au_coded, *spec.known.action_units);
            s += "Only the action units in au_coded were coded: of those, the ones in action_units are present (" +
                 listed_or_none(*spec.known.action_units) + ") and the others absent (" + listed_or_none(coded_absent) +
                 "). The remaining action units (" + join(unjudged_action_units(knowledge, spec.known), ", ") +
                 ") are unknown.\n";
        }
    }
    if (spec.kind == RequestKind::verify) {
        s += kCandidateLabelsMarker + labels_json(spec.candidates) + "\n";
        s += "Check the candidate labels against the face and the emotion knowledge. Set "
             "\"verdict\" to \"agree\" if they are correct and consistent with each other, or "
             "\"disagree\" if any of them is wrong; then give the labels: the candidates when "
             "you agree, your corrected labels when you disagree.\n";
    }
    // Steps in the order of the correlations: what is observable first, then what it means.
    int step = 1;
    auto add_step = [&](const std::string& text) { s += std::to_string(step++) + ". " + text + "\n"; };
    if (contains(keys, "action_units")) {
        if (spec.known.au_partly_known())
            add_step("action_units: list the codes of the action units clearly present in the face among " +
                     join(unjudged_action_units(knowledge, spec.known), ", ") +
                     " only (the others are known; an empty list if none).");
        else
            add_step(
                "action_units: list the codes of the action units clearly present in the face "
                "(an empty list if none).");
    }
    if (contains(keys, "expression")) {
        std::vector<std::string> names;
        for (const auto& e : knowledge.expressions) names.push_back(e.name);
        add_step("expression: the discrete expression, one of " + join(names, ", ") +
                 ", consistent with the action units and their EMFACS prototypes.");
    }
    if (contains(keys, "valence") || contains(keys, "arousal"))
        add_step(
            "valence, arousal: numbers in [-1, 1], consistent with the expression's prior "
            "region and the action units.");
    if (contains(keys, "au_description"))
        add_step(
            "au_description: one or two sentences describing the facial muscle movements "
            "(action units) seen.");
    if (contains(keys, "expression_description"))
        add_step(
            "expression_description: one or two sentences explaining the expression and "
            "the facial cues behind it.");
    if (contains(keys, "va_description"))
        add_step(
            "va_description: one or two sentences on how positive or negative and how "
            "calm or aroused the face looks.");
    if (spec.kind == RequestKind::describe)
        s += "All labels are settled (the facts above); describe them, do not change them.\n";
    s += kAnswerKeysMarker + join(keys, ", ") + "\n";
    s += "Answer with one JSON object with exactly these keys and nothing else.\n";
    return s;
}

std::string schema_text(const Knowledge& knowledge, const PromptSpec& spec, const std::vector<std::string>& keys) {
    ojson properties = ojson::object();
    for (const auto& key : keys) {
        if (key == "verdict") {
            properties[key] = {{"type", "string"}, {"enum", {"agree", "disagree"}}};
        } else if (key == "action_units") {
            // Only the AUs not known: a coded AU cannot be answered at all.
            ojson codes = ojson::array();
            for (const auto& code : unjudged_action_units(knowledge, spec.known)) codes.push_back(code);
            properties[key] = {{"type", "array"},
                               {"items", {{"type", "string"}, {"enum", codes}}},
                               {"description", "codes of the action units present"}};
        } else if (key == "expression") {
            ojson names = ojson::array();
            for (const auto& e : knowledge.expressions) names.push_back(e.name);
            properties[key] = {{"type", "string"}, {"enum", names}};
        } else if (key == "valence" || key == "arousal") {
            // No minimum/maximum: some strict providers reject them; the range is in the text.
            properties[key] = {{"type", "number"}, {"description", "in [-1, 1]"}};
        } else {
            properties[key] = {{"type", "string"}};
        }
    }
    ojson schema = {
        {"type", "object"}, {"properties", properties}, {"required", keys}, {"additionalProperties", false}};
    return schema.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

// Copies `from`'s value into `to` for every level `shape` holds; false when `from` lacks one.
bool copy_levels(const LabelSet& shape, const LabelSet& from, LabelSet& to) {
    bool complete = true;
    auto copy = [&](const auto& wanted, const auto& source, auto& target) {
        if (!wanted) return;
        if (source) target = source;
        else complete = false;
    };
    copy(shape.expression, from.expression, to.expression);
    copy(shape.valence, from.valence, to.valence);
    copy(shape.arousal, from.arousal, to.arousal);
    copy(shape.action_units, from.action_units, to.action_units);
    // A partly known AU level: the same AUs are coded, with the values of `from`.
    if (shape.au_coded && to.action_units) {
        to.au_coded = shape.au_coded;
        std::vector<std::string> coded_present;
        for (const auto& code : *to.action_units)
            if (to.judges_au(code)) coded_present.push_back(code);
        to.action_units = std::move(coded_present);
    }
    return complete;
}

// Stand-in descriptions for an example with none: plain statements of its labels, so the
// example shows the form of a description without inventing observations.
std::string expression_sentence(const Knowledge& knowledge, const std::string& expression) {
    const auto* facts = knowledge.find_expression(expression);
    if (!facts || facts->cue.empty()) return "The expression is " + expression + ".";
    return "The expression is " + expression + ": " + facts->cue + ".";
}

std::string va_sentence(double valence, double arousal) {
    const char* v = valence > 0.15 ? "positive" : valence < -0.15 ? "negative" : "neutral";
    const char* a = arousal > 0.4 ? "high" : arousal < -0.2 ? "low" : "moderate";
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "Valence is %s (%.2f) and arousal is %s (%.2f).", v, valence, a, arousal);
    return buffer;
}

std::string au_sentence(const Knowledge& knowledge, const std::vector<std::string>& codes) {
    if (codes.empty()) return "No action units are clearly active.";
    std::string out = "Active action units: ";
    for (std::size_t i = 0; i < codes.size(); ++i) {
        if (i != 0) out += ", ";
        out += codes[i];
        if (const auto* au = knowledge.find_action_unit(codes[i])) out += " (" + au->name + ")";
    }
    return out + ".";
}

bool valid_va(const std::optional<double>& value) {
    return value && std::isfinite(*value) && *value >= -1 && *value <= 1;
}

}  // namespace

std::string_view request_kind_name(RequestKind kind) noexcept {
    switch (kind) {
        case RequestKind::sample: return "sample";
        case RequestKind::verify: return "verify";
        case RequestKind::describe: return "describe";
    }
    return "sample";
}

std::vector<std::string> answer_keys(const PromptSpec& spec) {
    std::vector<std::string> keys;
    if (spec.kind == RequestKind::verify) keys.emplace_back("verdict");
    if (spec.kind != RequestKind::describe) {
        if (!spec.known.has(Level::au)) keys.emplace_back("action_units");
        if (!spec.known.expression) keys.emplace_back("expression");
        if (!spec.known.valence) keys.emplace_back("valence");
        if (!spec.known.arousal) keys.emplace_back("arousal");
    }
    if (spec.ask_descriptions) {
        keys.emplace_back("au_description");
        keys.emplace_back("expression_description");
        keys.emplace_back("va_description");
    }
    // A verify prompt with nothing to verify asks nothing at all.
    if (keys.size() == 1 && spec.kind == RequestKind::verify) keys.clear();
    return keys;
}

Prompt build_prompt(const Knowledge& knowledge, const PromptSpec& spec) {
    Prompt prompt;
    const auto keys = answer_keys(spec);
    prompt.system = system_text(knowledge);
    prompt.user = user_text(knowledge, spec, keys);
    prompt.schema_name = "seke_" + std::string(request_kind_name(spec.kind));
    prompt.response_schema = schema_text(knowledge, spec, keys);
    return prompt;
}

std::optional<PromptSpec> example_spec(const PromptSpec& spec, const LabelSet& example_labels) {
    PromptSpec out;
    out.kind = spec.kind;
    out.ask_descriptions = spec.ask_descriptions;
    if (!copy_levels(spec.known, example_labels, out.known)) return std::nullopt;
    if (!copy_levels(spec.candidates, example_labels, out.candidates)) return std::nullopt;
    if (out.candidates.action_units)
        out.candidates.action_units = without_judged_aus(out.known, *out.candidates.action_units);
    return out;
}

std::optional<std::string> example_answer(const Knowledge& knowledge, const PromptSpec& spec, const LabelSet& labels,
                                          const Descriptions& descriptions) {
    // Canonical labels in schema order, as the parser reads them back. Any label it would reject,
    // asked or shown as a fact, makes the example unusable rather than a lesson in a wrong answer.
    std::optional<std::string> expression;
    if (labels.expression) {
        expression = knowledge.canonical_expression(*labels.expression);
        if (!expression) return std::nullopt;
    }
    std::optional<std::vector<std::string>> action_units;
    if (labels.action_units) {
        std::vector<std::string> canonical;
        for (const auto& code : *labels.action_units) {
            auto known_code = knowledge.canonical_action_unit(code);
            if (!known_code) return std::nullopt;
            canonical.push_back(*known_code);
        }
        action_units.emplace();
        for (const auto& au : knowledge.action_units)
            if (std::find(canonical.begin(), canonical.end(), au.code) != canonical.end())
                action_units->push_back(au.code);
    }
    const bool has_valence = valid_va(labels.valence);
    const bool has_arousal = valid_va(labels.arousal);
    if ((labels.valence && !has_valence) || (labels.arousal && !has_arousal)) return std::nullopt;

    ojson out = ojson::object();
    for (const auto& key : answer_keys(spec)) {
        if (key == "verdict") {
            out[key] = "agree";
        } else if (key == "action_units") {
            if (!action_units) return std::nullopt;
            out[key] = without_judged_aus(spec.known, *action_units);
        } else if (key == "expression") {
            if (!expression) return std::nullopt;
            out[key] = *expression;
        } else if (key == "valence") {
            if (!has_valence) return std::nullopt;
            out[key] = *labels.valence;
        } else if (key == "arousal") {
            if (!has_arousal) return std::nullopt;
            out[key] = *labels.arousal;
        } else if (key == "expression_description") {
            std::string text = trim(descriptions.expression);
            if (text.empty() && !expression) return std::nullopt;
            out[key] = text.empty() ? expression_sentence(knowledge, *expression) : text;
        } else if (key == "va_description") {
            std::string text = trim(descriptions.va);
            if (text.empty() && !(has_valence && has_arousal)) return std::nullopt;
            out[key] = text.empty() ? va_sentence(*labels.valence, *labels.arousal) : text;
        } else if (key == "au_description") {
            std::string text = trim(descriptions.au);
            if (text.empty() && !action_units) return std::nullopt;
            out[key] = text.empty() ? au_sentence(knowledge, *action_units) : text;
        }
    }
    if (out.empty()) return std::nullopt;
    return out.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace seke
