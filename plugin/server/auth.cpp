#include "plugin/server/auth.hpp"

#include <cctype>

#include "connectors/crypto.hpp"
#include "plugin/server/log.hpp"

namespace seke::server {

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    // Fold the length difference in, then XOR over the longer length (missing bytes read as 0).
    std::size_t n = a.size() > b.size() ? a.size() : b.size();
    volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < n; ++i) {
        auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
        auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
        diff = static_cast<unsigned char>(diff | (x ^ y));
    }
    return diff == 0;
}

std::optional<std::pair<std::string, std::string>> parse_basic_authorization(std::string_view header) {
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    if (header.size() < 6 || to_lower(header.substr(0, 6)) != "basic ") return std::nullopt;
    header.remove_prefix(6);
    while (!header.empty() && (header.front() == ' ' || header.back() == ' '))
        header.front() == ' ' ? header.remove_prefix(1) : header.remove_suffix(1);
    if (header.empty() || header.size() > 4096) return std::nullopt;
    auto decoded = base64_decode(std::string(header));
    if (!decoded) return std::nullopt;
    auto colon = decoded->find(':');
    if (colon == std::string::npos) return std::nullopt;
    return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

bool check_basic_auth(const HttpRequest& request, const AuthSettings& settings) noexcept {
    if (!settings.basic_enabled()) return true;
    try {
        auto credentials = parse_basic_authorization(request.header("authorization"));
        std::string user = credentials ? credentials->first : std::string();
        std::string pass = credentials ? credentials->second : std::string();
        // Bitwise & on purpose: both comparisons always run.
        bool user_ok = constant_time_equal(user, settings.user);
        bool pass_ok = constant_time_equal(pass, settings.pass);
        return credentials.has_value() & user_ok & pass_ok;
    } catch (...) {
        return false;
    }
}

bool check_webhook_secret(const HttpRequest& request, const AuthSettings& settings) noexcept {
    if (!settings.secret_enabled()) return false;
    try {
        if (!request.has_header(settings.webhook_secret_header)) return false;
        return constant_time_equal(request.header(settings.webhook_secret_header), settings.webhook_secret);
    } catch (...) {
        return false;
    }
}

HttpResponse unauthorized_response(std::string_view request_id, std::string message, bool basic_challenge) {
    auto response = error_response(make_error(errc::unauthorized, std::move(message)), request_id);
    if (basic_challenge) response.set_header("WWW-Authenticate", "Basic realm=\"seke\"");
    return response;
}

Handler require_basic_auth(AuthSettings settings, Handler handler) {
    return [settings = std::move(settings), handler = std::move(handler)](const HttpRequest& request,
                                                                          Responder responder) {
        if (!check_basic_auth(request, settings)) {
            // Say whether credentials came, never what they were.
            logger().log(LogLevel::warn, "auth", "basic auth failed",
                         {{"path", request.path}, {"credentials_sent", request.has_header("authorization")}},
                         request.request_id);
            responder.send(unauthorized_response(request.request_id));
            return;
        }
        handler(request, std::move(responder));
    };
}

Handler require_webhook_auth(AuthSettings settings, Handler handler) {
    return [settings = std::move(settings), handler = std::move(handler)](const HttpRequest& request,
                                                                          Responder responder) {
        bool open = !settings.basic_enabled() && !settings.secret_enabled();
        bool by_secret = check_webhook_secret(request, settings);
        bool by_basic = settings.basic_enabled() && check_basic_auth(request, settings);
        if (!(open || by_secret || by_basic)) {
            logger().log(LogLevel::warn, "auth", "webhook auth failed",
                         {{"path", request.path},
                          {"secret_header_sent", request.has_header(settings.webhook_secret_header)},
                          {"credentials_sent", request.has_header("authorization")}},
                         request.request_id);
            std::string message = settings.secret_enabled()
                                      ? "missing or wrong " + settings.webhook_secret_header + " header"
                                      : std::string("authentication required");
            responder.send(unauthorized_response(request.request_id, message, settings.basic_enabled()));
            return;
        }
        handler(request, std::move(responder));
    };
}

}  // namespace seke::server
