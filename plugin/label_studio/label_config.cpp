#include "plugin/label_studio/label_config.hpp"
#include "verify/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
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

// Nested <Choice>/<Label> values, in document order (alias wins, as in the SDK's parse_config),
// each with the values of the Choices it is nested in (a Taxonomy's path).
// Recursive over the config's elements, at most kMaxElementDepth deep (checked before parsing).
void collect_values(const pt::ptree& node, std::vector<std::string>& path,  // NOLINT(misc-no-recursion)
                    std::vector<LabelValue>& out) {
    for (const auto& [key, child] : node) {
        if (key.empty() || key.front() == '<') continue;
        const std::string tag = to_lower(key);
        bool pushed = false;
        if (tag == "choice" || tag == "label") {
            LabelValue value;
            auto alias = attr(child, "alias");
            auto plain = attr(child, "value");
            value.value = alias && !alias->empty() ? *alias : plain.value_or("");
            if (auto predicted = attr(child, "predicted_values")) value.predicted_values = split_list(*predicted);
            value.path = path;
            if (!value.value.empty()) {
                path.push_back(value.value);
                pushed = true;
                out.push_back(std::move(value));
            }
        }
        collect_values(child, path, out);
        if (pushed) path.pop_back();
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
            raw.control.multiple =
                iequals(trim(attr(child, "choice").value_or("")), "multiple") || to_lower(key) == "taxonomy";
            raw.control.min = attr_number(child, "min");
            raw.control.max = attr_number(child, "max");
            raw.control.max_rating = attr_number(child, "maxRating");
            std::vector<std::string> path;
            collect_values(child, path, raw.control.values);
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

static_assert(kRoleCount == kControlLevelCount, "one option per level, in Role order");

// The control types that can hold a level.
bool holds(Role role, std::string_view type) {
    switch (role) {
        case Role::face: return type == "rectanglelabels" || type == "rectangle";
        case Role::expression: return type == "choices" || type == "taxonomy" || type == "rectanglelabels";
        case Role::valence:
        case Role::arousal: return type == "number" || type == "rating" || type == "choices";
        case Role::action_units: return type == "choices" || type == "taxonomy";
        default: return type == "textarea";
    }
}

// The option that maps a control to a level: "--control-valence NAME".
std::string option_for(Role role, const std::string& control) {
    return std::string(control_levels()[static_cast<std::size_t>(role)].flag) + " " + control;
}

// The levels a control of this type could be given, for the option an unfilled one is reported with.
std::vector<Role> candidate_roles(const ControlTag& control) {
    const std::string type = control.type();
    if (type == "textarea") return {Role::description};
    if (type == "number" || type == "rating") return {Role::valence, Role::arousal};
    if (type == "taxonomy") return {Role::expression, Role::action_units};
    if (type == "choices")
        return control.multiple ? std::vector<Role>{Role::action_units}
                                : std::vector<Role>{Role::expression, Role::valence, Role::arousal};
    if (type == "rectanglelabels") return {Role::face, Role::expression};
    if (type == "rectangle") return {Role::face};
    return {};
}

// "3", "+2", "-4", "1 - very unpleasant", "5 (neutral)": the number a scale choice starts with.
std::optional<double> leading_number(const std::string& text) {
    const std::string t = trim(text);
    if (t.empty()) return std::nullopt;
    const char* begin = t.c_str();
    char* end = nullptr;
    const double value = std::strtod(begin, &end);
    if (end == begin || !std::isfinite(value)) return std::nullopt;
    if (*end != '\0' && std::isalnum(static_cast<unsigned char>(*end))) return std::nullopt;  // "1st", "0x1"
    return value;
}

// A word scale's first value reads as its high end ("Very positive", "High", ...): then the
// choices run from +1 down to -1.
bool starts_high(const std::vector<LabelValue>& values) {
    auto words = name_tokens(values.front().value);
    return has_token(words, {"high", "positive", "pleasant", "excited", "aroused", "active", "intense"}) &&
           !has_token(words, {"unpleasant"});
}

// How [-1, 1] is written on the control; nullopt and `why` when it cannot be.
std::optional<ValueScale> scale_of(const ControlTag& control, const std::optional<std::pair<double, double>>& range,
                                   std::string& why) {
    ValueScale scale;
    const std::string type = control.type();
    if (type == "number") {
        if (control.min && control.max && *control.min < *control.max) {
            scale.low = *control.min;
            scale.high = *control.max;
        }
    } else if (type == "rating") {
        const double stars = control.max_rating.value_or(5);
        if (!(stars >= 2)) {
            why = "a Rating of fewer than 2 stars cannot hold a level";
            return std::nullopt;
        }
        scale.low = 1;
        scale.high = std::floor(stars);
        scale.whole = true;
    } else if (type == "choices") {
        if (control.multiple) {
            why = "a scale is one choice; this Choices allows several";
            return std::nullopt;
        }
        if (control.values.size() < 2) {
            why = "a scale needs two or more choices";
            return std::nullopt;
        }
        bool numeric = true;
        for (const auto& v : control.values) numeric = numeric && leading_number(v.value).has_value();
        const bool reversed = !numeric && starts_high(control.values);
        const auto count = static_cast<double>(control.values.size());
        for (std::size_t i = 0; i < control.values.size(); ++i) {
            const double position = numeric    ? *leading_number(control.values[i].value)
                                    : reversed ? count - 1 - static_cast<double>(i)
                                               : static_cast<double>(i);
            scale.choices.emplace_back(control.values[i].value, position);
        }
        auto [lowest, highest] = std::minmax_element(scale.choices.begin(), scale.choices.end(),
                                                     [](const auto& a, const auto& b) { return a.second < b.second; });
        scale.low = lowest->second;
        scale.high = highest->second;
        if (!(scale.low < scale.high)) {
            why = "its choices are all the same number";
            return std::nullopt;
        }
    } else {
        why = "a " + control.tag + " cannot hold a level in [-1, 1]";
        return std::nullopt;
    }
    if (range) {
        scale.low = range->first;
        scale.high = range->second;
    }
    return scale;
}

}  // namespace

std::string ControlTag::type() const {
    return to_lower(tag);
}

std::string_view role_name(Role role) noexcept {
    return control_levels()[static_cast<std::size_t>(role)].level;
}

Result<ControlOverrides> control_overrides(const LabelStudioControls& options) {
    auto parsed = parse_control_overrides(options);
    if (!parsed) return parsed.error();
    ControlOverrides out;
    out.by_role = std::move(*parsed);
    return out;
}

double ValueScale::to_control(double level) const {
    level = std::clamp(level, -1.0, 1.0);
    if (low == -1 && high == 1) return level;  // exactly: a round trip gives back what was sent
    return low + (level + 1) / 2 * (high - low);
}

double ValueScale::to_level(double control) const {
    if (low == -1 && high == 1) return std::clamp(control, -1.0, 1.0);
    if (high == low) return 0;
    return std::clamp(2 * (control - low) / (high - low) - 1, -1.0, 1.0);
}

std::optional<std::string> ValueScale::choice_for(double level) const {
    const double target = to_control(level);
    const std::pair<std::string, double>* best = nullptr;
    for (const auto& choice : choices)
        if (!best || std::fabs(choice.second - target) < std::fabs(best->second - target)) best = &choice;
    if (!best) return std::nullopt;
    return best->first;
}

std::optional<double> ValueScale::level_of_choice(std::string_view value) const {
    for (const auto& [text, position] : choices)
        if (text == value) return to_level(position);
    for (const auto& [text, position] : choices)
        if (iequals(text, value)) return to_level(position);
    return std::nullopt;
}

bool ValueScale::identity() const noexcept {
    return choices.empty() && !whole && low == -1 && high == 1;
}

std::string ValueScale::describe() const {
    auto number = [](double x) {
        std::ostringstream out;
        out << x;
        return out.str();
    };
    if (!choices.empty()) {
        auto at = [&](double position) {
            for (const auto& [text, p] : choices)
                if (p == position) return text;
            return number(position);
        };
        return "\"" + at(low) + "\" for -1 .. \"" + at(high) + "\" for +1";
    }
    return number(low) + " for -1 .. " + number(high) + " for +1";
}

std::vector<std::string> ControlTag::path_of(const std::string& value) const {
    for (const auto& v : values)
        if (v.value == value) {
            std::vector<std::string> path = v.path;
            path.push_back(v.value);
            return path;
        }
    return {value};
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
                                          const ControlOverrides& overrides) {
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
    std::vector<RawControl> raw;
    try {
        walk(tree, images, raw);
    } catch (const std::exception& e) {
        return make_error(errc::invalid_argument, std::string("label config: ") + e.what());
    }
    for (const auto& r : raw) config.controls.push_back({r.control.name, r.control.tag, {}, {}, {}, {}, {}});

    const RawImage* image = choose_image(images, raw);
    if (!image) {
        for (auto& report : config.controls) report.reason = "the config has no <Image> for it to label";
        if (!raw.empty()) config.unusable = "the config has no <Image>: seke labels faces in images";
        return config;
    }
    config.image_name = image->name;
    if (!image->value.empty() && image->value.front() == '$') config.image_value_key = image->value.substr(1);

    // Each control labeling the chosen image is given one level at most; the others are reported.
    const std::size_t n = raw.size();
    std::vector<bool> on_image(n, false);
    std::vector<std::optional<Role>> role_of(n);
    std::vector<std::string> reason_of(n);
    for (std::size_t i = 0; i < n; ++i) {
        on_image[i] = std::find(raw[i].to_names.begin(), raw[i].to_names.end(), image->name) != raw[i].to_names.end();
        if (on_image[i]) raw[i].control.to_name = image->name;
    }
    const auto& control = [&](std::size_t i) -> ControlTag& { return raw[i].control; };
    auto filled_by = [&](Role role) -> std::optional<std::size_t> {
        for (std::size_t i = 0; i < n; ++i)
            if (role_of[i] == role) return i;
        return std::nullopt;
    };
    auto filled = [&](Role role) { return filled_by(role).has_value(); };
    // The object a control labels, for messages.
    auto target_of = [&](std::size_t i) { return raw[i].to_names.empty() ? std::string() : raw[i].to_names.front(); };
    auto set_scale = [&](std::size_t i, Role role, const std::optional<std::pair<double, double>>& range,
                         std::string& why) {
        if (role != Role::valence && role != Role::arousal) return true;
        auto scale = scale_of(control(i), range, why);
        if (scale) control(i).scale = std::move(*scale);
        return scale.has_value();
    };

    // The operator's mapping first: it wins, and a level it names is never guessed.
    std::array<bool, kRoleCount> decided{};
    for (std::size_t r = 0; r < kRoleCount; ++r) {
        const auto role = static_cast<Role>(r);
        const auto& wanted = overrides.of(role);
        if (!wanted) continue;
        decided[r] = true;
        if (wanted->off) continue;
        const std::string option = "label_studio.controls." + std::string(role_name(role));
        std::optional<std::size_t> found;
        for (std::size_t i = 0; i < n && !found; ++i)
            if (control(i).name == wanted->control) found = i;
        for (std::size_t i = 0; i < n && !found; ++i)
            if (iequals(control(i).name, wanted->control)) found = i;
        const std::string named = option + " names \"" + wanted->control + "\"";
        if (!found) {
            config.problems.push_back(named + ", which is not a control of this config");
        } else if (!on_image[*found]) {
            config.problems.push_back(named + ", which labels \"" + target_of(*found) + "\", not the image \"" +
                                      image->name + "\"");
        } else if (role_of[*found]) {
            config.problems.push_back(named + ", which is the " + std::string(role_name(*role_of[*found])) +
                                      " control already");
        } else if (!holds(role, control(*found).type())) {
            config.problems.push_back(named + ", a " + control(*found).tag + ", which cannot hold " +
                                      std::string(role_name(role)));
        } else if (std::string why; !set_scale(*found, role, wanted->range, why)) {
            config.problems.push_back(named + ": " + why);
        } else {
            role_of[*found] = role;
        }
    }

    using Test = std::function<bool(const ControlTag&)>;
    // The first control not given a level yet, of one of `types`, that a test accepts (tests in turn).
    auto pick = [&](Role role, std::initializer_list<std::string_view> types, std::initializer_list<Test> tests) {
        if (decided[static_cast<std::size_t>(role)] || filled(role)) return false;
        for (const auto& test : tests)
            for (std::size_t i = 0; i < n; ++i) {
                const std::string type = control(i).type();
                if (!on_image[i] || role_of[i] || std::find(types.begin(), types.end(), type) == types.end() ||
                    !test(control(i)))
                    continue;
                if (std::string why; !set_scale(i, role, std::nullopt, why)) {
                    reason_of[i] = why;
                    continue;
                }
                role_of[i] = role;
                return true;
            }
        return false;
    };
    auto named = [](std::string_view wanted) {
        return [w = std::string(wanted)](const ControlTag& c) { return iequals(c.name, w); };
    };
    auto words = [](std::initializer_list<std::string_view> list, bool allow_desc = false) {
        std::vector<std::string_view> wanted(list);
        return [wanted, allow_desc](const ControlTag& c) {
            auto tokens = name_tokens(c.name);
            if (!allow_desc && has_token(tokens, {"desc", "description", "descriptions", "text"})) return false;
            for (const auto& token : tokens)
                if (std::find(wanted.begin(), wanted.end(), token) != wanted.end()) return true;
            return false;
        };
    };
    auto both = [](const Test& a, const Test& b) -> Test {
        return [a, b](const ControlTag& c) { return a(c) && b(c); };
    };
    auto negate = [](const Test& a) -> Test { return [a](const ControlTag& c) { return !a(c); }; };
    auto contains = [](std::string_view word) -> Test {
        return [w = std::string(word)](const ControlTag& c) { return to_lower(c.name).find(w) != std::string::npos; };
    };
    const Test single = [](const ControlTag& c) { return !c.multiple; };
    const Test multiple = [](const ControlTag& c) { return c.multiple; };
    const Test numbers = [](const ControlTag& c) {
        return !c.values.empty() && std::all_of(c.values.begin(), c.values.end(), [](const LabelValue& v) {
            return leading_number(v.value).has_value();
        });
    };
    const std::size_t needed_expressions =
        std::max<std::size_t>(2, std::min<std::size_t>(4, knowledge.expressions.size()));
    const Test expression_values = [&](const ControlTag& c) {
        return canonical_expressions_of(c, knowledge).size() >= needed_expressions;
    };
    const Test au_words = words({"au", "aus", "facs", "action", "actionunits", "action_units"});
    const Test valence_words = words({"valence", "val", "pleasure", "pleasantness"});
    const Test arousal_words = words({"arousal", "aro", "activation"});
    const Test expression_words = both(
        words({"expression", "expressions", "emotion", "emotions", "expr", "fer", "emo"}),
        negate([&](const ControlTag& c) { return valence_words(c) || arousal_words(c) || au_words(c) || numbers(c); }));

    // AUs first: an AU Choices has its own clear signature and must not be taken for expressions.
    pick(Role::action_units, {"choices", "taxonomy"},
         {both(named("action_units"), multiple), both(au_words, multiple),
          both(multiple, [](const ControlTag& c) { return mostly_au_codes(c); })});
    pick(Role::expression, {"choices", "taxonomy"},
         {both(named("expression"), single), both(expression_words, single), both(expression_values, single),
          named("expression"), expression_words, expression_values});
    // Boxes labeled by expression: each face's rectangle carries its own.
    const bool face_free = !decided[static_cast<std::size_t>(Role::face)];
    if (face_free) pick(Role::expression, {"rectanglelabels"}, {expression_values});

    pick(Role::valence, {"number", "rating", "choices"}, {named("valence"), valence_words, contains("valence")});
    pick(Role::arousal, {"number", "rating", "choices"}, {named("arousal"), arousal_words, contains("arousal")});
    // "v" and "a" side by side are a valence/arousal pair.
    for (std::size_t i = 0; i + 1 < n && !filled(Role::valence) && !filled(Role::arousal); ++i) {
        if (!iequals(control(i).name, "v") || !iequals(control(i + 1).name, "a")) continue;
        if (!decided[static_cast<std::size_t>(Role::valence)])
            pick(Role::valence, {"number", "rating", "choices"}, {named("v")});
        if (!decided[static_cast<std::size_t>(Role::arousal)])
            pick(Role::arousal, {"number", "rating", "choices"}, {named("a")});
    }

    // Descriptions: separate TextAreas when the name names a level, else one for all levels.
    const Test desc_words = words({"desc", "description", "descriptions", "caption", "rationale", "explanation"}, true);
    auto level_desc = [&](std::initializer_list<std::string_view> level) {
        return both(words(level, true), desc_words);
    };
    pick(Role::expression_description, {"textarea"}, {level_desc({"expression", "expr", "emotion"})});
    pick(Role::va_description, {"textarea"}, {level_desc({"va", "valence", "arousal"})});
    pick(Role::au_description, {"textarea"}, {level_desc({"au", "aus", "facs", "action"})});
    pick(Role::description, {"textarea"}, {named("description"), desc_words});

    // The face: by name, by a /face/i label, or any rectangle when per-region controls need one.
    std::optional<std::size_t> expression_boxes;
    for (std::size_t i = 0; i < n; ++i)
        if (role_of[i] == Role::expression && control(i).type() == "rectanglelabels") expression_boxes = i;
    bool per_region = false;
    for (std::size_t i = 0; i < n; ++i) per_region = per_region || (role_of[i] && control(i).per_region);
    const Test labelled = [](const ControlTag& c) { return !c.values.empty(); };
    const Test face_label = [](const ControlTag& c) {
        return std::any_of(c.values.begin(), c.values.end(),
                           [](const LabelValue& v) { return to_lower(v.value).find("face") != std::string::npos; });
    };
    if (!expression_boxes) {
        pick(Role::face, {"rectanglelabels"}, {both(named("face"), labelled), face_label});
        pick(Role::face, {"rectangle"}, {named("face"), words({"face", "faces"}, true)});
        if (per_region) pick(Role::face, {"rectanglelabels"}, {labelled});
        if (per_region) pick(Role::face, {"rectangle"}, {[](const ControlTag&) { return true; }});
    }
    const bool has_face = expression_boxes || filled(Role::face);
    // A per-region result hangs on a region: without a face rectangle there is none.
    for (std::size_t i = 0; i < n; ++i)
        if (role_of[i] && *role_of[i] != Role::face && control(i).per_region && !has_face) {
            reason_of[i] = "it is perRegion, and the config has no rectangle control for faces to hang it on";
            role_of[i].reset();
        }

    // The levels into the config, and a report per control.
    for (std::size_t i = 0; i < n; ++i) {
        ControlReport& report = config.controls[i];
        if (!role_of[i]) {
            const std::string type = control(i).type();
            if (!on_image[i]) {
                report.reason =
                    "it labels \"" + target_of(i) + "\", not the image seke reads (\"" + image->name + "\")";
            } else if (type == "labels") {
                report.reason =
                    "a <Labels> labels regions drawn with a separate tool; seke labels each face's box "
                    "with its expression through a <RectangleLabels> of expressions";
            } else if (candidate_roles(control(i)).empty()) {
                report.reason = "seke does not fill " + control(i).tag + " controls";
            } else {
                report.reason = reason_of[i];
                std::string options;
                for (Role role : candidate_roles(control(i))) {
                    const auto& wanted = overrides.of(role);
                    if (report.reason.empty() && wanted && wanted->off)
                        report.reason = "label_studio.controls." + std::string(role_name(role)) + " is none";
                    if (!options.empty()) options += " or ";
                    options += option_for(role, control(i).name);
                }
                if (report.reason.empty()) {
                    report.reason = "its name and values do not say which level it is";
                    for (Role role : candidate_roles(control(i)))
                        if (auto by = filled_by(role))
                            report.reason += "; " + std::string(role_name(role)) + " is \"" + control(*by).name + "\"";
                }
                report.option = options;
            }
            continue;
        }
        const Role role = *role_of[i];
        report.role = role;
        ControlTag& tag = control(i);
        report.how = tag.type();
        if (role == Role::valence || role == Role::arousal) report.how += ", " + tag.scale.describe();
        switch (role) {
            case Role::face: {
                FaceControl face;
                if (tag.type() == "rectanglelabels") {
                    const auto it = std::find_if(tag.values.begin(), tag.values.end(), [](const LabelValue& v) {
                        return to_lower(v.value).find("face") != std::string::npos;
                    });
                    if (it != tag.values.end()) face.label = it->value;
                    else if (!tag.values.empty()) face.label = tag.values.front().value;
                }
                face.control = tag;
                config.face = std::move(face);
                break;
            }
            case Role::expression:
                config.expression = tag;
                if (tag.type() == "rectanglelabels") {
                    config.face = FaceControl{tag, std::nullopt, true};
                    report.how = "rectanglelabels: each face's box labeled with its expression";
                }
                break;
            case Role::valence: config.valence = tag; break;
            case Role::arousal: config.arousal = tag; break;
            case Role::action_units: config.action_units = tag; break;
            case Role::description: config.description = tag; break;
            case Role::expression_description: config.expression_description = tag; break;
            case Role::va_description: config.va_description = tag; break;
            case Role::au_description: config.au_description = tag; break;
        }
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
    // Values seke never predicts, so never sends: an annotator sees them, the lead should know.
    auto unknown = [](const ControlTag& tag, const std::map<std::string, std::string>& from_config) {
        std::set<std::string> parents;
        for (const auto& v : tag.values) parents.insert(v.path.begin(), v.path.end());
        std::vector<std::string> out;
        for (const auto& v : tag.values)
            if (!from_config.count(v.value) && !parents.count(v.value)) out.push_back(v.value);
        return out;
    };
    for (std::size_t i = 0; i < n; ++i) {
        if (role_of[i] == Role::expression)
            config.controls[i].unknown_values = unknown(control(i), config.expression_from_config);
        if (role_of[i] == Role::action_units)
            config.controls[i].unknown_values = unknown(control(i), config.au_from_config);
    }
    if (!raw.empty() && !config.applicable())
        config.unusable = "none of its controls is one seke can fill (see \"unfilled\" for each and why)";
    return config;
}

nlohmann::json control_report_json(const LabelingConfig& config) {
    nlohmann::json filled = nlohmann::json::array(), unfilled = nlohmann::json::array();
    for (const auto& c : config.controls) {
        if (c.role) {
            nlohmann::json item = {{"name", c.name}, {"type", c.tag}, {"level", role_name(*c.role)}, {"how", c.how}};
            if (!c.unknown_values.empty()) item["values_seke_never_predicts"] = c.unknown_values;
            filled.push_back(std::move(item));
        } else {
            nlohmann::json item = {{"name", c.name}, {"type", c.tag}, {"reason", c.reason}};
            if (!c.option.empty()) item["option"] = c.option;
            unfilled.push_back(std::move(item));
        }
    }
    nlohmann::json out = {{"usable", config.applicable()},
                          {"filled", std::move(filled)},
                          {"unfilled", std::move(unfilled)},
                          {"problems", config.problems}};
    if (!config.unusable.empty()) out["reason"] = config.unusable;
    return out;
}

std::string unusable_message(const LabelingConfig& config) {
    std::string out = "label config: " + (config.unusable.empty() ? std::string("usable") : config.unusable);
    constexpr std::size_t kMaxListed = 12;
    std::size_t listed = 0;
    for (const auto& c : config.controls) {
        if (c.role) continue;
        if (listed++ == kMaxListed) {
            out += "; ...";
            break;
        }
        out += (listed == 1 ? ". Controls: " : "; ") + c.name + " (" + c.tag + "): " + c.reason;
        if (!c.option.empty()) out += " [" + c.option + "]";
    }
    for (const auto& problem : config.problems) out += "; " + problem;
    return out;
}

LabelConfigCache::LabelConfigCache(const Knowledge& knowledge, ControlOverrides overrides, std::size_t capacity)
    : knowledge_(knowledge), overrides_(std::move(overrides)), capacity_(std::max<std::size_t>(1, capacity)) {}

Result<std::shared_ptr<const LabelingConfig>> LabelConfigCache::get(const std::string& xml) {
    const std::size_t key = std::hash<std::string>{}(xml);
    {
        std::lock_guard lock(mutex_);
        auto [begin, end] = entries_.equal_range(key);
        for (auto it = begin; it != end; ++it)
            if (it->second.xml == xml) return it->second.config;
    }
    // Parsed outside the lock: two threads may parse the same text once each, which is harmless.
    auto parsed = parse_label_config(xml, knowledge_, overrides_);
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
