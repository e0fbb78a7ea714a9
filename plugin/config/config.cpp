#include "plugin/config/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "plugin/sql/connection.hpp"
#include "verify/text.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX asks for it

namespace seke {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

struct Binding {
    OptionInfo info;
    std::function<Result<bool>(Config&, const std::string&)> set;
    std::function<std::string(const Config&)> get;
};

Error bad_value(const OptionInfo& info, const std::string& value, const std::string& why) {
    std::string shown = info.type == OptionType::secret ? "(secret)" : "\"" + value + "\"";
    return make_error(errc::config_error,
                      "option " + info.key + " (" + info.flag + ", " + info.env + "): bad value " + shown + ": " + why);
}

Result<long long> parse_integer(const std::string& text) {
    errno = 0;
    char* end = nullptr;
    long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE) return make_error(errc::config_error, "not a whole number");
    return value;
}

Result<double> parse_number(const std::string& text) {
    errno = 0;
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(value))
        return make_error(errc::config_error, "not a finite number");
    return value;
}

Result<bool> parse_bool(const std::string& text) {
    std::string lower = text;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower == "1" || lower == "true" || lower == "yes" || lower == "on") return true;
    if (lower == "0" || lower == "false" || lower == "no" || lower == "off") return false;
    return make_error(errc::config_error, "not a boolean (true/false)");
}

std::string format_number(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

// A URL list as `seke config` may show it: "user:secret@" becomes "user:***@" in each URL.
std::string without_passwords(std::string text) {
    for (std::size_t at = text.find("://"); at != std::string::npos; at = text.find("://", at + 3)) {
        const std::size_t start = at + 3;
        const std::size_t end = std::min(text.find_first_of("/|,?#", start), text.size());  // the authority's end
        const std::size_t mark = text.find('@', start);
        if (mark == std::string::npos || mark >= end) continue;
        const std::size_t colon = text.find(':', start);
        if (colon >= mark) continue;
        text.replace(colon + 1, mark - colon - 1, "***");
    }
    return text;
}

const Binding* find_by_key(const std::string& key);

// cost.prices: {"model": {"input": 2.5, "cached_input": 1.25, "output": 10, "batch_discount": 0.5}},
// on top of the shipped table. Every rate is required but the batch discount (default 0).
Result<PriceTable> parse_price_entries(const std::string& text) {
    PriceTable table = PriceTable::shipped();
    if (text.empty()) return table;
    if (!json_depth_within(text)) return make_error(errc::config_error, "nested too deep");
    json root = json::parse(text, nullptr, false);
    if (root.is_discarded() || !root.is_object())
        return make_error(errc::config_error, "not a JSON object of model id → price");
    for (const auto& [model, entry] : root.items()) {
        const std::string what = "price of \"" + model.substr(0, 80) + "\"";
        if (model.empty() || model.size() > 200)
            return make_error(errc::config_error, "a model id of 1 to 200 characters");
        if (!entry.is_object()) return make_error(errc::config_error, what + ": not an object");
        Price price;
        for (const auto& [field, value] : entry.items()) {
            double* slot = field == "input"            ? &price.input
                           : field == "cached_input"   ? &price.cached_input
                           : field == "output"         ? &price.output
                           : field == "batch_discount" ? &price.batch_discount
                                                       : nullptr;
            if (!slot)
                return make_error(errc::config_error, what + ": unknown field \"" + field.substr(0, 40) +
                                                          "\" (input, cached_input, output, batch_discount)");
            if (!value.is_number()) return make_error(errc::config_error, what + ": " + field + " is not a number");
            *slot = value.get<double>();
        }
        for (const char* required : {"input", "cached_input", "output"})
            if (!entry.contains(required))
                return make_error(errc::config_error, what + ": " + required + " is missing");
        if (auto checked = check_price(price, what); !checked) return checked.error();
        table.set(model, std::move(price));
    }
    return table;
}

// Binders: one per field type, each with a range so errors say what is allowed.
template <class Field>
Binding string_option(OptionInfo info, Field field) {
    return {std::move(info),
            [field](Config& c, const std::string& v) -> Result<bool> {
                field(c) = v;
                return true;
            },
            [field](const Config& c) { return field(const_cast<Config&>(c)); }};
}

template <class Int, class Field>
Binding integer_option(OptionInfo info, Field field, long long lo, long long hi) {
    auto copy = info;
    return {std::move(info),
            [copy, field, lo, hi](Config& c, const std::string& v) -> Result<bool> {
                auto parsed = parse_integer(v);
                if (!parsed) return bad_value(copy, v, parsed.error().message);
                if (*parsed < lo || *parsed > hi)
                    return bad_value(copy, v, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
                field(c) = static_cast<Int>(*parsed);
                return true;
            },
            [field](const Config& c) { return std::to_string(static_cast<long long>(field(const_cast<Config&>(c)))); }};
}

template <class Field>
Binding number_option(OptionInfo info, Field field, double lo, double hi) {
    auto copy = info;
    return {std::move(info),
            [copy, field, lo, hi](Config& c, const std::string& v) -> Result<bool> {
                auto parsed = parse_number(v);
                if (!parsed) return bad_value(copy, v, parsed.error().message);
                if (*parsed < lo || *parsed > hi)
                    return bad_value(copy, v, "must be between " + format_number(lo) + " and " + format_number(hi));
                field(c) = *parsed;
                return true;
            },
            [field](const Config& c) { return format_number(field(const_cast<Config&>(c))); }};
}

template <class Field>
Binding bool_option(OptionInfo info, Field field) {
    auto copy = info;
    return {std::move(info),
            [copy, field](Config& c, const std::string& v) -> Result<bool> {
                auto parsed = parse_bool(v);
                if (!parsed) return bad_value(copy, v, parsed.error().message);
                field(c) = *parsed;
                return true;
            },
            [field](const Config& c) { return std::string(field(const_cast<Config&>(c)) ? "true" : "false"); }};
}

template <class Enum, class Field>
Binding choice_option(OptionInfo info, Field field, std::vector<std::pair<std::string, Enum>> map) {
    for (const auto& [name, value] : map) info.choices.push_back(name);
    auto copy = info;
    return {std::move(info),
            [copy, field, map](Config& c, const std::string& v) -> Result<bool> {
                for (const auto& [name, value] : map)
                    if (name == v) {
                        field(c) = value;
                        return true;
                    }
                std::string allowed;
                for (const auto& [name, value] : map) allowed += (allowed.empty() ? "" : ", ") + name;
                return bad_value(copy, v, "must be one of " + allowed);
            },
            [field, map](const Config& c) {
                for (const auto& [name, value] : map)
                    if (value == field(const_cast<Config&>(c))) return name;
                return std::string{};
            }};
}

Binding with_aliases(Binding binding, std::vector<std::string> aliases) {
    binding.info.env_aliases = std::move(aliases);
    return binding;
}

OptionInfo opt(std::string key, std::string flag, std::string env, OptionType type, std::string doc) {
    return OptionInfo{std::move(key), std::move(flag), std::move(env), type, std::move(doc), {}, {}};
}

// expr is a member path (c.(a.b) is not C++), so it cannot be parenthesised.
// clang-format off
#define FIELD(expr) [](Config& c) -> auto& { return c.expr; }  // NOLINT(bugprone-macro-parentheses)
// clang-format on

const std::vector<Binding>& bindings() {
    using T = OptionType;
    static const std::vector<Binding> table = [] {
        std::vector<Binding> b;
        // model: who labels
        b.push_back(choice_option<Provider>(
            opt("model.provider", "--provider", "SEKE_PROVIDER", T::choice,
                "openai = the vision LLM at vllm.base_url; expert = the built-in face expert, no key and no network; "
                "auto = openai when vllm.base_url or vllm.api_key is set, else expert"),
            FIELD(model.provider),
            {{"auto", Provider::automatic}, {"openai", Provider::openai}, {"expert", Provider::expert}}));
        b.push_back(bool_option(opt("model.expert", "--expert", "SEKE_EXPERT", T::boolean,
                                    "with the openai provider, the built-in face expert reads every face too and its "
                                    "disagreement raises uncertainty; off = the VLLM alone"),
                                FIELD(model.expert)));
        b.push_back(string_option(opt("model.expert_models", "--expert-models", "SEKE_EXPERT_MODELS", T::string,
                                      "folder with the expert's face-api/ and human/ weights; empty = models/ fetched "
                                      "by scripts/setup.sh"),
                                  FIELD(model.expert_models_dir)));
        b.push_back(
            number_option(opt("model.expert_min_face_score", "--expert-min-face-score", "SEKE_EXPERT_MIN_FACE_SCORE",
                              T::number, "face-mesh face score under which the expert says nothing about a crop"),
                          FIELD(model.expert_min_face_score), 0.0, 1.0));
        // vllm: the OpenAI-compatible endpoints
        b.push_back(string_option(
            opt("vllm.base_url", "--base-url", "OPENAI_BASE_URL", T::string,
                "OpenAI-compatible API root; /chat/completions is appended; empty with a key set = OpenAI's. "
                "Several: a comma list of URL|concurrency=N|key=env:NAME (settings optional; key=none sends "
                "none), requests go where most of the limit is free"),
            FIELD(vllm.base_url)));
        b.back().get = [](const Config& c) { return without_passwords(c.vllm.base_url); };
        b.push_back(string_option(opt("vllm.api_key", "--api-key", "OPENAI_API_KEY", T::secret,
                                      "API key, sent as a Bearer token to every endpoint without a key= of its "
                                      "own; never logged. Prefer the environment"),
                                  FIELD(vllm.api_key)));
        b.push_back(
            string_option(opt("vllm.model", "--model", "SEKE_MODEL", T::string, "model name sent in every request"),
                          FIELD(vllm.model)));
        b.push_back(integer_option<int>(opt("vllm.max_concurrency", "--jobs", "SEKE_JOBS", T::integer,
                                            "model requests in flight at once, across all faces and endpoints; "
                                            "the limit of each endpoint that names none"),
                                        FIELD(vllm.max_concurrency), 1, kMaxEndpointConcurrency));
        b.push_back(integer_option<int>(opt("vllm.timeout_ms", "--timeout-ms", "SEKE_TIMEOUT_MS", T::integer,
                                            "time limit of one model request attempt"),
                                        FIELD(vllm.timeout_ms), 100, 3'600'000));
        b.push_back(
            integer_option<int>(opt("vllm.connect_timeout_ms", "--connect-timeout-ms", "SEKE_CONNECT_TIMEOUT_MS",
                                    T::integer, "time limit to connect to the model endpoint"),
                                FIELD(vllm.connect_timeout_ms), 100, 600'000));
        b.push_back(integer_option<int>(opt("vllm.max_retries", "--max-retries", "SEKE_MAX_RETRIES", T::integer,
                                            "retries of one request on 429, 5xx, timeouts and network errors; "
                                            "another endpoint, when there is one, takes a retry at once"),
                                        FIELD(vllm.max_retries), 0, 20));
        b.push_back(
            integer_option<int>(opt("vllm.backoff_base_ms", "--backoff-base-ms", "SEKE_BACKOFF_BASE_MS", T::integer,
                                    "first retry wait; doubles per attempt, with full jitter. Of several "
                                    "endpoints, one that fails rests this long, doubling per failure in a row"),
                                FIELD(vllm.backoff_base_ms), 1, 600'000));
        b.push_back(integer_option<int>(opt("vllm.backoff_max_ms", "--backoff-max-ms", "SEKE_BACKOFF_MAX_MS",
                                            T::integer, "longest single retry wait, Retry-After included"),
                                        FIELD(vllm.backoff_max_ms), 1, 3'600'000));
        b.push_back(integer_option<int>(
            opt("vllm.max_tokens", "--max-tokens", "SEKE_MAX_TOKENS", T::integer, "completion token limit per answer"),
            FIELD(vllm.max_tokens), 16, 100'000));
        b.push_back(
            bool_option(opt("vllm.use_json_schema", "--json-schema", "SEKE_JSON_SCHEMA", T::boolean,
                            "ask for structured output (response_format json_schema); falls back automatically"),
                        FIELD(vllm.use_json_schema)));
        b.push_back(bool_option(opt("vllm.use_n", "--use-n", "SEKE_USE_N", T::boolean,
                                    "ask for several samples per request with n; falls back to one per request"),
                                FIELD(vllm.use_n)));
        // vllm.batch*: the provider's Batch API, or request files for an offline runner
        b.push_back(
            {opt("vllm.batch", "--batch", "SEKE_BATCH", T::boolean,
                 "seke label sends each SV-UAMC round for all open faces as batches of the provider's Batch "
                 "API (/v1/files, /v1/batches) at its batch discount; the batches are kept in the store, so a "
                 "stopped run polls them again"),
             [](Config& c, const std::string& v) -> Result<bool> {
                 auto on = parse_bool(v);
                 if (!on) return bad_value(find_by_key("vllm.batch")->info, v, on.error().message);
                 if (*on) c.vllm.batch.mode = BatchMode::api;
                 else if (c.vllm.batch.mode == BatchMode::api) c.vllm.batch.mode = BatchMode::off;
                 return true;
             },
             [](const Config& c) { return std::string(c.vllm.batch.mode == BatchMode::api ? "true" : "false"); }});
        b.push_back({opt("vllm.batch_out", "--batch-out", "SEKE_BATCH_OUT", T::string,
                         "seke label writes the round's requests to DIR/round-NNNN.requests.jsonl (the Batch API's "
                         "line format, which vLLM's run_batch reads) and stops; empty = not"),
                     [](Config& c, const std::string& v) -> Result<bool> {
                         if (v.empty()) {
                             if (c.vllm.batch.mode == BatchMode::files && !c.vllm.batch.read_outputs)
                                 c.vllm.batch.mode = BatchMode::off;
                             return true;
                         }
                         c.vllm.batch.mode = BatchMode::files;
                         c.vllm.batch.dir = v;
                         c.vllm.batch.read_outputs = false;
                         return true;
                     },
                     [](const Config& c) {
                         return c.vllm.batch.mode == BatchMode::files && !c.vllm.batch.read_outputs ? c.vllm.batch.dir
                                                                                                    : std::string();
                     }});
        b.push_back({opt("vllm.batch_in", "--batch-in", "SEKE_BATCH_IN", T::string,
                         "seke label reads the answers in DIR/round-NNNN.output.jsonl (written by the offline "
                         "runner for the requests --batch-out wrote), goes on, and writes the next round there; "
                         "empty = not"),
                     [](Config& c, const std::string& v) -> Result<bool> {
                         if (v.empty()) {
                             if (c.vllm.batch.read_outputs) c.vllm.batch.mode = BatchMode::off;
                             c.vllm.batch.read_outputs = false;
                             return true;
                         }
                         c.vllm.batch.mode = BatchMode::files;
                         c.vllm.batch.dir = v;
                         c.vllm.batch.read_outputs = true;
                         return true;
                     },
                     [](const Config& c) { return c.vllm.batch.read_outputs ? c.vllm.batch.dir : std::string(); }});
        b.push_back(integer_option<std::size_t>(
            opt("vllm.batch_max_lines", "--batch-max-lines", "SEKE_BATCH_MAX_LINES", T::integer,
                "requests in one batch at most (OpenAI's limit: 50,000); a round over it is split"),
            FIELD(vllm.batch.max_lines), 1, 50'000));
        b.push_back(integer_option<std::size_t>(
            opt("vllm.batch_max_bytes", "--batch-max-bytes", "SEKE_BATCH_MAX_BYTES", T::integer,
                "bytes of one batch's request file at most (OpenAI's limit: 200 MB); a round over it is split"),
            FIELD(vllm.batch.max_bytes), 1 << 20, 200LL << 20));
        b.push_back(
            integer_option<int>(opt("vllm.batch_gather_ms", "--batch-gather-ms", "SEKE_BATCH_GATHER_MS", T::integer,
                                    "a batch is sent once no face added a request to it for this long"),
                                FIELD(vllm.batch.gather_ms), 0, 600'000));
        b.push_back(integer_option<int>(opt("vllm.batch_poll_ms", "--batch-poll-ms", "SEKE_BATCH_POLL_MS", T::integer,
                                            "first wait between a batch's status polls; each wait is half as long "
                                            "again, up to vllm.batch_poll_max_ms"),
                                        FIELD(vllm.batch.poll_ms), 10, 3'600'000));
        b.push_back(integer_option<int>(opt("vllm.batch_poll_max_ms", "--batch-poll-max-ms", "SEKE_BATCH_POLL_MAX_MS",
                                            T::integer, "longest wait between a batch's status polls"),
                                        FIELD(vllm.batch.poll_max_ms), 10, 3'600'000));
        b.push_back(integer_option<int>(
            opt("vllm.batch_max_wait_s", "--batch-max-wait-s", "SEKE_BATCH_MAX_WAIT_S", T::integer,
                "a batch not finished after this long fails its requests (they are asked again, within "
                "vllm.max_retries); the provider's window is 24 h"),
            FIELD(vllm.batch.max_wait_s), 1, 7LL * 86'400));
        // cost: prices and caps
        b.push_back({opt("cost.prices", "--prices", "SEKE_PRICES", T::object,
                         "prices added to or over the shipped table (docs/configuration.md#prices): an object of model "
                         "id → {input, cached_input, output, batch_discount}, USD per million tokens, the discount "
                         "a share in [0, 1)"),
                     [](Config& c, const std::string& v) -> Result<bool> {
                         auto prices = parse_price_entries(v);
                         if (!prices) return bad_value(find_by_key("cost.prices")->info, v, prices.error().message);
                         c.cost.prices = std::move(*prices);
                         c.cost.price_entries = v;
                         return true;
                     },
                     [](const Config& c) { return c.cost.price_entries.empty() ? "{}" : c.cost.price_entries; }});
        b.push_back({opt("cost.price", "--price", "SEKE_PRICE", T::string,
                         "the price of vllm.model, over the table's: INPUT,CACHED_INPUT,OUTPUT[,BATCH_DISCOUNT] in USD "
                         "per million tokens; empty = the table's entry, if any"),
                     [](Config& c, const std::string& v) -> Result<bool> {
                         if (!v.empty())
                             if (auto price = parse_price(v); !price)
                                 return bad_value(find_by_key("cost.price")->info, v, price.error().message);
                         c.cost.price = v;
                         return true;
                     },
                     [](const Config& c) { return c.cost.price; }});
        b.push_back(number_option(opt("cost.max_cost", "--max-cost", "SEKE_MAX_COST", T::number,
                                      "seke label stops cleanly before the next model request would take this run's "
                                      "spending past this many USD (needs a price); 0 = no cap"),
                                  FIELD(cost.max_cost_usd), 0.0, 1e9));
        b.push_back(integer_option<std::int64_t>(
            opt("cost.max_requests", "--max-requests", "SEKE_MAX_REQUESTS", T::integer,
                "seke label stops cleanly before this run sends more model requests than this (answers from the "
                "response cache are free); 0 = no cap"),
            FIELD(cost.max_requests), 0, 1LL << 40));
        // engine: SV-UAMC
        b.push_back(choice_option<SamplingMode>(
            opt("engine.mode", "--sampling", "SEKE_SAMPLING", T::choice,
                "uamc = adaptive sampling + self-verification; greedy = one answer at temperature 0; fixed = "
                "fixed_samples and a vote"),
            FIELD(engine.mode),
            {{"uamc", SamplingMode::uamc}, {"greedy", SamplingMode::greedy}, {"fixed", SamplingMode::fixed}}));
        b.push_back(number_option(opt("engine.temperature", "--temperature", "SEKE_TEMPERATURE", T::number,
                                      "Monte Carlo sampling temperature"),
                                  FIELD(engine.temperature), 0.01, 2.0));
        b.push_back(
            integer_option<int>(opt("engine.k_min", "--k-min", "SEKE_K_MIN", T::integer, "samples in the first round"),
                                FIELD(engine.k_min), 1, 64));
        b.push_back(
            integer_option<int>(opt("engine.k_max", "--k-max", "SEKE_K_MAX", T::integer, "most samples per face"),
                                FIELD(engine.k_max), 1, 64));
        b.push_back(integer_option<int>(
            opt("engine.round_size", "--round-size", "SEKE_ROUND_SIZE", T::integer, "samples per later round"),
            FIELD(engine.round_size), 1, 64));
        b.push_back(integer_option<int>(opt("engine.fixed_samples", "--fixed-samples", "SEKE_FIXED_SAMPLES", T::integer,
                                            "samples per face in fixed mode"),
                                        FIELD(engine.fixed_samples), 1, 64));
        b.push_back(
            number_option(opt("engine.stop_confidence", "--stop-confidence", "SEKE_STOP_CONFIDENCE", T::number,
                              "posterior probability that the leading expression is the mode, to stop sampling"),
                          FIELD(engine.stop_confidence), 0.5, 0.9999));
        b.push_back(number_option(opt("engine.va_settled_spread", "--va-settled-spread", "SEKE_VA_SETTLED_SPREAD",
                                      T::number, "robust VA spread under which VA asks for no more samples"),
                                  FIELD(engine.va_settled_spread), 0.0, 2.0));
        b.push_back(number_option(opt("engine.au_threshold", "--au-threshold", "SEKE_AU_THRESHOLD", T::number,
                                      "share of samples that must see an AU for it to be present"),
                                  FIELD(engine.au_threshold), 0.01, 1.0));
        b.push_back(number_option(opt("engine.au_settled_band", "--au-settled-band", "SEKE_AU_SETTLED_BAND", T::number,
                                      "an AU this close to au_threshold is a split that asks for more samples"),
                                  FIELD(engine.au_settled_band), 0.0, 0.5));
        b.push_back(
            bool_option(opt("engine.self_verify", "--self-verify", "SEKE_SELF_VERIFY", T::boolean,
                            "ask the model to check candidate labels when levels disagree or the vote is close"),
                        FIELD(engine.self_verify)));
        b.push_back(
            number_option(opt("engine.verify_inconsistency", "--verify-inconsistency", "SEKE_VERIFY_INCONSISTENCY",
                              T::number, "cross-level inconsistency that triggers verification"),
                          FIELD(engine.verify_inconsistency), 0.0, 1.0));
        b.push_back(number_option(opt("engine.verify_margin", "--verify-margin", "SEKE_VERIFY_MARGIN", T::number,
                                      "top-two vote share gap under which verification runs"),
                                  FIELD(engine.verify_margin), 0.0, 1.0));
        b.push_back(integer_option<int>(opt("engine.max_verifications", "--max-verifications", "SEKE_MAX_VERIFICATIONS",
                                            T::integer, "verification requests per face at most"),
                                        FIELD(engine.max_verifications), 0, 8));
        b.push_back(number_option(opt("engine.verification_weight", "--verification-weight", "SEKE_VERIFICATION_WEIGHT",
                                      T::number, "votes a verification answer is worth"),
                                  FIELD(engine.verification_weight), 0.0, 20.0));
        b.push_back(integer_option<int>(
            opt("engine.max_request_failures", "--max-request-failures", "SEKE_MAX_REQUEST_FAILURES", T::integer,
                "failed or unusable requests per face before it is recorded as failed"),
            FIELD(engine.max_request_failures), 1, 20));
        b.push_back(number_option(opt("engine.expert_weight", "--expert-weight", "SEKE_EXPERT_WEIGHT", T::number,
                                      "how much the built-in expert's disagreement with the VLLM raises a level's "
                                      "uncertainty; 0 = only recorded"),
                                  FIELD(engine.expert_weight), 0.0, 1.0));
        b.push_back(number_option(
            opt("engine.expert_verify_confidence", "--expert-verify-confidence", "SEKE_EXPERT_VERIFY_CONFIDENCE",
                T::number,
                "the expert's probability of its top expression from which its contradicting the vote triggers "
                "self-verification; above 1 = never"),
            FIELD(engine.expert_verify_confidence), 0.0, 1.01));
        b.push_back(number_option(opt("engine.weights.expression", "--weight-expression", "SEKE_WEIGHT_EXPRESSION",
                                      T::number, "weight of expression uncertainty in overall"),
                                  FIELD(engine.weights.expression), 0.0, 1.0));
        b.push_back(number_option(
            opt("engine.weights.va", "--weight-va", "SEKE_WEIGHT_VA", T::number, "weight of VA uncertainty in overall"),
            FIELD(engine.weights.va), 0.0, 1.0));
        b.push_back(number_option(
            opt("engine.weights.au", "--weight-au", "SEKE_WEIGHT_AU", T::number, "weight of AU uncertainty in overall"),
            FIELD(engine.weights.au), 0.0, 1.0));
        b.push_back(number_option(opt("engine.weights.consistency", "--weight-consistency", "SEKE_WEIGHT_CONSISTENCY",
                                      T::number, "weight of cross-level inconsistency in overall"),
                                  FIELD(engine.weights.consistency), 0.0, 1.0));
        // face handling
        b.push_back(choice_option<FaceMode>(
            opt("face.detection", "--face-detection", "SEKE_FACE_DETECTION", T::choice,
                "auto = detect faces, whole image (flagged) when none; off = the image is one face; required = no "
                "face, item skipped"),
            FIELD(face.mode),
            {{"auto", FaceMode::auto_detect}, {"off", FaceMode::off}, {"required", FaceMode::required}}));
        b.push_back(number_option(opt("face.margin", "--face-margin", "SEKE_FACE_MARGIN", T::number,
                                      "margin added around a detected face, as a share of its box"),
                                  FIELD(face.margin), 0.0, 2.0));
        b.push_back(integer_option<int>(opt("face.longest_side", "--face-size", "SEKE_FACE_SIZE", T::integer,
                                            "longest side of the crop sent to the model, in pixels"),
                                        FIELD(face.longest_side), 32, 4096));
        b.push_back(integer_option<int>(opt("face.jpeg_quality", "--jpeg-quality", "SEKE_JPEG_QUALITY", T::integer,
                                            "JPEG quality of the crop sent to the model"),
                                        FIELD(face.jpeg_quality), 10, 100));
        b.push_back(integer_option<int>(opt("face.min_face_px", "--min-face-px", "SEKE_MIN_FACE_PX", T::integer,
                                            "smallest face side that counts, in pixels"),
                                        FIELD(face.min_face_px), 8, 4096));
        b.push_back(integer_option<int>(
            opt("face.max_faces", "--max-faces", "SEKE_MAX_FACES", T::integer, "most faces labeled per image"),
            FIELD(face.max_faces), 1, 256));
        b.push_back(choice_option<FaceDetectorKind>(
            opt("face.detector", "--face-detector", "SEKE_FACE_DETECTOR", T::choice,
                "tiny = face-api's Tiny Face Detector network (fast, finds turned faces); cascade = an OpenCV cascade "
                "file"),
            FIELD(face.detector), {{"tiny", FaceDetectorKind::tiny}, {"cascade", FaceDetectorKind::cascade}}));
        b.push_back(
            string_option(opt("face.detector_model", "--face-detector-model", "SEKE_FACE_DETECTOR_MODEL", T::string,
                              "tiny detector weights manifest; empty = models/face-api/ fetched by scripts/setup.sh"),
                          FIELD(face.detector_model)));
        b.push_back(number_option(opt("face.detect_threshold", "--face-detect-threshold", "SEKE_FACE_DETECT_THRESHOLD",
                                      T::number, "tiny detector: lowest score that counts as a face"),
                                  FIELD(face.detect_threshold), 0.05, 0.99));
        b.push_back(string_option(
            opt("face.cascade_path", "--face-cascade", "SEKE_FACE_CASCADE", T::string,
                "cascade detector: Haar or LBP cascade file; empty = Debian's opencv-data frontal face cascade"),
            FIELD(face.cascade_path)));
        b.push_back(integer_option<int>(
            opt("face.detect_size", "--face-detect-size", "SEKE_FACE_DETECT_SIZE", T::integer,
                "longest side of the image copy faces are searched in; larger finds smaller faces, slower"),
            FIELD(face.detect_longest_side), 96, 4096));
        b.push_back(integer_option<int>(
            opt("face.thumbnail_side", "--thumbnail-side", "SEKE_THUMBNAIL_SIDE", T::integer,
                "longest side of the small JPEG kept per face (review screens, few-shot examples); 0 = none"),
            FIELD(face.thumbnail_side), 0, 512));
        b.push_back(
            number_option(opt("face.detect_scale_step", "--face-detect-step", "SEKE_FACE_DETECT_STEP", T::number,
                              "cascade detector: step between scales; larger is faster and may miss faces"),
                          FIELD(face.detect_scale_step), 1.01, 2.0));
        // image limits
        b.push_back(integer_option<std::size_t>(opt("image.max_bytes", "--image-max-bytes", "SEKE_IMAGE_MAX_BYTES",
                                                    T::integer, "largest encoded image accepted"),
                                                FIELD(image.max_bytes), 1024, 1LL << 32));
        b.push_back(integer_option<std::int64_t>(opt("image.max_pixels", "--image-max-pixels", "SEKE_IMAGE_MAX_PIXELS",
                                                     T::integer, "largest decoded image accepted, width x height"),
                                                 FIELD(image.max_pixels), 64, 1LL << 34));
        b.push_back(
            integer_option<int>(opt("image.download_timeout_ms", "--download-timeout-ms", "SEKE_DOWNLOAD_TIMEOUT_MS",
                                    T::integer, "time limit to download one image URL"),
                                FIELD(image.download_timeout_ms), 100, 600'000));
        // run
        b.push_back(string_option(
            opt("run.db", "--db", "SEKE_DB", T::string,
                "the store (items, faces, predictions, FEID records, response cache): a SQLite file's path, or a "
                "PostgreSQL URI (postgresql://user:password@host:5432/db?sslmode=require) that many seke processes "
                "on many machines share; a password is never shown"),
            FIELD(run.db_path)));
        b.back().get = [](const Config& c) { return sql::describe_target(c.run.db_path); };
        b.push_back(integer_option<int>(opt("run.db_wait_ms", "--db-wait-ms", "SEKE_DB_WAIT_MS", T::integer,
                                            "how long to keep trying a PostgreSQL server that does not answer "
                                            "when seke starts"),
                                        FIELD(run.db_wait_ms), 0, 3'600'000));
        b.push_back(string_option(opt("run.label_job", "--label-job", "SEKE_LABEL_JOB", T::string,
                                      "seke label on a PostgreSQL store: the job the workers share; empty = named "
                                      "by the input's items and the model version, so workers given the same "
                                      "input share it"),
                                  FIELD(run.label_job)));
        b.push_back(integer_option<int>(opt("run.lease_seconds", "--lease-seconds", "SEKE_LEASE_SECONDS", T::integer,
                                            "seke label on a PostgreSQL store: how long a worker's claim on an item "
                                            "lasts unrenewed; the items of a worker that dies go to another after it"),
                                        FIELD(run.lease_seconds), 2, 86'400));
        b.push_back(string_option(opt("run.knowledge", "--knowledge", "SEKE_KNOWLEDGE", T::string,
                                      "knowledge file; empty = config/knowledge.json shipped with seke"),
                                  FIELD(run.knowledge_path)));
        b.push_back(string_option(opt("run.model_version", "--model-version", "SEKE_MODEL_VERSION", T::string,
                                      "label for this model setup; empty = derived from model, sampling and knowledge"),
                                  FIELD(run.model_version)));
        b.push_back(bool_option(opt("run.use_fit", "--use-fit", "SEKE_USE_FIT", T::boolean,
                                    "seke label and cvat annotate label with the last fit's few-shot examples and "
                                    "model_version, as seke serve does; false = the model setup unfitted"),
                                FIELD(run.use_fit)));
        b.push_back(integer_option<int>(opt("run.image_threads", "--image-threads", "SEKE_IMAGE_THREADS", T::integer,
                                            "threads decoding images and detecting faces; 0 = one per core"),
                                        FIELD(run.image_threads), 0, 256));
        b.push_back(number_option(opt("run.progress_interval_s", "--progress-interval", "SEKE_PROGRESS_INTERVAL",
                                      T::number, "seconds between plain progress lines when output is not a terminal"),
                                  FIELD(run.progress_interval_s), 0.1, 3600.0));
        b.push_back(choice_option<std::string>(
            opt("run.log_level", "--log-level", "SEKE_LOG_LEVEL", T::choice, "log verbosity"), FIELD(run.log_level),
            {{"debug", "debug"}, {"info", "info"}, {"warn", "warn"}, {"error", "error"}}));
        // serve: the HTTP server
        b.push_back(string_option(opt("serve.host", "--host", "SEKE_HOST", T::string,
                                      "address `seke serve` listens on; 0.0.0.0 to accept other machines"),
                                  FIELD(serve.host)));
        b.push_back(integer_option<int>(
            opt("serve.port", "--port", "PORT", T::integer, "port `seke serve` listens on; 0 picks a free one"),
            FIELD(serve.port), 0, 65535));
        b.push_back(
            integer_option<int>(opt("serve.threads", "--threads", "SEKE_THREADS", T::integer, "HTTP server threads"),
                                FIELD(serve.threads), 1, 256));
        b.push_back(integer_option<std::size_t>(opt("serve.body_limit", "--body-limit", "SEKE_BODY_LIMIT", T::integer,
                                                    "largest request body accepted, in bytes"),
                                                FIELD(serve.body_limit), 1024, 1LL << 32));
        b.push_back(integer_option<std::size_t>(
            opt("serve.webhook_body_limit", "--webhook-body-limit", "SEKE_WEBHOOK_BODY_LIMIT", T::integer,
                "largest webhook body accepted (Label Studio and CVAT), in bytes; webhooks are stored"),
            FIELD(serve.webhook_body_limit), 1024, 1LL << 32));
        b.push_back(integer_option<std::size_t>(
            opt("serve.max_connections", "--max-connections", "SEKE_MAX_CONNECTIONS", T::integer,
                "open connections in all; at the limit the longest-idle one is closed, else 503"),
            FIELD(serve.max_connections), 1, 1'000'000));
        b.push_back(integer_option<std::size_t>(
            opt("serve.max_connections_per_client", "--max-connections-per-client", "SEKE_MAX_CONNECTIONS_PER_CLIENT",
                T::integer, "open connections from one client address; at the limit its idlest is closed, else 429"),
            FIELD(serve.max_connections_per_client), 1, 1'000'000));
        b.push_back(integer_option<int>(
            opt("serve.body_progress_timeout_ms", "--body-progress-timeout-ms", "SEKE_BODY_PROGRESS_TIMEOUT_MS",
                T::integer, "a request body that sends no byte for this long is dropped"),
            FIELD(serve.body_progress_timeout_ms), 100, 3'600'000));
        b.push_back(integer_option<std::size_t>(
            opt("serve.body_min_bytes_per_s", "--body-min-bytes-per-s", "SEKE_BODY_MIN_BYTES_PER_S", T::integer,
                "after body_progress_timeout_ms, a body slower than this on average is dropped; 0: no floor"),
            FIELD(serve.body_min_bytes_per_s), 0, 1LL << 32));
        b.push_back(string_option(opt("serve.url_prefix", "--url-prefix", "SEKE_URL_PREFIX", T::string,
                                      "serve every route under this path, e.g. /ml"),
                                  FIELD(serve.url_prefix)));
        b.push_back(integer_option<int>(
            opt("serve.predict_deadline_ms", "--predict-deadline-ms", "SEKE_PREDICT_DEADLINE_MS", T::integer,
                "/predict answers by then with what is finished; the rest goes on and is stored"),
            FIELD(serve.predict_deadline_ms), 100, 3'600'000));
        b.push_back(integer_option<int>(opt("serve.media_threads", "--media-threads", "SEKE_MEDIA_THREADS", T::integer,
                                            "threads decoding task images and storing results; 0 = two per core"),
                                        FIELD(serve.media_threads), 0, 256));
        b.push_back(integer_option<int>(
            opt("serve.media_fetch_concurrency", "--media-fetch-concurrency", "SEKE_MEDIA_FETCH_CONCURRENCY",
                T::integer,
                "task images downloaded at once, on threads of their own: slow media never holds a media thread"),
            FIELD(serve.media_fetch_concurrency), 1, 256));
        b.push_back(integer_option<std::size_t>(
            opt("serve.media_queue_limit", "--media-queue-limit", "SEKE_MEDIA_QUEUE_LIMIT", T::integer,
                "tasks that may wait for the fetch or the media threads; a call past it is refused with 503"),
            FIELD(serve.media_queue_limit), 1, 10'000'000));
        b.push_back(string_option(
            opt("serve.model_class", "--model-class", "SEKE_MODEL_CLASS", T::string, "model_class reported by /health"),
            FIELD(serve.model_class)));
        b.push_back(string_option(opt("serve.model_dir", "--model-dir", "MODEL_DIR", T::string,
                                      "directory for the default store (MODEL_DIR/seke.db) when --db is not given"),
                                  FIELD(serve.model_dir)));
        b.push_back(
            with_aliases(string_option(opt("serve.basic_auth_user", "--basic-auth-user", "BASIC_AUTH_USER", T::string,
                                           "HTTP Basic user required on every route (with the password)"),
                                       FIELD(serve.basic_auth_user)),
                         {"ML_SERVER_BASIC_AUTH_USER"}));
        b.push_back(with_aliases(string_option(opt("serve.basic_auth_pass", "--basic-auth-pass", "BASIC_AUTH_PASS",
                                                   T::secret, "HTTP Basic password; never logged"),
                                               FIELD(serve.basic_auth_pass)),
                                 {"ML_SERVER_BASIC_AUTH_PASS"}));
        b.push_back(string_option(opt("serve.webhook_secret", "--webhook-secret", "SEKE_WEBHOOK_SECRET", T::secret,
                                      "accept /webhook with header X-Seke-Webhook-Secret instead of Basic auth"),
                                  FIELD(serve.webhook_secret)));
        b.push_back(
            string_option(opt("serve.prior_label_keys", "--prior-label-keys", "SEKE_PRIOR_LABEL_KEYS", T::string,
                              "task.data keys read as known labels: expression,valence,arousal,action_units (comma "
                              "list, in that order)"),
                          FIELD(serve.prior_label_keys)));
        b.push_back(string_option(
            opt("serve.media_host_allowlist", "--media-host-allowlist", "SEKE_MEDIA_HOST_ALLOWLIST", T::string,
                "when set, task media is fetched only from these hosts (comma list; *.domain allowed) and Label Studio "
                "itself"),
            FIELD(serve.media_host_allowlist)));
        // label_studio: where task media and pushed predictions go
        b.push_back(
            with_aliases(string_option(opt("label_studio.url", "--label-studio-url", "LABEL_STUDIO_URL", T::string,
                                           "Label Studio base URL, for task media and pushing late predictions"),
                                       FIELD(label_studio.url)),
                         {"LABEL_STUDIO_HOST"}));
        b.push_back(with_aliases(
            string_option(opt("label_studio.api_key", "--label-studio-api-key", "LABEL_STUDIO_API_KEY", T::secret,
                              "Label Studio token: legacy token or personal access token; never logged"),
                          FIELD(label_studio.api_key)),
            {"LABEL_STUDIO_ACCESS_TOKEN"}));
        b.push_back(string_option(
            opt("label_studio.local_files_root", "--local-files-root", "LOCAL_FILES_DOCUMENT_ROOT", T::string,
                "root for /data/local-files/ and plain paths read from disk; nothing outside it is read; empty = no "
                "file "
                "is read from disk (Label Studio serves its own)"),
            FIELD(label_studio.local_files_root)));
        b.push_back(bool_option(opt("label_studio.verify_ssl", "--verify-ssl", "VERIFY_SSL", T::boolean,
                                    "verify TLS certificates of Label Studio and media hosts"),
                                FIELD(label_studio.verify_ssl)));
        b.push_back(bool_option(
            opt("label_studio.allow_private_hosts", "--allow-private-hosts", "SEKE_ALLOW_PRIVATE_HOSTS", T::boolean,
                "allow media URLs on private and loopback addresses (link-local and metadata are always refused)"),
            FIELD(label_studio.allow_private_hosts)));
        // label_studio.controls: which control of a project's labeling config each level goes to
        for (const ControlLevel& level : control_levels()) {
            const auto text = level.text;
            b.push_back(
                string_option(opt(std::string(level.key), std::string(level.flag), std::string(level.env), T::string,
                                  std::string(level.what) +
                                      ": a control name of the project's config, or none; empty = seke finds it"),
                              [text](Config& c) -> std::string& { return c.label_studio_controls.*text; }));
        }
        // fit: learning from reviews
        b.push_back(choice_option<CalibrationMethod>(
            opt("fit.method", "--fit-method", "SEKE_FIT_METHOD", T::choice,
                "how uncertainty is calibrated into a probability of error, per level"),
            FIELD(fit.method), {{"isotonic", CalibrationMethod::isotonic}, {"platt", CalibrationMethod::platt}}));
        b.push_back(
            integer_option<std::size_t>(opt("fit.min_reviews", "--fit-min-reviews", "SEKE_FIT_MIN_REVIEWS", T::integer,
                                            "reviews of a level needed before its calibration is trusted"),
                                        FIELD(fit.min_reviews), 1, 1'000'000));
        b.push_back(integer_option<std::size_t>(
            opt("fit.max_exemplars", "--fit-max-exemplars", "SEKE_FIT_MAX_EXEMPLARS", T::integer,
                "reviewed faces shown to the model as few-shot examples; 0 = none"),
            FIELD(fit.max_exemplars), 0, 8));
        b.push_back(integer_option<std::size_t>(
            opt("fit.max_exemplar_bytes", "--fit-max-exemplar-bytes", "SEKE_FIT_MAX_EXEMPLAR_BYTES", T::integer,
                "largest thumbnail JPEG used as an example, in bytes"),
            FIELD(fit.max_exemplar_bytes), 1024, 262144));
        // cvat: the REST API seke writes to and reads reviews from, and the function CVAT lists
        b.push_back(string_option(opt("cvat.url", "--cvat-url", "CVAT_URL", T::string,
                                      "CVAT base URL, e.g. http://localhost:8080 (REST worker and review sync)"),
                                  FIELD(cvat.url)));
        b.push_back(string_option(opt("cvat.access_token", "--cvat-access-token", "CVAT_ACCESS_TOKEN", T::secret,
                                      "CVAT personal access token (Authorization: Bearer); never logged"),
                                  FIELD(cvat.access_token)));
        b.push_back(string_option(opt("cvat.legacy_token", "--cvat-token", "CVAT_TOKEN", T::secret,
                                      "legacy CVAT token from /api/auth/login (Authorization: Token); never logged"),
                                  FIELD(cvat.legacy_token)));
        b.push_back(string_option(opt("cvat.username", "--cvat-username", "CVAT_USERNAME", T::string,
                                      "CVAT user for basic auth, used when no token is set"),
                                  FIELD(cvat.username)));
        b.push_back(string_option(opt("cvat.password", "--cvat-password", "CVAT_PASSWORD", T::secret,
                                      "CVAT password for basic auth; never logged"),
                                  FIELD(cvat.password)));
        b.push_back(string_option(opt("cvat.organization", "--cvat-org", "CVAT_ORG", T::string,
                                      "CVAT organization slug, sent as X-Organization"),
                                  FIELD(cvat.organization)));
        b.push_back(bool_option(
            opt("cvat.verify_ssl", "--cvat-verify-ssl", "CVAT_VERIFY_SSL", T::boolean, "verify CVAT's TLS certificate"),
            FIELD(cvat.verify_ssl)));
        b.push_back(integer_option<int>(opt("cvat.timeout_s", "--cvat-timeout", "CVAT_TIMEOUT", T::integer,
                                            "seconds allowed for one CVAT REST call"),
                                        FIELD(cvat.timeout_s), 1, 3600));
        b.push_back(string_option(opt("cvat.webhook_secret", "--cvat-webhook-secret", "CVAT_WEBHOOK_SECRET", T::secret,
                                      "secret of the CVAT webhook; POST /cvat/webhook checks X-Signature-256 with it"),
                                  FIELD(cvat.webhook_secret)));
        b.push_back(string_option(opt("cvat.function_name", "--cvat-function-name", "SEKE_CVAT_FUNCTION", T::string,
                                      "function id CVAT sees (metadata.name; letters, digits, _ . -)"),
                                  FIELD(cvat.function_name)));
        b.push_back(string_option(opt("cvat.display_name", "--cvat-display-name", "SEKE_CVAT_DISPLAY_NAME", T::string,
                                      "name shown under Models in CVAT"),
                                  FIELD(cvat.display_name)));
        b.push_back(string_option(opt("cvat.face_label", "--cvat-face-label", "SEKE_CVAT_FACE_LABEL", T::string,
                                      "rectangle label of a face; the task needs a label of this name"),
                                  FIELD(cvat.face_label)));
        b.push_back(string_option(opt("cvat.frame_tag_label", "--cvat-frame-tag", "SEKE_CVAT_FRAME_TAG", T::string,
                                      "tag label for a frame-level expression and face count; empty = no tag"),
                                  FIELD(cvat.frame_tag_label)));
        b.push_back(string_option(
            opt("cvat.expression_values", "--cvat-expression-values", "SEKE_CVAT_EXPRESSION_VALUES", T::string,
                "the task's expression select values, comma list, byte-identical; empty = the knowledge file's "
                "classes"),
            FIELD(cvat.expression_values)));
        b.push_back(integer_option<int>(
            opt("cvat.va_scale", "--cvat-va-scale", "SEKE_CVAT_VA_SCALE", T::integer,
                "valence/arousal v is written as the integer round(v*scale)+scale (CVAT numbers are digits only)"),
            FIELD(cvat.va_scale), 1, 10000));
        b.push_back(string_option(
            opt("cvat.confidence_attribute", "--cvat-confidence-attribute", "SEKE_CVAT_CONFIDENCE_ATTRIBUTE", T::string,
                "number attribute (0..100) carrying seke's confidence; empty = not sent"),
            FIELD(cvat.confidence_attribute)));
        b.push_back(string_option(opt("cvat.model_attribute", "--cvat-model-attribute", "SEKE_CVAT_MODEL_ATTRIBUTE",
                                      T::string, "text attribute carrying the model_version; empty = not sent"),
                                  FIELD(cvat.model_attribute)));
        b.push_back(number_option(
            opt("cvat.default_threshold", "--cvat-threshold", "SEKE_CVAT_THRESHOLD", T::number,
                "least confidence (1 - overall uncertainty) of a face sent to CVAT when CVAT sends no threshold"),
            FIELD(cvat.default_threshold), 0.0, 1.0));
        b.push_back(integer_option<int>(
            opt("cvat.http_port", "--cvat-http-port", "SEKE_CVAT_HTTP_PORT", T::integer,
                "status.httpPort reported to CVAT (its direct invocation mode); 0 = seke's own port"),
            FIELD(cvat.http_port), 0, 65535));
        return b;
    }();
    return table;
}

#undef FIELD

const Binding* find_by_key(const std::string& key) {
    for (const auto& b : bindings())
        if (b.info.key == key) return &b;
    return nullptr;
}

const Binding* find_by_flag(const std::string& flag) {
    for (const auto& b : bindings())
        if (b.info.flag == flag) return &b;
    return nullptr;
}

std::string json_scalar_to_text(const json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
    if (value.is_number_integer()) return std::to_string(value.get<long long>());
    if (value.is_number()) return format_number(value.get<double>());
    return value.dump();
}

ordered_json typed_value(const Binding& b, const Config& config) {
    std::string text = b.get(config);
    switch (b.info.type) {
        case OptionType::integer: return std::stoll(text);
        case OptionType::number: return std::stod(text);
        case OptionType::boolean: return text == "true";
        case OptionType::secret: return std::string{};
        case OptionType::object: return ordered_json::parse(text, nullptr, false);
        default: return text;
    }
}

}  // namespace

const std::vector<OptionInfo>& option_table() {
    static const std::vector<OptionInfo> infos = [] {
        std::vector<OptionInfo> out;
        for (const auto& b : bindings()) out.push_back(b.info);
        return out;
    }();
    return infos;
}

std::string data_dir() {
    if (const char* dir = std::getenv("SEKE_DATA_DIR"); dir && *dir) return dir;
    // An installed binary finds its data in ../share/seke; a build tree uses the sources.
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto installed = exe.parent_path().parent_path() / "share" / "seke";
        if (std::filesystem::exists(installed / "config" / "knowledge.json", ec)) return installed.string();
    }
    return SEKE_SOURCE_DATA_DIR;
}

Result<bool> set_option(Config& config, const std::string& key, const std::string& value) {
    const Binding* b = find_by_key(key);
    if (!b) return make_error(errc::config_error, "unknown option \"" + key + "\"");
    return b->set(config, value);
}

std::string get_option(const Config& config, const std::string& key) {
    const Binding* b = find_by_key(key);
    if (!b) return {};
    if (b->info.type == OptionType::secret) return b->get(config).empty() ? "" : "***";
    return b->get(config);
}

Result<bool> apply_config_file(Config& config, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::config_error, "config file " + path + ": cannot be read");
    std::ostringstream text;
    text << in.rdbuf();
    return apply_config_text(config, text.str(), path);
}

Result<bool> apply_config_text(Config& config, const std::string& text, const std::string& path) {
    if (!json_depth_within(text))
        return make_error(errc::config_error,
                          "config file " + path + ": nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    json root = json::parse(text, nullptr, false);
    if (root.is_discarded() || !root.is_object())
        return make_error(errc::config_error, "config file " + path + ": not a JSON object");
    // Flatten sections: {"vllm": {"model": ...}, "engine": {"weights": {...}}} → dotted keys.
    std::function<Result<bool>(const json&, const std::string&)> walk = [&](const json& object,
                                                                            const std::string& prefix) -> Result<bool> {
        for (const auto& [name, value] : object.items()) {
            if (!name.empty() && name[0] == '_') continue;  // "_doc" and other comments
            std::string key = prefix.empty() ? name : prefix + "." + name;
            if (const Binding* b = find_by_key(key); b && b->info.type == OptionType::object) {
                auto applied = set_option(config, key, value.dump());
                if (!applied)
                    return make_error(errc::config_error, "config file " + path + ": " + applied.error().message);
                continue;
            }
            if (value.is_object()) {
                auto nested = walk(value, key);
                if (!nested) return nested;
                continue;
            }
            if (value.is_array() || value.is_null())
                return make_error(errc::config_error,
                                  "config file " + path + ": option " + key + " must be a single value");
            auto applied = set_option(config, key, json_scalar_to_text(value));
            if (!applied) return make_error(errc::config_error, "config file " + path + ": " + applied.error().message);
        }
        return true;
    };
    return walk(root, "");
}

std::map<std::string, std::string> process_environment() {
    std::map<std::string, std::string> env;
    for (char** entry = environ; entry && *entry; ++entry) {
        std::string text(*entry);
        auto eq = text.find('=');
        if (eq != std::string::npos) env[text.substr(0, eq)] = text.substr(eq + 1);
    }
    return env;
}

Result<bool> apply_environment(Config& config, const std::map<std::string, std::string>& env) {
    for (const auto& b : bindings()) {
        auto found = env.find(b.info.env);
        // An alias stands in for an unset or empty name (LABEL_STUDIO_URL= with LABEL_STUDIO_HOST
        // set), as in the Label Studio SDK; an empty value with no alias set still applies.
        for (const auto& alias : b.info.env_aliases) {
            if (found != env.end() && !found->second.empty()) break;
            if (auto candidate = env.find(alias); candidate != env.end() && !candidate->second.empty())
                found = candidate;
        }
        if (found == env.end()) continue;
        auto applied = b.set(config, found->second);
        if (!applied) return applied;
    }
    return true;
}

Result<std::vector<std::string>> apply_flags(Config& config, const std::vector<std::string>& args) {
    std::vector<std::string> rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg.rfind("--", 0) != 0) {
            rest.push_back(arg);
            continue;
        }
        std::string flag = arg;
        std::optional<std::string> value;
        if (auto eq = arg.find('='); eq != std::string::npos) {
            flag = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        }
        const Binding* b = find_by_flag(flag);
        if (!b) {
            rest.push_back(arg);
            continue;
        }
        if (!value) {
            if (b->info.type == OptionType::boolean && (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0)) {
                value = "true";  // a bare boolean flag switches it on
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                return make_error(errc::config_error, "flag " + flag + " needs a value");
            }
        }
        auto applied = b->set(config, *value);
        if (!applied) return applied.error();
    }
    return rest;
}

Result<LoadedConfig> load_config(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    LoadedConfig loaded;
    std::vector<std::string> remaining;
    std::string config_path;
    if (auto found = env.find("SEKE_CONFIG"); found != env.end()) config_path = found->second;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--config") {
            if (i + 1 >= args.size()) return make_error(errc::config_error, "flag --config needs a file");
            config_path = args[++i];
        } else if (args[i].rfind("--config=", 0) == 0) {
            config_path = args[i].substr(9);
        } else {
            remaining.push_back(args[i]);
        }
    }
    if (!config_path.empty()) {
        auto applied = apply_config_file(loaded.config, config_path);
        if (!applied) return applied.error();
    }
    if (auto applied = apply_environment(loaded.config, env); !applied) return applied.error();
    auto rest = apply_flags(loaded.config, remaining);
    if (!rest) return rest.error();
    loaded.rest = std::move(*rest);
    resolve_provider(loaded.config);
    if (auto resolved = resolve_endpoints(loaded.config, env); !resolved) return resolved.error();
    if (auto valid = validate(loaded.config); !valid) return valid.error();
    return loaded;
}

std::string_view provider_name(Provider provider) noexcept {
    switch (provider) {
        case Provider::automatic: return "auto";
        case Provider::openai: return "openai";
        case Provider::expert: return "expert";
    }
    return "auto";
}

void resolve_provider(Config& config) {
    if (config.model.provider == Provider::automatic)
        config.model.provider =
            config.vllm.base_url.empty() && config.vllm.api_key.empty() ? Provider::expert : Provider::openai;
    if (config.model.provider == Provider::openai && config.vllm.base_url.empty())
        config.vllm.base_url = kOpenAiBaseUrl;
}

Result<bool> resolve_endpoints(Config& config, const std::map<std::string, std::string>& env) {
    auto lookup = [&env](const std::string& name) -> std::optional<std::string> {
        auto found = env.find(name);
        if (found == env.end()) return std::nullopt;
        return found->second;
    };
    const auto& vllm = config.vllm;
    auto endpoints = parse_endpoints(vllm.base_url, vllm.max_concurrency, vllm.api_key, lookup);
    if (!endpoints) {
        const auto& info = find_by_key("vllm.base_url")->info;
        return make_error(errc::config_error, "option " + info.key + " (" + info.flag + ", " + info.env +
                                                  "): bad value " + endpoints.error().message);
    }
    config.vllm.endpoints = std::move(*endpoints);
    return true;
}

std::optional<Price> model_price(const Config& config) {
    if (!config.cost.price.empty())
        if (auto price = parse_price(config.cost.price)) return *price;
    if (const Price* price = config.cost.prices.find(config.vllm.model)) return *price;
    return std::nullopt;
}

SpendLimits spend_limits(const Config& config) {
    SpendLimits limits;
    if (config.cost.max_cost_usd > 0) limits.max_usd = config.cost.max_cost_usd;
    if (config.cost.max_requests > 0) limits.max_requests = config.cost.max_requests;
    return limits;
}

Result<bool> validate(const Config& config) {
    const auto& e = config.engine;
    if (e.k_min > e.k_max)
        return make_error(errc::config_error, "option engine.k_min (" + std::to_string(e.k_min) +
                                                  ") must not exceed engine.k_max (" + std::to_string(e.k_max) + ")");
    const auto& w = e.weights;
    if (w.expression + w.va + w.au + w.consistency <= 0)
        return make_error(errc::config_error, "options engine.weights.* must not all be 0");
    if (config.model.provider == Provider::expert && !config.model.expert)
        return make_error(errc::config_error,
                          "option model.expert (--expert) is off, so the expert provider has nothing to label with: "
                          "turn it on or choose --provider openai");
    if (auto parsed = parse_control_overrides(config.label_studio_controls); !parsed) return parsed.error();
    if (config.cost.max_cost_usd > 0 && config.model.provider == Provider::openai && !model_price(config))
        return make_error(errc::config_error, "option cost.max_cost (--max-cost) needs a price for model \"" +
                                                  config.vllm.model +
                                                  "\", which the price table has not: give cost.price (--price, "
                                                  "SEKE_PRICE) or a cost.prices entry");
    if (config.vllm.backoff_base_ms > config.vllm.backoff_max_ms)
        return make_error(errc::config_error, "option vllm.backoff_base_ms must not exceed vllm.backoff_max_ms");
    return true;
}

std::string dump_config_json(const Config& config) {
    ordered_json root;
    root["_doc"] =
        "Every seke option with its default. Each one also has a flag and an environment "
        "variable (see each section's _doc, and docs/configuration.md); later sources win: "
        "this file < environment < flags. Keys starting with _ are comments.";
    for (const auto& b : bindings()) {
        // Split "engine.weights.va" into the nested path.
        std::vector<std::string> parts;
        std::stringstream keys(b.info.key);
        for (std::string part; std::getline(keys, part, '.');) parts.push_back(part);
        ordered_json* node = &root;
        for (std::size_t i = 0; i + 1 < parts.size(); ++i) node = &(*node)[parts[i]];
        (*node)["_doc"][parts.back()] = b.info.doc + " [" + b.info.flag + ", " + b.info.env + "]";
        (*node)[parts.back()] = typed_value(b, config);
    }
    return root.dump(2) + "\n";
}

std::string options_markdown() {
    std::string out = "| key | flag | environment | default | meaning |\n|---|---|---|---|---|\n";
    Config defaults;
    for (const auto& b : bindings()) {
        std::string def = b.info.type == OptionType::secret ? "(unset)" : b.get(defaults);
        if (def.empty()) def = "(empty)";
        std::string doc;
        for (char c : b.info.doc) doc += c == '|' ? std::string("\\|") : std::string(1, c);  // not a column
        if (!b.info.choices.empty()) {
            std::string list;
            for (const auto& c : b.info.choices) list += (list.empty() ? "" : ", ") + c;
            doc += " (one of: " + list + ")";
        }
        std::string envs = "`" + b.info.env + "`";
        for (const auto& alias : b.info.env_aliases) envs += ", `" + alias + "`";
        out += "| `" + b.info.key + "` | `" + b.info.flag + "` | " + envs + " | `" + def + "` | " + doc + " |\n";
    }
    return out;
}

}  // namespace seke
