#pragma once
// CVAT's REST API (protocol notes §4) over libcurl: tasks, jobs, labels, frames and annotations.
// Credentials: a personal access token (Bearer), else a legacy token (Token), else Basic; the
// organization goes in X-Organization. Credentials go only to the configured CVAT origin: a
// pagination link to another host is not followed. Every body is bounded. Nothing here logs.
// Thread-safe: every call uses its own transfer.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/cvat_settings.hpp"
#include "verify/errors.hpp"

namespace seke {

// GET /api/jobs/{id} (or one entry of /api/jobs?task_id=).
struct CvatJob {
    long long id = -1;
    long long task_id = -1;
    long long start_frame = 0;  // task-relative, inclusive
    long long stop_frame = -1;
    std::string state;     // new | in progress | rejected | completed
    std::string stage;     // annotation | validation | acceptance
    std::string assignee;  // username, "" when none
    std::string updated_date;
};

// GET /api/tasks/{id} and its /data/meta, reduced to what the worker needs.
struct CvatFrameInfo {
    std::string name;
    int width = 0, height = 0;
};
struct CvatTaskFrames {
    long long task_id = -1;
    long long size = 0;                 // frames in the task: indexes 0..size-1
    std::vector<CvatFrameInfo> frames;  // per frame; a video lists one entry for all
    std::set<long long> deleted_frames;

    // The size of frame `index` (the first entry for a video); {0,0} when unknown.
    [[nodiscard]] CvatFrameInfo frame(long long index) const;
};

// One shape as GET …/annotations returns it (and as the create answer echoes it).
struct CvatShape {
    long long id = -1;
    long long frame = 0;
    long long label_id = -1;
    std::string type;    // rectangle, polygon, ...
    std::string source;  // manual | semi-auto | auto | file | consensus
    std::vector<double> points;
    std::vector<std::pair<long long, std::string>> attributes;  // spec_id, value
};
// One tag (a label of the whole frame) as GET …/annotations returns it.
struct CvatTag {
    long long id = -1;
    long long frame = 0;
    long long label_id = -1;
    std::string source;
    std::vector<std::pair<long long, std::string>> attributes;  // spec_id, value
};
struct CvatAnnotations {
    long long version = 0;
    std::vector<CvatShape> shapes;
    std::vector<CvatTag> tags;
    std::size_t tracks = 0;  // counted, not read
};
// Reads the shapes and tags of an annotations object; entries that are neither are skipped.
CvatAnnotations parse_cvat_annotations(const nlohmann::json& body);
CvatJob parse_cvat_job(const nlohmann::json& body);

// Which credential a client presents, for messages: "personal access token (cvat.access_token)".
std::string cvat_credential_name(const CvatSettings& settings);

class CvatClient {
  public:
    explicit CvatClient(CvatSettings settings);
    ~CvatClient();
    CvatClient(const CvatClient&) = delete;
    CvatClient& operator=(const CvatClient&) = delete;

    // GET {url}{path_and_query}, parsed as JSON. Errors: config_error (no or bad URL),
    // unauthorized/forbidden (401/403, naming the credential), not_found, upstream_error (other
    // statuses, with CVAT's message), upstream_timeout, payload_too_large.
    Result<nlohmann::json> get_json(const std::string& path_and_query);
    // Every `results` entry of a paginated list, following `next` on the same origin.
    Result<std::vector<nlohmann::json>> get_list(const std::string& path, const std::string& query);

    Result<CvatTaskFrames> task_frames(long long task_id);  // GET /api/tasks/{id} + /data/meta
    Result<CvatJob> job(long long job_id);
    Result<std::vector<CvatJob>> jobs_of_task(long long task_id);
    Result<std::vector<nlohmann::json>> labels_of_task(long long task_id);
    Result<std::vector<nlohmann::json>> labels_of_job(long long job_id);
    // The encoded image of task frame `number`, original quality.
    Result<std::string> frame(long long task_id, long long number);
    Result<CvatAnnotations> job_annotations(long long job_id);
    // PATCH …/annotations?action=create; returns the created objects with their ids.
    Result<CvatAnnotations> create_job_annotations(long long job_id, const nlohmann::json& body);
    Result<CvatAnnotations> create_task_annotations(long long task_id, const nlohmann::json& body);

    [[nodiscard]] const CvatSettings& settings() const noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace seke
