#pragma once
// Credentials checks for the server: HTTP Basic (what Label Studio sends when the ML backend has
// BASIC_AUTH set) and a shared-secret header (webhooks LS creates carry no Authorization).
// Secrets are never logged.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "plugin/server/router.hpp"

namespace seke::server {

struct AuthSettings {
    std::string user;  // Basic auth is on when user and pass are both set
    std::string pass;
    std::string webhook_secret;  // the shared-secret check is on when set
    std::string webhook_secret_header = "X-Seke-Webhook-Secret";

    [[nodiscard]] bool basic_enabled() const noexcept { return !user.empty() && !pass.empty(); }
    [[nodiscard]] bool secret_enabled() const noexcept { return !webhook_secret.empty(); }
};

// Compares every byte of the longer input whatever the contents, so the time taken does not
// tell how many leading bytes matched. (It does depend on the lengths.)
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// "Basic dXNlcjpwYXNz" → {"user", "pass"}. The scheme is case-insensitive; the password may
// contain ':'. nullopt when it is not well-formed Basic credentials.
std::optional<std::pair<std::string, std::string>> parse_basic_authorization(std::string_view header);

// True when Basic auth is off, or the request carries the configured user and password. Both
// are compared in full even when the first differs.
bool check_basic_auth(const HttpRequest& request, const AuthSettings& settings) noexcept;
// True when the configured shared-secret header is present and equal to the secret (false
// when no secret is configured).
bool check_webhook_secret(const HttpRequest& request, const AuthSettings& settings) noexcept;

// 401 with `WWW-Authenticate: Basic realm="seke"` and the JSON error body.
HttpResponse unauthorized_response(std::string_view request_id, std::string message = "authentication required",
                                   bool basic_challenge = true);

// Handler wrappers. require_basic_auth answers 401 unless check_basic_auth passes.
// require_webhook_auth admits a request with the right shared secret, or (when Basic is on)
// the right Basic credentials; with neither configured it admits everything.
Handler require_basic_auth(AuthSettings settings, Handler handler);
Handler require_webhook_auth(AuthSettings settings, Handler handler);

}  // namespace seke::server
