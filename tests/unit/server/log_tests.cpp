#include "plugin/server/log.hpp"  // first: the header is self-contained

#include <vector>

#include <boost/test/unit_test.hpp>

using namespace seke::server;

namespace {

// Captures the global logger's lines and restores stderr and the level after.
struct Captured {
    Captured() : saved(logger().level()) {
        logger().set_sink([this](const std::string& line) { lines.push_back(line); });
        logger().set_level(LogLevel::info);
    }
    ~Captured() {
        logger().set_sink({});
        logger().set_level(saved);
    }
    LogLevel saved;
    std::vector<std::string> lines;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(server_log, Captured)

BOOST_AUTO_TEST_CASE(one_json_object_per_line) {
    logger().log(LogLevel::info, "http", "request", {{"status", 200}, {"msg", "cannot override"}}, "rid-1");
    BOOST_REQUIRE_EQUAL(lines.size(), 1u);
    BOOST_TEST(lines[0].find('\n') == std::string::npos);
    auto line = nlohmann::json::parse(lines[0]);
    BOOST_TEST(line["level"] == "info");
    BOOST_TEST(line["component"] == "http");
    BOOST_TEST(line["request_id"] == "rid-1");
    BOOST_TEST(line["msg"] == "request");
    BOOST_TEST(line["status"] == 200);
    auto ts = line["ts"].get<std::string>();
    BOOST_TEST(ts.size() == 24u);  // 2024-05-01T12:00:00.123Z
    BOOST_TEST(ts.back() == 'Z');
    BOOST_TEST(lines[0].starts_with("{\"ts\":"));  // fixed keys first
}

BOOST_AUTO_TEST_CASE(level_filter_and_bad_bytes) {
    logger().log(LogLevel::debug, "http", "hidden");
    BOOST_TEST(lines.empty());
    logger().set_level(LogLevel::error);
    logger().log(LogLevel::warn, "http", "hidden too");
    BOOST_TEST(lines.empty());
    logger().log(LogLevel::error, "http", std::string("bad \xFF bytes"));
    BOOST_REQUIRE_EQUAL(lines.size(), 1u);
    BOOST_TEST(!nlohmann::json::parse(lines[0], nullptr, false).is_discarded());

    LogLevel level = LogLevel::info;
    BOOST_TEST(parse_log_level("WARNING", level));
    BOOST_TEST((level == LogLevel::warn));
    BOOST_TEST(!parse_log_level("loud", level));
}

BOOST_AUTO_TEST_CASE(redaction) {
    BOOST_TEST(redact("Authorization", "Basic dXNlcjpwYXNz") == "[redacted]");
    BOOST_TEST(redact("cookie", "session=abc") == "[redacted]");
    BOOST_TEST(redact("X-Api-Key", "k") == "[redacted]");
    BOOST_TEST(redact("X-Seke-Webhook-Secret", "k") == "[redacted]");
    BOOST_TEST(redact("access_token", "k") == "[redacted]");
    BOOST_TEST(redact("x-forwarded-auth", "Bearer abc.def") == "Bearer [redacted]");
    BOOST_TEST(redact("x-note", "Token 123") == "Token [redacted]");
    BOOST_TEST(redact("user-agent", "heartex/1.13") == "heartex/1.13");
    auto headers = redacted_headers({{"authorization", "Basic x"}, {"host", "h"}});
    BOOST_TEST(headers["authorization"] == "[redacted]");
    BOOST_TEST(headers["host"] == "h");
}

BOOST_AUTO_TEST_SUITE_END()
