#include "plugin/cvat/webhook.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "connectors/crypto.hpp"
#include "connectors/cvat_client.hpp"
#include "plugin/cvat/spec.hpp"
#include "plugin/cvat/sync.hpp"
#include "plugin/server/auth.hpp"
#include "plugin/server/http_types.hpp"
#include "plugin/server/log.hpp"
#include "verify/text.hpp"

namespace seke::cvat {
namespace {

using nlohmann::json;
using server::HttpRequest;
using server::Responder;

constexpr const char* kSignatureHeader = "X-Signature-256";

void log(server::LogLevel level, const std::string& msg, const json& fields, const std::string& request_id = {}) {
    server::logger().log(level, "cvat", msg, fields, request_id);
}

}  // namespace

Result<WebhookEvent> parse_webhook_event(const std::string& body) {
    if (!json_depth_within(body))
        return make_error(errc::bad_json,
                          "the webhook body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) return make_error(errc::bad_json, "the webhook body is not valid JSON");
    if (!parsed.is_object()) return make_error(errc::bad_json, "the webhook body must be a JSON object");
    if (!parsed.contains("event") || !parsed["event"].is_string())
        return make_error(errc::bad_json, "the webhook body has no \"event\" string");
    WebhookEvent event;
    event.event = parsed["event"].get<std::string>();
    if (parsed.contains("job") && parsed["job"].is_object()) {
        const json& job = parsed["job"];
        if (job.contains("id") && job["id"].is_number_integer()) event.job_id = job["id"].get<long long>();
        if (job.contains("state") && job["state"].is_string()) event.job_state = job["state"].get<std::string>();
        if (job.contains("stage") && job["stage"].is_string()) event.job_stage = job["stage"].get<std::string>();
    }
    if (parsed.contains("before_update") && parsed["before_update"].is_object())
        event.state_or_stage_changed =
            parsed["before_update"].contains("state") || parsed["before_update"].contains("stage");
    return event;
}

bool asks_for_sync(const WebhookEvent& event) {
    return event.event == "update:job" && event.job_id && event.state_or_stage_changed &&
           (event.job_state == "completed" || event.job_stage == "acceptance");
}

std::string webhook_signature(const std::string& secret, const std::string& body) {
    return "sha256=" + hmac_sha256_hex(secret, body);
}

struct CvatWebhook::Impl {
    CvatSettings settings;
    const Knowledge& knowledge;
    Store& store;
    std::optional<FunctionSpec> spec;
    std::string spec_error;
    CvatClient client;
    boost::asio::thread_pool pool{1};  // one at a time: two syncs of one job never race

    mutable std::mutex mutex;
    std::condition_variable idle;
    std::set<long long> queued;  // jobs waiting to start: a repeat event joins the waiting sync
    std::size_t pending = 0;
    bool stopping = false;

    Impl(CvatSettings s, const Knowledge& k, Store& st)
        : settings(std::move(s)), knowledge(k), store(st), client(settings) {
        auto made = make_function_spec(settings, knowledge);
        if (made) spec = std::move(*made);
        else spec_error = made.error().message;
    }

    // X-Signature-256 with the configured secret; without one every delivery is taken.
    std::optional<Error> check_signature(const HttpRequest& request) const {
        if (settings.webhook_secret.empty()) return std::nullopt;
        if (!request.has_header(kSignatureHeader))
            return make_error(errc::unauthorized,
                              "the webhook has no X-Signature-256 header; create the CVAT webhook "
                              "with the secret set as cvat.webhook_secret");
        std::string expected = webhook_signature(settings.webhook_secret, request.body);
        if (!server::constant_time_equal(trim(request.header(kSignatureHeader)), expected))
            return make_error(errc::forbidden,
                              "X-Signature-256 does not match the body signed with cvat.webhook_secret");
        return std::nullopt;
    }

    void handle(const HttpRequest& request, Responder responder, const std::shared_ptr<Impl>& self) {
        if (auto refused = check_signature(request)) {
            log(server::LogLevel::warn, "webhook refused", {{"reason", refused->message}}, request.request_id);
            return void(responder.send_error(*refused));
        }
        auto event = parse_webhook_event(request.body);
        if (!event) return void(responder.send_error(event.error()));
        if (event->event == "ping") return void(responder.send_json(200, {{"status", "pong"}}));
        if (!asks_for_sync(*event)) {
            std::string reason = event->event != "update:job"     ? "seke reacts to update:job only"
                                 : !event->state_or_stage_changed ? "neither state nor stage changed"
                                                                  : "the job is neither completed nor in acceptance";
            return void(responder.send_json(200, {{"status", "ignored"}, {"event", event->event}, {"reason", reason}}));
        }
        // Stored before the answer: an event CVAT was told we have is never lost.
        auto id = store.save_event("cvat", event->event, request.body);
        if (!id) return void(responder.send_error(id.error()));
        long long job = *event->job_id;
        bool queued_now = enqueue(job, self);
        log(server::LogLevel::info, "review sync queued",
            {{"job", job}, {"event_id", *id}, {"state", event->job_state}, {"stage", event->job_stage}},
            request.request_id);
        responder.send_json(
            200, {{"status", "queued"}, {"event_id", *id}, {"job", job}, {"joined_waiting_sync", !queued_now}});
    }

    // False when a sync of this job is already waiting (it will read the newest annotations).
    bool enqueue(long long job, const std::shared_ptr<Impl>& self) {
        {
            std::lock_guard lock(mutex);
            if (stopping || !queued.insert(job).second) return false;
            ++pending;
        }
        boost::asio::post(pool, [self, job] { self->run_sync(job); });
        return true;
    }

    void run_sync(long long job) {
        {
            std::lock_guard lock(mutex);
            queued.erase(job);
        }
        if (!spec) {
            log(server::LogLevel::error, "review sync failed", {{"job", job}, {"reason", spec_error}});
        } else {
            SyncDeps deps{knowledge, *spec, store, client};
            auto summary = sync_job(deps, job);
            if (summary) {
                json fields = json(sync_summary_json(*summary));
                log(server::LogLevel::info, "review synced", fields);
                store.save_event("cvat", "sync:job", fields.dump());
            } else {
                log(server::LogLevel::error, "review sync failed",
                    {{"job", job}, {"code", errc_name(summary.error().code)}, {"reason", summary.error().message}});
            }
        }
        std::lock_guard lock(mutex);
        --pending;
        idle.notify_all();
    }
};

CvatWebhook::CvatWebhook(CvatSettings settings, const Knowledge& knowledge, Store& store)
    : impl_(std::make_shared<Impl>(std::move(settings), knowledge, store)) {
    if (impl_->settings.webhook_secret.empty())
        log(server::LogLevel::warn, "CVAT webhooks are accepted unsigned",
            {{"hint",
              "set cvat.webhook_secret (--cvat-webhook-secret, CVAT_WEBHOOK_SECRET) to the secret of the "
              "CVAT "
              "webhook so POST /cvat/webhook checks X-Signature-256"}});
    if (!impl_->spec) log(server::LogLevel::warn, "CVAT review sync is unavailable", {{"reason", impl_->spec_error}});
    if (impl_->settings.url.empty())
        log(server::LogLevel::warn, "CVAT review sync has no CVAT URL",
            {{"hint", "set cvat.url (--cvat-url, CVAT_URL) and credentials; events are stored meanwhile"}});
}

CvatWebhook::~CvatWebhook() {
    shutdown();
}

void CvatWebhook::add_routes(server::Router& router, std::size_t body_limit) {
    std::weak_ptr<Impl> weak = impl_;
    router.post(
        "/cvat/webhook",
        [weak](const HttpRequest& request, Responder responder) {
            auto self = weak.lock();
            if (!self) return void(responder.send_error(make_error(errc::cancelled, "server stopping")));
            self->handle(request, std::move(responder), self);
        },
        body_limit);
}

void CvatWebhook::shutdown() {
    if (!impl_) return;
    {
        std::unique_lock lock(impl_->mutex);
        impl_->stopping = true;
        impl_->idle.wait(lock, [&] { return impl_->pending == 0; });
    }
    impl_->pool.join();
}

std::size_t CvatWebhook::pending_syncs() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->pending;
}

}  // namespace seke::cvat
