#pragma once
// POST /cvat/webhook (protocol notes §4.5, §4.6): CVAT's webhook, signed with X-Signature-256.
// An update:job that moves a job to state "completed" or stage "acceptance" is stored before
// the answer, answered at once (CVAT waits 10 s at most), and the job's review sync then runs
// in the background. Everything else is answered 200 and ignored. A redelivered event only runs
// the sync again, which changes nothing the second time.
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "connectors/cvat_settings.hpp"
#include "plugin/server/router.hpp"
#include "plugin/records/store.hpp"
#include "verify/knowledge.hpp"

namespace seke::cvat {

// What an event asks for, parsed at the edge.
struct WebhookEvent {
    std::string event;                 // "ping", "update:job", ...
    std::optional<long long> job_id;   // for job events
    std::string job_state, job_stage;  // the job's values after the update
    bool state_or_stage_changed = false;
};
// Errors: bad_json (not a JSON object, no "event").
Result<WebhookEvent> parse_webhook_event(const std::string& body);
// True for a job that has just been completed or moved to acceptance.
bool asks_for_sync(const WebhookEvent& event);
// "sha256=<hex HMAC-SHA256(secret, body)>", as CVAT signs a delivery.
std::string webhook_signature(const std::string& secret, const std::string& body);

class CvatWebhook {
  public:
    // `settings`: the CVAT URL and credentials the sync uses, and webhook_secret. `knowledge`
    // and `store` must outlive this object. Logs a warning when no secret is configured.
    CvatWebhook(CvatSettings settings, const Knowledge& knowledge, Store& store);
    ~CvatWebhook();  // shutdown()
    CvatWebhook(const CvatWebhook&) = delete;
    CvatWebhook& operator=(const CvatWebhook&) = delete;

    // Registers POST /cvat/webhook, taking bodies up to `body_limit` bytes (0: the server's).
    void add_routes(server::Router& router, std::size_t body_limit = 0);
    // Takes no more syncs and waits for the ones queued or running. Idempotent.
    void shutdown();
    // Syncs queued or running (for tests and /metrics).
    [[nodiscard]] std::size_t pending_syncs() const;

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace seke::cvat
