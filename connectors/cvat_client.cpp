#include "connectors/cvat_client.hpp"

#include <algorithm>

#include "connectors/crypto.hpp"
#include "connectors/curl_easy.hpp"
#include "connectors/url_origin.hpp"
#include "verify/text.hpp"

namespace seke {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxJsonBytes = 64u << 20;    // a large job's annotations
constexpr std::size_t kMaxFrameBytes = 256u << 20;  // one original-quality frame
constexpr int kPageSize = 100;
constexpr int kMaxPages = 10000;

// What a message may show of a URL: no user info, query or fragment.
std::string shown_url(const std::string& url) {
    std::string out = url.substr(0, url.find_first_of("?#"));
    if (auto scheme_end = out.find("://"); scheme_end != std::string::npos) {
        auto host_start = scheme_end + 3;
        auto at = out.find('@', host_start);
        auto slash = out.find('/', host_start);
        if (at != std::string::npos && (slash == std::string::npos || at < slash))
            out.erase(host_start, at + 1 - host_start);
    }
    return out.size() > 300 ? out.substr(0, 300) + "..." : out;
}

// CVAT's reason: {"detail": "..."}, a list of messages, or {field: [messages]}; else the text.
std::string cvat_message(const std::string& body) {
    json parsed = json_depth_within(body) ? json::parse(body, nullptr, false) : json(json::value_t::discarded);
    std::string message;
    if (parsed.is_object() && parsed.contains("detail") && parsed["detail"].is_string()) {
        message = parsed["detail"].get<std::string>();
    } else if (parsed.is_array() || parsed.is_object()) {
        message = parsed.dump(-1, ' ', false, json::error_handler_t::replace);
    } else {
        message = trim(body.substr(0, 300));
        if (message.find('<') != std::string::npos) message.clear();  // an HTML error page says nothing useful
    }
    if (message.size() > 300) message = message.substr(0, 300) + "...";
    return message;
}

long long integer(const json& object, const char* key, long long fallback = -1) {
    if (!object.is_object() || !object.contains(key)) return fallback;
    const json& v = object[key];
    if (v.is_number_integer()) return v.get<long long>();
    if (v.is_object() && v.contains("id") && v["id"].is_number_integer()) return v["id"].get<long long>();
    return fallback;
}

std::string text(const json& object, const char* key) {
    if (!object.is_object() || !object.contains(key) || !object[key].is_string()) return {};
    return object[key].get<std::string>();
}

struct Reply {
    long status = 0;
    std::string body;
};

// spec_id → value; an attribute without either is skipped, a value that is not text kept as JSON.
std::vector<std::pair<long long, std::string>> attributes_of(const json& object) {
    std::vector<std::pair<long long, std::string>> out;
    if (!object.contains("attributes") || !object["attributes"].is_array()) return out;
    for (const auto& a : object["attributes"]) {
        long long spec_id = integer(a, "spec_id");
        if (spec_id < 0 || !a.contains("value")) continue;
        const json& v = a["value"];
        out.emplace_back(spec_id, v.is_string() ? v.get<std::string>() : v.dump());
    }
    return out;
}

}  // namespace

std::string cvat_credential_name(const CvatSettings& s) {
    if (!s.access_token.empty()) return "the personal access token (cvat.access_token / CVAT_ACCESS_TOKEN)";
    if (!s.legacy_token.empty()) return "the legacy token (cvat.legacy_token / CVAT_TOKEN)";
    if (!s.username.empty()) return "the user and password of " + s.username + " (cvat.username / cvat.password)";
    return "no credentials (set CVAT_ACCESS_TOKEN, CVAT_TOKEN or CVAT_USERNAME and CVAT_PASSWORD)";
}

CvatFrameInfo CvatTaskFrames::frame(long long index) const {
    if (frames.empty()) return {};
    if (index >= 0 && static_cast<std::size_t>(index) < frames.size()) return frames[static_cast<std::size_t>(index)];
    return frames.front();
}

CvatJob parse_cvat_job(const json& body) {
    CvatJob job;
    job.id = integer(body, "id");
    job.task_id = integer(body, "task_id");
    job.start_frame = integer(body, "start_frame", 0);
    job.stop_frame = integer(body, "stop_frame", -1);
    job.state = text(body, "state");
    job.stage = text(body, "stage");
    job.updated_date = text(body, "updated_date");
    if (body.is_object() && body.contains("assignee") && body["assignee"].is_object())
        job.assignee = text(body["assignee"], "username");
    return job;
}

CvatAnnotations parse_cvat_annotations(const json& body) {
    CvatAnnotations out;
    if (!body.is_object()) return out;
    out.version = integer(body, "version", 0);
    if (body.contains("tracks") && body["tracks"].is_array()) out.tracks = body["tracks"].size();
    if (body.contains("tags") && body["tags"].is_array())
        for (const auto& t : body["tags"]) {
            if (!t.is_object()) continue;
            out.tags.push_back({integer(t, "id"), integer(t, "frame", -1), integer(t, "label_id"), text(t, "source"),
                                attributes_of(t)});
        }
    if (!body.contains("shapes") || !body["shapes"].is_array()) return out;
    for (const auto& s : body["shapes"]) {
        if (!s.is_object()) continue;
        CvatShape shape;
        shape.id = integer(s, "id");
        shape.frame = integer(s, "frame", -1);
        shape.label_id = integer(s, "label_id");
        shape.type = text(s, "type");
        shape.source = text(s, "source");
        if (s.contains("points") && s["points"].is_array())
            for (const auto& p : s["points"])
                if (p.is_number()) shape.points.push_back(p.get<double>());
        shape.attributes = attributes_of(s);
        out.shapes.push_back(std::move(shape));
    }
    return out;
}

struct CvatClient::Impl {
    CvatSettings settings;
    std::optional<UrlOrigin> origin;
    std::string base;  // the URL without trailing slashes

    explicit Impl(CvatSettings s) : settings(std::move(s)) {
        base = trim(settings.url);
        while (!base.empty() && base.back() == '/') base.pop_back();
        if (starts_with_icase(base, "http://") || starts_with_icase(base, "https://")) origin = parse_origin(base);
    }

    std::optional<std::string> authorization() const {
        if (!settings.access_token.empty()) return "Bearer " + settings.access_token;
        if (!settings.legacy_token.empty()) return "Token " + settings.legacy_token;
        if (!settings.username.empty()) return "Basic " + base64_encode(settings.username + ":" + settings.password);
        return std::nullopt;
    }

    Result<std::string> url_for(const std::string& path_and_query) const {
        if (base.empty())
            return make_error(errc::config_error,
                              "no CVAT URL is configured: pass --url http://cvat-host:8080 or set CVAT_URL");
        if (!origin)
            return make_error(errc::config_error,
                              "the CVAT URL \"" + shown_url(base) + "\" is not a valid http:// or https:// URL");
        return base + (path_and_query.rfind('/', 0) == 0 ? "" : "/") + path_and_query;
    }

    Error status_error(const std::string& method, const std::string& url, const Reply& reply) const {
        std::string message = cvat_message(reply.body);
        std::string what = "CVAT " + method + " " + shown_url(url) + " answered HTTP " + std::to_string(reply.status) +
                           (message.empty() ? "" : ": " + message);
        if (reply.status == 401)
            return make_error(errc::unauthorized, what + " (CVAT refused " + cvat_credential_name(settings) + ")");
        if (reply.status == 403)
            return make_error(
                errc::forbidden,
                what + " (" + cvat_credential_name(settings) + " was accepted but lacks access" +
                    (settings.organization.empty() ? "; does the task belong to an organization? set CVAT_ORG)"
                                                   : " in organization \"" + settings.organization + "\")"));
        if (reply.status == 404) return make_error(errc::not_found, what);
        return make_error(errc::upstream_error, what);
    }

    // One transfer; a non-2xx answer is a Reply, not an Error. Redirects are not followed, so
    // credentials never leave the CVAT origin.
    Result<Reply> transfer(const std::string& method, const std::string& url, const std::string* body,
                           std::size_t max_bytes) const {
        auto handle = make_curl_easy();
        if (!handle) return make_error(errc::internal, "curl_easy_init failed");
        CURL* h = handle.get();
        CurlResponse sink;
        sink.max_bytes = max_bytes;
        curl_slist* headers = nullptr;
        if (auto auth = authorization()) headers = curl_slist_append(headers, ("Authorization: " + *auth).c_str());
        if (!settings.organization.empty())
            headers = curl_slist_append(headers, ("X-Organization: " + settings.organization).c_str());
        if (body) headers = curl_slist_append(headers, "Content-Type: application/json");
        headers = curl_slist_append(headers, "Accept: application/json, */*");
        std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers_guard(headers, &curl_slist_free_all);

        TransferOptions options;
        options.timeout_ms = 1000L * std::max(1, settings.timeout_s);
        options.verify_tls = settings.verify_ssl;
        set_transfer_options(h, url, sink, options);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        if (method != "GET") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
        if (body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->c_str());
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
        }
        CURLcode code = curl_easy_perform(h);
        if (sink.over_cap(code))
            return make_error(errc::payload_too_large, "CVAT's answer to " + method + " " + shown_url(url) +
                                                           " is over the limit of " + std::to_string(max_bytes) +
                                                           " bytes");
        if (code == CURLE_OPERATION_TIMEDOUT)
            return make_error(errc::upstream_timeout, "CVAT did not answer " + method + " " + shown_url(url) +
                                                          " within " + std::to_string(settings.timeout_s) +
                                                          " s (cvat.timeout_s)");
        if (code != CURLE_OK) {
            std::string hint;
            if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE)
                hint = " (for a self-signed certificate set CVAT_VERIFY_SSL=false)";
            return make_error(errc::upstream_error,
                              "cannot reach CVAT at " + shown_url(url) + ": " + sink.failure(code) + hint);
        }
        Reply reply;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
        reply.body = std::move(sink.body);
        return reply;
    }

    Result<json> call_json(const std::string& method, const std::string& path_and_query, const json* body) {
        auto url = url_for(path_and_query);
        if (!url) return url.error();
        return call_json_url(method, *url, body);
    }

    Result<json> call_json_url(const std::string& method, const std::string& url, const json* body) {
        std::string text;
        if (body) text = body->dump(-1, ' ', false, json::error_handler_t::replace);
        auto reply = transfer(method, url, body ? &text : nullptr, kMaxJsonBytes);
        if (!reply) return reply.error();
        if (reply->status < 200 || reply->status > 299) return status_error(method, url, *reply);
        json parsed =
            json_depth_within(reply->body) ? json::parse(reply->body, nullptr, false) : json(json::value_t::discarded);
        if (parsed.is_discarded())
            return make_error(errc::upstream_error, "CVAT " + method + " " + shown_url(url) + " did not answer JSON");
        return parsed;
    }
};

CvatClient::CvatClient(CvatSettings settings) : impl_(std::make_unique<Impl>(std::move(settings))) {}
CvatClient::~CvatClient() = default;

const CvatSettings& CvatClient::settings() const noexcept {
    return impl_->settings;
}

Result<json> CvatClient::get_json(const std::string& path_and_query) {
    return impl_->call_json("GET", path_and_query, nullptr);
}

Result<std::vector<json>> CvatClient::get_list(const std::string& path, const std::string& query) {
    auto first =
        impl_->url_for(path + "?" + (query.empty() ? "" : query + "&") + "page_size=" + std::to_string(kPageSize));
    if (!first) return first.error();
    std::vector<json> out;
    std::string url = *first;
    for (int page = 1; page <= kMaxPages; ++page) {
        auto body = impl_->call_json_url("GET", url, nullptr);
        if (!body) return body.error();
        if (body->is_array()) {  // an unpaginated list
            for (auto& entry : *body) out.push_back(std::move(entry));
            return out;
        }
        if (!body->is_object() || !body->contains("results") || !(*body)["results"].is_array())
            return make_error(errc::upstream_error, "CVAT GET " + shown_url(url) + ": expected {count, next, results}");
        for (auto& entry : (*body)["results"]) out.push_back(std::move(entry));
        const json& next = body->value("next", json());
        if (!next.is_string() || next.get<std::string>().empty()) return out;
        std::string next_url = next.get<std::string>();
        auto next_origin = parse_origin(next_url);
        // A proxy may make CVAT write another host into `next`: the page is then asked for on
        // the configured origin, so credentials never go anywhere else.
        if (!next_origin || !(*next_origin == *impl_->origin)) {
            auto own = impl_->url_for(path + "?" + (query.empty() ? "" : query + "&") +
                                      "page_size=" + std::to_string(kPageSize) + "&page=" + std::to_string(page + 1));
            if (!own) return own.error();
            next_url = *own;
        }
        url = next_url;
    }
    return make_error(errc::upstream_error, "CVAT GET " + path + ": more than " + std::to_string(kMaxPages) + " pages");
}

Result<CvatTaskFrames> CvatClient::task_frames(long long task_id) {
    std::string id = std::to_string(task_id);
    auto task = get_json("/api/tasks/" + id);
    if (!task) return task.error();
    auto meta = get_json("/api/tasks/" + id + "/data/meta");
    if (!meta) return meta.error();
    CvatTaskFrames out;
    out.task_id = task_id;
    out.size = integer(*task, "size", -1);
    if (meta->contains("frames") && (*meta)["frames"].is_array())
        for (const auto& f : (*meta)["frames"])
            out.frames.push_back(
                {text(f, "name"), static_cast<int>(integer(f, "width", 0)), static_cast<int>(integer(f, "height", 0))});
    if (out.size < 0) out.size = integer(*meta, "size", static_cast<long long>(out.frames.size()));
    if (meta->contains("deleted_frames") && (*meta)["deleted_frames"].is_array())
        for (const auto& d : (*meta)["deleted_frames"])
            if (d.is_number_integer()) out.deleted_frames.insert(d.get<long long>());
    return out;
}

Result<CvatJob> CvatClient::job(long long job_id) {
    auto body = get_json("/api/jobs/" + std::to_string(job_id));
    if (!body) return body.error();
    CvatJob job = parse_cvat_job(*body);
    if (job.id < 0 || job.task_id < 0)
        return make_error(errc::upstream_error,
                          "CVAT job " + std::to_string(job_id) + ": the answer has no id or task_id");
    return job;
}

Result<std::vector<CvatJob>> CvatClient::jobs_of_task(long long task_id) {
    auto list = get_list("/api/jobs", "task_id=" + std::to_string(task_id));
    if (!list) return list.error();
    std::vector<CvatJob> jobs;
    for (const auto& entry : *list) jobs.push_back(parse_cvat_job(entry));
    return jobs;
}

Result<std::vector<json>> CvatClient::labels_of_task(long long task_id) {
    return get_list("/api/labels", "task_id=" + std::to_string(task_id));
}

Result<std::vector<json>> CvatClient::labels_of_job(long long job_id) {
    return get_list("/api/labels", "job_id=" + std::to_string(job_id));
}

Result<std::string> CvatClient::frame(long long task_id, long long number) {
    auto url = impl_->url_for("/api/tasks/" + std::to_string(task_id) +
                              "/data?type=frame&number=" + std::to_string(number) + "&quality=original");
    if (!url) return url.error();
    auto reply = impl_->transfer("GET", *url, nullptr, kMaxFrameBytes);
    if (!reply) return reply.error();
    if (reply->status < 200 || reply->status > 299) return impl_->status_error("GET", *url, *reply);
    return std::move(reply->body);
}

Result<CvatAnnotations> CvatClient::job_annotations(long long job_id) {
    auto body = get_json("/api/jobs/" + std::to_string(job_id) + "/annotations");
    if (!body) return body.error();
    if (!body->is_object()) return make_error(errc::upstream_error, "CVAT job annotations: expected an object");
    return parse_cvat_annotations(*body);
}

Result<CvatAnnotations> CvatClient::create_job_annotations(long long job_id, const json& body) {
    auto reply = impl_->call_json("PATCH", "/api/jobs/" + std::to_string(job_id) + "/annotations?action=create", &body);
    if (!reply) return reply.error();
    return parse_cvat_annotations(*reply);
}

Result<CvatAnnotations> CvatClient::create_task_annotations(long long task_id, const json& body) {
    auto reply =
        impl_->call_json("PATCH", "/api/tasks/" + std::to_string(task_id) + "/annotations?action=create", &body);
    if (!reply) return reply.error();
    return parse_cvat_annotations(*reply);
}

}  // namespace seke
