#pragma once
// Loopback helpers for the server tests: a keep-alive Beast client, a raw socket for bytes no
// client would send, a timer thread for late answers, and a quiet logger.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/server/http_server.hpp"
#include "plugin/server/log.hpp"

namespace seke::server::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Reply {
    bool ok = false;  // a whole response was read
    std::string error;
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    bool keep_alive = false;

    [[nodiscard]] std::string header(const std::string& name) const {
        auto it = headers.find(to_lower(name));
        return it == headers.end() ? std::string() : it->second;
    }
    [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One connection, many requests. Every operation is bounded by `timeout_ms`.
class Connection {
  public:
    // `from`: the local address to connect from (any of 127.0.0.0/8 is this machine), so a test
    // can play several clients.
    explicit Connection(unsigned short port, const std::string& from = "127.0.0.1") : stream_(io_) {
        stream_.expires_after(std::chrono::seconds(5));
        stream_.socket().open(tcp::v4());
        stream_.socket().bind(tcp::endpoint(net::ip::make_address(from), 0));
        stream_.socket().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    }

    Reply request(const std::string& method, const std::string& target, const std::string& body = {},
                  const Headers& headers = {}, int timeout_ms = 10'000) {
        http::request<http::string_body> req{http::string_to_verb(method), target, 11};
        if (req.method() == http::verb::unknown) req.method_string(method);
        req.set(http::field::host, "127.0.0.1");
        for (const auto& [name, value] : headers) req.set(name, value);
        req.body() = body;
        req.prepare_payload();
        Reply reply;
        beast::error_code ec;
        stream_.expires_after(std::chrono::milliseconds(timeout_ms));
        http::async_write(stream_, req, [&](beast::error_code e, std::size_t) { ec = e; });
        run();
        if (ec) {
            reply.error = "write: " + ec.message();
            return reply;
        }
        http::response_parser<http::string_body> parser;
        parser.body_limit(64u << 20);
        if (method == "HEAD") parser.skip(true);
        http::async_read(stream_, buffer_, parser, [&](beast::error_code e, std::size_t) { ec = e; });
        run();
        if (ec) {
            reply.error = "read: " + ec.message();
            return reply;
        }
        auto res = parser.release();
        reply.ok = true;
        reply.status = static_cast<int>(res.result_int());
        for (const auto& field : res) reply.headers[to_lower(field.name_string())] = std::string(field.value());
        reply.body = res.body();
        reply.keep_alive = res.keep_alive();
        return reply;
    }

    // Writes `bytes` as they are and reads nothing (a request left half sent).
    bool send_raw(const std::string& bytes) {
        beast::error_code ec;
        net::write(stream_.socket(), net::buffer(bytes), ec);
        return !ec;
    }

    // True when the server closes the connection within `timeout_ms` (bytes sent are ignored).
    bool closed_by_peer(int timeout_ms) {
        beast::error_code ec;
        char scratch[512];
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (std::chrono::steady_clock::now() < deadline) {
            stream_.expires_at(deadline);
            std::size_t n = 0;
            stream_.async_read_some(net::buffer(scratch), [&](beast::error_code e, std::size_t got) {
                ec = e;
                n = got;
            });
            run();
            if (ec) return ec != beast::error::timeout;
            (void)n;
        }
        return false;
    }

  private:
    void run() {
        io_.restart();
        io_.run();
    }
    net::io_context io_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
};

inline Reply fetch(unsigned short port, const std::string& method, const std::string& target,
                   const std::string& body = {}, const Headers& headers = {}, int timeout_ms = 10'000) {
    try {
        Connection connection(port);
        return connection.request(method, target, body, headers, timeout_ms);
    } catch (const std::exception& e) {
        Reply reply;
        reply.error = e.what();
        return reply;
    }
}

struct RawResult {
    std::string data;     // everything the server sent
    bool closed = false;  // the server closed (EOF or reset) before the timeout
    std::chrono::milliseconds elapsed{0};
};

// Writes `bytes` as they are, then reads until the server closes or `timeout_ms` passes.
// `chunks` are written one after another with `gap_ms` between them (slowloris).
inline RawResult raw_exchange(unsigned short port, const std::vector<std::string>& chunks, int timeout_ms,
                              int gap_ms = 0) {
    RawResult result;
    net::io_context io;
    beast::tcp_stream stream(io);
    auto start = std::chrono::steady_clock::now();
    auto deadline = start + std::chrono::milliseconds(timeout_ms);
    beast::error_code ec;
    stream.socket().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec) return result;
    for (std::size_t i = 0; i < chunks.size() && !ec; ++i) {
        if (i && gap_ms) std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
        net::write(stream.socket(), net::buffer(chunks[i]), ec);
    }
    char scratch[4096];
    while (std::chrono::steady_clock::now() < deadline) {
        stream.expires_at(deadline);
        std::size_t n = 0;
        stream.async_read_some(net::buffer(scratch), [&](beast::error_code e, std::size_t got) {
            ec = e;
            n = got;
        });
        io.restart();
        io.run();
        result.data.append(scratch, n);
        if (ec) {
            result.closed = ec != beast::error::timeout;
            break;
        }
    }
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    return result;
}

inline RawResult raw_exchange(unsigned short port, const std::string& bytes, int timeout_ms) {
    return raw_exchange(port, std::vector<std::string>{bytes}, timeout_ms);
}

// Answers later from its own thread, as model work will.
class Delayer {
  public:
    Delayer() : work_(net::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
    ~Delayer() {
        work_.reset();
        io_.stop();
        thread_.join();
    }
    void after(int ms, Responder responder, HttpResponse response) {
        auto timer = std::make_shared<net::steady_timer>(io_, std::chrono::milliseconds(ms));
        timer->async_wait([timer, responder = std::move(responder), response = std::move(response)](
                              beast::error_code) mutable { responder.send(std::move(response)); });
    }

  private:
    net::io_context io_;
    net::executor_work_guard<net::io_context::executor_type> work_;
    std::thread thread_;
};

// Silences the server's request lines for the test's duration.
class QuietLog {
  public:
    explicit QuietLog(LogLevel level = LogLevel::off) : saved_(logger().level()) { logger().set_level(level); }
    ~QuietLog() { logger().set_level(saved_); }
    QuietLog(const QuietLog&) = delete;
    QuietLog& operator=(const QuietLog&) = delete;

  private:
    LogLevel saved_;
};

inline ServerOptions test_options() {
    ServerOptions options;
    options.port = 0;
    options.threads = 2;
    options.header_timeout_ms = 3000;
    options.read_timeout_ms = 5000;
    options.idle_timeout_ms = 3000;
    return options;
}

// A started server on 127.0.0.1:0, stopped at scope exit.
struct TestServer {
    explicit TestServer(Router router, ServerOptions options = test_options())
        : server(std::move(options), std::move(router)) {
        auto bound = server.start();
        if (!bound) throw std::runtime_error("start failed: " + bound.error().message);
        port = *bound;
    }
    ~TestServer() { server.stop(std::chrono::seconds(2)); }
    QuietLog quiet;
    HttpServer server;
    unsigned short port = 0;
};

}  // namespace seke::server::test
