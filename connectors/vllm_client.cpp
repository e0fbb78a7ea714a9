#include "connectors/vllm_client.hpp"

#include "connectors/claim_renewer.hpp"
#include "connectors/curl_easy.hpp"
#include "verify/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cinttypes>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <set>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "connectors/crypto.hpp"

namespace seke {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr std::size_t kMaxErrorText = 400;  // provider error text kept in our messages

// Structured output support, from best to none. Providers that reject one level get the next.
enum class Format { json_schema = 0, json_object = 1, none = 2 };

const char* format_label(Format format) {
    switch (format) {
        case Format::json_schema: return "json_schema";
        case Format::json_object: return "json_object";
        case Format::none: return "none";
    }
    return "none";
}

std::string bounded(std::string text) {
    if (text.size() > kMaxErrorText) {
        text.resize(kMaxErrorText);
        text += "...";
    }
    return text;
}

// The provider's error message from an OpenAI-style error body, else the raw body (bounded).
std::string provider_message(const std::string& body) {
    auto parsed = json_depth_within(body) ? json::parse(body, nullptr, false) : json(json::value_t::discarded);
    if (!parsed.is_discarded() && parsed.is_object()) {
        auto it = parsed.find("error");
        if (it != parsed.end()) {
            if (it->is_object() && it->contains("message") && (*it)["message"].is_string())
                return bounded((*it)["message"].get<std::string>());
            if (it->is_string()) return bounded(it->get<std::string>());
        }
        if (parsed.contains("message") && parsed["message"].is_string())
            return bounded(parsed["message"].get<std::string>());
    }
    return bounded(trim(body));
}

// Retry-After (seconds or an HTTP date) or retry-after-ms, in milliseconds.
std::optional<std::int64_t> parse_retry_after(const CurlResponse& response) {
    if (auto ms_text = response.header("retry-after-ms")) {
        try {
            double ms = std::stod(*ms_text);
            if (ms >= 0) return static_cast<std::int64_t>(ms);
        } catch (...) {
        }
    }
    auto header = response.header("retry-after");
    if (!header || header->empty()) return std::nullopt;
    const std::string& value = *header;
    if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        if (value.size() > 9) return std::int64_t{1'000'000'000};  // absurd: the cap applies
        return std::stoll(value) * 1000;
    }
    std::time_t when = curl_getdate(value.c_str(), nullptr);
    if (when < 0) return std::nullopt;
    auto delta = static_cast<std::int64_t>(std::difftime(when, std::time(nullptr)) * 1000.0);
    return std::max<std::int64_t>(0, delta);
}

// A token count: a whole number in [0, kMaxUsageTokens]; anything else is not one.
std::optional<std::int64_t> usage_count(const json& object, const char* key) {
    auto it = object.find(key);
    if (it == object.end()) return std::nullopt;
    if (it->is_number_unsigned()) {
        auto value = it->get<std::uint64_t>();
        if (value <= static_cast<std::uint64_t>(kMaxUsageTokens)) return static_cast<std::int64_t>(value);
    } else if (it->is_number_integer()) {
        auto value = it->get<std::int64_t>();
        if (value >= 0 && value <= kMaxUsageTokens) return value;
    } else if (it->is_number_float()) {
        double value = it->get<double>();
        if (value >= 0 && value <= static_cast<double>(kMaxUsageTokens) && value == std::floor(value))
            return static_cast<std::int64_t>(value);
    }
    return std::nullopt;
}

std::int64_t usage_value(const json& usage, const char* key) {
    return usage_count(usage, key).value_or(0);
}

}  // namespace

TokenCounts read_usage(const json& usage) {
    TokenCounts tokens;
    if (!usage.is_object()) return tokens;
    tokens.prompt = usage_value(usage, "prompt_tokens");
    tokens.completion = usage_value(usage, "completion_tokens");
    std::optional<std::int64_t> cached;
    if (auto details = usage.find("prompt_tokens_details"); details != usage.end() && details->is_object())
        cached = usage_count(*details, "cached_tokens");
    if (!cached) cached = usage_count(usage, "prompt_cache_hit_tokens");
    if (!cached) cached = usage_count(usage, "cached_tokens");
    tokens.cached_prompt = std::min(cached.value_or(0), tokens.prompt);
    return tokens;
}

namespace {

// Choices read from a batch line: as many as any request asks (its n is k_max at most).
constexpr std::size_t kMaxBatchChoices = 64;

struct Job {  // NOLINT(bugprone-exception-escape): its implicit constructor only allocates
    ChatRequest request;
    VllmClient::Callback done;
    std::string key;                        // cache key; empty without a cache
    std::string image_uri;                  // data:image/jpeg;base64,...
    std::vector<std::string> example_uris;  // one per request.examples (bounded in admit())
    json schema;                            // parsed prompt.response_schema (null if none)
    std::vector<std::string> contents;
    std::int64_t prompt_tokens = 0;
    std::int64_t cached_prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    int http_requests = 0;
    int outstanding = 0;         // transfers not yet finished
    int remainder_budget = 0;    // extra requests allowed when a provider returns too few choices
    std::optional<Error> error;  // first permanent failure
    bool finished = false;
    bool claimed = false;    // holds the shared cache's claim on `key`
    bool batch = false;      // answered through a batch
    int batch_attempts = 0;  // batches its line failed in
};

// Batch mode. One request line of the round being gathered (loop thread only).
struct BatchLine {
    std::string key;  // the cache key: the line's custom_id
    std::string text;
    std::vector<std::shared_ptr<Job>> waiters;  // the jobs this answer goes to
};

// A batch handed to the batch thread: to upload and create (no batch_id yet), or to poll.
struct BatchSubmission {
    std::uint64_t local_id = 0;
    std::string batch_id;
    std::string jsonl;
    std::vector<std::string> keys;
};

// What the batch thread brings back to the loop.
struct BatchOutcome {
    std::uint64_t local_id = 0;
    std::string batch_id;
    std::string status;
    std::unordered_map<std::string, BatchLineResult> lines;
    std::optional<Error> error;  // the whole batch failed
};

// One server of the fleet. Loop thread only, but for `stats`.
struct Endpoint {
    std::string url;            // .../chat/completions
    std::string label;          // endpoint_label: what messages show
    std::string authorization;  // the header line, empty without a key
    int limit = 1;
    int active = 0;           // transfers on the wire to it
    int failures_in_row = 0;  // while > 0 it takes one request at a time (a probe) once rested
    Clock::time_point out_until{};
    Clock::time_point failed_at{};  // of the last failure: answers to requests sent before it are old news
    VllmEndpointStats* stats = nullptr;
};

struct Transfer {
    std::shared_ptr<Job> job;
    int n = 1;
    int attempt = 0;               // retries used
    Endpoint* endpoint = nullptr;  // while on the wire
    Endpoint* avoid = nullptr;     // where the last attempt failed: the retry goes elsewhere if it can
    Clock::time_point started_at{};
    Format format = Format::json_schema;
    bool format_probe = false;  // format lowered for this transfer only, on an unexplained 400
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::string body;
    CurlResponse response;
};

}  // namespace

std::size_t examples_within_bounds(const std::vector<ChatExample>& examples) {
    std::size_t kept = 0;
    std::size_t image_bytes = 0;
    for (const auto& example : examples) {
        if (kept >= kMaxFewShotExamples) break;
        if (example.image_jpeg.size() > kMaxFewShotImageBytes - image_bytes) break;
        image_bytes += example.image_jpeg.size();
        ++kept;
    }
    return kept;
}

bool VllmEndpointStats::out() const noexcept {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
    return out_until_ms.load() > now;
}

std::string cache_key(const VllmSettings& settings, const ChatRequest& request) {
    // Length-prefixed fields: no two different tuples can produce the same canonical string.
    // v2: without the endpoint, which v1 keyed.
    std::string canonical = "seke-vllm-cache-v2\n";
    auto field = [&](std::string_view name, std::string_view value) {
        canonical += name;
        canonical += ' ';
        canonical += std::to_string(value.size());
        canonical += ':';
        canonical += value;
        canonical += '\n';
    };
    char temperature[64];
    std::snprintf(temperature, sizeof temperature, "%.6f", request.temperature);
    field("model", settings.model);
    field("image_hash", request.image_hash);
    field("system", request.prompt.system);
    field("user", request.prompt.user);
    field("schema_name", request.prompt.schema_name);
    field("response_schema", request.prompt.response_schema);
    field("temperature", temperature);
    field("n", std::to_string(request.n));
    field("ordinal", std::to_string(request.ordinal));
    // Only when there are examples: keys of requests without any stay what they always were.
    // The image bytes are keyed by their hash, the turns by their full text.
    const std::size_t examples = examples_within_bounds(request.examples);
    if (examples > 0) {
        field("examples", std::to_string(examples));
        for (std::size_t i = 0; i < examples; ++i) {
            const auto& example = request.examples[i];
            field("example_image_hash", example.image_hash);
            field("example_user", example.user);
            field("example_assistant", example.assistant);
        }
    }
    return sha256_hex(canonical);
}

struct VllmClient::Impl {
    VllmSettings settings;
    ResponseCache* cache = nullptr;
    VllmStats stats;

    // Shared with submitting threads.
    std::mutex mutex;
    std::deque<std::shared_ptr<Job>> submissions;
    std::vector<std::shared_ptr<Job>> cancelled_submissions;
    bool cancel_requested = false;
    bool stopping = false;
    bool stopped = false;

    // Loop thread only.
    CURLM* multi = nullptr;
    std::thread thread;
    std::deque<Transfer*> ready;                         // waiting for a concurrency slot, FIFO
    std::multimap<Clock::time_point, Transfer*> timers;  // backoff waits
    // Requests another process is sending now: looked up in the cache again when due.
    std::multimap<Clock::time_point, std::shared_ptr<Job>> awaiting_peers;
    // The shared cache's claims on the requests in flight, renewed while they are (null without a cache).
    std::unique_ptr<ClaimRenewer> claims;
    std::unordered_map<CURL*, Transfer*> active;
    std::vector<Endpoint> endpoints;  // never empty
    std::size_t next_endpoint = 0;    // round-robin start among equally free endpoints
    Format sticky_format = Format::json_schema;
    bool fan_out = false;                  // provider ignores `n`: ask n separate requests
    bool logged_dropped_examples = false;  // said once: an over-long example set is a caller's bug
    std::mt19937_64 rng{std::random_device{}()};

    // Batch mode. The round being gathered and the batches out (loop thread only).
    BatchLedger* ledger = nullptr;
    std::vector<BatchLine> round;
    std::unordered_map<std::string, std::size_t> round_index;  // key → its line in `round`
    std::size_t round_bytes = 0;
    Clock::time_point round_last_added{};
    std::uint64_t next_batch_id = 1;
    // Local batch id → key → the jobs waiting for that line (keys nobody waits for included).
    std::unordered_map<std::uint64_t, std::unordered_map<std::string, std::vector<std::shared_ptr<Job>>>> batches_out;
    std::unordered_map<std::string, std::uint64_t> key_in_batch;  // key → the local batch that asks it
    bool files_round_written = false;                             // file mode: the run stops asking
    // Shared with the batch thread, under `mutex`.
    std::deque<BatchSubmission> batch_submissions;
    std::deque<BatchOutcome> batch_outcomes;
    std::string written_file;
    std::size_t answers_read = 0;
    std::condition_variable batch_wake;
    std::atomic<bool> batch_stop{false};
    std::thread batch_thread;

    void log(const std::string& line) {
        if (settings.log) {
            try {
                settings.log(line);
            } catch (...) {
            }
        } else {
            std::cerr << "seke: vllm: " << line << '\n';
        }
    }

    void update_gauges() {
        stats.in_flight.store(static_cast<std::int64_t>(active.size()));
        stats.queued.store(static_cast<std::int64_t>(ready.size() + timers.size()));
    }

    static void deliver(const std::shared_ptr<Job>& job, ChatResult result) {
        if (!job->done) return;
        auto done = std::move(job->done);
        job->done = nullptr;
        try {
            done(std::move(result));
        } catch (...) {
            // A callback that throws must not take the I/O thread down.
        }
    }

    void release_claim(const std::shared_ptr<Job>& job) {
        if (!job->claimed) return;
        job->claimed = false;
        claims->drop(job->key);  // before the release: no renewal makes the claim again after it
        try {
            cache->release(job->key);
        } catch (const std::exception& e) {
            log(std::string("cache claim release failed: ") + e.what());  // it runs out by itself
        }
    }

    void finish(const std::shared_ptr<Job>& job) {
        if (job->finished) return;
        job->finished = true;
        update_gauges();  // a callback reading the stats sees its own request done
        ChatResult result;
        int n = std::max(1, job->request.n);
        if (static_cast<int>(job->contents.size()) > n) job->contents.resize(static_cast<std::size_t>(n));
        result.contents = std::move(job->contents);
        result.prompt_tokens = job->prompt_tokens;
        result.cached_prompt_tokens = job->cached_prompt_tokens;
        result.completion_tokens = job->completion_tokens;
        result.http_requests = job->http_requests;
        if (!job->error && result.contents.empty())
            job->error = make_error(errc::upstream_error, "the provider returned no choices");
        result.error = job->error;
        if (result.error) {
            stats.failures.fetch_add(1);
        } else if (static_cast<int>(result.contents.size()) == n) {
            cache_answer(job->key, result.contents,
                         {result.prompt_tokens, result.cached_prompt_tokens, result.completion_tokens});
        }
        result.batch = job->batch;
        release_claim(job);  // after the put: a process waiting on it finds the answer
        deliver(job, std::move(result));
    }

    void cache_answer(const std::string& key, const std::vector<std::string>& contents, const TokenCounts& tokens) {
        if (!cache || key.empty()) return;
        json value = {{"contents", contents},
                      {"prompt_tokens", tokens.prompt},
                      {"cached_prompt_tokens", tokens.cached_prompt},
                      {"completion_tokens", tokens.completion}};
        try {
            cache->put(key, value.dump());
        } catch (const std::exception& e) {
            log(std::string("cache write failed: ") + e.what());
        }
    }

    void cancel_job(const std::shared_ptr<Job>& job) {
        if (job->finished) return;
        job->finished = true;
        release_claim(job);
        update_gauges();
        ChatResult result;
        result.contents = std::move(job->contents);
        result.prompt_tokens = job->prompt_tokens;
        result.cached_prompt_tokens = job->cached_prompt_tokens;
        result.completion_tokens = job->completion_tokens;
        result.http_requests = job->http_requests;
        result.error = make_error(errc::cancelled, "request cancelled");
        deliver(job, std::move(result));
    }

    void release(Transfer* t) {
        if (Endpoint* e = t->endpoint) {
            --e->active;
            e->stats->in_flight.store(e->active);
            t->endpoint = nullptr;
        }
        if (t->easy) {
            curl_multi_remove_handle(multi, t->easy);
            curl_easy_cleanup(t->easy);
            t->easy = nullptr;
        }
        if (t->headers) {
            curl_slist_free_all(t->headers);
            t->headers = nullptr;
        }
    }

    // Ends one transfer; the job finishes when its last transfer has.
    void transfer_done(Transfer* t) {
        auto job = t->job;
        release(t);
        delete t;
        if (--job->outstanding == 0) finish(job);
    }

    void enqueue(const std::shared_ptr<Job>& job, int n) {
        auto* t = new Transfer;
        t->job = job;
        t->n = n;
        t->format = sticky_format;
        ++job->outstanding;
        ready.push_back(t);
    }

    // A job fresh from submit(): cache, then one request with n, or n requests with n=1.
    void admit(const std::shared_ptr<Job>& job) {
        auto& request = job->request;
        request.n = std::max(1, request.n);
        // The bounds hold here, before the cache key, so what is keyed is what is sent.
        const std::size_t examples = examples_within_bounds(request.examples);
        if (examples < request.examples.size()) {
            if (!logged_dropped_examples) {
                logged_dropped_examples = true;
                log("a request had " + std::to_string(request.examples.size()) +
                    " few-shot examples; sending the first " + std::to_string(examples) + " (at most " +
                    std::to_string(kMaxFewShotExamples) + " and " + std::to_string(kMaxFewShotImageBytes) +
                    " image bytes per request)");
            }
            request.examples.resize(examples);
        }
        const bool batching = settings.batch.mode != BatchMode::off;
        if (batching && !cache) job->key = cache_key(settings, request);  // the line's custom_id
        if (cache) {
            job->key = cache_key(settings, request);
            std::optional<std::string> hit;
            try {
                hit = cache->get(job->key);
            } catch (const std::exception& e) {
                log(std::string("cache read failed: ") + e.what());
            }
            if (hit) {
                auto value = json::parse(*hit, nullptr, false);
                if (!value.is_discarded() && value.is_object() && value.contains("contents") &&
                    value["contents"].is_array()) {
                    ChatResult result;
                    result.cached = true;
                    for (const auto& c : value["contents"])
                        result.contents.push_back(c.is_string() ? c.get<std::string>() : std::string());
                    result.prompt_tokens = usage_value(value, "prompt_tokens");
                    result.cached_prompt_tokens =
                        std::min(usage_value(value, "cached_prompt_tokens"), result.prompt_tokens);
                    result.completion_tokens = usage_value(value, "completion_tokens");
                    stats.cache_hits.fetch_add(1);
                    job->finished = true;
                    deliver(job, std::move(result));
                    return;
                }
                log("ignoring an unreadable cache entry");
            }
            bool mine = true;
            try {
                mine = cache->claim(job->key);
            } catch (const std::exception& e) {
                log(std::string("cache claim failed: ") + e.what());  // sent: paying twice loses nothing
            }
            if (!mine) {
                awaiting_peers.emplace(Clock::now() + kClaimRecheck, job);
                return;
            }
            job->claimed = true;
            claims->hold(job->key);
        }
        if (!request.prompt.response_schema.empty()) {
            job->schema = json::parse(request.prompt.response_schema, nullptr, false);
            if (job->schema.is_discarded() || !job->schema.is_object()) {
                job->error = make_error(errc::invalid_argument, "prompt.response_schema is not a JSON object");
                finish(job);
                return;
            }
        }
        if (!settings.use_json_schema && sticky_format == Format::json_schema) sticky_format = Format::json_object;
        job->image_uri = "data:image/jpeg;base64," + base64_encode(request.image_jpeg);
        for (const auto& example : request.examples)
            job->example_uris.push_back("data:image/jpeg;base64," + base64_encode(example.image_jpeg));
        job->remainder_budget = std::max(0, settings.max_retries);
        if (batching) {
            add_to_round(job);
            return;
        }
        if (request.n > 1 && (fan_out || !settings.use_n)) {
            for (int i = 0; i < request.n; ++i) enqueue(job, 1);
        } else {
            enqueue(job, request.n);
        }
    }

    std::string build_body(const Transfer& t) const { return build_body(*t.job, t.n, t.format); }

    // The one request body, online and in a batch line alike.
    std::string build_body(const Job& job, int n, Format format) const {
        const auto& request = job.request;
        auto user_turn = [](const std::string& text, const std::string& image_uri) {
            json content = json::array();
            content.push_back({{"type", "text"}, {"text", text}});
            content.push_back({{"type", "image_url"}, {"image_url", {{"url", image_uri}}}});
            return json{{"role", "user"}, {"content", std::move(content)}};
        };
        // system, then each example as a question and its answer, then the real question.
        json messages = json::array({{{"role", "system"}, {"content", request.prompt.system}}});
        for (std::size_t i = 0; i < request.examples.size(); ++i) {
            messages.push_back(user_turn(request.examples[i].user, job.example_uris[i]));
            messages.push_back({{"role", "assistant"}, {"content", request.examples[i].assistant}});
        }
        messages.push_back(user_turn(request.prompt.user, job.image_uri));
        json body = {{"model", settings.model},
                     {"messages", std::move(messages)},
                     {"temperature", request.temperature},
                     {"max_tokens", settings.max_tokens}};
        if (n > 1) body["n"] = n;
        if (format == Format::json_schema) {
            body["response_format"] = {
                {"type", "json_schema"},
                {"json_schema",
                 {{"name", request.prompt.schema_name.empty() ? "answer" : request.prompt.schema_name},
                  {"strict", true},
                  {"schema", job.schema}}}};
        } else if (format == Format::json_object) {
            body["response_format"] = {{"type", "json_object"}};
        }
        return body.dump(-1, ' ', false, json::error_handler_t::replace);
    }

    bool start(Transfer* t, Endpoint& e) {
        t->format = std::max(t->format, sticky_format);
        if (t->job->schema.is_null() && t->format == Format::json_schema) t->format = Format::json_object;
        t->response.reset(settings.max_response_bytes);
        t->body = build_body(*t);
        t->easy = curl_easy_init();
        if (!t->easy) return false;
        CURL* h = t->easy;
        t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
        t->headers = curl_slist_append(t->headers, "Accept: application/json");
        t->headers = curl_slist_append(t->headers, "Expect:");  // no 100-continue round trip
        if (!e.authorization.empty()) t->headers = curl_slist_append(t->headers, e.authorization.c_str());
        TransferOptions options;
        options.timeout_ms = settings.timeout_ms;
        options.connect_timeout_ms = settings.connect_timeout_ms;
        set_transfer_options(h, e.url, t->response, options);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(h, CURLOPT_PRIVATE, t);
        if (curl_multi_add_handle(multi, h) != CURLM_OK) return false;
        active.emplace(h, t);
        t->endpoint = &e;
        t->started_at = Clock::now();
        ++e.active;
        e.stats->in_flight.store(e.active);
        e.stats->requests.fetch_add(1);
        ++t->job->http_requests;
        stats.http_requests.fetch_add(1);
        return true;
    }

    static std::int64_t steady_ms(Clock::time_point when) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
    }

    // How many requests `e` takes at once: after failing, one (a probe) while another endpoint is
    // healthy. With none healthy it takes its share, so that a fleet that stays down fails its
    // requests after max_retries instead of holding them one by one.
    static int capacity(const Endpoint& e, bool fleet_healthy) {
        return e.failures_in_row > 0 && fleet_healthy ? 1 : e.limit;
    }

    // Requests `e` takes now: none while it rests.
    static int free_slots(const Endpoint& e, Clock::time_point now, bool fleet_healthy) {
        if (now < e.out_until) return 0;
        return std::max(0, capacity(e, fleet_healthy) - e.active);
    }

    [[nodiscard]] bool fleet_healthy() const {
        return std::any_of(endpoints.begin(), endpoints.end(),
                           [](const Endpoint& e) { return e.failures_in_row == 0; });
    }

    // The endpoint with the largest share of its capacity free (round robin among equals: a probe
    // ties with an idle endpoint), other than the one the transfer's last attempt failed on if
    // another has room; null when none has.
    Endpoint* pick(const Transfer& t, Clock::time_point now) {
        const bool healthy = fleet_healthy();
        Endpoint* best = nullptr;
        int best_free = 0;
        int best_capacity = 1;
        std::size_t best_index = 0;
        for (std::size_t i = 0; i < endpoints.size(); ++i) {
            const std::size_t index = (next_endpoint + i) % endpoints.size();
            Endpoint& e = endpoints[index];
            const int free = free_slots(e, now, healthy);
            if (free == 0) continue;
            const int cap = capacity(e, healthy);
            if (best) {
                const bool avoided = &e == t.avoid;
                if (avoided != (best == t.avoid) ? avoided : free * best_capacity <= best_free * cap) continue;
            }
            best = &e;
            best_free = free;
            best_capacity = cap;
            best_index = index;
        }
        if (best) next_endpoint = best_index + 1;
        return best;
    }

    // When the endpoint that failed is not the only one: whether another is not resting.
    [[nodiscard]] bool another_endpoint_up(const Endpoint* failed, Clock::time_point now) const {
        return std::any_of(endpoints.begin(), endpoints.end(),
                           [&](const Endpoint& e) { return &e != failed && now >= e.out_until; });
    }

    // When a ready transfer can start: now, when an endpoint rests no more, or never (nullopt:
    // every endpoint is busy, a finishing transfer frees one).
    [[nodiscard]] std::optional<Clock::time_point> next_opening(Clock::time_point now) const {
        const bool healthy = fleet_healthy();
        std::optional<Clock::time_point> opening;
        for (const auto& e : endpoints) {
            if (free_slots(e, now, healthy) > 0) return now;
            if (now < e.out_until && (!opening || e.out_until < *opening)) opening = e.out_until;
        }
        return opening;
    }

    // The endpoint answered a request sent after its last failure: back in full service.
    // Answers to requests sent before it say nothing new.
    void endpoint_answered(const Transfer& t) {
        Endpoint& e = *t.endpoint;
        if (e.failures_in_row == 0 || t.started_at < e.failed_at) return;
        e.failures_in_row = 0;
        e.out_until = {};
        e.stats->out_until_ms.store(0);
        log("model endpoint " + e.label + " answers again");
    }

    // A network error, timeout, 429 or 5xx. With other endpoints to go to, this one rests:
    // backoff_base_ms doubling per failure in a row up to backoff_max_ms, or Retry-After if
    // longer. Failures of requests sent before its last failure are the same trouble.
    void endpoint_failed(Transfer& t, const std::string& why, std::optional<std::int64_t> retry_after_ms) {
        Endpoint& e = *t.endpoint;
        t.avoid = &e;
        e.stats->failures.fetch_add(1);
        if (endpoints.size() < 2 || t.started_at < e.failed_at) return;  // alone: the retry's backoff paces it
        const auto now = Clock::now();
        const std::int64_t cap = std::max(1, settings.backoff_max_ms);
        std::int64_t rest = std::max(1, settings.backoff_base_ms);
        for (int i = 0; i < e.failures_in_row && rest < cap; ++i) rest *= 2;
        rest = std::min(rest, cap);
        if (retry_after_ms) rest = std::max(rest, std::min(*retry_after_ms, cap));
        if (e.failures_in_row++ == 0)
            log("model endpoint " + e.label + " failed (" + why + "); it rests " + std::to_string(rest) +
                " ms and the other endpoints take its requests");
        e.failed_at = now;
        e.out_until = now + std::chrono::milliseconds(rest);
        e.stats->out_until_ms.store(steady_ms(e.out_until));
    }

    void start_ready() {
        auto limit = static_cast<std::size_t>(std::max(1, settings.max_concurrency));
        const auto now = Clock::now();
        while (active.size() < limit && !ready.empty()) {
            Transfer* t = ready.front();
            if (t->job->finished || t->job->error) {  // cancelled or failed meanwhile
                ready.pop_front();
                transfer_done(t);
                continue;
            }
            Endpoint* endpoint = pick(*t, now);
            if (!endpoint) break;  // every endpoint is busy or resting: the line waits in order
            ready.pop_front();
            if (fan_out && t->n > 1) {
                // Queued before the provider was found to ignore `n`: split it now.
                for (int i = 1; i < t->n; ++i) enqueue(t->job, 1);
                t->n = 1;
            }
            if (!start(t, *endpoint)) {
                t->job->error = make_error(errc::internal, "cannot start an HTTP transfer");
                transfer_done(t);
            }
        }
    }

    // Retry-After up to the cap, else full jitter: uniform in [0, min(cap, base * 2^attempt)].
    std::int64_t backoff_delay(int attempt, std::optional<std::int64_t> retry_after_ms) {
        std::int64_t cap = std::max(0, settings.backoff_max_ms);
        if (retry_after_ms) return std::min(*retry_after_ms, cap);
        std::int64_t ceiling = std::max(0, settings.backoff_base_ms);
        for (int i = 0; i < attempt && ceiling < cap; ++i) ceiling *= 2;
        ceiling = std::min(ceiling, cap);
        return ceiling > 0 ? std::uniform_int_distribution<std::int64_t>(0, ceiling)(rng) : 0;
    }

    // Retries after a backoff, or at once when another endpoint is up (the wait is the failed
    // one's); false when the retry budget is spent.
    bool schedule_retry(Transfer* t, std::optional<std::int64_t> retry_after_ms) {
        if (t->attempt >= settings.max_retries) return false;
        std::int64_t delay = 0;
        if (endpoints.size() < 2 || !another_endpoint_up(t->avoid, Clock::now()))
            delay = backoff_delay(t->attempt, retry_after_ms);
        ++t->attempt;
        stats.retries.fetch_add(1);
        release(t);
        timers.emplace(Clock::now() + std::chrono::milliseconds(delay), t);
        return true;
    }

    void fail(Transfer* t, Error error) {
        if (!t->job->error) t->job->error = std::move(error);
        transfer_done(t);
    }

    void on_success(Transfer* t) {
        auto job = t->job;
        auto parsed = json_depth_within(t->response.body) ? json::parse(t->response.body, nullptr, false)
                                                          : json(json::value_t::discarded);
        if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("choices") ||
            !parsed["choices"].is_array()) {
            // A proxy's HTML page or a cut body: worth another try.
            endpoint_failed(*t, "an answer that is not a chat completion", std::nullopt);
            if (!schedule_retry(t, std::nullopt))
                fail(t, make_error(errc::upstream_error, "the provider's answer is not a chat completion: " +
                                                             bounded(trim(t->response.body))));
            return;
        }
        endpoint_answered(*t);
        Completion completion = read_completion(parsed, t->n).value_or(Completion{});
        job->prompt_tokens += completion.usage.prompt;
        job->cached_prompt_tokens += completion.usage.cached_prompt;
        job->completion_tokens += completion.usage.completion;
        stats.prompt_tokens.fetch_add(completion.usage.prompt);
        stats.cached_prompt_tokens.fetch_add(completion.usage.cached_prompt);
        stats.completion_tokens.fetch_add(completion.usage.completion);
        if (t->format_probe && t->format > sticky_format) {
            sticky_format = t->format;
            log(std::string("provider rejects the requested response_format; using ") + format_label(sticky_format) +
                " from now on");
        }
        const int got = static_cast<int>(completion.contents.size());
        for (auto& content : completion.contents) job->contents.push_back(std::move(content));
        int missing = t->n - got;
        if (missing > 0 && !job->finished && !job->error) {
            if (t->n > 1 && got == 1) {
                // One choice for n > 1: the provider ignores `n`. Fan out for good, not counted
                // against the remainder budget since it is the normal way of asking from now on.
                if (!fan_out) {
                    fan_out = true;
                    log("provider ignores n (returned 1 choice for n=" + std::to_string(t->n) +
                        "); asking for samples with separate requests from now on");
                }
                for (int i = 0; i < missing; ++i) enqueue(job, 1);
            } else if (job->remainder_budget > 0) {
                --job->remainder_budget;
                if (fan_out) {
                    for (int i = 0; i < missing; ++i) enqueue(job, 1);
                } else {
                    enqueue(job, missing);
                }
            }
        }
        transfer_done(t);
    }

    void on_done(Transfer* t, CURLcode code) {
        if (t->job->finished) {
            transfer_done(t);
            return;
        }
        if (t->response.over_cap(code)) {
            fail(t, make_error(errc::upstream_error, "the provider's answer is over " +
                                                         std::to_string(settings.max_response_bytes) + " bytes"));
            return;
        }
        if (code == CURLE_OPERATION_TIMEDOUT) {
            endpoint_failed(*t, "no answer within " + std::to_string(settings.timeout_ms) + " ms", std::nullopt);
            if (!schedule_retry(t, std::nullopt))
                fail(t, make_error(errc::upstream_timeout, "the model did not answer within " +
                                                               std::to_string(settings.timeout_ms) + " ms (" +
                                                               std::to_string(t->attempt + 1) + " attempts)"));
            return;
        }
        if (code != CURLE_OK) {
            endpoint_failed(*t, curl_easy_strerror(code), std::nullopt);
            if (!schedule_retry(t, std::nullopt))
                fail(t, make_error(errc::upstream_error, "cannot reach the model at " + t->endpoint->label + ": " +
                                                             curl_easy_strerror(code) + " (" +
                                                             std::to_string(t->attempt + 1) + " attempts)"));
            return;
        }
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            on_success(t);
            return;
        }
        std::string message = provider_message(t->response.body);
        if (status == 429 || status >= 500) {
            auto retry_after = parse_retry_after(t->response);
            endpoint_failed(*t, "HTTP " + std::to_string(status), retry_after);
            if (!schedule_retry(t, retry_after))
                fail(t,
                     make_error(errc::upstream_error, "the model answered HTTP " + std::to_string(status) + " after " +
                                                          std::to_string(t->attempt + 1) + " attempts: " + message));
            return;
        }
        endpoint_answered(*t);  // it is up; the request is what it refuses
        if (status == 400 && t->format != Format::none) {
            auto next = static_cast<Format>(static_cast<int>(t->format) + 1);
            std::string text = to_lower(t->response.body);
            bool about_format =
                text.find("response_format") != std::string::npos || text.find("json_schema") != std::string::npos ||
                text.find("json_object") != std::string::npos || text.find("schema") != std::string::npos ||
                text.find("structured") != std::string::npos;
            if (about_format) {
                if (next > sticky_format) {
                    sticky_format = next;
                    log(std::string("provider rejected response_format ") + format_label(t->format) + " (" + message +
                        "); using " + format_label(next) + " from now on");
                }
                t->format_probe = false;
            } else {
                t->format_probe = true;  // becomes sticky only if the lower format then works
            }
            t->format = std::max(next, sticky_format);
            release(t);
            ready.push_front(t);  // not a retry: the same request in a form the provider takes
            return;
        }
        fail(t, make_error(errc::upstream_error, "the model answered HTTP " + std::to_string(status) + ": " + message));
    }

    // ---- batch mode: the loop's side ------------------------------------------------------

    // Before the loop starts: file mode reads the outputs; api mode polls the ledger's open
    // batches again, their keys waited for instead of asked twice.
    void start_batching() {
        if (settings.batch.mode == BatchMode::files) {
            if (settings.batch.read_outputs) read_output_files();
            return;
        }
        if (settings.batch.mode != BatchMode::api) return;
        std::vector<OpenBatch> open;
        if (ledger) {
            try {
                open = ledger->open_batches();
            } catch (const std::exception& e) {
                log(std::string("cannot read the open batches: ") + e.what());
            }
        }
        for (auto& batch : open) {
            const std::uint64_t local = next_batch_id++;
            auto& waiting = batches_out[local];
            for (const auto& key : batch.custom_ids) {
                key_in_batch[key] = local;
                waiting[key];
            }
            stats.batches.fetch_add(1);
            batch_submissions.push_back(BatchSubmission{local, batch.batch_id, {}, std::move(batch.custom_ids)});
        }
        if (!open.empty()) log("polling " + std::to_string(open.size()) + " batches an earlier run submitted");
        batch_thread = std::thread([this] { batch_loop(); });
    }

    // A job whose request goes out in a batch: joins the batch already asking its key, or the
    // round being gathered (which is sent first when this line would take it past a limit).
    void add_to_round(const std::shared_ptr<Job>& job) {
        if (files_round_written) {
            job->error = make_error(errc::cancelled, "this round's requests are written to " + written_file_name());
            cancel_job(job);
            return;
        }
        if (auto out = key_in_batch.find(job->key); out != key_in_batch.end()) {
            batches_out[out->second][job->key].push_back(job);
            return;
        }
        if (auto line = round_index.find(job->key); line != round_index.end()) {
            round[line->second].waiters.push_back(job);
            return;
        }
        Format format = std::max(sticky_format, settings.use_json_schema ? Format::json_schema : Format::json_object);
        if (job->schema.is_null() && format == Format::json_schema) format = Format::json_object;
        std::string text = batch_request_line(job->key, build_body(*job, job->request.n, format));
        const std::size_t max_lines = std::max<std::size_t>(1, settings.batch.max_lines);
        if (!round.empty() && (round.size() >= max_lines || text.size() + 1 > settings.batch.max_bytes - round_bytes))
            send_round();
        if (text.size() + 1 > settings.batch.max_bytes) {
            job->error =
                make_error(errc::invalid_argument, "a request of " + std::to_string(text.size()) +
                                                       " bytes is over the batch limit (vllm.batch_max_bytes)");
            finish(job);
            return;
        }
        round_bytes += text.size() + 1;
        round_index.emplace(job->key, round.size());
        round.push_back(BatchLine{job->key, std::move(text), {job}});
        round_last_added = Clock::now();
    }

    [[nodiscard]] std::string written_file_name() {
        std::lock_guard lock(mutex);
        return written_file;
    }

    // The gathered round goes out: to the batch thread (api), or into a request file (files).
    void send_round() {
        if (round.empty()) return;
        std::vector<BatchLine> lines;
        lines.swap(round);
        round_index.clear();
        round_bytes = 0;
        std::string jsonl;
        std::vector<std::string> keys;
        for (const auto& line : lines) {
            jsonl += line.text;
            jsonl += '\n';
            keys.push_back(line.key);
        }
        if (settings.batch.mode == BatchMode::files) {
            auto written = write_request_file(jsonl);
            files_round_written = true;
            for (auto& line : lines)
                for (auto& job : line.waiters) {
                    if (!written) job->error = written.error();
                    cancel_job(job);
                }
            return;
        }
        const std::uint64_t local = next_batch_id++;
        auto& waiting = batches_out[local];
        for (auto& line : lines) {
            key_in_batch[line.key] = local;
            waiting[line.key] = std::move(line.waiters);
        }
        stats.batches.fetch_add(1);
        {
            std::lock_guard lock(mutex);
            batch_submissions.push_back(BatchSubmission{local, {}, std::move(jsonl), std::move(keys)});
        }
        batch_wake.notify_one();
    }

    // round-NNNN.requests.jsonl, numbered after the rounds already in the directory; written
    // whole or not at all.
    Result<std::string> write_request_file(const std::string& jsonl) {
        namespace fs = std::filesystem;
        const fs::path dir = settings.batch.dir;
        std::error_code ec;
        fs::create_directories(dir, ec);
        int number = 1;
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            const std::string name = entry.path().filename().string();
            if (name.rfind("round-", 0) == 0 && name.size() > 10) {
                try {
                    number = std::max(number, std::stoi(name.substr(6, 4)) + 1);
                } catch (...) {
                }
            }
        }
        char name[64];
        std::snprintf(name, sizeof name, "round-%04d.requests.jsonl", number);
        const fs::path path = dir / name;
        const fs::path partial = dir / (std::string(name) + ".partial");
        {
            std::ofstream out(partial, std::ios::binary | std::ios::trunc);
            out.write(jsonl.data(), static_cast<std::streamsize>(jsonl.size()));
            if (!out.flush())
                return make_error(errc::internal, "cannot write the batch requests to " + partial.string());
        }
        fs::rename(partial, path, ec);
        if (ec) return make_error(errc::internal, "cannot write " + path.string() + ": " + ec.message());
        stats.batch_files.fetch_add(1);
        std::lock_guard lock(mutex);
        written_file = path.string();
        return written_file;
    }

    // What a finished batch answered goes to the jobs waiting for it and into the cache; lines
    // that failed go into the next round, at most max_retries times each.
    void on_batch_outcome(BatchOutcome& outcome) {
        auto found = batches_out.find(outcome.local_id);
        if (found == batches_out.end()) return;
        auto waiting = std::move(found->second);
        batches_out.erase(found);
        for (auto& [key, jobs] : waiting) {
            if (auto it = key_in_batch.find(key); it != key_in_batch.end() && it->second == outcome.local_id)
                key_in_batch.erase(it);
            auto line = outcome.lines.find(key);
            if (line != outcome.lines.end() && line->second.answer) {
                Completion& answer = *line->second.answer;
                stats.http_requests.fetch_add(1);
                stats.prompt_tokens.fetch_add(answer.usage.prompt);
                stats.cached_prompt_tokens.fetch_add(answer.usage.cached_prompt);
                stats.completion_tokens.fetch_add(answer.usage.completion);
                deliver_batch_answer(key, answer, jobs);
                continue;
            }
            stats.batch_lines_failed.fetch_add(1);
            const std::string why =
                outcome.error ? outcome.error->message
                : line != outcome.lines.end()
                    ? line->second.error
                    : "the batch " + outcome.batch_id + " (" + outcome.status + ") did not answer this request";
            for (auto& job : jobs) {
                if (job->finished) continue;
                if (job->batch_attempts++ < settings.max_retries) {
                    stats.retries.fetch_add(1);
                    add_to_round(job);
                } else {
                    job->error = make_error(errc::upstream_error,
                                            why + " (" + std::to_string(job->batch_attempts) + " batches)");
                    finish(job);
                }
            }
        }
        if (ledger && !outcome.batch_id.empty()) {
            try {
                ledger->close(outcome.batch_id, outcome.status.empty() ? "failed" : outcome.status);
            } catch (const std::exception& e) {
                log(std::string("cannot mark a batch read: ") + e.what());
            }
        }
    }

    // The first job waiting pays for the answer; the others (the same request, asked twice) get
    // it as the cache would give it. None waiting (a batch of a stopped run): into the cache.
    void deliver_batch_answer(const std::string& key, const Completion& answer,
                              std::vector<std::shared_ptr<Job>>& jobs) {
        bool paid = false;
        for (auto& job : jobs) {
            if (job->finished) continue;
            if (!paid) {
                paid = true;
                job->contents = answer.contents;
                job->prompt_tokens = answer.usage.prompt;
                job->cached_prompt_tokens = answer.usage.cached_prompt;
                job->completion_tokens = answer.usage.completion;
                job->http_requests = 1;
                job->batch = true;
                finish(job);
                continue;
            }
            job->finished = true;
            release_claim(job);
            ChatResult result;
            result.cached = true;
            result.batch = true;
            result.contents = answer.contents;
            result.contents.resize(
                std::min(result.contents.size(), static_cast<std::size_t>(std::max(1, job->request.n))));
            result.prompt_tokens = answer.usage.prompt;
            result.cached_prompt_tokens = answer.usage.cached_prompt;
            result.completion_tokens = answer.usage.completion;
            deliver(job, std::move(result));
        }
        if (!paid) cache_answer(key, answer.contents, answer.usage);
    }

    // File mode, at start: each round-NNNN.output.jsonl in the directory, its answers to the
    // requests of round-NNNN.requests.jsonl put in the cache (other custom_ids are ignored).
    void read_output_files() {
        namespace fs = std::filesystem;
        std::error_code ec;
        std::vector<fs::path> outputs;
        for (const auto& entry : fs::directory_iterator(settings.batch.dir, ec)) {
            const std::string name = entry.path().filename().string();
            constexpr std::string_view suffix = ".output.jsonl";
            if (name.rfind("round-", 0) == 0 && name.size() > suffix.size() &&
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
                outputs.push_back(entry.path());
            if (outputs.size() >= 10'000) break;
        }
        if (ec) log("cannot read the batch directory " + settings.batch.dir + ": " + ec.message());
        std::sort(outputs.begin(), outputs.end());
        std::size_t read = 0, failed = 0;
        for (const auto& output : outputs) {
            const std::string name = output.filename().string();
            const fs::path requests = output.parent_path() / (name.substr(0, name.find('.')) + ".requests.jsonl");
            std::set<std::string> asked;
            {
                std::ifstream in(requests, std::ios::binary);
                std::string line;
                while (std::getline(in, line))
                    if (auto id = batch_request_custom_id(line)) asked.insert(std::move(*id));
            }
            std::ifstream in(output, std::ios::binary);
            std::string line;
            while (std::getline(in, line)) {
                if (line.size() > settings.max_response_bytes) continue;
                auto parsed = parse_batch_output_line(line, static_cast<int>(kMaxBatchChoices));
                if (!parsed || !asked.count(parsed->custom_id)) continue;
                if (!parsed->answer) {
                    ++failed;
                    continue;
                }
                if (cache) {  // read by an earlier run already: neither paid nor counted again
                    std::optional<std::string> known;
                    try {
                        known = cache->get(parsed->custom_id);
                    } catch (const std::exception&) {
                    }
                    if (known) continue;
                }
                stats.prompt_tokens.fetch_add(parsed->answer->usage.prompt);
                stats.cached_prompt_tokens.fetch_add(parsed->answer->usage.cached_prompt);
                stats.completion_tokens.fetch_add(parsed->answer->usage.completion);
                cache_answer(parsed->custom_id, parsed->answer->contents, parsed->answer->usage);
                ++read;
            }
        }
        if (failed > 0)
            log(std::to_string(failed) + " lines of the output files failed; their requests are written again");
        std::lock_guard lock(mutex);
        answers_read = read;
    }

    // ---- batch mode: the batch thread ----------------------------------------------------

    struct Polled {
        BatchSubmission batch;
        Clock::time_point next{};
        Clock::time_point deadline{};
        std::int64_t interval_ms = 0;
        int failures = 0;  // polls in a row that failed
    };

    void push_outcome(BatchOutcome outcome) {
        std::lock_guard lock(mutex);
        batch_outcomes.push_back(std::move(outcome));
        curl_multi_wakeup(multi);
    }

    void batch_loop() {
        const VllmEndpoint first = settings.endpoints.empty()
                                       ? VllmEndpoint{settings.base_url, settings.max_concurrency, settings.api_key}
                                       : settings.endpoints.front();
        BatchApiSettings api_settings;
        api_settings.base_url = first.base_url;
        api_settings.api_key = first.api_key;
        api_settings.timeout_ms = settings.timeout_ms;
        BatchApi api(api_settings, &batch_stop);
        std::vector<Polled> polled;
        const auto poll_ms = std::max(1, settings.batch.poll_ms);
        const auto poll_max_ms = std::max(poll_ms, settings.batch.poll_max_ms);
        while (!batch_stop.load()) {
            std::deque<BatchSubmission> fresh;
            {
                std::unique_lock lock(mutex);
                fresh.swap(batch_submissions);
            }
            for (auto& submission : fresh) {
                if (batch_stop.load()) return;
                if (submission.batch_id.empty()) {
                    auto created = submit(api, submission);
                    if (!created) {
                        push_outcome(BatchOutcome{submission.local_id, {}, "failed", {}, created.error()});
                        continue;
                    }
                }
                const auto now = Clock::now();
                polled.push_back(Polled{std::move(submission), now + std::chrono::milliseconds(poll_ms),
                                        now + std::chrono::seconds(std::max(1, settings.batch.max_wait_s)), poll_ms});
            }
            for (std::size_t i = 0; i < polled.size() && !batch_stop.load();) {
                Polled& p = polled[i];
                if (Clock::now() < p.next) {
                    ++i;
                    continue;
                }
                if (auto outcome = poll(api, p)) {
                    push_outcome(std::move(*outcome));
                    polled.erase(polled.begin() + static_cast<std::ptrdiff_t>(i));
                    continue;
                }
                p.interval_ms = std::min<std::int64_t>(poll_max_ms, p.interval_ms + p.interval_ms / 2 + 1);
                p.next = Clock::now() + std::chrono::milliseconds(p.interval_ms);
                ++i;
            }
            auto until = Clock::now() + std::chrono::milliseconds(poll_max_ms);
            for (const auto& p : polled) until = std::min(until, p.next);
            std::unique_lock lock(mutex);
            batch_wake.wait_until(lock, until, [&] { return batch_stop.load() || !batch_submissions.empty(); });
        }
    }

    // Upload and create, each tried again on a failure that may pass; the batch recorded in the
    // ledger as soon as it exists.
    Result<bool> submit(BatchApi& api, BatchSubmission& submission) {
        auto again = [&](auto&& call) {
            auto result = call();
            for (int attempt = 0;
                 !result && attempt < settings.max_retries && !batch_stop.load() &&
                 result.error().code != errc::invalid_argument && result.error().code != errc::cancelled;
                 ++attempt) {
                std::unique_lock lock(mutex);
                batch_wake.wait_for(lock, std::chrono::milliseconds(backoff_delay(attempt, std::nullopt)),
                                    [&] { return batch_stop.load(); });
                lock.unlock();
                result = call();
            }
            return result;
        };
        auto file = again([&] { return api.upload(submission.jsonl); });
        if (!file) return file.error();
        auto batch = again([&] { return api.create(*file); });
        if (!batch) return batch.error();
        submission.batch_id = *batch;
        submission.jsonl.clear();
        submission.jsonl.shrink_to_fit();
        if (ledger) {
            try {
                ledger->record(submission.batch_id, submission.keys);
            } catch (const std::exception& e) {
                log(std::string("cannot record batch ") + submission.batch_id + ": " + e.what());
            }
        }
        return true;
    }

    // One status poll; the outcome once the batch is finished (or given up), else nullopt.
    std::optional<BatchOutcome> poll(BatchApi& api, Polled& p) {
        BatchOutcome outcome{p.batch.local_id, p.batch.batch_id, {}, {}, {}};
        auto status = api.status(p.batch.batch_id);
        if (!status) {
            if (status.error().code == errc::cancelled) return std::nullopt;
            // A batch the provider does not know (or will not show) is not waited for forever.
            if (++p.failures > settings.max_retries + 4 || Clock::now() > p.deadline) {
                outcome.status = "failed";
                outcome.error = status.error();
                return outcome;
            }
            return std::nullopt;
        }
        p.failures = 0;
        if (!status->finished()) {
            if (Clock::now() <= p.deadline) return std::nullopt;
            outcome.status = "expired";
            outcome.error =
                make_error(errc::upstream_timeout, "the batch " + p.batch.batch_id + " did not finish within " +
                                                       std::to_string(settings.batch.max_wait_s) + " s");
            return outcome;
        }
        outcome.status = status->status;
        for (const auto* file_id : {&status->output_file_id, &status->error_file_id}) {
            if (file_id->empty()) continue;
            auto content = api.download(*file_id);
            if (!content) {
                if (content.error().code == errc::cancelled) return std::nullopt;
                outcome.error = content.error();  // the lines are asked again
                continue;
            }
            std::size_t start = 0;
            while (start < content->size()) {
                auto end = content->find('\n', start);
                if (end == std::string::npos) end = content->size();
                auto line = parse_batch_output_line(std::string_view(*content).substr(start, end - start),
                                                    static_cast<int>(kMaxBatchChoices));
                if (line) outcome.lines[line->custom_id] = std::move(*line);
                start = end + 1;
            }
        }
        if (!status->errors.empty() && outcome.lines.empty() && !outcome.error)
            outcome.error = make_error(errc::upstream_error,
                                       "the batch " + p.batch.batch_id + " " + status->status + ": " + status->errors);
        return outcome;
    }

    void cancel_everything() {
        for (auto& line : round)
            for (auto& job : line.waiters) cancel_job(job);
        round.clear();
        round_index.clear();
        round_bytes = 0;
        // The batches out stay with the provider (and in the ledger): their answers still reach
        // the cache when they come back, and a later run finds them there.
        for (auto& [local, waiting] : batches_out)
            for (auto& [key, jobs] : waiting) {
                for (auto& job : jobs) cancel_job(job);
                jobs.clear();
            }
        for (auto& [easy, t] : active) {
            cancel_job(t->job);
            release(t);
            delete t;
        }
        active.clear();
        for (auto* t : ready) {
            cancel_job(t->job);
            delete t;
        }
        ready.clear();
        for (auto& [when, t] : timers) {
            cancel_job(t->job);
            delete t;
        }
        timers.clear();
        for (auto& [when, job] : awaiting_peers) cancel_job(job);
        awaiting_peers.clear();
    }

    void run() {
        while (true) {
            try {
                if (!step()) return;
            } catch (const std::exception& e) {
                log(std::string("internal error in the client loop: ") + e.what());
            }
        }
    }

    // One turn of the loop; false once stopped.
    bool step() {
        {
            std::deque<std::shared_ptr<Job>> fresh;
            std::vector<std::shared_ptr<Job>> to_cancel;
            bool cancel = false;
            bool stop = false;
            {
                std::lock_guard lock(mutex);
                stop = stopping;
                cancel = cancel_requested || stop;
                cancel_requested = false;
                to_cancel.swap(cancelled_submissions);
                if (stop) {
                    for (auto& job : submissions) to_cancel.push_back(job);
                    submissions.clear();
                } else {
                    fresh.swap(submissions);
                }
            }
            if (cancel) {
                cancel_everything();
                for (auto& job : to_cancel) cancel_job(job);
                update_gauges();
            }
            if (stop) {
                // Callbacks may have submitted more while being cancelled: cancel those too.
                std::lock_guard lock(mutex);
                if (submissions.empty() && cancelled_submissions.empty()) {
                    stopped = true;
                    return false;
                }
                return true;
            }
            for (auto& job : fresh) admit(job);
            std::deque<BatchOutcome> outcomes;
            {
                std::lock_guard lock(mutex);
                outcomes.swap(batch_outcomes);
            }
            for (auto& outcome : outcomes) on_batch_outcome(outcome);
            // A round goes out once no request joined it for gather_ms.
            if (!round.empty() &&
                Clock::now() - round_last_added >= std::chrono::milliseconds(std::max(0, settings.batch.gather_ms)))
                send_round();

            auto now = Clock::now();
            std::vector<std::shared_ptr<Job>> due;
            while (!awaiting_peers.empty() && awaiting_peers.begin()->first <= now) {
                due.push_back(std::move(awaiting_peers.begin()->second));
                awaiting_peers.erase(awaiting_peers.begin());
            }
            for (auto& job : due) admit(job);  // the cache again: answered, or ours to send now
            while (!timers.empty() && timers.begin()->first <= now) {
                ready.push_front(timers.begin()->second);  // retries are older work: first in line
                timers.erase(timers.begin());
            }
            start_ready();
            update_gauges();

            int running = 0;
            curl_multi_perform(multi, &running);
            int left = 0;
            while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
                if (msg->msg != CURLMSG_DONE) continue;
                Transfer* t = nullptr;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
                CURLcode code = msg->data.result;
                active.erase(msg->easy_handle);
                if (t) on_done(t, code);
            }
            start_ready();
            update_gauges();

            int wait_ms = 1000;
            if (!ready.empty() && active.size() < static_cast<std::size_t>(std::max(1, settings.max_concurrency))) {
                const auto after = Clock::now();
                if (auto opening = next_opening(after)) {
                    auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*opening - after).count();
                    wait_ms = static_cast<int>(std::clamp<std::int64_t>(until + (until > 0), 0, wait_ms));
                }
            }
            auto wait_until = [&](Clock::time_point when) {
                auto until = std::chrono::duration_cast<std::chrono::milliseconds>(when - Clock::now()).count();
                wait_ms = static_cast<int>(std::clamp<std::int64_t>(until + 1, 0, wait_ms));
            };
            if (!timers.empty()) wait_until(timers.begin()->first);
            if (!awaiting_peers.empty()) wait_until(awaiting_peers.begin()->first);
            if (!round.empty()) wait_until(round_last_added + std::chrono::milliseconds(settings.batch.gather_ms));
            {
                std::lock_guard lock(mutex);
                if (!submissions.empty() || !batch_outcomes.empty() || cancel_requested || stopping) wait_ms = 0;
            }
            if (wait_ms > 0) curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
        }
        return true;
    }
};

VllmClient::VllmClient(VllmSettings settings, ResponseCache* cache, BatchLedger* ledger)
    : impl_(std::make_unique<Impl>()) {
    curl_global_once();
    impl_->settings = std::move(settings);
    impl_->cache = cache;
    impl_->ledger = ledger;
    if (cache)
        impl_->claims =
            std::make_unique<ClaimRenewer>([cache](const std::string& key) { cache->claim(key); },
                                           [impl = impl_.get()](const std::string& line) { impl->log(line); });
    const auto& s = impl_->settings;
    auto list = s.endpoints;
    if (list.empty()) list.push_back({s.base_url, s.max_concurrency, s.api_key});
    for (const auto& endpoint : list) {
        auto stats = std::make_unique<VllmEndpointStats>();
        stats->endpoint = endpoint_label(endpoint.base_url);
        stats->max_concurrency = std::max(1, endpoint.max_concurrency);
        Endpoint e;
        std::string base = endpoint.base_url;
        while (!base.empty() && base.back() == '/') base.pop_back();
        e.url = base + "/chat/completions";
        e.label = stats->endpoint;
        if (!endpoint.api_key.empty()) e.authorization = "Authorization: Bearer " + endpoint.api_key;
        e.limit = stats->max_concurrency;
        e.stats = stats.get();
        impl_->stats.endpoints.push_back(std::move(stats));
        impl_->endpoints.push_back(std::move(e));
    }
    impl_->multi = curl_multi_init();
    if (impl_->multi) {
        // Reuse connections across requests; cap per host so the server is not flooded.
        curl_multi_setopt(impl_->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          static_cast<long>(std::max(1, impl_->settings.max_concurrency)));
        impl_->start_batching();
        impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
    } else {
        impl_->stopped = true;  // submit() answers every request with an error
    }
}

VllmClient::~VllmClient() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    if (impl_->thread.joinable()) {
        curl_multi_wakeup(impl_->multi);
        impl_->thread.join();
    }
    impl_->batch_stop.store(true);
    impl_->batch_wake.notify_all();
    if (impl_->batch_thread.joinable()) impl_->batch_thread.join();
    if (impl_->multi) curl_multi_cleanup(impl_->multi);
}

void VllmClient::submit(ChatRequest request, Callback done) {
    auto job = std::make_shared<Job>();
    job->request = std::move(request);
    job->done = std::move(done);
    {
        std::lock_guard lock(impl_->mutex);
        if (!impl_->stopped) {
            impl_->submissions.push_back(std::move(job));
            curl_multi_wakeup(impl_->multi);
            return;
        }
    }
    ChatResult result;
    result.error = make_error(errc::cancelled, "the VLLM client is shut down");
    Impl::deliver(job, std::move(result));
}

void VllmClient::cancel_all() {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->cancel_requested = true;
    // Only what is already submitted is cancelled; later submissions proceed normally.
    for (auto& job : impl_->submissions) impl_->cancelled_submissions.push_back(std::move(job));
    impl_->submissions.clear();
    curl_multi_wakeup(impl_->multi);
}

const VllmStats& VllmClient::stats() const noexcept {
    return impl_->stats;
}
const VllmSettings& VllmClient::settings() const noexcept {
    return impl_->settings;
}

std::string VllmClient::batch_file_written() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->written_file;
}

std::size_t VllmClient::batch_answers_read() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->answers_read;
}

}  // namespace seke
