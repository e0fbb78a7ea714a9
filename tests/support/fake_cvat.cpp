#include "tests/support/fake_cvat.hpp"

#include <algorithm>
#include <regex>
#include <stdexcept>

#include "connectors/crypto.hpp"

namespace seke::test {

using nlohmann::json;

struct FakeCvat::Task {
    long long id = 0;
    std::string name;
    json labels = json::array();  // with ids
    std::vector<std::string> frames;
    int width = 0, height = 0;
    std::vector<long long> deleted;
    std::vector<json> shapes;  // with ids
    std::vector<json> tags;    // with ids
    long long version = 0;
};

struct FakeCvat::Job {
    long long id = 0;
    long long task_id = 0;
    long long start_frame = 0, stop_frame = 0;
    std::string state = "new", stage = "annotation";
    std::string updated_date = "2025-01-01T00:00:00.000000Z";
};

namespace {

json error_json(const std::string& detail) {
    return json{{"detail", detail}};
}

std::map<std::string, std::string> query_of(const std::string& target) {
    std::map<std::string, std::string> out;
    auto q = target.find('?');
    if (q == std::string::npos) return out;
    std::string query = target.substr(q + 1);
    std::size_t start = 0;
    while (start <= query.size()) {
        auto amp = query.find('&', start);
        std::string part = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
        auto eq = part.find('=');
        if (!part.empty()) out[part.substr(0, eq)] = eq == std::string::npos ? "" : part.substr(eq + 1);
        if (amp == std::string::npos) break;
        start = amp + 1;
    }
    return out;
}

long long number_of(const std::map<std::string, std::string>& query, const std::string& key, long long fallback) {
    auto it = query.find(key);
    if (it == query.end()) return fallback;
    try {
        return std::stoll(it->second);
    } catch (...) {
        return fallback;
    }
}

bool digits_only(const std::string& value) {
    return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
}

const json* find_by_id(const json& list, long long id) {
    for (const auto& entry : list)
        if (entry.value("id", -1LL) == id) return &entry;
    return nullptr;
}

std::string stamp(long long version) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "2025-01-01T00:%02lld:%02lld.000000Z", (version / 60) % 60, version % 60);
    return buffer;
}

}  // namespace

bool passes_cvat_filter(const json& attribute, const std::string& value) {
    std::string type = attribute.value("input_type", "");
    if (type == "number") {
        if (!digits_only(value)) return false;
        const json& values = attribute.value("values", json::array());
        if (values.size() >= 2 && values[0].is_string() && values[1].is_string()) {
            long long n = std::stoll(value);
            return n >= std::stoll(values[0].get<std::string>()) && n <= std::stoll(values[1].get<std::string>());
        }
        return true;
    }
    if (type == "checkbox") return value == "true" || value == "false";
    if (type == "select" || type == "radio") {
        for (const auto& v : attribute.value("values", json::array()))
            if (v.is_string() && v.get<std::string>() == value) return true;
        return false;
    }
    return true;
}

FakeCvat::FakeCvat(FakeCvatCredentials credentials) : credentials_(std::move(credentials)) {
    server_.set_handler([this](const HttpRequest& request) { return handle(request); });
}

FakeCvat::~FakeCvat() {
    server_.stop();
}

std::string FakeCvat::url() const {
    return server_.base_url();
}

long long FakeCvat::add_task(const std::string& name, const json& label_definitions, std::vector<std::string> frames,
                             int width, int height) {
    std::lock_guard lock(mutex_);
    auto task = std::make_unique<Task>();
    task->id = next_id_++;
    task->name = name;
    task->frames = std::move(frames);
    task->width = width;
    task->height = height;
    for (json label : label_definitions) {
        label["id"] = next_label_id_++;
        for (auto& attribute : label["attributes"]) attribute["id"] = next_spec_id_++;
        task->labels.push_back(label);
    }
    long long id = task->id;
    tasks_[id] = std::move(task);
    return id;
}

long long FakeCvat::add_job(long long task_id, long long start_frame, long long stop_frame) {
    std::lock_guard lock(mutex_);
    auto job = std::make_unique<Job>();
    job->id = next_id_++ + 100;
    job->task_id = task_id;
    job->start_frame = start_frame;
    job->stop_frame = stop_frame;
    long long id = job->id;
    jobs_[id] = std::move(job);
    return id;
}

void FakeCvat::delete_frame(long long task_id, long long frame) {
    std::lock_guard lock(mutex_);
    tasks_.at(task_id)->deleted.push_back(frame);
}

void FakeCvat::set_frame_bytes(long long task_id, long long frame, std::string bytes) {
    std::lock_guard lock(mutex_);
    tasks_.at(task_id)->frames.at(static_cast<std::size_t>(frame)) = std::move(bytes);
}

void FakeCvat::set_page_size(int page_size) {
    std::lock_guard lock(mutex_);
    page_size_ = page_size;
}

void FakeCvat::set_next_origin(const std::string& origin) {
    std::lock_guard lock(mutex_);
    next_origin_ = origin;
}

void FakeCvat::require_organization(const std::string& slug) {
    std::lock_guard lock(mutex_);
    required_org_ = slug;
}

json FakeCvat::label(long long task_id, const std::string& name) const {
    std::lock_guard lock(mutex_);
    for (const auto& l : tasks_.at(task_id)->labels)
        if (l["name"] == name) return l;
    throw std::runtime_error("no label " + name);
}

long long FakeCvat::label_id(long long task_id, const std::string& name) const {
    return label(task_id, name)["id"].get<long long>();
}

long long FakeCvat::spec_id(long long task_id, const std::string& label_name, const std::string& attribute) const {
    json found = label(task_id, label_name);  // kept alive for the loop
    for (const auto& a : found["attributes"])
        if (a["name"] == attribute) return a["id"].get<long long>();
    throw std::runtime_error("no attribute " + attribute);
}

std::vector<json> FakeCvat::shapes(long long task_id) const {
    std::lock_guard lock(mutex_);
    return tasks_.at(task_id)->shapes;
}

std::optional<json> FakeCvat::shape(long long shape_id) const {
    std::lock_guard lock(mutex_);
    for (const auto& [id, task] : tasks_)
        for (const auto& s : task->shapes)
            if (s["id"] == shape_id) return s;
    return std::nullopt;
}

std::string FakeCvat::attribute_of(const Task& task, const json& object, const std::string& name) const {
    const json* l = find_by_id(task.labels, object["label_id"].get<long long>());
    if (!l) return "";
    for (const auto& a : (*l)["attributes"])
        if (a["name"] == name)
            for (const auto& v : object["attributes"])
                if (v["spec_id"] == a["id"]) return v["value"].get<std::string>();
    return "";
}

void FakeCvat::set_attribute_of(const Task& task, json& object, const std::string& name, const std::string& value) {
    const json* l = find_by_id(task.labels, object["label_id"].get<long long>());
    long long spec = -1;
    for (const auto& a : (*l)["attributes"])
        if (a["name"] == name) spec = a["id"].get<long long>();
    for (auto& v : object["attributes"])
        if (v["spec_id"] == spec) return void(v["value"] = value);
    object["attributes"].push_back({{"spec_id", spec}, {"value", value}});
}

std::string FakeCvat::attribute(long long shape_id, const std::string& name) const {
    std::lock_guard lock(mutex_);
    for (const auto& [id, task] : tasks_)
        for (const auto& s : task->shapes)
            if (s["id"] == shape_id) return attribute_of(*task, s, name);
    return "";
}

std::vector<json> FakeCvat::tags(long long task_id) const {
    std::lock_guard lock(mutex_);
    return tasks_.at(task_id)->tags;
}

std::string FakeCvat::tag_attribute(long long tag_id, const std::string& name) const {
    std::lock_guard lock(mutex_);
    for (const auto& [id, task] : tasks_)
        for (const auto& t : task->tags)
            if (t["id"] == tag_id) return attribute_of(*task, t, name);
    return "";
}

std::vector<std::string> FakeCvat::organizations_seen() const {
    std::lock_guard lock(mutex_);
    return organizations_;
}

std::vector<std::string> FakeCvat::authorizations_seen() const {
    std::lock_guard lock(mutex_);
    return authorizations_;
}

json FakeCvat::job_json(long long job_id) const {
    std::lock_guard lock(mutex_);
    const Job& j = *jobs_.at(job_id);
    return {{"id", j.id},
            {"task_id", j.task_id},
            {"project_id", nullptr},
            {"start_frame", j.start_frame},
            {"stop_frame", j.stop_frame},
            {"state", j.state},
            {"stage", j.stage},
            {"type", "annotation"},
            {"assignee", {{"id", 7}, {"username", "alice"}}},
            {"updated_date", j.updated_date},
            {"url", server_.base_url() + "/api/jobs/" + std::to_string(j.id)}};
}

FakeCvat::Task& FakeCvat::task_of_shape(long long shape_id) {
    for (auto& [id, task] : tasks_)
        for (const auto& s : task->shapes)
            if (s["id"] == shape_id) return *task;
    throw std::runtime_error("no shape " + std::to_string(shape_id));
}

FakeCvat::Task& FakeCvat::task_of_tag(long long tag_id) {
    for (auto& [id, task] : tasks_)
        for (const auto& t : task->tags)
            if (t["id"] == tag_id) return *task;
    throw std::runtime_error("no tag " + std::to_string(tag_id));
}

void FakeCvat::set_tag_attribute(long long tag_id, const std::string& name, const std::string& value) {
    std::lock_guard lock(mutex_);
    Task& task = task_of_tag(tag_id);
    for (auto& t : task.tags)
        if (t["id"] == tag_id) set_attribute_of(task, t, name, value);
    task.version++;
}

void FakeCvat::clear_job(long long job_id) {
    std::lock_guard lock(mutex_);
    const Job& j = *jobs_.at(job_id);
    Task& task = *tasks_.at(j.task_id);
    auto in_job = [&](const json& object) {
        long long frame = object["frame"].get<long long>();
        return frame >= j.start_frame && frame <= j.stop_frame;
    };
    std::erase_if(task.shapes, in_job);
    std::erase_if(task.tags, in_job);
    task.version++;
}

void FakeCvat::set_attribute(long long shape_id, const std::string& name, const std::string& value) {
    std::lock_guard lock(mutex_);
    Task& task = task_of_shape(shape_id);
    for (auto& s : task.shapes) {
        if (s["id"] != shape_id) continue;
        set_attribute_of(task, s, name, value);
        s["source"] = "semi-auto";  // what recent UIs reportedly do to an edited auto shape
    }
    task.version++;
}

void FakeCvat::move_shape(long long shape_id, double dx, double dy) {
    std::lock_guard lock(mutex_);
    Task& task = task_of_shape(shape_id);
    for (auto& s : task.shapes) {
        if (s["id"] != shape_id) continue;
        json& p = s["points"];
        for (std::size_t i = 0; i < p.size(); ++i) p[i] = p[i].get<double>() + (i % 2 == 0 ? dx : dy);
    }
    task.version++;
}

void FakeCvat::delete_shape(long long shape_id) {
    std::lock_guard lock(mutex_);
    Task& task = task_of_shape(shape_id);
    std::erase_if(task.shapes, [&](const json& s) { return s["id"] == shape_id; });
    task.version++;
}

long long FakeCvat::add_manual_shape(long long task_id, long long frame, std::vector<double> points,
                                     const std::map<std::string, std::string>& attributes) {
    std::lock_guard lock(mutex_);
    Task& task = *tasks_.at(task_id);
    const json& face = task.labels.at(0);
    json attrs = json::array();
    for (const auto& [name, value] : attributes)
        for (const auto& a : face["attributes"])
            if (a["name"] == name) attrs.push_back({{"spec_id", a["id"]}, {"value", value}});
    long long id = next_shape_id_++;
    task.shapes.push_back({{"id", id},
                           {"type", "rectangle"},
                           {"frame", frame},
                           {"label_id", face["id"]},
                           {"points", points},
                           {"rotation", 0},
                           {"occluded", false},
                           {"outside", false},
                           {"z_order", 0},
                           {"group", 0},
                           {"source", "manual"},
                           {"attributes", attrs},
                           {"elements", json::array()}});
    task.version++;
    return id;
}

void FakeCvat::set_job_status(long long job_id, const std::string& state, const std::string& stage) {
    std::lock_guard lock(mutex_);
    Job& j = *jobs_.at(job_id);
    j.state = state;
    j.stage = stage;
    j.updated_date = stamp(tasks_.at(j.task_id)->version + 1);
}

json FakeCvat::update_job_event(long long job_id, const json& before_update) const {
    return {{"event", "update:job"},
            {"job", job_json(job_id)},
            {"before_update", before_update},
            {"webhook_id", 1},
            {"sender", {{"url", url() + "/api/users/7"}, {"id", 7}, {"username", "alice"}}}};
}

HttpResult FakeCvat::deliver_webhook(const std::string& target, const std::string& body, const std::string& secret) {
    std::vector<std::string> headers = {"X-Request-Id: webhook-delivery"};
    if (!secret.empty()) headers.push_back("X-Signature-256: sha256=" + hmac_sha256_hex(secret, body));
    return http_request("POST", target, body, headers);
}

// ---- the HTTP side ---------------------------------------------------------------------------

bool FakeCvat::authorized(const HttpRequest& request, HttpReply& refusal) {
    std::string auth = request.header("authorization");
    authorizations_.push_back(auth.substr(0, auth.find(' ')));
    organizations_.push_back(request.header("x-organization"));
    bool ok = false;
    if (auth.rfind("Bearer ", 0) == 0)
        ok = !credentials_.access_token.empty() && auth.substr(7) == credentials_.access_token;
    else if (auth.rfind("Token ", 0) == 0)
        ok = !credentials_.legacy_token.empty() && auth.substr(6) == credentials_.legacy_token;
    else if (auth.rfind("Basic ", 0) == 0)
        ok = !credentials_.username.empty() &&
             base64_decode(auth.substr(6)).value_or("") == credentials_.username + ":" + credentials_.password;
    if (!ok) {
        refusal = HttpReply::json(
            error_json(auth.empty() ? "Authentication credentials were not provided." : "Invalid token.").dump(), 401);
        return false;
    }
    if (!required_org_.empty() && request.header("x-organization") != required_org_) {
        refusal = HttpReply::json(error_json("You do not have permission to perform this action.").dump(), 403);
        return false;
    }
    return true;
}

HttpReply FakeCvat::page(const HttpRequest& request, const std::vector<json>& items) {
    auto query = query_of(request.target);
    // The server caps the page size, so a client asking for large pages still sees several.
    long long size = std::clamp<long long>(number_of(query, "page_size", page_size_), 1, std::max(page_size_, 1));
    long long page = std::max(1LL, number_of(query, "page", 1));
    json results = json::array();
    for (long long i = (page - 1) * size; i < static_cast<long long>(items.size()) && i < page * size; ++i)
        results.push_back(items[static_cast<std::size_t>(i)]);
    json next = nullptr;
    if (page * size < static_cast<long long>(items.size())) {
        std::string target = std::regex_replace(request.target, std::regex("[?&]page=[0-9]+"), "");
        target += (target.find('?') == std::string::npos ? "?" : "&") + std::string("page=") + std::to_string(page + 1);
        next = (next_origin_.empty() ? server_.base_url() : next_origin_) + target;
    }
    return HttpReply::json(
        json{{"count", items.size()}, {"next", next}, {"previous", nullptr}, {"results", results}}.dump());
}

json FakeCvat::annotations(const Task& task, const Job* job) const {
    auto in_range = [&](const json& object) {
        return !job || (object["frame"].get<long long>() >= job->start_frame &&
                        object["frame"].get<long long>() <= job->stop_frame);
    };
    json shapes = json::array(), tags = json::array();
    for (const auto& s : task.shapes)
        if (in_range(s)) shapes.push_back(s);
    for (const auto& t : task.tags)
        if (in_range(t)) tags.push_back(t);
    return {{"version", task.version}, {"tags", tags}, {"shapes", shapes}, {"tracks", json::array()}};
}

HttpReply FakeCvat::create_shapes(Task& task, const Job* job, const json& body) {
    std::vector<json> shapes, tags;
    // Shapes and tags are checked alike (frame in range, a known label, its own attributes) and
    // kept only when every one of them passes.
    auto accept = [&](const json& s, const char* kind, long long& next_id,
                      std::vector<json>& into) -> std::optional<HttpReply> {
        if (!s.is_object() || !s.contains("frame") || !s["frame"].is_number_integer() || !s.contains("label_id"))
            return HttpReply::json(json::array({std::string(kind) + ": frame and label_id are required"}).dump(), 400);
        long long frame = s["frame"].get<long long>();
        long long first = job ? job->start_frame : 0;
        long long last = job ? job->stop_frame : static_cast<long long>(task.frames.size()) - 1;
        if (frame < first || frame > last)
            return HttpReply::json(
                json::array({"The frame #" + std::to_string(frame) + " is out of the job's range"}).dump(), 400);
        const json* l =
            s["label_id"].is_number_integer() ? find_by_id(task.labels, s["label_id"].get<long long>()) : nullptr;
        if (!l) return HttpReply::json(error_json("Unknown label_id " + s["label_id"].dump()).dump(), 400);
        for (const auto& a : s.value("attributes", json::array()))
            if (!a.contains("spec_id") || !a["spec_id"].is_number_integer() ||
                !find_by_id((*l)["attributes"], a["spec_id"].get<long long>()) || !a.contains("value") ||
                !a["value"].is_string())
                return HttpReply::json(
                    error_json("attribute " + a.dump() + " does not belong to label " + (*l)["name"].get<std::string>())
                        .dump(),
                    400);
        json object = s;
        object["id"] = next_id++;
        if (!object.contains("source")) object["source"] = "manual";
        if (std::string(kind) == "shape") object["elements"] = json::array();
        into.push_back(object);
        return std::nullopt;
    };
    for (const auto& s : body.value("shapes", json::array()))
        if (auto refused = accept(s, "shape", next_shape_id_, shapes)) return *refused;
    for (const auto& t : body.value("tags", json::array()))
        if (auto refused = accept(t, "tag", next_tag_id_, tags)) return *refused;
    task.shapes.insert(task.shapes.end(), shapes.begin(), shapes.end());
    task.tags.insert(task.tags.end(), tags.begin(), tags.end());
    task.version++;
    return HttpReply::json(
        json{{"version", task.version}, {"tags", json(tags)}, {"shapes", json(shapes)}, {"tracks", json::array()}}
            .dump());
}

HttpReply FakeCvat::patch_annotations(Task& task, const Job* job, const std::string& action, const std::string& text) {
    json body = json::parse(text, nullptr, false);
    if (!body.is_object()) return HttpReply::json(error_json("JSON parse error").dump(), 400);
    if (action == "create") return create_shapes(task, job, body);
    std::vector<json> updated;
    for (const auto& s : body.value("shapes", json::array())) {
        long long id = s.value("id", -1LL);
        auto it = std::find_if(task.shapes.begin(), task.shapes.end(), [&](const json& x) { return x["id"] == id; });
        if (it == task.shapes.end())
            return HttpReply::json(error_json("shape " + std::to_string(id) + " not found").dump(), 400);
        if (action == "update") {
            for (auto& [key, value] : s.items()) (*it)[key] = value;
            updated.push_back(*it);
        } else if (action == "delete") {
            updated.push_back(*it);
            task.shapes.erase(it);
        } else {
            return HttpReply::json(error_json("unknown action " + action).dump(), 400);
        }
    }
    task.version++;
    return HttpReply::json(
        json{{"version", task.version}, {"tags", json::array()}, {"shapes", updated}, {"tracks", json::array()}}
            .dump());
}

HttpReply FakeCvat::handle(const HttpRequest& request) {
    std::lock_guard lock(mutex_);
    static const HttpReply not_found = HttpReply::json(error_json("Not found.").dump(), 404);
    HttpReply refusal;
    if (!authorized(request, refusal)) return refusal;
    std::string path = request.path();
    auto query = query_of(request.target);
    std::smatch m;
    auto task_by = [&](long long id) -> Task* {
        auto it = tasks_.find(id);
        return it == tasks_.end() ? nullptr : it->second.get();
    };
    auto job_by = [&](long long id) -> Job* {
        auto it = jobs_.find(id);
        return it == jobs_.end() ? nullptr : it->second.get();
    };
    auto job_object = [&](const Job& j) {
        return json{{"id", j.id},
                    {"task_id", j.task_id},
                    {"start_frame", j.start_frame},
                    {"stop_frame", j.stop_frame},
                    {"state", j.state},
                    {"stage", j.stage},
                    {"type", "annotation"},
                    {"assignee", {{"id", 7}, {"username", "alice"}}},
                    {"updated_date", j.updated_date}};
    };

    if (request.method == "GET" && std::regex_match(path, m, std::regex("/api/tasks/([0-9]+)"))) {
        Task* t = task_by(std::stoll(m[1]));
        if (!t) return not_found;
        return HttpReply::json(json{
            {"id", t->id},
            {"name", t->name},
            {"size", t->frames.size()},
            {"mode", "annotation"},
            {"project_id",
             nullptr}}.dump());
    }
    if (request.method == "GET" && std::regex_match(path, m, std::regex("/api/tasks/([0-9]+)/data/meta"))) {
        Task* t = task_by(std::stoll(m[1]));
        if (!t) return not_found;
        json frames = json::array();
        for (std::size_t i = 0; i < t->frames.size(); ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "frame_%06zu.jpg", i);
            frames.push_back({{"name", name}, {"width", t->width}, {"height", t->height}});
        }
        return HttpReply::json(json{
            {"frames", frames},
            {"start_frame", 0},
            {"stop_frame", t->frames.size() - 1},
            {"frame_filter", ""},
            {"deleted_frames", t->deleted},
            {"chunk_size", 36},
            {"size",
             t->frames.size()}}.dump());
    }
    if (request.method == "GET" && std::regex_match(path, m, std::regex("/api/tasks/([0-9]+)/data"))) {
        Task* t = task_by(std::stoll(m[1]));
        if (!t) return not_found;
        long long number = number_of(query, "number", -1);
        if (query["type"] != "frame" || number < 0 || number >= static_cast<long long>(t->frames.size()))
            return HttpReply::json(json::array({"Wrong request: incorrect frame number or type"}).dump(), 400);
        return HttpReply::text(t->frames[static_cast<std::size_t>(number)]).with_header("Content-Type", "image/jpeg");
    }
    if (request.method == "GET" && path == "/api/jobs") {
        std::vector<json> items;
        long long task = number_of(query, "task_id", -1);
        for (const auto& [id, j] : jobs_)
            if (task < 0 || j->task_id == task) items.push_back(job_object(*j));
        return page(request, items);
    }
    if (request.method == "GET" && std::regex_match(path, m, std::regex("/api/jobs/([0-9]+)"))) {
        Job* j = job_by(std::stoll(m[1]));
        if (!j) return not_found;
        return HttpReply::json(job_object(*j).dump());
    }
    if (request.method == "GET" && path == "/api/labels") {
        long long task = number_of(query, "task_id", -1);
        if (long long job = number_of(query, "job_id", -1); job >= 0) {
            Job* j = job_by(job);
            if (!j) return not_found;
            task = j->task_id;
        }
        Task* t = task_by(task);
        if (!t)
            return HttpReply::json(
                json{{"count", 0}, {"next", nullptr}, {"previous", nullptr}, {"results", json::array()}}.dump());
        std::vector<json> items(t->labels.begin(), t->labels.end());
        return page(request, items);
    }
    if (std::regex_match(path, m, std::regex("/api/(jobs|tasks)/([0-9]+)/annotations"))) {
        Job* j = m[1] == "jobs" ? job_by(std::stoll(m[2])) : nullptr;
        Task* t = m[1] == "jobs" ? (j ? task_by(j->task_id) : nullptr) : task_by(std::stoll(m[2]));
        if (!t) return not_found;
        if (request.method == "GET") return HttpReply::json(annotations(*t, j).dump());
        if (request.method == "PATCH") {
            HttpReply reply = patch_annotations(*t, j, query["action"], request.body);
            if (reply.status == 200)
                for (auto& [id, other] : jobs_)
                    if (other->task_id == t->id) other->updated_date = stamp(t->version);
            return reply;
        }
        return HttpReply::json(error_json("Method not allowed.").dump(), 405);
    }
    return not_found;
}

}  // namespace seke::test
