#pragma once
// The HTTP/1.1 transport: a Boost.Beast asynchronous server on a small thread pool, modelled on
// Beast's example/http/server/async. It owns sockets, timeouts, keep-alive and limits; what a
// request means is the Router's business.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "plugin/server/metrics.hpp"
#include "plugin/server/router.hpp"
#include "verify/errors.hpp"

#ifndef SEKE_VERSION
#define SEKE_VERSION "dev"
#endif

namespace seke::server {

struct ServerOptions {
    std::string host = "127.0.0.1";  // a literal address or a name resolved once at start()
    unsigned short port = 9090;      // 0 = ephemeral (start() returns the port bound)
    int threads = 2;
    std::size_t body_limit = 256u << 20;      // larger bodies → 413 and close
    std::size_t header_limit = 64u << 10;     // request line + headers; larger → 413 and close
    int header_timeout_ms = 10'000;           // a request's headers must be complete within this
    int read_timeout_ms = 120'000;            // the whole body; also writing the response
    int body_progress_timeout_ms = 10'000;    // a body that sends no byte for this long is dropped
    std::size_t body_min_bytes_per_s = 4096;  // and one slower than this on average, after that long
    int idle_timeout_ms = 30'000;             // keep-alive: wait for the next request this long
    int request_deadline_ms = 0;              // > 0: answer 504 if the handler has not answered by then
    std::string url_prefix;                   // e.g. "/ml": "/ml/predict" is routed as "/predict"
    // Connections in total and from one client address. At either limit the idle connection
    // quiet longest (no request, or a request stalled) is closed to make room; when none is,
    // the new connection is answered 503 (total) or 429 (per client) and closed.
    std::size_t max_connections = 1024;
    std::size_t max_connections_per_client = 256;
    std::string server_header = std::string("seke/") + SEKE_VERSION;
};

class HttpServer {
  public:
    // `metrics` may be shared with the app (to serve /metrics); a private one is made when null.
    HttpServer(ServerOptions options, Router router, std::shared_ptr<MetricsRegistry> metrics = nullptr);
    ~HttpServer();  // stop(0)
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds, listens and starts the threads; returns the port bound. Errors: config_error for a
    // bad host, io_error when the address cannot be bound. Call once.
    Result<unsigned short> start();

    // Stops accepting, closes idle connections, lets requests in flight finish for up to
    // `grace` (their responses carry Connection: close), then closes everything and joins the
    // threads. Idempotent; safe from any thread except a server thread.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

    [[nodiscard]] bool running() const noexcept;
    [[nodiscard]] unsigned short port() const noexcept;
    [[nodiscard]] std::size_t connection_count() const;
    [[nodiscard]] int requests_in_flight() const noexcept;  // read, not yet answered
    [[nodiscard]] MetricsRegistry& metrics() noexcept;
    [[nodiscard]] const ServerOptions& options() const noexcept;

    struct Impl;

  private:
    std::shared_ptr<Impl> impl_;
};

// "/ml/" → "/ml", "ml" → "/ml", "/" or "" → "". What url_prefix is compared against.
std::string normalize_url_prefix(std::string_view prefix);

// Blocks until SIGINT or SIGTERM, then server.stop(grace); returns the signal number. `ready`
// runs once the handlers are installed (tests raise the signal from there on).
int run_until_signal(HttpServer& server, std::chrono::milliseconds grace, const std::function<void()>& ready = {});

}  // namespace seke::server
