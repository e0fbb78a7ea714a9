#pragma once
// Transport-free request and response: what routes see and return. Nothing here knows about
// sockets, so a route can be tested by building an HttpRequest by hand.
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "verify/errors.hpp"
#include "verify/text.hpp"

namespace seke::server {

struct HttpRequest {
    std::string method;                             // upper case: "GET", "POST", ...
    std::string target;                             // as sent: path and query, prefix included
    std::string path;                               // url_prefix stripped, percent-decoded, always starts with '/'
    std::multimap<std::string, std::string> query;  // decoded; '+' is a space
    std::map<std::string, std::string> headers;     // lower-case names; repeats joined with ", "
    std::string body;
    std::string request_id;      // the client's X-Request-Id when sane, otherwise generated
    std::string remote_address;  // "127.0.0.1:53211"
    std::chrono::steady_clock::time_point received_at = std::chrono::steady_clock::now();

    // Filled by the router: the pattern that matched ("/api/functions/{name}") and its params.
    std::string route;
    std::map<std::string, std::string> params;

    // The header's value, "" when absent; `name` is matched case-insensitively.
    [[nodiscard]] std::string header(std::string_view name) const;
    [[nodiscard]] bool has_header(std::string_view name) const;
    // The first value of a query parameter.
    [[nodiscard]] std::optional<std::string> query_param(std::string_view name) const;
    // A route parameter ("" when absent).
    [[nodiscard]] std::string param(std::string_view name) const;
};

struct HttpResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;  // as set; names case-insensitive
    std::string body;

    // Replaces every header of that name (case-insensitive), then adds this one.
    HttpResponse& set_header(std::string name, std::string value);
    [[nodiscard]] std::string header(std::string_view name) const;  // "" when absent
};

// The one errc → HTTP status mapping of the project.
int http_status(errc code) noexcept;
// The reason phrase of a status ("Not Found"), "" for unknown codes.
std::string_view status_reason(int status) noexcept;

// JSON body with Content-Type application/json. NaN and ±Inf cannot be JSON: nlohmann dumps them
// as null, which is what we want on the wire (callers that care must check before). Invalid
// UTF-8 in strings is replaced by U+FFFD instead of throwing.
HttpResponse json_response(int status, const nlohmann::json& body);
HttpResponse text_response(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");

// The one error body shape: {"error":{"code":"<errc_name>","message":"..."},"request_id":"..."}.
nlohmann::json error_body(const Error& error, std::string_view request_id);
HttpResponse error_response(const Error& error, std::string_view request_id = {});

// "a=1&b=x%20y&c" → {a:1, b:"x y", c:""}; nullopt when an escape is bad (see percent_decode).
std::optional<std::multimap<std::string, std::string>> parse_query(std::string_view query);

// 1–128 characters of [A-Za-z0-9._:-]: safe to echo in a header and a log line.
bool is_sane_request_id(std::string_view id) noexcept;
// 32 random lower-case hex characters.
std::string make_request_id();

}  // namespace seke::server
