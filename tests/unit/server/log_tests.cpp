#include "plugin/server/log.hpp"  // first: the header is self-contained

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>

#include <poll.h>
#include <unistd.h>

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

namespace {

// Points stderr (fd 2) at a pipe for the test's duration; read() takes what was written.
struct StderrPipe {
    StderrPipe() {
        std::fflush(stderr);
        saved = dup(2);
        if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
        dup2(fds[1], 2);
    }
    ~StderrPipe() {
        std::fflush(stderr);
        dup2(saved, 2);
        close(saved);
        close(fds[1]);
        close(fds[0]);
    }
    StderrPipe(const StderrPipe&) = delete;
    StderrPipe& operator=(const StderrPipe&) = delete;
    // What is in the pipe now, without blocking.
    std::string read_available() const {
        std::string out;
        pollfd poll_fd{fds[0], POLLIN, 0};
        char chunk[65536];
        while (poll(&poll_fd, 1, 0) > 0 && (poll_fd.revents & POLLIN)) {
            auto n = ::read(fds[0], chunk, sizeof chunk);
            if (n <= 0) break;
            out.append(chunk, static_cast<std::size_t>(n));
        }
        return out;
    }
    int saved = -1;
    int fds[2] = {-1, -1};
};

std::size_t count_of(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server_log_buffered)

BOOST_AUTO_TEST_CASE(info_lines_are_batched_and_a_warning_writes_them_first_in_order) {
    StderrPipe pipe;
    logger().set_level(LogLevel::info);
    logger().set_buffered(true);
    logger().log(LogLevel::info, "http", "first");
    logger().log(LogLevel::info, "http", "second");
    logger().log(LogLevel::warn, "http", "third");
    // The warning is written at once, after what waited before it.
    std::string written = pipe.read_available();
    auto first = written.find("\"msg\":\"first\"");
    auto second = written.find("\"msg\":\"second\"");
    auto third = written.find("\"msg\":\"third\"");
    BOOST_TEST(first != std::string::npos);
    BOOST_TEST(second > first);
    BOOST_TEST(third > second);
    BOOST_TEST(third != std::string::npos);
    // An info line alone is written by the writer within its interval.
    logger().log(LogLevel::info, "http", "fourth");
    std::string later;
    for (int i = 0; i < 100 && later.find("fourth") == std::string::npos; ++i) {
        std::this_thread::sleep_for(Logger::kFlushInterval / 5);
        later += pipe.read_available();
    }
    BOOST_TEST(later.find("\"msg\":\"fourth\"") != std::string::npos);
    logger().set_buffered(false);
}

BOOST_AUTO_TEST_CASE(a_stalled_stderr_drops_lines_past_the_bound_and_says_how_many) {
    StderrPipe pipe;  // nobody reads it until the end: the writer blocks once the pipe is full
    logger().set_level(LogLevel::info);
    logger().set_buffered(true);
    const std::string filler(1000, 'x');
    const std::size_t lines = 2 * Logger::kMaxBufferedBytes / 1000;
    for (std::size_t i = 0; i < lines; ++i) logger().log(LogLevel::info, "http", "line", {{"filler", filler}});
    std::string written;
    std::atomic<bool> done{false};
    std::thread reader([&] {
        while (!done) {
            written += pipe.read_available();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        written += pipe.read_available();
    });
    logger().set_buffered(false);  // joins the writer and writes what waits
    done = true;
    reader.join();
    std::size_t kept = count_of(written, "\"msg\":\"line\"");
    BOOST_TEST(kept < lines);
    BOOST_TEST(kept > lines / 4);
    auto notice = written.find("\"msg\":\"log lines dropped\"");
    BOOST_TEST_REQUIRE(notice != std::string::npos);
    auto line_end = written.find('\n', notice);
    auto dropped = nlohmann::json::parse(
        written.substr(written.rfind('\n', notice) + 1, line_end - written.rfind('\n', notice) - 1));
    BOOST_TEST(dropped["dropped"].get<std::size_t>() + kept == lines);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server_log_text)

BOOST_AUTO_TEST_CASE(json_strings_are_escaped_and_bad_utf8_replaced) {
    auto literal = [](std::string_view text) {
        std::string out;
        append_json_string(out, text);
        return out;
    };
    BOOST_TEST(literal("plain") == "\"plain\"");
    BOOST_TEST(literal("a\"b\\c\n\t\x01") == "\"a\\\"b\\\\c\\n\\t\\u0001\"");
    BOOST_TEST(literal("caf\xC3\xA9 \xF0\x9F\x98\x80") == "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
    // Stray continuation, truncated sequence, overlong form, surrogate: each byte replaced.
    for (std::string bad : {"\x80", "\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF5\x80\x80\x80"}) {
        std::string out = literal(bad);
        auto parsed = nlohmann::json::parse(out, nullptr, false);
        BOOST_TEST_CONTEXT(out) {
            BOOST_TEST(!parsed.is_discarded());
            BOOST_TEST(parsed.get<std::string>().find("\xEF\xBF\xBD") != std::string::npos);
        }
    }
    // Whatever the bytes, the result parses back as JSON.
    std::string every_byte;
    for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
    BOOST_TEST(!nlohmann::json::parse(literal(every_byte), nullptr, false).is_discarded());
}

BOOST_AUTO_TEST_CASE(a_caller_formatted_line_goes_through_the_same_filter_and_sink) {
    Captured captured;
    std::string line = log_line_head(LogLevel::info, "http", "request", "rid-9") + R"(,"status":200})";
    logger().write_line(LogLevel::info, line);
    logger().write_line(LogLevel::debug, line);  // below the level: dropped
    BOOST_REQUIRE_EQUAL(captured.lines.size(), 1u);
    auto parsed = nlohmann::json::parse(captured.lines[0]);
    BOOST_TEST(parsed["request_id"] == "rid-9");
    BOOST_TEST(parsed["msg"] == "request");
    BOOST_TEST(parsed["status"] == 200);
    BOOST_TEST(parsed["ts"].get<std::string>().size() == 24u);
}

BOOST_AUTO_TEST_SUITE_END()
