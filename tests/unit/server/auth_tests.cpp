#include "plugin/server/auth.hpp"  // first: the header is self-contained

#include <boost/test/unit_test.hpp>

#include "connectors/crypto.hpp"
#include "tests/unit/server/server_test_util.hpp"

using namespace seke;
using namespace seke::server;
using namespace seke::server::test;

namespace {

std::string basic(const std::string& user, const std::string& pass) {
    return "Basic " + base64_encode(user + ":" + pass);
}

AuthSettings settings() {
    AuthSettings s;
    s.user = "ls";
    s.pass = "s3cr:et";
    s.webhook_secret = "hook-secret";
    return s;
}

Router auth_router(const AuthSettings& s) {
    Router router;
    auto ok = [](const HttpRequest&, Responder r) { r.send_json(200, {{"ok", true}}); };
    router.get("/health", require_basic_auth(s, ok));
    router.post("/webhook", require_webhook_auth(s, ok));
    return router;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server_auth)

BOOST_AUTO_TEST_CASE(constant_time_equal_compares_whole_strings) {
    BOOST_TEST(constant_time_equal("", ""));
    BOOST_TEST(constant_time_equal("secret", "secret"));
    BOOST_TEST(!constant_time_equal("secret", "secreT"));
    BOOST_TEST(!constant_time_equal("secret", "Secret"));
    BOOST_TEST(!constant_time_equal("secret", "secret "));
    BOOST_TEST(!constant_time_equal("secret", "secre"));
    BOOST_TEST(!constant_time_equal("", "x"));
    // A prefix padded with NULs must not pass as the longer string.
    BOOST_TEST(!constant_time_equal(std::string("ab\0", 3), "ab"));
}

BOOST_AUTO_TEST_CASE(parse_basic_header) {
    auto parsed = parse_basic_authorization(basic("user", "pa:ss"));
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST(parsed->first == "user");
    BOOST_TEST(parsed->second == "pa:ss");
    BOOST_TEST(parse_basic_authorization("basic " + base64_encode("a:b")).has_value());
    BOOST_TEST(!parse_basic_authorization("Bearer abc").has_value());
    BOOST_TEST(!parse_basic_authorization("Basic !!!").has_value());
    BOOST_TEST(!parse_basic_authorization("Basic " + base64_encode("nocolon")).has_value());
    BOOST_TEST(!parse_basic_authorization("").has_value());
}

BOOST_AUTO_TEST_CASE(checks_without_sockets) {
    auto s = settings();
    HttpRequest request;
    BOOST_TEST(!check_basic_auth(request, s));
    request.headers["authorization"] = basic("ls", "s3cr:et");
    BOOST_TEST(check_basic_auth(request, s));
    request.headers["authorization"] = basic("ls", "wrong");
    BOOST_TEST(!check_basic_auth(request, s));
    request.headers["authorization"] = basic("LS", "s3cr:et");
    BOOST_TEST(!check_basic_auth(request, s));
    BOOST_TEST(check_basic_auth(request, AuthSettings{}));  // off

    BOOST_TEST(!check_webhook_secret(request, s));
    request.headers["x-seke-webhook-secret"] = "hook-secret";
    BOOST_TEST(check_webhook_secret(request, s));
    request.headers["x-seke-webhook-secret"] = "hook-secreT";
    BOOST_TEST(!check_webhook_secret(request, s));

    auto custom = s;
    custom.webhook_secret_header = "X-Hook";
    request.headers["x-hook"] = "hook-secret";
    BOOST_TEST(check_webhook_secret(request, custom));
    BOOST_TEST(!check_webhook_secret(request, AuthSettings{}));  // no secret configured
}

BOOST_AUTO_TEST_CASE(basic_auth_over_http) {
    TestServer server(auth_router(settings()));
    auto none = fetch(server.port, "GET", "/health");
    BOOST_REQUIRE(none.ok);
    BOOST_TEST(none.status == 401);
    BOOST_TEST(none.header("WWW-Authenticate") == "Basic realm=\"seke\"");
    BOOST_TEST(none.json()["error"]["code"] == "unauthorized");
    BOOST_TEST(none.header("content-type") == "application/json");

    auto wrong = fetch(server.port, "GET", "/health", "", {{"Authorization", basic("ls", "nope")}});
    BOOST_TEST(wrong.status == 401);
    BOOST_TEST(wrong.body.find("nope") == std::string::npos);

    auto right = fetch(server.port, "GET", "/health", "", {{"Authorization", basic("ls", "s3cr:et")}});
    BOOST_TEST(right.status == 200);
    BOOST_TEST(right.json()["ok"] == true);
}

BOOST_AUTO_TEST_CASE(webhook_secret_over_http) {
    TestServer server(auth_router(settings()));
    auto none = fetch(server.port, "POST", "/webhook", "{}");
    BOOST_TEST(none.status == 401);
    BOOST_TEST(none.json()["error"]["message"].get<std::string>().find("X-Seke-Webhook-Secret") != std::string::npos);

    auto wrong = fetch(server.port, "POST", "/webhook", "{}", {{"X-Seke-Webhook-Secret", "guess"}});
    BOOST_TEST(wrong.status == 401);

    auto secret = fetch(server.port, "POST", "/webhook", "{}", {{"X-Seke-Webhook-Secret", "hook-secret"}});
    BOOST_TEST(secret.status == 200);

    auto by_basic = fetch(server.port, "POST", "/webhook", "{}", {{"Authorization", basic("ls", "s3cr:et")}});
    BOOST_TEST(by_basic.status == 200);

    TestServer open(auth_router(AuthSettings{}));
    BOOST_TEST(fetch(open.port, "POST", "/webhook", "{}").status == 200);
    BOOST_TEST(fetch(open.port, "GET", "/health").status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
