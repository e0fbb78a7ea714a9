#pragma once
// What Label Studio posts to /webhook (protocol notes §4), parsed once at the edge into the
// action, the annotations seke learns from and the annotations whose reviews are undone. Pure:
// no I/O; never throws on any body.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "verify/errors.hpp"

namespace seke::label_studio {

struct WebhookAnnotation {   // NOLINT(bugprone-exception-escape): its constructor only allocates
    long long id = -1;       // annotation.id; -1 when absent: its review cannot be undone later
    long long task_id = -1;  // annotation.task (an id or {"id"}), else the body's task at its index; -1: none
    nlohmann::json result;   // annotation.result as sent, for parse_annotation_result
    std::string reviewer;    // completed_by as an id in text ("-1" when not an id); "" when absent
    std::string at;          // updated_at, else created_at; "" when neither is a string
};

struct WebhookBody {
    std::string action;        // "" when absent or not a string
    std::string project;       // project_id()
    std::string label_config;  // project.label_config; "" when absent
    // Every annotation with a result that was not cancelled, in order ("annotation" may be one
    // object or a list). None for a deletion.
    std::vector<WebhookAnnotation> annotations;
    // The ids of annotations whose reviews are undone: those a deletion names ("annotations",
    // or "annotation", each an id or {"id"}), and those a review event says were cancelled
    // (skipped), in order.
    std::vector<long long> withdrawn;
    // What could not be read, and why (at most kMaxUnread): reported, never an error.
    std::vector<std::string> unread;
};

inline constexpr std::size_t kMaxUnread = 50;

// Whether an action deletes annotations (ANNOTATION_DELETED, ANNOTATIONS_DELETED).
bool is_deletion(const std::string& action);

// Errors: bad_json as parse_json_body (an empty body included). Fields of the wrong type are
// ignored, as if absent, and named in `unread`: a stored event never becomes a 500.
Result<WebhookBody> parse_webhook_body(const std::string& body);

}  // namespace seke::label_studio
