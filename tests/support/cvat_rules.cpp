#include "tests/support/cvat_rules.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>

namespace seke::test {
namespace {

using nlohmann::json;

// Python's str.isnumeric() for ASCII text: non-empty, digits only.
bool isnumeric(const std::string& text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// lambda_manager's type compatibility of a model label and a task label.
bool compatible(const std::string& model_type, const std::string& task_type) {
    if (model_type == task_type) return true;
    if (task_type == "any" && model_type != "skeleton") return true;
    if (model_type.empty() && task_type != "skeleton") return true;
    return (model_type == "mask" && task_type == "polygon") || (model_type == "polygon" && task_type == "mask");
}

const json* find_by_name(const json& list, const std::string& name) {
    for (const auto& item : list)
        if (item.is_object() && item.value("name", "") == name) return &item;
    return nullptr;
}

}  // namespace

std::vector<std::string> cvat_function_problems(const json& f) {
    std::vector<std::string> problems;
    auto need = [&](bool ok, const std::string& what) {
        if (!ok) problems.push_back(what);
        return ok;
    };
    if (!need(f.is_object(), "function is not an object")) return problems;
    if (!need(f.contains("metadata") && f["metadata"].is_object(), "no metadata")) return problems;
    const json& m = f["metadata"];
    need(m.contains("name") && m["name"].is_string() &&
             std::regex_match(m["name"].get<std::string>(), std::regex("[a-zA-Z0-9_.-]+")),
         "metadata.name missing or not [a-zA-Z0-9_.-]+");
    if (!need(m.contains("annotations") && m["annotations"].is_object(), "no metadata.annotations")) return problems;
    const json& a = m["annotations"];
    static const std::set<std::string> kinds = {"detector", "interactor", "tracker", "reid"};
    need(a.contains("type") && a["type"].is_string() && kinds.count(a["type"].get<std::string>()),
         "annotations.type is not one of the four kinds CVAT lists");
    need(a.contains("name") && a["name"].is_string(), "annotations.name missing");
    need(a.contains("framework") && a["framework"].is_string(), "annotations.framework missing");
    bool version_ok = a.contains("version") && a["version"].is_string() &&
                      std::regex_match(a["version"].get<std::string>(), std::regex("[+-]?[0-9]+"));
    need(version_ok, "annotations.version does not parse as an int");
    if (need(a.contains("spec") && a["spec"].is_string(), "annotations.spec is not a JSON string")) {
        json spec = json::parse(a["spec"].get<std::string>(), nullptr, false);
        if (need(spec.is_array(), "annotations.spec is not a JSON array")) {
            std::set<std::string> labels;
            for (const auto& label : spec) {
                if (!need(label.is_object() && label.contains("name") && label["name"].is_string(),
                          "a label has no name"))
                    continue;
                need(labels.insert(label["name"].get<std::string>()).second, "label names are not unique");
                std::set<std::string> attrs;
                for (const auto& attr : label.value("attributes", json::array())) {
                    bool keys = attr.is_object() && attr.contains("name") && attr.contains("input_type") &&
                                attr.contains("values") && attr["values"].is_array();
                    if (!need(keys, "an attribute lacks name, input_type or values")) continue;
                    need(attrs.insert(attr["name"].get<std::string>()).second,
                         "attribute names of a label are not unique");
                }
            }
        }
    }
    need(f.contains("spec") && f["spec"].is_object() && f["spec"].contains("description"), "spec.description missing");
    need(f.contains("status") && f["status"].is_object() && f["status"].contains("httpPort") &&
             f["status"]["httpPort"].is_number_integer(),
         "status.httpPort missing");
    return problems;
}

CvatFilterResult cvat_filter_detector_answer(const json& answer, const json& task_labels, const json& spec_labels) {
    CvatFilterResult out;
    if (!answer.is_array()) {
        out.dropped.push_back("the answer is not a JSON array (CVAT's job fails)");
        return out;
    }
    // The default mapping: spec labels whose name equals a task label's, types compatible;
    // attributes mapped by equal names.
    std::map<std::string, const json*> mapping;
    for (const auto& model_label : spec_labels) {
        std::string name = model_label.value("name", "");
        const json* task = find_by_name(task_labels, name);
        if (task && compatible(model_label.value("type", ""), task->value("type", "any"))) mapping[name] = task;
    }
    for (const auto& element : answer) {
        std::string label = element.is_object() ? element.value("label", "") : "";
        auto m = mapping.find(label);
        if (m == mapping.end()) {
            out.dropped.push_back("element with label \"" + label + "\": not in the mapping");
            continue;
        }
        const json& task = *m->second;
        const json* model = find_by_name(spec_labels, label);
        std::string type = element.value("type", "");
        if (type.empty()) {
            out.dropped.push_back("element without type");
            continue;
        }
        std::string lower = type;
        std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
        if (lower != "tag" && !(element.contains("points") && element["points"].is_array()))
            out.dropped.push_back("shape without points");
        json kept = element;
        kept["attributes"] = json::array();
        for (const auto& attr : element.value("attributes", json::array())) {
            std::string name = attr.value("name", "");
            if (!attr.contains("value") || !attr["value"].is_string()) {
                out.dropped.push_back(label + "." + name + ": value is not a string");
                continue;
            }
            std::string value = attr["value"].get<std::string>();
            const json* model_attr =
                model && model->contains("attributes") ? find_by_name((*model)["attributes"], name) : nullptr;
            const json* task_attr = task.contains("attributes") ? find_by_name(task["attributes"], name) : nullptr;
            if (!model_attr || !task_attr) {
                out.dropped.push_back(label + "." + name + ": not in the attribute mapping");
                continue;
            }
            std::string input_type = task_attr->value("input_type", "");
            bool ok = true;
            if (input_type == "number") ok = isnumeric(value);
            else if (input_type == "checkbox") ok = value == "true" || value == "false";
            else if (input_type == "select" || input_type == "radio") {
                ok = false;
                if (task_attr->contains("values"))
                    for (const auto& v : (*task_attr)["values"]) ok = ok || v == value;
            }
            if (!ok) {
                out.dropped.push_back(label + "." + name + ": \"" + value + "\" fails the task's " + input_type +
                                      " filter");
                continue;
            }
            kept["attributes"].push_back(attr);
        }
        out.kept.push_back(std::move(kept));
    }
    return out;
}

}  // namespace seke::test
