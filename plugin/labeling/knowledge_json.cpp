#include "plugin/labeling/knowledge_json.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "verify/expert.hpp"

namespace seke {
namespace {

using nlohmann::json;

Error bad(const std::string& where, const std::string& why) {
    return make_error(errc::config_error, "knowledge: " + where + ": " + why);
}

Result<std::vector<std::string>> string_list(const json& value, const std::string& where) {
    if (!value.is_array()) return bad(where, "must be an array of strings");
    std::vector<std::string> out;
    for (const auto& item : value) {
        if (!item.is_string()) return bad(where, "must be an array of strings");
        out.push_back(item.get<std::string>());
    }
    return out;
}

Result<std::pair<double, double>> range(const json& object, const char* key, const std::string& where) {
    if (!object.contains(key)) return std::pair{-1.0, 1.0};
    const json& value = object.at(key);
    if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number())
        return bad(where + "." + key, "must be [min, max]");
    double lo = value[0].get<double>();
    double hi = value[1].get<double>();
    if (lo < -1 || hi > 1 || lo > hi) return bad(where + "." + key, "must lie in [-1, 1], min <= max");
    return std::pair{lo, hi};
}

bool is_expert_class(const std::string& name) {
    return std::find(kExpertClasses.begin(), kExpertClasses.end(), name) != kExpertClasses.end();
}

std::string expert_class_list() {
    std::string out;
    for (auto name : kExpertClasses) out += (out.empty() ? "" : ", ") + std::string(name);
    return out;
}

// The expert classes an expression takes: the listed ones, or by default its own name when the
// networks have that class, so a file written before the expert existed keeps working. An expert
// class feeds one expression only (`taken`: class → expression), or its probability would count twice.
Result<std::vector<std::string>> expert_classes(const json& ex, const std::string& name, const std::string& where,
                                                std::map<std::string, std::string>& taken) {
    std::vector<std::string> classes;
    if (ex.contains("expert_classes")) {
        auto list = string_list(ex["expert_classes"], where + ".expert_classes");
        if (!list) return list.error();
        classes = std::move(*list);
        for (const auto& c : classes)
            if (!is_expert_class(c))
                return bad(where + ".expert_classes",
                           "\"" + c + "\" is not one of the face expert's classes (" + expert_class_list() + ")");
    } else if (is_expert_class(name)) {
        classes.push_back(name);
    }
    for (const auto& c : classes) {
        auto [it, fresh] = taken.emplace(c, name);
        if (!fresh)
            return bad(where + ".expert_classes",
                       "\"" + c + "\" already belongs to " + (it->second == name ? "this expression" : it->second));
    }
    return classes;
}

Result<std::pair<double, double>> centroid(const json& value, const std::string& where) {
    if (!value.is_array() || value.size() != 2 || !value[0].is_number() || !value[1].is_number())
        return bad(where, "must be [valence, arousal]");
    const double v = value[0].get<double>();
    const double a = value[1].get<double>();
    if (v < -1 || v > 1 || a < -1 || a > 1) return bad(where, "valence and arousal must lie in [-1, 1]");
    return std::pair{v, a};
}

}  // namespace

Result<Knowledge> parse_knowledge(const std::string& json_text) {
    json root = json::parse(json_text, nullptr, false);
    if (root.is_discarded() || !root.is_object()) return make_error(errc::config_error, "knowledge: not a JSON object");
    Knowledge knowledge;

    if (!root.contains("action_units") || !root["action_units"].is_array() || root["action_units"].empty())
        return bad("action_units", "must be a non-empty array");
    std::set<std::string> codes;
    for (std::size_t i = 0; i < root["action_units"].size(); ++i) {
        const json& au = root["action_units"][i];
        std::string where = "action_units[" + std::to_string(i) + "]";
        if (!au.is_object() || !au.contains("code") || !au["code"].is_string())
            return bad(where, "needs a string \"code\"");
        ActionUnit unit{au["code"].get<std::string>(), au.value("name", std::string{})};
        if (unit.code.size() < 3 || unit.code.rfind("AU", 0) != 0)
            return bad(where + ".code", "\"" + unit.code + "\" is not of the form AU<number>");
        if (!codes.insert(unit.code).second) return bad(where + ".code", "duplicate " + unit.code);
        knowledge.action_units.push_back(std::move(unit));
    }

    if (!root.contains("expressions") || !root["expressions"].is_array() || root["expressions"].size() < 2)
        return bad("expressions", "must be an array of at least two expressions");
    std::set<std::string> names;
    std::map<std::string, std::string> taken_expert_classes;
    for (std::size_t i = 0; i < root["expressions"].size(); ++i) {
        const json& ex = root["expressions"][i];
        std::string where = "expressions[" + std::to_string(i) + "]";
        if (!ex.is_object() || !ex.contains("name") || !ex["name"].is_string() || ex["name"].get<std::string>().empty())
            return bad(where, "needs a non-empty string \"name\"");
        ExpressionKnowledge e;
        e.name = ex["name"].get<std::string>();
        if (!names.insert(e.name).second) return bad(where + ".name", "duplicate " + e.name);
        // AUs outside the configured set are dropped: EMFACS prototypes name AU16/AU27 too.
        auto keep_known = [&](std::vector<std::string> list) {
            std::vector<std::string> kept;
            for (auto& code : list)
                if (codes.count(code)) kept.push_back(std::move(code));
            return kept;
        };
        if (ex.contains("prototype")) {
            auto list = string_list(ex["prototype"], where + ".prototype");
            if (!list) return list.error();
            e.prototype = keep_known(std::move(*list));
        }
        if (ex.contains("variants")) {
            if (!ex["variants"].is_array()) return bad(where + ".variants", "must be an array");
            for (const auto& variant : ex["variants"]) {
                auto list = string_list(variant, where + ".variants");
                if (!list) return list.error();
                e.variants.push_back(keep_known(std::move(*list)));
            }
        }
        if (ex.contains("va")) {
            if (!ex["va"].is_object()) return bad(where + ".va", "must be an object");
            auto v = range(ex["va"], "valence", where + ".va");
            if (!v) return v.error();
            auto a = range(ex["va"], "arousal", where + ".va");
            if (!a) return a.error();
            e.va = VaRegion{v->first, v->second, a->first, a->second};
        }
        if (ex.contains("cue")) {
            if (!ex["cue"].is_string()) return bad(where + ".cue", "must be a string");
            e.cue = ex["cue"].get<std::string>();
        }
        auto classes = expert_classes(ex, e.name, where, taken_expert_classes);
        if (!classes) return classes.error();
        e.expert_classes = std::move(*classes);
        if (ex.contains("va_centroid")) {
            auto c = centroid(ex["va_centroid"], where + ".va_centroid");
            if (!c) return c.error();
            e.va_centroid = *c;
        }
        knowledge.expressions.push_back(std::move(e));
    }

    if (root.contains("relations")) {
        auto list = string_list(root["relations"], "relations");
        if (!list) return list.error();
        knowledge.relations = std::move(*list);
    }
    if (root.contains("va_centroid_source")) {
        if (!root["va_centroid_source"].is_string()) return bad("va_centroid_source", "must be a string");
        knowledge.va_centroid_source = root["va_centroid_source"].get<std::string>();
    }
    return knowledge;
}

Result<Knowledge> load_knowledge_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::config_error, "knowledge: cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = parse_knowledge(text.str());
    if (!parsed) return make_error(errc::config_error, parsed.error().message + " (" + path + ")");
    return parsed;
}

}  // namespace seke
