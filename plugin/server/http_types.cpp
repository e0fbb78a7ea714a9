#include "plugin/server/http_types.hpp"

#include <array>
#include <cctype>
#include <random>

namespace seke::server {

std::string HttpRequest::header(std::string_view name) const {
    auto it = headers.find(to_lower(name));
    return it == headers.end() ? std::string() : it->second;
}

bool HttpRequest::has_header(std::string_view name) const {
    return headers.count(to_lower(name)) > 0;
}

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
    auto it = query.find(std::string(name));
    if (it == query.end()) return std::nullopt;
    return it->second;
}

std::string HttpRequest::param(std::string_view name) const {
    auto it = params.find(std::string(name));
    return it == params.end() ? std::string() : it->second;
}

HttpResponse& HttpResponse::set_header(std::string name, std::string value) {
    std::erase_if(headers, [&](const auto& header) { return iequals(header.first, name); });
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
}

std::string HttpResponse::header(std::string_view name) const {
    for (const auto& [key, value] : headers)
        if (iequals(key, name)) return value;
    return {};
}

int http_status(errc code) noexcept {
    switch (code) {
        case errc::invalid_argument:
        case errc::bad_json:
        case errc::config_error: return 400;
        case errc::unauthorized: return 401;
        case errc::forbidden: return 403;
        case errc::not_found: return 404;
        case errc::method_not_allowed: return 405;
        case errc::payload_too_large: return 413;
        case errc::unsupported_media: return 415;
        case errc::image_error:
        case errc::no_face:
        case errc::malformed_answer: return 422;
        case errc::upstream_error: return 502;
        case errc::upstream_timeout: return 504;
        case errc::cancelled:
        case errc::overloaded: return 503;
        case errc::io_error:
        case errc::internal: return 500;
    }
    return 500;
}

std::string_view status_reason(int status) noexcept {
    switch (status) {
        case 100: return "Continue";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 413: return "Payload Too Large";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Entity";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "";
    }
}

HttpResponse json_response(int status, const nlohmann::json& body) {
    HttpResponse response;
    response.status = status;
    response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    response.headers.emplace_back("Content-Type", "application/json");
    return response;
}

HttpResponse text_response(int status, std::string body, std::string content_type) {
    HttpResponse response;
    response.status = status;
    response.body = std::move(body);
    response.headers.emplace_back("Content-Type", std::move(content_type));
    return response;
}

nlohmann::json error_body(const Error& error, std::string_view request_id) {
    return {{"error", {{"code", errc_name(error.code)}, {"message", error.message}}}, {"request_id", request_id}};
}

HttpResponse error_response(const Error& error, std::string_view request_id) {
    HttpResponse response = json_response(http_status(error.code), error_body(error, request_id));
    if (!request_id.empty()) response.set_header("X-Request-Id", std::string(request_id));
    return response;
}

std::optional<std::multimap<std::string, std::string>> parse_query(std::string_view query) {
    std::multimap<std::string, std::string> out;
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) continue;
        auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
        if (!key || !value) return std::nullopt;
        out.emplace(std::move(*key), std::move(*value));
    }
    return out;
}

bool is_sane_request_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    return true;
}

std::string make_request_id() {
    // One generator per thread: no lock, and seeded from the OS once.
    thread_local std::mt19937_64 rng{[] {
        std::random_device device;
        return (static_cast<std::uint64_t>(device()) << 32) ^ device();
    }()};
    static constexpr std::array<char, 16> digits{'0', '1', '2', '3', '4', '5', '6', '7',
                                                 '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    std::string id;
    id.reserve(32);
    for (int half = 0; half < 2; ++half) {
        std::uint64_t bits = rng();
        for (int i = 0; i < 16; ++i, bits >>= 4) id.push_back(digits[bits & 0xF]);
    }
    return id;
}

}  // namespace seke::server
