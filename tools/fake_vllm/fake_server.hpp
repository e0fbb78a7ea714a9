#pragma once
// FakeVllmServer: a real OpenAI-compatible HTTP server (Boost.Beast, async, keep-alive) that
// answers chat completions with the simulated model of fake_model.hpp, plus faults on demand.
//   POST /v1/chat/completions (and /chat/completions)   GET /v1/models   GET /health
//   the Batch API: /v1/files, /v1/batches (fake_batch.hpp), answered by the same chat logic
// Latency and hangs are timers, never sleeping threads: with 2 threads, any number of slow
// requests are in flight at once.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/fake_vllm/profile.hpp"
#include "tools/fake_vllm/truth.hpp"

namespace seke::fake {

struct FakeOptions {
    std::string host = "127.0.0.1";
    unsigned short port = 0;  // 0: ephemeral, start() returns the one bound
    int threads = 2;
    std::string truth_path;  // truth.jsonl; empty: every image is unknown (confused model)
    std::uint64_t seed = 1;
    const ModelProfile* profile = &default_profile();  // how the simulated model behaves (profile.hpp)
    int latency_ms = 0, latency_jitter_ms = 0;         // added to every chat answer
    // Per-request fault rates in [0, 1]. 429/500/hang are per request; the content faults
    // (malformed, truncated, refusal, wrong types, labels outside the vocabulary) are drawn per choice.
    double fault_429 = 0, fault_500 = 0, fault_hang = 0, fault_malformed = 0, fault_truncated = 0, fault_refusal = 0,
           fault_wrong_types = 0, fault_out_of_vocabulary = 0;
    int retry_after_s = 1;            // Retry-After of the 429s
    int hang_ms = 30000;              // a hang holds the connection this long, then closes it unanswered
    bool ignore_n = false;            // one choice whatever n (providers without n)
    bool reject_json_schema = false;  // 400 on response_format json_schema (providers without it)
    bool strict_codes = false;        // 400 on an unreadable image code instead of junk labels
    bool record_answers = false;      // keep every clean answer per item in stats().answered (tests)
    // A simulated provider prefix cache: a request whose opening system messages were seen
    // before reports them, in whole 128-token blocks, as usage.prompt_tokens_details.cached_tokens.
    bool prefix_cache = true;
    std::size_t body_limit = 256u << 20;  // a batch input file is uploaded in one body
    // The Batch API: a batch is answered this long after it was made; this share of its lines fail.
    int batch_delay_ms = 0;
    double batch_fail = 0;
};

struct FakeStats {
    std::uint64_t total_requests = 0;              // every HTTP request read
    std::map<int, std::uint64_t> by_status;        // status → count; hangs are counted under 0
    std::map<std::string, std::uint64_t> by_kind;  // sample / verify / describe (chat requests)
    std::map<std::string, std::uint64_t> faults;   // "429", "500", "hang", "malformed", ...
    std::uint64_t choices = 0;                     // choices served
    std::uint64_t prompt_tokens = 0;               // reported in usage, over every answer
    std::uint64_t cached_prompt_tokens = 0;        // of those, reported as cached
    std::uint64_t completion_tokens = 0;
    std::uint64_t unreadable_codes = 0;                      // chat requests whose image code was not read
    std::map<std::string, std::uint64_t> per_item;           // item id → chat requests
    std::map<std::string, std::uint64_t> few_shot_per_item;  // item id → chat requests with few-shot turns
    // With record_answers, item id → the answer object of every choice served without a content
    // fault: all a client may have taken from the model for that image.
    std::map<std::string, std::vector<nlohmann::json>> answered;
    std::uint64_t batches = 0;             // batches made
    std::uint64_t batch_lines = 0;         // batch lines answered 200
    std::uint64_t batch_failed_lines = 0;  // batch lines failed (error file or non-200)
};

// A transport-free answer: what the session writes (or, when hang, withholds).
struct FakeReply {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    int delay_ms = 0;
    bool hang = false;
};

class FakeVllmServer {
  public:
    // Loads options.truth_path when set; throws std::runtime_error on a bad truth file.
    explicit FakeVllmServer(const FakeOptions& options);
    FakeVllmServer(FakeOptions options, TruthTable truth);
    ~FakeVllmServer();
    FakeVllmServer(const FakeVllmServer&) = delete;
    FakeVllmServer& operator=(const FakeVllmServer&) = delete;

    // Binds, listens and starts the threads; returns the bound port. Throws on bind failure.
    unsigned short start();
    // Stops the threads and drops every connection (hanging ones included). Idempotent.
    void stop();

    [[nodiscard]] unsigned short port() const noexcept;
    [[nodiscard]] std::string base_url() const;  // http://host:port/v1
    [[nodiscard]] FakeStats stats() const;
    void reset_stats();
    [[nodiscard]] const TruthTable& truth() const noexcept;

    // The whole request → reply logic, used by the sessions; public so tests can skip sockets.
    // Never throws: bad input gives a 4xx, a bug a 500.
    FakeReply handle(std::string_view method, std::string_view target, const std::string& body,
                     std::string_view content_type = {});

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace seke::fake
