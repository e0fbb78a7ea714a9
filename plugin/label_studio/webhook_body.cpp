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

// A value as a note says it: short, whatever its size.
std::string shown(const json& value) {
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    return text.size() > 40 ? text.substr(0, 40) + "..." : text;
}

class Notes {
  public:
    explicit Notes(std::vector<std::string>& into) : into_(into) {}
    void add(std::string note) {
        if (into_.size() < kMaxUnread) into_.push_back(std::move(note));
    }

  private:
    std::vector<std::string>& into_;
};

void read_deleted(const json& body, WebhookBody& out, Notes& notes) {
    for (const char* key : {"annotations", "annotation"})
        for (const json& entry : as_list(body, key)) {
            long long id = json_id(entry);
            if (id >= 0) out.withdrawn.push_back(id);
            else notes.add(std::string(key) + ": " + shown(entry) + " is not an annotation id or {\"id\": N}");
        }
}

void read_reviewed(const json& body, WebhookBody& out, Notes& notes) {
    const json annotations = as_list(body, "annotation");
    const json tasks = as_list(body, "task");
    for (std::size_t i = 0; i < annotations.size(); ++i) {
        const json& annotation = annotations[i];
        const std::string which = "annotation " + std::to_string(i + 1);
        if (!annotation.is_object()) {
            notes.add(which + ": " + shown(annotation) + " is not an object");
            continue;
        }
        const long long id = annotation.contains("id") ? json_id(annotation["id"]) : -1;
        if (annotation.contains("id") && id < 0)
            notes.add(which + ": id " + shown(annotation["id"]) + " is not a number");
        if (annotation.contains("was_cancelled") && !annotation["was_cancelled"].is_boolean())
            notes.add(which + ": was_cancelled " + shown(annotation["was_cancelled"]) + " is not true or false");
        const json* cancelled = member_of_type(annotation, "was_cancelled", json::value_t::boolean);
        if (cancelled && cancelled->get<bool>()) {
            // Skipped or cancelled: whatever it reviewed before is undone.
            if (id >= 0) out.withdrawn.push_back(id);
            continue;
        }
        // A result that is not a list is no result, not an annotator who removed every region.
        if (!member_of_type(annotation, "result", json::value_t::array)) {
            if (annotation.contains("result"))
                notes.add(which + ": result " + shown(annotation["result"]) + " is not a list");
            continue;
        }
        WebhookAnnotation parsed;
        parsed.id = id;
        parsed.task_id = json_id(annotation.contains("task") ? annotation["task"] : json());
        if (parsed.task_id < 0 && i < tasks.size()) parsed.task_id = json_id(tasks[i]);
        if (parsed.task_id < 0 && (annotation.contains("task") || i < tasks.size()))
            notes.add(which + ": its task is not an id or {\"id\": N}");
        parsed.result = annotation["result"];
        if (annotation.contains("completed_by")) parsed.reviewer = std::to_string(json_id(annotation["completed_by"]));
        const json* when = member_of_type(annotation, "updated_at", json::value_t::string);
        if (!when) when = member_of_type(annotation, "created_at", json::value_t::string);
        if (when) parsed.at = when->get<std::string>();
        out.annotations.push_back(std::move(parsed));
    }
}

}  // namespace

bool is_deletion(const std::string& action) {
    return action == "ANNOTATION_DELETED" || action == "ANNOTATIONS_DELETED";
}

Result<WebhookBody> parse_webhook_body(const std::string& text) {
    auto body = parse_json_body(text, false);
    if (!body) return body.error();
    WebhookBody out;
    Notes notes(out.unread);
    if (const json* action = member_of_type(*body, "action", json::value_t::string))
        out.action = action->get<std::string>();
    out.project = project_id(*body);
    if (const json* project = member_of_type(*body, "project", json::value_t::object))
        if (const json* xml = member_of_type(*project, "label_config", json::value_t::string))
            out.label_config = xml->get<std::string>();
    if (is_deletion(out.action)) read_deleted(*body, out, notes);
    else read_reviewed(*body, out, notes);
    return out;
}

}  // namespace seke::label_studio
