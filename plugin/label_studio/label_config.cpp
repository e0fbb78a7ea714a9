#include "plugin/label_studio/label_config.hpp"
#include "verify/text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

namespace seke::label_studio {

namespace {

namespace pt = boost::property_tree;

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        std::string item = trim(text.substr(start, comma - start));
        if (!item.empty()) out.push_back(std::move(item));
        start = comma + 1;
    }
    return out;
}

// "actionUnits_img" → {"action", "units", "img"}: names are matched by words, so "va" does not
// match inside "evaluation".
std::vector<std::string> name_tokens(std::string_view name) {
    std::vector<std::string> tokens;
    std::string current;
    char previous = 0;
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (!std::isalnum(u)) {
            if (!current.empty()) tokens.push_back(std::move(current));
            current.clear();
        } else {
            if (std::isupper(u) && previous != 0 && std::islower(static_cast<unsigned char>(previous)) &&
                !current.empty()) {
                tokens.push_back(std::move(current));
                current.clear();
            }
            current.push_back(static_cast<char>(std::tolower(u)));
        }
        previous = c;
    }
    if (!current.empty()) tokens.push_back(std::move(current));
    return tokens;
}

bool has_token(const std::vector<std::string>& tokens, std::initializer_list<std::string_view> wanted) {
    for (const auto& token : tokens)
        for (auto w : wanted)
            if (token == w) return true;
    return false;
}

// "AU12", "au 12", "AU_45": an AU code even if the knowledge does not list it. Bare numbers are
// not counted, so a 1..9 rating-like Choices is not taken for AUs.
bool looks_like_au_code(std::string_view text) {
    std::string compact;
    for (char c : text)
        if (!std::isspace(static_cast<unsigned char>(c)) && c != '_' && c != '-') compact.push_back(c);
    if (compact.size() < 3 || !iequals(compact.substr(0, 2), "au")) return false;
    return std::all_of(compact.begin() + 2, compact.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

// An attribute's text. The XML parser turns a character reference such as &#xD800; into bytes
// that are not UTF-8, which a prediction carrying the value could not be written as JSON with:
// such an attribute is an error (invalid_argument, through walk()'s caller).
std::optional<std::string> attr(const pt::ptree& node, std::string_view key) {
    auto attrs = node.get_child_optional("<xmlattr>");
    if (!attrs) return std::nullopt;
    for (const auto& [name, value] : *attrs) {
        if (!iequals(name, key)) continue;
        if (!well_formed_utf8(value.data()))
            throw std::invalid_argument("attribute " + name +
                                        " is not UTF-8 text (a character reference to a surrogate?)");
        return value.data();
    }
    return std::nullopt;
}

std::optional<double> attr_number(const pt::ptree& node, std::string_view key) {
    auto text = attr(node, key);
    if (!text) return std::nullopt;
    try {
        std::size_t used = 0;
        double value = std::stod(trim(*text), &used);
        if (!std::isfinite(value)) return std::nullopt;
        return value;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool attr_true(const pt::ptree& node, std::string_view key) {
    auto text = attr(node, key);
    return text && iequals(trim(*text), "true");
}

struct RawImage {
    std::string name;
    std::string value;
};

struct RawControl {
    ControlTag control;
    std::vector<std::string> to_names;
};

// How deep a labeling config may nest its elements. Label Studio's own templates stay under 15;
// the XML parser and these walks recurse per level, so a config is measured before it is parsed.
constexpr int kMaxElementDepth = 64;

// The deepest element nesting of `xml`, scanning no further than kMaxElementDepth + 1: tags,
// quoted attribute values, comments, CDATA and declarations are told apart; anything else is
// text. Unbalanced input is the parser's to report.
int element_depth(std::string_view xml) {
    int depth = 0, deepest = 0;
    std::size_t i = 0;
    auto skip_past = [&](std::string_view end) {
        const std::size_t at = xml.find(end, i);
        i = at == std::string_view::npos ? xml.size() : at + end.size();
    };
    while (i < xml.size() && deepest <= kMaxElementDepth) {
        if (xml[i] != '<') {
            ++i;
            continue;
        }
        if (xml.compare(i, 4, "<!--") == 0) {
            skip_past("-->");
        } else if (xml.compare(i, 9, "<![CDATA[") == 0) {
            skip_past("]]>");
        } else if (i + 1 < xml.size() && (xml[i + 1] == '!' || xml[i + 1] == '?')) {
            skip_past(">");
        } else if (i + 1 < xml.size() && xml[i + 1] == '/') {
            depth = std::max(0, depth - 1);
            skip_past(">");
        } else {
            // An opening tag: to its '>' outside quotes; "/>" closes it at once.
            char quote = 0;
            std::size_t j = i + 1;
            for (; j < xml.size(); ++j) {
                if (quote) quote = xml[j] == quote ? 0 : quote;
                else if (xml[j] == '"' || xml[j] == '\'') quote = xml[j];
                else if (xml[j] == '>') break;
            }
            const bool self_closing = j < xml.size() && j > i && xml[j - 1] == '/';
            if (!self_closing) deepest = std::max(deepest, ++depth);
            i = j + 1;
        }
    }
    return deepest;
}

// Nested <Choice>/<Label> values, in document order (alias wins, as in the SDK's parse_config).
// Recursive over the config's elements, at most kMaxElementDepth deep (checked before parsing).
void collect_values(const pt::ptree& node, std::vector<LabelValue>& out) {  // NOLINT(misc-no-recursion)
    for (const auto& [key, child] : node) {
        if (key.empty() || key.front() == '<') continue;
        const std::string tag = to_lower(key);
        if (tag == "choice" || tag == "label") {
            LabelValue value;
            auto alias = attr(child, "alias");
            auto plain = attr(child, "value");
            value.value = alias && !alias->empty() ? *alias : plain.value_or("");
            if (auto predicted = attr(child, "predicted_values")) value.predicted_values = split_list(*predicted);
            if (!value.value.empty()) out.push_back(std::move(value));
        }
        collect_values(child, out);
    }
}

// Recursive over the config's elements, bounded as collect_values is.
// NOLINTNEXTLINE(misc-no-recursion)
void walk(const pt::ptree& node, std::vector<RawImage>& images, std::vector<RawControl>& controls) {
    for (const auto& [key, child] : node) {
        if (key.empty() || key.front() == '<') continue;
        auto name = attr(child, "name");
        auto to_name = attr(child, "toName");
        if (name && !name->empty() && to_name) {
            RawControl raw;
            raw.control.name = *name;
            raw.control.tag = key;
            raw.to_names = split_list(*to_name);
            raw.control.per_region = attr_true(child, "perRegion");
            raw.control.multiple = iequals(trim(attr(child, "choice").value_or("")), "multiple");
            raw.control.min = attr_number(child, "min");
            raw.control.max = attr_number(child, "max");
            collect_values(child, raw.control.values);
            controls.push_back(std::move(raw));
            continue;  // controls hold labels, not other controls
        }
        if (to_lower(key) == "image" && name && !name->empty())
            images.push_back({*name, attr(child, "value").value_or("")});
        walk(child, images, controls);
    }
}

const RawImage* choose_image(const std::vector<RawImage>& images, const std::vector<RawControl>& controls) {
    for (const auto& image : images)
        for (const auto& control : controls)
            if (std::find(control.to_names.begin(), control.to_names.end(), image.name) != control.to_names.end())
                return &image;
    return images.empty() ? nullptr : &images.front();
}

std::set<std::string> canonical_expressions_of(const ControlTag& control, const Knowledge& knowledge) {
    std::set<std::string> found;
    for (const auto& value : control.values) {
        if (auto c = knowledge.canonical_expression(value.value)) found.insert(*c);
        for (const auto& predicted : value.predicted_values)
            if (auto c = knowledge.canonical_expression(predicted)) found.insert(*c);
    }
    return found;
}

bool mostly_au_codes(const ControlTag& control) {
    std::size_t codes = 0;
    for (const auto& value : control.values)
        if (looks_like_au_code(value.value)) ++codes;
    return codes >= 2 && codes * 2 > control.values.size();
}

using Canonicalise = std::function<std::optional<std::string>(const std::string&)>;

// Forward (seke label → config value) in the priority of the brief: exact, case-insensitive,
// predicted_values, then the knowledge's own synonyms. The reverse map prefers the forward
// choice so a predicted_values mapping reads back the same way.
void build_maps(const ControlTag& control, const std::vector<std::string>& labels, const Canonicalise& canonical,
                std::map<std::string, std::string>& to_config, std::map<std::string, std::string>& from_config) {
    for (const auto& label : labels) {
        std::optional<std::string> value = control.match_value(label);
        if (!value) {
            for (const auto& candidate : control.values) {
                if (canonical(candidate.value) == label) value = candidate.value;
                for (const auto& predicted : candidate.predicted_values)
                    if (!value && canonical(predicted) == label) value = candidate.value;
                if (value) break;
            }
        }
        if (value) to_config.emplace(label, *value);
    }
    for (const auto& candidate : control.values) {
        std::optional<std::string> label;
        for (const auto& [seke_label, config_value] : to_config)
            if (config_value == candidate.value) {
                label = seke_label;
                break;
            }
        if (!label) label = canonical(candidate.value);
        for (const auto& predicted : candidate.predicted_values)
            if (!label) label = canonical(predicted);
        if (label) from_config.emplace(candidate.value, *label);
    }
}

std::optional<std::string> lookup(const std::map<std::string, std::string>& map, std::string_view key) {
    if (auto it = map.find(std::string(key)); it != map.end()) return it->second;
    for (const auto& [k, v] : map)
        if (iequals(k, key)) return v;
    return std::nullopt;
}

}  // namespace

std::string ControlTag::type() const {
    return to_lower(tag);
}

std::optional<std::string> ControlTag::match_value(std::string_view label) const {
    for (const auto& v : values)
        if (v.value == label) return v.value;
    for (const auto& v : values)
        if (iequals(v.value, label)) return v.value;
    const std::string wanted = trim(label);
    for (const auto& v : values)
        for (const auto& predicted : v.predicted_values)
            if (iequals(predicted, wanted)) return v.value;
    return std::nullopt;
}

bool LabelingConfig::has_emotion_control() const noexcept {
    return expression || valence || arousal || action_units || description || expression_description ||
           va_description || au_description;
}

bool LabelingConfig::applicable() const noexcept {
    return !image_name.empty() && (has_emotion_control() || face.has_value());
}

std::optional<std::string> LabelingConfig::config_expression(std::string_view label) const {
    if (!expression) return std::nullopt;
    if (auto v = lookup(expression_to_config, label)) return v;
    return expression->match_value(label);
}

std::optional<std::string> LabelingConfig::config_action_unit(std::string_view label) const {
    if (!action_units) return std::nullopt;
    if (auto v = lookup(au_to_config, label)) return v;
    return action_units->match_value(label);
}

std::optional<std::string> LabelingConfig::seke_expression(std::string_view value) const {
    if (auto it = expression_from_config.find(std::string(value)); it != expression_from_config.end())
        return it->second;
    return std::nullopt;
}

std::optional<std::string> LabelingConfig::seke_action_unit(std::string_view value) const {
    if (auto it = au_from_config.find(std::string(value)); it != au_from_config.end()) return it->second;
    return std::nullopt;
}

std::vector<const ControlTag*> LabelingConfig::emotion_controls() const {
    std::vector<const ControlTag*> out;
    for (const auto* c : {&expression, &valence, &arousal, &action_units, &description, &expression_description,
                          &va_description, &au_description})
        if (c->has_value()) out.push_back(&c->value());
    return out;
}

Result<LabelingConfig> parse_label_config(const std::string& xml, const Knowledge& knowledge,
                                          const LabelStudioNames& names) {
    LabelingConfig config;
    if (trim(xml).empty()) return config;

    if (element_depth(xml) > kMaxElementDepth)
        return make_error(errc::invalid_argument,
                          "label config nests elements more than " + std::to_string(kMaxElementDepth) + " levels deep");
    pt::ptree tree;
    try {
        std::istringstream in(xml);
        pt::read_xml(in, tree, pt::xml_parser::no_comments | pt::xml_parser::trim_whitespace);
    } catch (const pt::xml_parser_error& e) {
        return make_error(errc::invalid_argument,
                          "label config is not valid XML: " + e.message() + " (line " + std::to_string(e.line()) + ")");
    } catch (const std::exception& e) {
        return make_error(errc::invalid_argument, std::string("label config is not valid XML: ") + e.what());
    }

    std::vector<RawImage> images;
    std::vector<RawControl> raw_controls;
    try {
        walk(tree, images, raw_controls);
    } catch (const std::exception& e) {
        return make_error(errc::invalid_argument, std::string("label config: ") + e.what());
    }

    const RawImage* image = choose_image(images, raw_controls);
    if (!image) return config;
    config.image_name = image->name;
    if (!image->value.empty() && image->value.front() == '$') config.image_value_key = image->value.substr(1);

    // Only controls labeling the chosen image; each is used for one role at most.
    std::vector<ControlTag> controls;
    for (auto& raw : raw_controls)
        if (std::find(raw.to_names.begin(), raw.to_names.end(), image->name) != raw.to_names.end()) {
            raw.control.to_name = image->name;
            controls.push_back(std::move(raw.control));
        }
    std::vector<bool> used(controls.size(), false);

    // Picks the first unused control of `type` accepted by each test in turn (names before values).
    auto pick = [&](std::string_view type,
                    std::initializer_list<std::function<bool(const ControlTag&)>> tests) -> std::optional<ControlTag> {
        for (const auto& test : tests)
            for (std::size_t i = 0; i < controls.size(); ++i)
                if (!used[i] && controls[i].type() == type && test(controls[i])) {
                    used[i] = true;
                    return controls[i];
                }
        return std::nullopt;
    };
    auto named = [](const std::string& wanted) {
        return [wanted](const ControlTag& c) { return !wanted.empty() && iequals(c.name, wanted); };
    };
    auto tokens_have = [](std::initializer_list<std::string_view> words, bool allow_desc) {
        std::vector<std::string_view> list(words);
        return [list, allow_desc](const ControlTag& c) {
            auto tokens = name_tokens(c.name);
            if (!allow_desc && has_token(tokens, {"desc", "description", "descriptions", "text"})) return false;
            for (const auto& token : tokens)
                if (std::find(list.begin(), list.end(), token) != list.end()) return true;
            return false;
        };
    };
    const std::size_t needed_expressions =
        std::max<std::size_t>(2, std::min<std::size_t>(4, knowledge.expressions.size()));
    auto expression_values = [&](const ControlTag& c) {
        return canonical_expressions_of(c, knowledge).size() >= needed_expressions;
    };
    auto single = [](const ControlTag& c) { return !c.multiple; };
    auto both = [](auto a, auto b) { return [a, b](const ControlTag& c) { return a(c) && b(c); }; };

    // AUs first: an AU Choices has its own clear signature and must not be taken for expressions.
    auto au_words = tokens_have({"au", "aus", "facs", "action", "actionunits", "action_units"}, false);
    config.action_units =
        pick("choices", {both(named(names.action_units), [](const ControlTag& c) { return c.multiple; }),
                         both(au_words, [](const ControlTag& c) { return c.multiple; }),
                         [](const ControlTag& c) { return c.multiple && mostly_au_codes(c); }});
    auto expression_words = tokens_have({"expression", "expressions", "emotion", "emotions", "expr", "fer"}, false);
    config.expression = pick(
        "choices", {both(named(names.expression), single), both(expression_words, single),
                    both(expression_values, single), named(names.expression), expression_words, expression_values});

    auto contains = [](std::string_view word) {
        return [w = std::string(word)](const ControlTag& c) { return to_lower(c.name).find(w) != std::string::npos; };
    };
    config.valence = pick("number", {named(names.valence), contains("valence")});
    config.arousal = pick("number", {named(names.arousal), contains("arousal")});

    // Descriptions: separate TextAreas when the name names a level, else one for all levels.
    auto desc_words = tokens_have({"desc", "description", "descriptions", "caption", "rationale", "explanation"}, true);
    auto level_desc = [&](std::initializer_list<std::string_view> words) {
        auto level = tokens_have(words, true);
        return [level, desc_words](const ControlTag& c) { return level(c) && desc_words(c); };
    };
    config.expression_description = pick("textarea", {level_desc({"expression", "expr", "emotion"})});
    config.va_description = pick("textarea", {level_desc({"va", "valence", "arousal"})});
    config.au_description = pick("textarea", {level_desc({"au", "aus", "facs", "action"})});
    config.description = pick("textarea", {named(names.description), desc_words});

    // The face: by name, by a /face/i label, or any rectangle when per-region controls need one.
    auto face_label = [](const ControlTag& c) -> std::optional<std::string> {
        for (const auto& v : c.values)
            if (to_lower(v.value).find("face") != std::string::npos) return v.value;
        if (!c.values.empty()) return c.values.front().value;
        return std::nullopt;
    };
    auto has_face_label = [](const ControlTag& c) {
        return std::any_of(c.values.begin(), c.values.end(),
                           [](const LabelValue& v) { return to_lower(v.value).find("face") != std::string::npos; });
    };
    auto labelled = [](const ControlTag& c) { return !c.values.empty(); };
    bool per_region_controls = false;
    for (const auto* c : config.emotion_controls()) per_region_controls = per_region_controls || c->per_region;
    std::optional<ControlTag> rect = pick("rectanglelabels", {both(named(names.face), labelled), has_face_label});
    if (!rect) rect = pick("rectangle", {named(names.face), tokens_have({"face", "faces"}, true)});
    if (!rect && per_region_controls) rect = pick("rectanglelabels", {labelled});
    if (!rect && per_region_controls) rect = pick("rectangle", {[](const ControlTag&) { return true; }});
    if (rect) {
        FaceControl face;
        if (rect->type() == "rectanglelabels") face.label = face_label(*rect);
        face.control = std::move(*rect);
        config.face = std::move(face);
    }

    std::vector<std::string> expression_names;
    for (const auto& e : knowledge.expressions) expression_names.push_back(e.name);
    std::vector<std::string> au_codes;
    for (const auto& a : knowledge.action_units) au_codes.push_back(a.code);
    if (config.expression)
        build_maps(
            *config.expression, expression_names,
            [&](const std::string& t) { return knowledge.canonical_expression(t); }, config.expression_to_config,
            config.expression_from_config);
    if (config.action_units)
        build_maps(
            *config.action_units, au_codes, [&](const std::string& t) { return knowledge.canonical_action_unit(t); },
            config.au_to_config, config.au_from_config);
    return config;
}

LabelConfigCache::LabelConfigCache(const Knowledge& knowledge, LabelStudioNames names, std::size_t capacity)
    : knowledge_(knowledge), names_(std::move(names)), capacity_(std::max<std::size_t>(1, capacity)) {}

Result<std::shared_ptr<const LabelingConfig>> LabelConfigCache::get(const std::string& xml) {
    const std::size_t key = std::hash<std::string>{}(xml);
    {
        std::lock_guard lock(mutex_);
        auto [begin, end] = entries_.equal_range(key);
        for (auto it = begin; it != end; ++it)
            if (it->second.xml == xml) return it->second.config;
    }
    // Parsed outside the lock: two threads may parse the same text once each, which is harmless.
    auto parsed = parse_label_config(xml, knowledge_, names_);
    if (!parsed) return parsed.error();
    auto config = std::make_shared<const LabelingConfig>(std::move(parsed).value());
    std::lock_guard lock(mutex_);
    auto [begin, end] = entries_.equal_range(key);
    for (auto it = begin; it != end; ++it)
        if (it->second.xml == xml) return it->second.config;
    // Projects rarely change their config; dropping everything at the cap keeps this simple.
    if (entries_.size() >= capacity_) entries_.clear();
    entries_.emplace(key, Entry{xml, config});
    return std::shared_ptr<const LabelingConfig>(config);
}

std::size_t LabelConfigCache::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

}  // namespace seke::label_studio
