#pragma once
// One config struct with in-class defaults. Every option has a key in config/seke.json, a
// command-line flag and an environment twin; later sources win: defaults < file < env < flags.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/cvat_settings.hpp"
#include "connectors/image.hpp"
#include "connectors/label_studio.hpp"
#include "connectors/vllm_client.hpp"
#include "plugin/config/fit_settings.hpp"
#include "plugin/config/label_studio_controls.hpp"
#include "verify/cost.hpp"
#include "verify/engine_config.hpp"
#include "verify/errors.hpp"

namespace seke {

struct RunSettings {
    std::string db_path = "seke.db";  // a SQLite path or a PostgreSQL URI
    int db_wait_ms = 30'000;          // PostgreSQL: keep trying a server that does not answer, at start
    std::string label_job;            // seke label's shared job; empty = named by the input
    int lease_seconds = 60;           // a worker's claim on an item, unrenewed
    std::string knowledge_path;       // empty: config/knowledge.json of the data dir
    std::string model_version;        // empty: derived from model, mode and knowledge
    bool use_fit = true;              // label and cvat annotate: the last fit's examples and version
    int image_threads = 0;            // 0: one per core
    double progress_interval_s = 5;   // plain progress lines when not on a terminal
    std::string log_level = "info";
};

// `seke serve`: the HTTP server and what the platforms see.
struct ServeSettings {
    std::string host = "127.0.0.1";
    int port = 9090;
    int threads = 4;
    std::size_t body_limit = 256u << 20;        // Label Studio sends a whole "Retrieve predictions" at once
    std::size_t webhook_body_limit = 8u << 20;  // webhook bodies are stored: a review is kilobytes
    std::size_t max_connections = 1024;
    std::size_t max_connections_per_client = 256;
    int body_progress_timeout_ms = 10'000;    // a body that stalls this long is dropped
    std::size_t body_min_bytes_per_s = 4096;  // and one slower than this on average
    std::string url_prefix;
    int predict_deadline_ms = 80'000;         // answer before Label Studio's 100 s read timeout
    int media_threads = 0;                    // decoding task images and storing results; 0: two per core
    int media_fetch_concurrency = 32;         // task images downloaded at once, apart from the media threads
    std::size_t media_queue_limit = 100'000;  // tasks waiting for the fetch or the media threads
    std::string model_class = "SekeFaceEmotion";
    std::string model_dir;  // MODEL_DIR: the default store lives here when set
    std::string basic_auth_user;
    std::string basic_auth_pass;
    std::string webhook_secret;  // accept /webhook with this shared secret instead of Basic
    std::string prior_label_keys = "expression,valence,arousal,action_units";  // task.data keys
    std::string media_host_allowlist;  // comma list of hosts (or *.domain) media may come from
};

// Who labels the faces.
enum class Provider {
    automatic,  // openai when an endpoint or a key is configured (vllm.base_url, vllm.api_key), else expert
    openai,     // the vision LLM behind vllm.base_url, with the built-in expert as a second opinion
    expert,     // the built-in face expert alone: no key, no network
};
std::string_view provider_name(Provider provider) noexcept;

struct ModelSettings {
    Provider provider = Provider::automatic;  // load_config() decides `automatic` into one of the others
    bool expert = true;                       // with openai: run the built-in expert on every face as evidence
    std::string expert_models_dir;            // holds face-api/ and human/; empty = models/ in seke's data
    double expert_min_face_score = 0.5;       // facemesh's face flag under which the expert abstains
};

// What the model's tokens cost, and the caps of one `seke label` run.
struct CostSettings {
    PriceTable prices = PriceTable::shipped();  // with cost.prices' entries on top
    std::string price_entries;                  // cost.prices as given: a JSON object, model → price
    std::string price;                          // cost.price: vllm.model's price, over the table's
    double max_cost_usd = 0;                    // 0: no cap
    std::int64_t max_requests = 0;              // 0: no cap
};

struct Config {
    ModelSettings model;
    VllmSettings vllm;
    EngineConfig engine;
    FaceOptions face;
    ImageLimits image;
    RunSettings run;
    ServeSettings serve;
    LabelStudioSettings label_studio;
    LabelStudioControls label_studio_controls;  // label_studio.controls.*
    CvatSettings cvat;
    FitSettings fit;
    CostSettings cost;
};

// The price of vllm.model: cost.price when given, else its entry in the table; nullopt: none.
std::optional<Price> model_price(const Config& config);
// The caps of cost.max_cost and cost.max_requests.
SpendLimits spend_limits(const Config& config);

// object: a JSON object, written as one in the config file and as its text in a flag or variable.
enum class OptionType { string, secret, integer, number, boolean, choice, object };

// One row of the option table: the single place an option is declared.
struct OptionInfo {
    std::string key;   // "vllm.base_url"
    std::string flag;  // "--base-url"
    std::string env;   // "OPENAI_BASE_URL"
    OptionType type = OptionType::string;
    std::string doc;
    std::vector<std::string> choices;      // for OptionType::choice
    std::vector<std::string> env_aliases;  // other variable names read when `env` is unset or empty
};
const std::vector<OptionInfo>& option_table();

// Where shipped defaults live: $SEKE_DATA_DIR, else next to the binary's share dir, else the
// source tree it was built from.
std::string data_dir();

// Applies one option by key; errors name the key and the bad value.
Result<bool> set_option(Config& config, const std::string& key, const std::string& value);
std::string get_option(const Config& config, const std::string& key);  // secrets masked

// Reads a seke.json file (sections → keys; "_doc" keys ignored; unknown keys are errors).
Result<bool> apply_config_file(Config& config, const std::string& path);
// The same for the file's text; `path` only names it in errors.
Result<bool> apply_config_text(Config& config, const std::string& text, const std::string& path);
// Applies every option whose environment variable is set in `env`.
Result<bool> apply_environment(Config& config, const std::map<std::string, std::string>& env);
std::map<std::string, std::string> process_environment();

// Consumes option flags (`--flag value` / `--flag=value`) from args; the rest is returned in
// order for the command to parse. `--config FILE` is handled by load_config.
Result<std::vector<std::string>> apply_flags(Config& config, const std::vector<std::string>& args);

// The whole chain: defaults, file (--config / SEKE_CONFIG / none), environment, flags. Returns
// the arguments the option table did not consume.
struct LoadedConfig {
    Config config;
    std::vector<std::string> rest;
};
Result<LoadedConfig> load_config(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);

// The OpenAI endpoint used when only a key is configured.
inline constexpr const char* kOpenAiBaseUrl = "https://api.openai.com/v1";
// Decides model.provider when it is `automatic`, and fills vllm.base_url with kOpenAiBaseUrl when
// openai was chosen by a key alone. load_config() calls it; the result never says `automatic`.
void resolve_provider(Config& config);

// Parses vllm.base_url into vllm.endpoints (reading the keys an entry names from `env`), after
// resolve_provider. load_config() calls it; errors name the option and the bad entry.
Result<bool> resolve_endpoints(Config& config, const std::map<std::string, std::string>& env);

// Cross-field checks (k_min <= k_max, temperatures, positive limits...).
Result<bool> validate(const Config& config);

// seke.json text for the given config, with a "_doc" object per section (shipped as config/).
std::string dump_config_json(const Config& config);
// Markdown table of every option (docs/configuration.md).
std::string options_markdown();

}  // namespace seke
