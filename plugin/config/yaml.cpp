#include "plugin/config/yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <vector>

#include "verify/text.hpp"

namespace seke {
namespace {

using nlohmann::ordered_json;

constexpr std::string_view kStringTag = "tag:yaml.org,2002:str";

std::string place(const std::string& name, const YAML::Mark& mark) {
    if (mark.is_null() || mark.line < 0) return name;
    std::string out = name + ":" + std::to_string(mark.line + 1);
    if (mark.column >= 0) out += ":" + std::to_string(mark.column + 1);
    return out;
}

bool all_digits(std::string_view text) {
    if (text.empty()) return false;
    for (char c : text)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

// [-+]?(digits[.digits?] | .digits)([eE][-+]?digits)? with a fraction or an exponent.
bool is_decimal_number(std::string_view text) {
    if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
    const std::size_t exponent = text.find_first_of("eE");
    std::string_view mantissa = text.substr(0, exponent);
    const std::size_t dot = mantissa.find('.');
    const std::string_view whole = mantissa.substr(0, dot);
    const std::string_view fraction = dot == std::string_view::npos ? std::string_view() : mantissa.substr(dot + 1);
    if (whole.empty() && fraction.empty()) return false;
    if (!whole.empty() && !all_digits(whole)) return false;
    if (!fraction.empty() && !all_digits(fraction)) return false;
    if (exponent == std::string_view::npos) return dot != std::string_view::npos;
    std::string_view power = text.substr(exponent + 1);
    if (!power.empty() && (power.front() == '-' || power.front() == '+')) power.remove_prefix(1);
    return all_digits(power);
}

// A plain scalar by YAML 1.2's core schema (the decimal forms).
ordered_json plain_scalar(const std::string& text) {
    if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
    std::string_view digits = text;
    if (digits.front() == '-' || digits.front() == '+') digits.remove_prefix(1);
    if (all_digits(digits)) {
        long long value = 0;
        const char* begin = text.data() + (text.front() == '+' ? 1 : 0);
        auto [end, ec] = std::from_chars(begin, text.data() + text.size(), value);
        if (ec == std::errc() && end == text.data() + text.size()) return value;
        return std::strtod(text.c_str(), nullptr);  // too large for an integer: a number
    }
    if (is_decimal_number(text)) return std::strtod(text.c_str(), nullptr);
    return text;
}

// An upper bound of the text's nesting, cheap and without parsing: a block collection nests one
// level per column of indentation at most ("- - x" takes two per level), a flow one per bracket
// not yet closed (brackets in quotes counted too: the bound only grows).
std::size_t nesting_bound(std::string_view text) {
    std::size_t most = 0, flow = 0, flow_most = 0, indent = 0;
    bool line_start = true;
    for (char c : text) {
        if (c == '\n') {
            line_start = true;
            indent = 0;
            continue;
        }
        if (line_start && (c == ' ' || c == '\t' || c == '-' || c == '?' || c == ':')) {
            most = std::max(most, ++indent);
        } else {
            line_start = false;
        }
        if (c == '[' || c == '{') flow_most = std::max(flow_most, ++flow);
        else if ((c == ']' || c == '}') && flow > 0) --flow;
    }
    return most + flow_most;
}

class Converter {
  public:
    Converter(const std::string& name, const YamlLimits& limits) : name_(name), limits_(limits) {}

    // Recursion bounded by max_depth (and the text by nesting_bound before yaml-cpp parsed it).
    Result<ordered_json> convert(const YAML::Node& node, int depth) {  // NOLINT(misc-no-recursion)
        if (++values_ > limits_.max_values)
            return error(node, "more than " + std::to_string(limits_.max_values) + " values (aliases count as copies)");
        switch (node.Type()) {
            case YAML::NodeType::Undefined:
            case YAML::NodeType::Null: return ordered_json(nullptr);
            case YAML::NodeType::Scalar: return scalar(node);
            case YAML::NodeType::Sequence: {
                if (depth >= limits_.max_depth) return too_deep(node);
                ordered_json out = ordered_json::array();
                for (const auto& item : node) {
                    auto value = convert(item, depth + 1);
                    if (!value) return value.error();
                    out.push_back(std::move(*value));
                }
                return out;
            }
            case YAML::NodeType::Map: {
                if (depth >= limits_.max_depth) return too_deep(node);
                ordered_json out = ordered_json::object();
                for (const auto& pair : node) {
                    if (!pair.first.IsScalar()) return error(pair.first, "a key must be a scalar");
                    const std::string& key = pair.first.Scalar();
                    if (out.contains(key)) return error(pair.first, "key \"" + key + "\" is given twice");
                    auto value = convert(pair.second, depth + 1);
                    if (!value) return value.error();
                    out[key] = std::move(*value);
                }
                return out;
            }
        }
        return error(node, "a node of unknown type");
    }

  private:
    Result<ordered_json> scalar(const YAML::Node& node) {
        const std::string& tag = node.Tag();
        if (tag == "?") return plain_scalar(node.Scalar());
        if (tag == "!" || tag == kStringTag) return ordered_json(node.Scalar());
        return error(node, "tag \"" + tag + "\" is not supported (write the value untagged)");
    }

    Error too_deep(const YAML::Node& node) const {
        return error(node, "nested deeper than " + std::to_string(limits_.max_depth) + " levels");
    }

    [[nodiscard]] Error error(const YAML::Node& node, const std::string& what) const {
        return make_error(errc::invalid_argument, place(name_, node.Mark()) + ": " + what);
    }

    const std::string& name_;
    const YamlLimits& limits_;
    std::size_t values_ = 0;
};

}  // namespace

Result<ordered_json> parse_yaml(std::string_view text, const std::string& name, const YamlLimits& limits) {
    // yaml-cpp's parser recurses once per level (up to its own guard of 2000): deeper text than a
    // few times the limit is refused before it is parsed.
    if (nesting_bound(text) > 8 * static_cast<std::size_t>(std::max(1, limits.max_depth)))
        return make_error(errc::invalid_argument,
                          name + ": nested deeper than " + std::to_string(limits.max_depth) + " levels");
    std::vector<YAML::Node> documents;
    try {
        documents = YAML::LoadAll(std::string(text));
    } catch (const YAML::Exception& e) {
        return make_error(errc::invalid_argument, place(name, e.mark) + ": " + e.msg);
    } catch (const std::exception& e) {
        return make_error(errc::invalid_argument, name + ": " + e.what());
    }
    if (documents.empty()) return make_error(errc::invalid_argument, name + ": holds no YAML document");
    if (documents.size() > 1)
        return make_error(errc::invalid_argument,
                          place(name, documents[1].Mark()) + ": a second YAML document (one is expected)");
    try {
        return Converter(name, limits).convert(documents.front(), 0);
    } catch (const YAML::Exception& e) {
        return make_error(errc::invalid_argument, place(name, e.mark) + ": " + e.msg);
    }
}

bool is_yaml_path(std::string_view path) {
    const std::size_t dot = path.rfind('.');
    if (dot == std::string_view::npos || path.find('/', dot) != std::string_view::npos) return false;
    const std::string_view extension = path.substr(dot + 1);
    return iequals(extension, "yaml") || iequals(extension, "yml");
}

}  // namespace seke
