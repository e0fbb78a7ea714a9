#pragma once
// OpenAI-compatible chat client for the VLLM contract. Many requests in flight on one thread
// (curl multi), a global concurrency limit, one or several endpoints (requests go where most of
// the limit is free; one that fails rests a while and retries go elsewhere), bounded retries with
// backoff + jitter honouring Retry-After, fallbacks for providers that reject json_schema or
// ignore `n`, token accounting, and a persistent response cache so nothing is paid for twice.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "connectors/vllm_batch.hpp"
#include "connectors/vllm_endpoints.hpp"
#include "verify/labels.hpp"
#include "verify/errors.hpp"
#include "verify/few_shot.hpp"
#include "verify/prompt.hpp"

namespace seke {

// How requests reach the model: one by one (online), gathered into the provider's Batch API, or
// written as request files for an offline runner (vLLM's run_batch) and read back.
enum class BatchMode { off, api, files };

struct VllmBatchSettings {
    BatchMode mode = BatchMode::off;
    // files: round-NNNN.requests.jsonl is written here, round-NNNN.output.jsonl read from here.
    std::string dir;
    bool read_outputs = false;  // files: read the output files in `dir` first (--batch-in)
    // A batch is sent once no request joined it for gather_ms, or when the next line would pass
    // max_lines or max_bytes (OpenAI's limits: 50,000 requests, 200 MB).
    std::size_t max_lines = 50'000;
    std::size_t max_bytes = 200u << 20;
    int gather_ms = 500;
    // Status polls: every poll_ms at first, the wait growing by half each time up to poll_max_ms;
    // a batch not finished after max_wait_s fails its lines.
    int poll_ms = 1000;
    int poll_max_ms = 60'000;
    int max_wait_s = 90'000;
};

struct VllmSettings {
    std::string base_url;  // ".../v1", or a list of endpoints (parse_endpoints). Empty: none configured
    std::string api_key;   // sent as Bearer; never logged
    // base_url parsed (config's resolve_endpoints). Empty: base_url is the one endpoint, with
    // api_key and max_concurrency.
    std::vector<VllmEndpoint> endpoints;
    std::string model = "gpt-4o";
    int max_concurrency = 16;  // requests in flight at once, across all faces and endpoints
    int timeout_ms = 120000;   // per attempt, whole transfer
    int connect_timeout_ms = 10000;
    int max_retries = 4;          // retries after the first attempt (429, 5xx, timeouts, network)
    int backoff_base_ms = 500;    // exponential: base * 2^attempt, with full jitter; also an endpoint's rest
    int backoff_max_ms = 30000;   // cap on one wait (Retry-After is honoured up to this cap too)
    int max_tokens = 800;         // per choice
    bool use_json_schema = true;  // response_format json_schema; falls back to json_object
    bool use_n = true;            // ask for n choices per request; falls back to n=1 fan-out
    std::size_t max_response_bytes = 8u << 20;
    VllmBatchSettings batch;
    // One-line warnings (fallbacks switched on, cache read errors); empty: written to stderr.
    // Called on the client's threads. Never given the api key.
    std::function<void(const std::string&)> log;
};

// Persistent cache of model answers, keyed by image hash, prompt, model and sampling parameters.
class ResponseCache {
  public:
    virtual ~ResponseCache() = default;
    virtual std::optional<std::string> get(const std::string& key) = 0;
    virtual void put(const std::string& key, const std::string& value) = 0;
    // A cache shared by several processes: before a missed request is sent, a claim on its key.
    // false while another process is sending the same request: the client looks in the cache
    // again every kClaimRecheck instead of paying for it twice. Claimed again every kClaimRenewal
    // while in flight (connectors/claim_renewer.hpp: a claim should last kClaimLength), from
    // another thread than the client's; released when the request is done.
    virtual bool claim(const std::string& /*key*/) { return true; }
    virtual void release(const std::string& /*key*/) {}
};

// A few-shot example as two turns before the question: a user turn (text + image) and the
// assistant's answer.
struct ChatExample {
    std::string image_jpeg;  // raw JPEG bytes of the example face
    std::string image_hash;  // hex digest of image_jpeg, for the cache key
    std::string user;        // the question about the example
    std::string assistant;   // its answer
};

struct ChatRequest {
    Prompt prompt;
    std::string image_jpeg;  // raw JPEG bytes of the face crop (base64-encoded by the client)
    std::string image_hash;  // hex digest of image_jpeg's source, for the cache key
    int ordinal = 0;         // request ordinal within the face (in the cache key)
    int n = 1;
    double temperature = 0;
    // Sent in order after the system message. Only the longest prefix within
    // kMaxFewShotExamples and kMaxFewShotImageBytes is sent (and keyed); the rest is dropped.
    std::vector<ChatExample> examples;
};

// How many of `examples`, from the front, fit the few-shot bounds.
std::size_t examples_within_bounds(const std::vector<ChatExample>& examples);

struct ChatResult {
    std::vector<std::string> contents;  // one per choice received (may be < n on failure)
    std::int64_t prompt_tokens = 0;
    std::int64_t cached_prompt_tokens = 0;  // of prompt_tokens: held by the provider's prefix cache
    std::int64_t completion_tokens = 0;
    bool cached = false;    // from the response cache: the tokens are those paid when it was asked
    bool batch = false;     // answered through a batch: paid at the batch discount
    int http_requests = 0;  // HTTP requests this took, retries and fan-out included
    std::optional<Error> error;
};

// One endpoint's figures, for /metrics. Written by the client's thread, read from any.
struct VllmEndpointStats {
    std::string endpoint;  // endpoint_label(base_url)
    int max_concurrency = 0;
    std::atomic<std::int64_t> requests{0};  // HTTP requests sent to it, retries included
    std::atomic<std::int64_t> failures{0};  // of those: network errors, timeouts, 429 and 5xx
    std::atomic<std::int64_t> in_flight{0};
    std::atomic<std::int64_t> out_until_ms{0};  // steady_clock ms; until then it rests after failing

    // Resting: no new request goes to it.
    [[nodiscard]] bool out() const noexcept;
};

struct VllmStats {
    std::atomic<std::int64_t> http_requests{0};
    std::atomic<std::int64_t> retries{0};
    std::atomic<std::int64_t> cache_hits{0};
    std::atomic<std::int64_t> failures{0};
    std::atomic<std::int64_t> prompt_tokens{0};  // reported by the model: what was paid for
    std::atomic<std::int64_t> cached_prompt_tokens{0};
    std::atomic<std::int64_t> completion_tokens{0};
    std::atomic<std::int64_t> in_flight{0};
    std::atomic<std::int64_t> queued{0};
    std::atomic<std::int64_t> batches{0};      // batches submitted to the provider (or resumed)
    std::atomic<std::int64_t> batch_files{0};  // request files written (file mode)
    std::atomic<std::int64_t> batch_lines_failed{0};
    std::vector<std::unique_ptr<VllmEndpointStats>> endpoints;  // one per endpoint, fixed by the constructor
};

// The most tokens one usage field may claim; a larger, negative or fractional count is ignored.
inline constexpr std::int64_t kMaxUsageTokens = 1'000'000'000;

// What one answer's usage object says was used; absent or wrongly typed counts read as 0, cached
// prompt tokens as at most the prompt tokens. Cached tokens as OpenAI-compatible servers send
// them: usage.prompt_tokens_details.cached_tokens (OpenAI, vLLM, xAI, Azure), else
// usage.prompt_cache_hit_tokens (DeepSeek), else a bare usage.cached_tokens.
TokenCounts read_usage(const nlohmann::json& usage);

// Not the endpoint: every server of a fleet serves the same model, so they share answers.
std::string cache_key(const VllmSettings& settings, const ChatRequest& request);

class VllmClient {
  public:
    using Callback = std::function<void(ChatResult)>;

    // `cache` and `ledger` may be null; they must outlive the client. Starts the client's I/O
    // thread. In batch mode, the batches the ledger holds open are polled again at once and
    // their answers put in the cache; file mode with read_outputs reads the output files first.
    VllmClient(VllmSettings settings, ResponseCache* cache, BatchLedger* ledger = nullptr);
    ~VllmClient();  // cancels what is pending (callbacks get errc::cancelled) and joins
    VllmClient(const VllmClient&) = delete;
    VllmClient& operator=(const VllmClient&) = delete;

    // Thread-safe. `done` runs exactly once, on the client's thread; keep it short.
    void submit(ChatRequest request, Callback done);
    // Stop sending: pending and in-flight requests complete with errc::cancelled.
    void cancel_all();

    [[nodiscard]] const VllmStats& stats() const noexcept;
    [[nodiscard]] const VllmSettings& settings() const noexcept;
    // File mode: the request file written last (the run stops after writing one); "" before.
    [[nodiscard]] std::string batch_file_written() const;
    // File mode: answers read from output files at start.
    [[nodiscard]] std::size_t batch_answers_read() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace seke
