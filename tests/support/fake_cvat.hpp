#pragma once
// A fake CVAT server on 127.0.0.1 (protocol notes §4): tasks with labels (ids and attribute
// spec ids), jobs with frame ranges and state/stage, frame images, annotations (shapes and
// tags) with ids the server assigns, paginated lists and credential checks. Tests edit the annotations as a human
// would and deliver signed webhooks.
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/scripted_http_server.hpp"
#include "tests/support/test_support.hpp"

namespace seke::test {

struct FakeCvatCredentials {
    std::string access_token = "pat-secret";  // accepted as "Authorization: Bearer <token>"
    std::string legacy_token;                 // "Authorization: Token <key>"; empty: refused
    std::string username, password;           // "Authorization: Basic"; empty: refused
};

// Whether a value would survive CVAT's attribute filter (§1.5) for the given task attribute.
bool passes_cvat_filter(const nlohmann::json& attribute, const std::string& value);

class FakeCvat {
  public:
    explicit FakeCvat(FakeCvatCredentials credentials = {});
    ~FakeCvat();
    FakeCvat(const FakeCvat&) = delete;
    FakeCvat& operator=(const FakeCvat&) = delete;

    [[nodiscard]] std::string url() const;
    ScriptedHttpServer& server() { return server_; }

    // --- set-up ---------------------------------------------------------------------------
    // A task whose labels are `label_definitions` (as `seke cvat spec --labels` prints them);
    // the server assigns label and attribute ids. One frame per entry of `frames` (image bytes).
    long long add_task(const std::string& name, const nlohmann::json& label_definitions,
                       std::vector<std::string> frames, int width, int height);
    long long add_job(long long task_id, long long start_frame, long long stop_frame);
    void delete_frame(long long task_id, long long frame);
    void set_frame_bytes(long long task_id, long long frame, std::string bytes);
    void set_page_size(int page_size);                   // list pages (CVAT's default is 10)
    void set_next_origin(const std::string& origin);     // write `next` links with another host
    void require_organization(const std::string& slug);  // other X-Organization values → 403

    // --- reading ------------------------------------------------------------------------------
    [[nodiscard]] long long label_id(long long task_id, const std::string& name) const;
    [[nodiscard]] long long spec_id(long long task_id, const std::string& label, const std::string& attribute) const;
    [[nodiscard]] nlohmann::json label(long long task_id, const std::string& name) const;  // with ids
    [[nodiscard]] std::vector<nlohmann::json> shapes(long long task_id) const;             // every shape, by id
    [[nodiscard]] std::optional<nlohmann::json> shape(long long shape_id) const;
    [[nodiscard]] std::vector<nlohmann::json> tags(long long task_id) const;  // every tag, by id
    // The value of a tag's attribute by its name ("" when absent).
    [[nodiscard]] std::string tag_attribute(long long tag_id, const std::string& name) const;
    // The value of a shape's attribute by its name ("" when absent).
    [[nodiscard]] std::string attribute(long long shape_id, const std::string& name) const;
    [[nodiscard]] std::vector<std::string> organizations_seen() const;
    [[nodiscard]] std::vector<std::string> authorizations_seen() const;
    [[nodiscard]] nlohmann::json job_json(long long job_id) const;

    // --- a human at work ----------------------------------------------------------------------
    void set_attribute(long long shape_id, const std::string& name, const std::string& value);
    void move_shape(long long shape_id, double dx, double dy);
    void delete_shape(long long shape_id);
    long long add_manual_shape(long long task_id, long long frame, std::vector<double> points,
                               const std::map<std::string, std::string>& attributes);
    void set_job_status(long long job_id, const std::string& state, const std::string& stage);
    void set_tag_attribute(long long tag_id, const std::string& name, const std::string& value);
    // "Remove annotations" on a job: every shape and tag on its frames goes.
    void clear_job(long long job_id);

    // --- webhooks -----------------------------------------------------------------------------
    // The update:job payload CVAT sends after a job change; `before_update` holds the old values.
    [[nodiscard]] nlohmann::json update_job_event(long long job_id, const nlohmann::json& before_update) const;
    // POSTs `body` to `target` signed as CVAT signs it (X-Signature-256) when `secret` is set.
    static HttpResult deliver_webhook(const std::string& target, const std::string& body, const std::string& secret);

    struct Task;
    struct Job;

  private:
    HttpReply handle(const HttpRequest& request);
    bool authorized(const HttpRequest& request, HttpReply& refusal);
    HttpReply page(const HttpRequest& request, const std::vector<nlohmann::json>& items);
    HttpReply create_shapes(Task& task, const Job* job, const nlohmann::json& body);
    HttpReply patch_annotations(Task& task, const Job* job, const std::string& action, const std::string& body);
    nlohmann::json annotations(const Task& task, const Job* job) const;
    Task& task_of_shape(long long shape_id);
    Task& task_of_tag(long long tag_id);
    std::string attribute_of(const Task& task, const nlohmann::json& object, const std::string& name) const;
    static void set_attribute_of(const Task& task, nlohmann::json& object, const std::string& name,
                                 const std::string& value);

    mutable std::mutex mutex_;
    FakeCvatCredentials credentials_;
    std::map<long long, std::unique_ptr<Task>> tasks_;
    std::map<long long, std::unique_ptr<Job>> jobs_;
    long long next_id_ = 1;
    long long next_label_id_ = 40;
    long long next_spec_id_ = 200;
    long long next_shape_id_ = 1000;
    long long next_tag_id_ = 1000;  // its own sequence, as in CVAT: a tag and a shape may share an id
    int page_size_ = 10;
    std::string next_origin_;
    std::string required_org_;
    std::vector<std::string> organizations_;
    std::vector<std::string> authorizations_;
    ScriptedHttpServer server_;
};

}  // namespace seke::test
