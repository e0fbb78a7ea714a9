#include "plugin/server/http_server.hpp"  // first: the header is self-contained

#include <atomic>
#include <csignal>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "tests/unit/server/server_test_util.hpp"

using namespace seke;
using namespace seke::server;
using namespace seke::server::test;
using namespace std::chrono_literals;

namespace {

using Ms = std::chrono::milliseconds;

Ms since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - start);
}

// The routes most tests share.
Router basic_router(Delayer* delayer = nullptr) {
    Router router;
    router.get("/hello", [](const HttpRequest& q, Responder r) {
        r.send_json(200, {{"hello", "world"},
                          {"path", q.path},
                          {"id", q.request_id},
                          {"remote", q.remote_address},
                          {"q", q.query_param("q").value_or("")}});
    });
    router.post("/echo", [](const HttpRequest& q, Responder r) {
        r.send(text_response(200, q.body, "application/octet-stream"));
    });
    router.get("/", [](const HttpRequest&, Responder r) { r.send_json(200, {{"root", true}}); });
    router.get("/throw", [](const HttpRequest&, Responder) { throw std::runtime_error("handler bug"); });
    router.get("/drop", [](const HttpRequest&, Responder) {});
    if (delayer)
        router.get("/slow", [delayer](const HttpRequest& q, Responder r) {
            int ms = std::stoi(q.query_param("ms").value_or("100"));
            delayer->after(ms, std::move(r), json_response(200, {{"slept", ms}}));
        });
    return router;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(server_http)

BOOST_AUTO_TEST_CASE(routes_404_405_and_standard_headers) {
    TestServer server(basic_router());
    auto ok = fetch(server.port, "GET", "/hello?q=a%20b");
    BOOST_REQUIRE_MESSAGE(ok.ok, ok.error);
    BOOST_TEST(ok.status == 200);
    BOOST_TEST(ok.json()["q"] == "a b");
    BOOST_TEST(ok.header("content-type") == "application/json");
    BOOST_TEST(ok.header("content-length") == std::to_string(ok.body.size()));
    BOOST_TEST(ok.header("server") == std::string("seke/") + SEKE_VERSION);
    BOOST_TEST(ok.header("x-request-id").size() == 32u);
    BOOST_TEST(ok.json()["id"] == ok.header("x-request-id"));

    auto missing = fetch(server.port, "GET", "/nowhere/%C3%A9");
    BOOST_TEST(missing.status == 404);
    BOOST_TEST(missing.json()["error"]["code"] == "not_found");
    BOOST_TEST(missing.json()["error"]["message"].get<std::string>().find("/nowhere/\xC3\xA9") != std::string::npos);
    BOOST_TEST(missing.json()["request_id"] == missing.header("x-request-id"));

    auto wrong = fetch(server.port, "DELETE", "/hello");
    BOOST_TEST(wrong.status == 405);
    BOOST_TEST(wrong.header("allow") == "GET, HEAD");
    BOOST_TEST(wrong.json()["error"]["code"] == "method_not_allowed");

    // HEAD answers as GET does, with the GET body's length and no body on the wire.
    auto get = fetch(server.port, "GET", "/hello");
    auto head = fetch(server.port, "HEAD", "/hello");
    BOOST_TEST(head.status == 200);
    BOOST_TEST(head.body.empty());
    BOOST_TEST(head.header("content-length") == std::to_string(get.body.size()));

    auto bad_escape = fetch(server.port, "GET", "/hello%zz");
    BOOST_TEST(bad_escape.status == 400);
    BOOST_TEST(bad_escape.json()["error"]["code"] == "invalid_argument");
}

BOOST_AUTO_TEST_CASE(request_id_is_echoed_when_sane) {
    TestServer server(basic_router());
    auto echoed = fetch(server.port, "GET", "/hello", "", {{"X-Request-Id", "ls-task-42.a"}});
    BOOST_TEST(echoed.header("x-request-id") == "ls-task-42.a");
    BOOST_TEST(echoed.json()["id"] == "ls-task-42.a");
    auto replaced = fetch(server.port, "GET", "/hello", "", {{"X-Request-Id", "has spaces; and=stuff"}});
    BOOST_TEST(replaced.header("x-request-id").size() == 32u);
    auto missing = fetch(server.port, "GET", "/nope", "", {{"X-Request-Id", "abc"}});
    BOOST_TEST(missing.json()["request_id"] == "abc");
}

BOOST_AUTO_TEST_CASE(async_answer_from_another_thread) {
    Delayer delayer;
    TestServer server(basic_router(&delayer));
    auto start = std::chrono::steady_clock::now();
    auto reply = fetch(server.port, "GET", "/slow?ms=150");
    BOOST_REQUIRE_MESSAGE(reply.ok, reply.error);
    BOOST_TEST(reply.status == 200);
    BOOST_TEST(reply.json()["slept"] == 150);
    BOOST_TEST(since(start).count() >= 140);
}

BOOST_AUTO_TEST_CASE(throw_and_drop_give_500_and_keep_the_connection) {
    TestServer server(basic_router());
    Connection connection(server.port);
    auto thrown = connection.request("GET", "/throw");
    BOOST_REQUIRE_MESSAGE(thrown.ok, thrown.error);
    BOOST_TEST(thrown.status == 500);
    BOOST_TEST(thrown.json()["error"]["code"] == "internal");
    auto dropped = connection.request("GET", "/drop");
    BOOST_REQUIRE_MESSAGE(dropped.ok, dropped.error);
    BOOST_TEST(dropped.status == 500);
    BOOST_TEST(connection.request("GET", "/hello").status == 200);
}

BOOST_AUTO_TEST_CASE(keep_alive_serves_many_requests_on_one_connection) {
    TestServer server(basic_router());
    Connection connection(server.port);
    std::string remote;
    for (int i = 0; i < 5; ++i) {
        auto reply = connection.request("POST", "/echo", "body " + std::to_string(i));
        BOOST_REQUIRE_MESSAGE(reply.ok, reply.error);
        BOOST_TEST(reply.body == "body " + std::to_string(i));
        BOOST_TEST(reply.keep_alive);
        BOOST_TEST(reply.header("content-type") == "application/octet-stream");
    }
    for (int i = 0; i < 3; ++i) {
        auto reply = connection.request("GET", "/hello");
        if (i == 0) remote = reply.json()["remote"];
        BOOST_TEST(reply.json()["remote"] == remote);  // same client port: same connection
    }
    BOOST_TEST(server.server.connection_count() == 1u);
}

BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
    TestServer server(basic_router());
    std::string two =
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntwo";
    auto result = raw_exchange(server.port, two, 3000);
    BOOST_TEST(result.closed);
    auto first = result.data.find("\r\n\r\none");
    auto second = result.data.find("\r\n\r\ntwo");
    BOOST_TEST(first != std::string::npos);
    BOOST_TEST(second != std::string::npos);
    BOOST_TEST(first < second);
}

BOOST_AUTO_TEST_CASE(expect_100_continue) {
    TestServer server(basic_router());
    std::vector<std::string> chunks = {
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        "hello"};
    auto result = raw_exchange(server.port, chunks, 3000, 100);
    BOOST_TEST(result.data.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"));
    BOOST_TEST(result.data.ends_with("hello"));
}

BOOST_AUTO_TEST_CASE(url_prefix_is_stripped) {
    auto options = test_options();
    options.url_prefix = "ml/";
    TestServer server(basic_router(), options);
    BOOST_TEST(server.server.options().url_prefix == "/ml");
    auto under = fetch(server.port, "GET", "/ml/hello");
    BOOST_TEST(under.status == 200);
    BOOST_TEST(under.json()["path"] == "/hello");
    BOOST_TEST(fetch(server.port, "GET", "/ml").json()["root"] == true);
    BOOST_TEST(fetch(server.port, "GET", "/ml/").json()["root"] == true);
    auto outside = fetch(server.port, "GET", "/hello");
    BOOST_TEST(outside.status == 404);
    BOOST_TEST(outside.json()["error"]["message"].get<std::string>().find("/ml") != std::string::npos);
    BOOST_TEST(fetch(server.port, "GET", "/mlx/hello").status == 404);
}

BOOST_AUTO_TEST_CASE(request_deadline_answers_504) {
    auto options = test_options();
    options.request_deadline_ms = 150;
    Router router;
    std::mutex mutex;
    std::vector<Responder> parked;  // never answered in time
    router.get("/hang", [&](const HttpRequest&, Responder r) {
        std::lock_guard lock(mutex);
        parked.push_back(std::move(r));
    });
    TestServer server(std::move(router), options);
    Connection connection(server.port);
    auto start = std::chrono::steady_clock::now();
    auto reply = connection.request("GET", "/hang");
    BOOST_TEST(reply.status == 504);
    BOOST_TEST(reply.json()["error"]["code"] == "upstream_timeout");
    BOOST_TEST(since(start).count() >= 140);
    {
        std::lock_guard lock(mutex);
        BOOST_REQUIRE_EQUAL(parked.size(), 1u);
        BOOST_TEST(parked[0].send_json(200, {}));  // accepted by the Responder, dropped by the session
    }
    auto next = connection.request("GET", "/hang", "", {}, 2000);  // the late 200 did not leak here
    BOOST_TEST(next.status == 504);
    std::lock_guard lock(mutex);
    parked.clear();
}

BOOST_AUTO_TEST_CASE(metrics_are_recorded) {
    TestServer server(basic_router());
    fetch(server.port, "GET", "/hello");
    fetch(server.port, "GET", "/hello");
    fetch(server.port, "GET", "/random/1");
    fetch(server.port, "BREW", "/hello");
    auto text = server.server.metrics().render();
    BOOST_TEST_MESSAGE(text);
    BOOST_TEST(text.find("# TYPE seke_http_requests_total counter") != std::string::npos);
    BOOST_TEST(text.find("seke_http_requests_total{method=\"GET\",route=\"/hello\",status=\"200\"} 2") !=
               std::string::npos);
    BOOST_TEST(text.find("seke_http_requests_total{method=\"GET\",route=\"(unmatched)\",status=\"404\"} 1") !=
               std::string::npos);
    BOOST_TEST(text.find("method=\"other\",route=\"(method not allowed)\",status=\"405\"") != std::string::npos);
    BOOST_TEST(text.find("seke_http_request_duration_seconds_count{route=\"/hello\"} 2") != std::string::npos);
    BOOST_TEST(text.find("# TYPE seke_http_request_duration_seconds histogram") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(request_lines_are_logged_without_secrets) {
    std::mutex mutex;
    std::vector<std::string> lines;
    TestServer server(basic_router());
    logger().set_level(LogLevel::info);
    logger().set_sink([&](const std::string& line) {
        std::lock_guard lock(mutex);
        lines.push_back(line);
    });
    fetch(server.port, "GET", "/hello?token=abc123", "",
          {{"Authorization", "Basic c2VjcmV0"}, {"X-Request-Id", "log-1"}});
    logger().set_sink({});
    logger().set_level(LogLevel::off);
    std::lock_guard lock(mutex);
    BOOST_REQUIRE(!lines.empty());
    auto line = nlohmann::json::parse(lines.back());
    BOOST_TEST(line["component"] == "http");
    BOOST_TEST(line["request_id"] == "log-1");
    BOOST_TEST(line["method"] == "GET");
    BOOST_TEST(line["path"] == "/hello");
    BOOST_TEST(line["status"] == 200);
    BOOST_TEST(line["duration_ms"].is_number());
    BOOST_TEST(line["bytes"].is_number());
    for (const auto& l : lines) {
        BOOST_TEST(l.find("abc123") == std::string::npos);
        BOOST_TEST(l.find("c2VjcmV0") == std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server_http_limits)

BOOST_AUTO_TEST_CASE(body_over_limit_gets_413_then_close) {
    auto options = test_options();
    options.body_limit = 1024;
    TestServer server(basic_router(), options);
    Connection connection(server.port);
    auto reply = connection.request("POST", "/echo", std::string(4096, 'x'));
    BOOST_REQUIRE_MESSAGE(reply.ok, reply.error);
    BOOST_TEST(reply.status == 413);
    BOOST_TEST(reply.json()["error"]["code"] == "payload_too_large");
    BOOST_TEST(!reply.keep_alive);
    BOOST_TEST(connection.closed_by_peer(3000));

    // Chunked: the size is only known while reading.
    std::string chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 4; ++i) chunked += "200\r\n" + std::string(512, 'y') + "\r\n";
    chunked += "0\r\n\r\n";
    auto raw = raw_exchange(server.port, chunked, 3000);
    BOOST_TEST(raw.data.starts_with("HTTP/1.1 413"));
    BOOST_TEST(raw.closed);

    BOOST_TEST(fetch(server.port, "POST", "/echo", std::string(1024, 'z')).status == 200);  // at the limit
}

BOOST_AUTO_TEST_CASE(malformed_requests_get_400_then_close) {
    TestServer server(basic_router());
    for (std::string bytes :
         {std::string("GARBAGE\r\n\r\n"), std::string("GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
          std::string("GET /hello HTTP/9.9\r\nHost: x\r\n\r\n"),
          std::string("GET /hello HTTP/1.1\r\nBad Header\r\n\r\n"),
          std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n")}) {
        auto result = raw_exchange(server.port, bytes, 3000);
        BOOST_TEST_CONTEXT(bytes) {
            BOOST_TEST(result.data.starts_with("HTTP/1.1 400 Bad Request\r\n"));
            BOOST_TEST(result.data.find("\"code\":\"invalid_argument\"") != std::string::npos);
            BOOST_TEST(result.data.find("X-Request-Id: ") != std::string::npos);
            BOOST_TEST(result.closed);
        }
    }
    BOOST_TEST(fetch(server.port, "GET", "/hello").status == 200);  // still serving
}

BOOST_AUTO_TEST_CASE(oversized_headers_get_413) {
    auto options = test_options();
    options.header_limit = 1024;
    TestServer server(basic_router(), options);
    auto result = raw_exchange(server.port,
                               "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n", 3000);
    BOOST_TEST(result.data.starts_with("HTTP/1.1 413"));
    BOOST_TEST(result.closed);
}

BOOST_AUTO_TEST_CASE(slow_headers_are_cut_off) {
    auto options = test_options();
    options.header_timeout_ms = 300;
    TestServer server(basic_router(), options);
    // Slowloris: a header line every 100 ms, never finishing.
    std::vector<std::string> drip = {"GET /hello HTTP/1.1\r\n"};
    for (int i = 0; i < 20; ++i) drip.push_back("X-Drip-" + std::to_string(i) + ": 1\r\n");
    auto start = std::chrono::steady_clock::now();
    auto dripped = raw_exchange(server.port, drip, 4000, 100);
    BOOST_TEST(dripped.closed);
    BOOST_TEST(dripped.data.empty());
    BOOST_TEST(since(start).count() < 2500);

    // A connection that sends nothing at all is held to the same deadline.
    auto silent = raw_exchange(server.port, std::string(), 3000);
    BOOST_TEST(silent.closed);
    BOOST_TEST(silent.elapsed.count() < 1500);
    BOOST_TEST(silent.elapsed.count() >= 250);
}

BOOST_AUTO_TEST_CASE(idle_keep_alive_connections_close) {
    auto options = test_options();
    options.idle_timeout_ms = 200;
    options.header_timeout_ms = 5000;
    TestServer server(basic_router(), options);
    Connection connection(server.port);
    BOOST_TEST(connection.request("GET", "/hello").status == 200);
    auto start = std::chrono::steady_clock::now();
    BOOST_TEST(connection.closed_by_peer(3000));
    BOOST_TEST(since(start).count() < 1500);
}

BOOST_AUTO_TEST_CASE(at_the_connection_limit_the_longest_idle_connection_makes_room) {
    auto options = test_options();
    options.max_connections = 2;
    TestServer server(basic_router(), options);
    Connection a(server.port);
    Connection b(server.port);
    BOOST_TEST(a.request("GET", "/hello").status == 200);
    std::this_thread::sleep_for(200ms);  // the server marks `a` idle once its answer is written
    BOOST_TEST(b.request("GET", "/hello").status == 200);
    std::this_thread::sleep_for(200ms);
    // Both idle: a newcomer is served, and `a`, quiet longest, is closed for it.
    Connection c(server.port);
    BOOST_TEST(c.request("GET", "/hello").status == 200);
    BOOST_TEST(a.closed_by_peer(2000));
    BOOST_TEST(b.request("GET", "/hello").status == 200);
    BOOST_TEST(server.server.connection_count() <= 2u);
}

BOOST_AUTO_TEST_CASE(at_the_connection_limit_with_every_connection_busy_a_newcomer_gets_503) {
    Delayer delayer;
    auto options = test_options();
    options.max_connections = 2;
    TestServer server(basic_router(&delayer), options);
    auto slow_a = std::async(std::launch::async, [&] { return fetch(server.port, "GET", "/slow?ms=1500"); });
    auto slow_b = std::async(std::launch::async, [&] { return fetch(server.port, "GET", "/slow?ms=1500"); });
    std::this_thread::sleep_for(300ms);
    auto refused = raw_exchange(server.port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 2000);
    BOOST_TEST(refused.data.starts_with("HTTP/1.1 503"));
    BOOST_TEST(refused.data.find("\"code\":\"overloaded\"") != std::string::npos);
    BOOST_TEST(refused.data.find("Retry-After: 1") != std::string::npos);
    BOOST_TEST(refused.closed);
    // The busy ones were not touched.
    BOOST_TEST(slow_a.get().status == 200);
    BOOST_TEST(slow_b.get().status == 200);
    BOOST_TEST(fetch(server.port, "GET", "/hello").status == 200);
    BOOST_TEST(server.server.metrics().render().find("seke_http_connections_refused_total{reason=\"total\"} 1") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(one_client_cannot_take_every_connection) {
    Delayer delayer;
    auto options = test_options();
    options.max_connections = 8;
    options.max_connections_per_client = 2;
    TestServer server(basic_router(&delayer), options);
    // 127.0.0.1 holds two busy connections; its third is refused with 429 ...
    auto slow_a = std::async(std::launch::async, [&] { return fetch(server.port, "GET", "/slow?ms=1200"); });
    auto slow_b = std::async(std::launch::async, [&] { return fetch(server.port, "GET", "/slow?ms=1200"); });
    std::this_thread::sleep_for(300ms);
    Connection third(server.port);
    auto refused = third.request("GET", "/hello");
    BOOST_TEST(refused.status == 429);
    BOOST_TEST(refused.json()["error"]["code"] == "too_many_requests");
    BOOST_TEST(!refused.keep_alive);
    // ... while another client address is served at once.
    Connection other(server.port, "127.0.0.2");
    auto served = other.request("GET", "/hello");
    BOOST_TEST(served.status == 200);
    BOOST_TEST(served.json()["remote"].get<std::string>().starts_with("127.0.0.2:"));
    BOOST_TEST(slow_a.get().status == 200);
    BOOST_TEST(slow_b.get().status == 200);
}

BOOST_AUTO_TEST_CASE(a_flood_of_silent_and_stalled_connections_does_not_lock_out_a_client) {
    auto options = test_options();
    options.max_connections = 64;
    options.max_connections_per_client = 1000;
    options.header_timeout_ms = 30'000;  // the flood is not cut off by time: the limit must cope
    options.body_progress_timeout_ms = 30'000;
    options.read_timeout_ms = 30'000;
    TestServer server(basic_router(), options);
    std::vector<std::unique_ptr<Connection>> flood;
    // Silent connections, more than the limit ...
    for (int i = 0; i < 100; ++i) flood.push_back(std::make_unique<Connection>(server.port));
    // ... and ones that send headers and never the body they announce.
    for (int i = 0; i < 64; ++i) {
        flood.push_back(std::make_unique<Connection>(server.port));
        flood.back()->send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    }
    std::this_thread::sleep_for(1200ms);  // the body-less ones are now stalled, not just slow
    for (int i = 0; i < 5; ++i) {
        auto start = std::chrono::steady_clock::now();
        auto reply = fetch(server.port, "GET", "/hello", "", {}, 3000);
        BOOST_TEST(reply.status == 200);
        BOOST_TEST(since(start).count() < 1000);
    }
    BOOST_TEST(server.server.connection_count() <= 64u + 5u);
}

BOOST_AUTO_TEST_CASE(a_route_can_take_less_than_the_servers_body_limit) {
    Router router = basic_router();
    router.post(
        "/small",
        [](const HttpRequest& q, Responder r) {
            r.send_json(200, {{"bytes", q.body.size()}});
        },
        100);
    auto options = test_options();
    options.body_limit = 10'000;
    TestServer server(std::move(router), options);
    BOOST_TEST(fetch(server.port, "POST", "/small", std::string(100, 'x')).status == 200);
    auto announced = fetch(server.port, "POST", "/small", std::string(101, 'x'));
    BOOST_TEST(announced.status == 413);
    BOOST_TEST(announced.json()["error"]["message"].get<std::string>().find("100 bytes for /small") !=
               std::string::npos);
    std::string chunked = "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 4; ++i) chunked += "40\r\n" + std::string(64, 'y') + "\r\n";
    chunked += "0\r\n\r\n";
    auto raw = raw_exchange(server.port, chunked, 3000);
    BOOST_TEST(raw.data.starts_with("HTTP/1.1 413"));
    BOOST_TEST(fetch(server.port, "POST", "/echo", std::string(5000, 'z')).status == 200);  // the server's limit
}

BOOST_AUTO_TEST_CASE(a_body_that_stalls_or_trickles_is_dropped_early) {
    auto options = test_options();
    options.read_timeout_ms = 60'000;
    options.body_progress_timeout_ms = 400;
    options.body_min_bytes_per_s = 1000;
    TestServer server(basic_router(), options);
    // Headers, then nothing: dropped after the progress timeout, not the read timeout.
    auto start = std::chrono::steady_clock::now();
    auto stalled = raw_exchange(server.port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", 5000);
    BOOST_TEST(stalled.closed);
    BOOST_TEST(since(start).count() < 2000);
    // A byte every 150 ms keeps progressing but is far under 1000 B/s: dropped too.
    std::vector<std::string> drip = {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"};
    for (int i = 0; i < 30; ++i) drip.emplace_back("x");
    start = std::chrono::steady_clock::now();
    auto trickled = raw_exchange(server.port, drip, 6000, 150);
    BOOST_TEST(trickled.closed);
    BOOST_TEST(trickled.data.empty());
    BOOST_TEST(since(start).count() < 5500);
    // A body that arrives in time is served as ever.
    BOOST_TEST(fetch(server.port, "POST", "/echo", std::string(50'000, 'q')).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server_http_lifecycle)

BOOST_AUTO_TEST_CASE(many_slow_requests_in_flight_on_two_threads) {
    Delayer delayer;
    std::atomic<int> active{0};
    std::atomic<int> peak{0};
    Router router;
    router.get("/slow", [&](const HttpRequest&, Responder r) {
        int now = ++active;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        // Count down just before answering, on the delayer's thread.
        Responder wrapped(r.request_id(),
                          [&active, r = std::make_shared<Responder>(std::move(r))](HttpResponse response) {
                              --active;
                              r->send(std::move(response));
                          });
        delayer.after(400, std::move(wrapped), json_response(200, {{"ok", true}}));
    });
    auto options = test_options();
    options.threads = 2;
    TestServer server(std::move(router), options);

    constexpr int n = 64;
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i)
        clients.emplace_back([&] {
            if (fetch(server.port, "GET", "/slow").status == 200) ++ok;
        });
    for (auto& client : clients) client.join();
    auto elapsed = since(start);
    BOOST_TEST(ok.load() == n);
    BOOST_TEST(peak.load() == n);  // all in flight at once: no thread held per request
    BOOST_TEST(elapsed.count() < 3000);
    BOOST_TEST_MESSAGE("64 × 400 ms requests took " << elapsed.count() << " ms");
}

BOOST_AUTO_TEST_CASE(graceful_stop_waits_for_in_flight_requests) {
    Delayer delayer;
    QuietLog quiet;
    HttpServer server(test_options(), basic_router(&delayer));
    auto port = server.start();
    BOOST_REQUIRE(port.ok());
    Connection idle(*port);  // an idle keep-alive connection is closed at once
    BOOST_TEST(idle.request("GET", "/hello").status == 200);

    auto pending = std::async(std::launch::async, [&] { return fetch(*port, "GET", "/slow?ms=500"); });
    for (int i = 0; i < 200 && server.requests_in_flight() == 0; ++i) std::this_thread::sleep_for(5ms);
    BOOST_REQUIRE_EQUAL(server.requests_in_flight(), 1);

    auto start = std::chrono::steady_clock::now();
    server.stop(5s);
    auto took = since(start);
    auto reply = pending.get();
    BOOST_REQUIRE_MESSAGE(reply.ok, reply.error);
    BOOST_TEST(reply.status == 200);
    BOOST_TEST(!reply.keep_alive);  // told to go away
    BOOST_TEST(took.count() >= 300);
    BOOST_TEST(took.count() < 3000);
    BOOST_TEST(idle.closed_by_peer(1000));
    BOOST_TEST(!server.running());
    BOOST_TEST(raw_exchange(*port, "GET /hello HTTP/1.1\r\n\r\n", 500).data.empty());  // not listening
}

BOOST_AUTO_TEST_CASE(stop_gives_up_after_the_grace_period) {
    QuietLog quiet;
    std::mutex mutex;
    std::vector<Responder> parked;
    Router router;
    router.get("/hang", [&](const HttpRequest&, Responder r) {
        std::lock_guard lock(mutex);
        parked.push_back(std::move(r));
    });
    {
        HttpServer server(test_options(), std::move(router));
        auto port = server.start();
        BOOST_REQUIRE(port.ok());
        auto pending = std::async(std::launch::async, [&] { return fetch(*port, "GET", "/hang"); });
        for (int i = 0; i < 200 && server.requests_in_flight() == 0; ++i) std::this_thread::sleep_for(5ms);
        auto start = std::chrono::steady_clock::now();
        server.stop(200ms);
        BOOST_TEST(since(start).count() < 1500);
        auto reply = pending.get();
        BOOST_TEST(!reply.ok);  // the connection was closed under it
    }
    std::lock_guard lock(mutex);
    parked.clear();  // answering after the server is gone is harmless
}

BOOST_AUTO_TEST_CASE(start_errors_and_ephemeral_ports) {
    QuietLog quiet;
    HttpServer first(test_options(), basic_router());
    auto port = first.start();
    BOOST_REQUIRE(port.ok());
    BOOST_TEST(*port != 0);
    BOOST_TEST(first.port() == *port);
    BOOST_TEST(!first.start().ok());  // once only

    auto taken = test_options();
    taken.port = *port;
    HttpServer second(taken, basic_router());
    auto clash = second.start();
    BOOST_REQUIRE(!clash.ok());
    BOOST_TEST((clash.error().code == errc::io_error));

    auto bad = test_options();
    bad.host = "no-such-host.invalid";
    HttpServer third(bad, basic_router());
    auto unresolved = third.start();
    BOOST_REQUIRE(!unresolved.ok());
    BOOST_TEST((unresolved.error().code == errc::config_error));
    second.stop();  // never started: harmless
}

BOOST_AUTO_TEST_CASE(signal_stops_the_server) {
    QuietLog quiet;
    HttpServer server(test_options(), basic_router());
    auto port = server.start();
    BOOST_REQUIRE(port.ok());
    std::promise<void> ready;
    auto installed = ready.get_future();
    auto runner =
        std::async(std::launch::async, [&] { return run_until_signal(server, 1s, [&] { ready.set_value(); }); });
    BOOST_REQUIRE(installed.wait_for(5s) == std::future_status::ready);
    BOOST_TEST(fetch(*port, "GET", "/hello").status == 200);
    ::kill(::getpid(), SIGTERM);
    BOOST_REQUIRE(runner.wait_for(5s) == std::future_status::ready);
    BOOST_TEST(runner.get() == SIGTERM);
    BOOST_TEST(!server.running());
}

BOOST_AUTO_TEST_SUITE_END()
