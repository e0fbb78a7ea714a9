#pragma once
// The model endpoints behind vllm.base_url: one OpenAI-compatible server, or a fleet of them
// (vLLM, Ollama, llama.cpp...) each with its own concurrency limit and key.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verify/errors.hpp"

namespace seke {

struct VllmEndpoint {
    std::string base_url;      // ".../v1"; "/chat/completions" is added
    int max_concurrency = 16;  // requests in flight on this endpoint at once
    std::string api_key;       // sent as Bearer; empty: none. Never logged
};

inline constexpr int kMaxEndpointConcurrency = 1024;

// An environment variable's value, or nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Parses a list of endpoints: entries separated by commas, each `URL` or
// `URL|concurrency=N|key=env:NAME` (settings in any order, each optional; key=none sends no
// key). An entry without concurrency takes `default_concurrency`, one without key `default_key`.
// An empty `spec` is no endpoint. Errors are errc::config_error and show an entry's URL without
// user info or query, and never a key.
Result<std::vector<VllmEndpoint>> parse_endpoints(std::string_view spec, int default_concurrency,
                                                  const std::string& default_key, const EnvLookup& env);

// What logs, errors and metrics show of an endpoint: its base URL without user info, query,
// fragment or trailing slash.
std::string endpoint_label(const std::string& base_url);

}  // namespace seke
