#pragma once
// Shared bits of the Label Studio media tests: tokens, settings pointing at a fake LS on
// 127.0.0.1, and a query-string reader.
#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "connectors/crypto.hpp"
#include "connectors/label_studio.hpp"
#include "tests/support/scripted_http_server.hpp"
#include "verify/text.hpp"  // percent_decode, for the query values the fake LS saw

namespace seke::test::ls {

inline const std::string kLegacyKey = "0123456789abcdef0123456789abcdef01234567";

inline std::string b64url(const std::string& bytes) {
    std::string out = base64_encode(bytes);
    for (auto& c : out) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    while (!out.empty() && out.back() == '=') out.pop_back();
    return out;
}

inline long long unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

inline std::string make_jwt(const nlohmann::json& payload) {
    return b64url(R"({"alg":"HS256","typ":"JWT"})") + "." + b64url(payload.dump()) + ".c2lnbmF0dXJl";
}

inline std::string refresh_token(long long exp_in_s = 86400) {
    return make_jwt({{"token_type", "refresh"}, {"exp", unix_now() + exp_in_s}, {"jti", "pat-1"}});
}

inline std::string access_token(const std::string& id, long long exp_in_s = 3600) {
    return make_jwt({{"token_type", "access"}, {"exp", unix_now() + exp_in_s}, {"jti", id}});
}

inline LabelStudioSettings settings_for(const ScriptedHttpServer& ls, std::string key = kLegacyKey) {
    LabelStudioSettings settings;
    settings.url = ls.base_url();
    settings.api_key = std::move(key);
    settings.timeout_ms = 5000;
    settings.retry_base_ms = 5;
    return settings;
}

inline ImageLimits small_limits(std::size_t max_bytes = 1u << 20) {
    ImageLimits limits;
    limits.max_bytes = max_bytes;
    limits.download_timeout_ms = 5000;
    return limits;
}

// The raw value of `name` in the request's query ("" when absent).
inline std::string query_value(const HttpRequest& request, const std::string& name) {
    auto q = request.target.find('?');
    if (q == std::string::npos) return "";
    std::string query = request.target.substr(q + 1);
    std::size_t at = 0;
    while (at <= query.size()) {
        auto end = query.find('&', at);
        std::string pair = query.substr(at, end == std::string::npos ? std::string::npos : end - at);
        auto eq = pair.find('=');
        if (pair.substr(0, eq) == name) return eq == std::string::npos ? "" : pair.substr(eq + 1);
        if (end == std::string::npos) break;
        at = end + 1;
    }
    return "";
}

// The error message of a failed Result, "" for a success (for test messages).
template <class T>
std::string error_text(const Result<T>& result) {
    return result.ok() ? std::string() : result.error().message;
}

}  // namespace seke::test::ls
