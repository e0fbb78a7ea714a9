#include "plugin/label_studio/webhook_body.hpp"

#include "plugin/label_studio/predict_request.hpp"

namespace seke::label_studio {
namespace {

using nlohmann::json;

// The member `key` of `object` when it has the JSON type `type`; null when absent or of another type.
const json* member_of_type(const json& object, const char* key, json::value_t type) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it != object.end() && it->type() == type ? &*it : nullptr;
}

long long json_id(const json& value) {
    if (value.is_number_integer()) return value.get<long long>();
    if (value.is_object() && value.contains("id") && value["id"].is_number_integer())
        return value["id"].get<long long>();
    return -1;
}

// One object or a list of them, as a list; absent is empty.
json as_list(const json& body, const char* key) {
    if (!body.contains(key)) return json::array();
    const json& value = body[key];
    return value.is_array() ? value : json::array({value});
}

}  // namespace

Result<WebhookBody> parse_webhook_body(const std::string& text) {
    auto body = parse_json_body(text, false);
    if (!body) return body.error();
    WebhookBody out;
    if (const json* action = member_of_type(*body, "action", json::value_t::string))
        out.action = action->get<std::string>();
    out.project = project_id(*body);
    if (const json* project = member_of_type(*body, "project", json::value_t::object))
        if (const json* xml = member_of_type(*project, "label_config", json::value_t::string))
            out.label_config = xml->get<std::string>();
    const json annotations = as_list(*body, "annotation");
    const json tasks = as_list(*body, "task");
    for (std::size_t i = 0; i < annotations.size(); ++i) {
        const json& annotation = annotations[i];
        // A result that is not a list is no result, not an annotator who removed every region.
        if (!annotation.is_object() || !member_of_type(annotation, "result", json::value_t::array)) continue;
        const json* cancelled = member_of_type(annotation, "was_cancelled", json::value_t::boolean);
        if (cancelled && cancelled->get<bool>()) continue;
        WebhookAnnotation parsed;
        parsed.task_id = json_id(annotation.contains("task") ? annotation["task"] : json());
        if (parsed.task_id < 0 && i < tasks.size()) parsed.task_id = json_id(tasks[i]);
        parsed.result = annotation["result"];
        if (annotation.contains("completed_by")) parsed.reviewer = std::to_string(json_id(annotation["completed_by"]));
        const json* when = member_of_type(annotation, "updated_at", json::value_t::string);
        if (!when) when = member_of_type(annotation, "created_at", json::value_t::string);
        if (when) parsed.at = when->get<std::string>();
        out.annotations.push_back(std::move(parsed));
    }
    return out;
}

}  // namespace seke::label_studio
