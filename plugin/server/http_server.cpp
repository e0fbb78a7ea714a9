#include "plugin/server/http_server.hpp"

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "plugin/server/log.hpp"
#include "verify/text.hpp"

namespace seke::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

class Session;

struct HttpServer::Impl {
    ServerOptions options;
    Router router;
    std::shared_ptr<MetricsRegistry> metrics;
    Counter* requests_total = nullptr;
    Histogram* request_duration = nullptr;
    Gauge* connections_gauge = nullptr;
    Gauge* in_flight_gauge = nullptr;

    net::io_context io;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    tcp::acceptor acceptor{net::make_strand(io)};
    net::steady_timer accept_retry{acceptor.get_executor()};
    std::vector<std::thread> threads;
    unsigned short bound_port = 0;

    std::atomic<bool> stopping{false};
    std::atomic<int> in_flight{0};
    mutable std::mutex mutex;  // guards what follows
    std::condition_variable sessions_changed;
    std::set<std::shared_ptr<Session>> sessions;
    bool started = false;
    bool stopped = false;

    void accept();
    void on_accept(beast::error_code ec, tcp::socket socket);
    void remove(const std::shared_ptr<Session>& session);
    void record(const HttpRequest& request, int status, std::size_t bytes, Clock::time_point request_started);
};

namespace {

// Bounded label values: a client can send any method, and every label value is a new series.
std::string method_label(std::string_view method) {
    for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
        if (method == known) return std::string(known);
    return "other";
}

bool has_control_chars(std::string_view text) {
    for (char c : text)
        if (c == '\r' || c == '\n' || c == '\0') return true;
    return false;
}

// Read errors that only mean the peer went away or a timer fired: close without answering.
bool is_disconnect(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == http::error::partial_message || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::error::operation_aborted || ec == net::error::broken_pipe ||
           ec == beast::error::timeout || ec == net::error::not_connected;
}

}  // namespace

// One connection. Phases: waiting (no byte of the next request yet) → reading (headers, body)
// → handling (the router has it; we wait for the Responder) → writing → waiting again or
// closed. All members are touched only on the session's strand.
class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(tcp::socket socket, HttpServer::Impl* server)
        : stream_(std::move(socket)), deadline_(stream_.get_executor()), server_(server) {
        beast::error_code ec;
        auto endpoint = stream_.socket().remote_endpoint(ec);
        if (!ec) remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
        header_deadline_ = Clock::now() + std::chrono::milliseconds(server_->options.header_timeout_ms);
    }

    void start() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
    }

    // From stop(): an idle connection closes now; a busy one after its response.
    void request_stop() {
        net::post(stream_.get_executor(), [self = shared_from_this()] {
            self->stop_requested_ = true;
            if (self->phase_ == Phase::waiting) self->close();
        });
    }

    void force_close() {
        net::post(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
    }

  private:
    enum class Phase { waiting, reading, handling, writing, closed };

    // Waiting for the first byte of a request. The first request of a connection is held to the
    // header deadline counted from accept (a silent connection is a slowloris too); later ones
    // get the idle keep-alive timeout, and their header deadline starts at their first byte.
    void wait_for_request() {
        if (phase_ == Phase::closed) return;
        phase_ = Phase::waiting;
        if (stop_requested_ || server_->stopping) return close();
        if (buffer_.size() > 0) return read_header();  // pipelined: already here
        if (first_request_) stream_.expires_at(header_deadline_);
        else stream_.expires_after(std::chrono::milliseconds(server_->options.idle_timeout_ms));
        stream_.async_read_some(buffer_.prepare(8192),
                                beast::bind_front_handler(&Session::on_first_bytes, shared_from_this()));
    }

    void on_first_bytes(beast::error_code ec, std::size_t n) {
        if (phase_ == Phase::closed) return;
        if (ec) return close();  // peer gone or idle too long: nothing to answer
        buffer_.commit(n);
        if (!first_request_)
            header_deadline_ = Clock::now() + std::chrono::milliseconds(server_->options.header_timeout_ms);
        read_header();
    }

    void read_header() {
        phase_ = Phase::reading;
        started_ = Clock::now();
        if (buffer_.size() > 0 && !first_request_ && header_deadline_ < started_)
            header_deadline_ = started_ + std::chrono::milliseconds(server_->options.header_timeout_ms);
        parser_.emplace();
        parser_->body_limit(static_cast<std::uint64_t>(server_->options.body_limit));
        parser_->header_limit(
            static_cast<std::uint32_t>(std::min<std::size_t>(server_->options.header_limit, UINT32_MAX)));
        stream_.expires_at(header_deadline_);
        http::async_read_header(stream_, buffer_, *parser_,
                                beast::bind_front_handler(&Session::on_header, shared_from_this()));
    }

    void on_header(beast::error_code ec, std::size_t) {
        if (phase_ == Phase::closed) return;
        if (ec) return fail_read(ec);
        if (parser_->is_done()) return handle_request();
        // curl and others wait for "100 Continue" before sending a large body.
        auto expect = parser_->get()[http::field::expect];
        if (iequals(expect, "100-continue")) {
            stream_.expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
            static const std::string continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
            net::async_write(stream_, net::buffer(continue_line),
                             [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                                 if (self->phase_ == Phase::closed) return;
                                 if (write_ec) return self->close();
                                 self->read_body();
                             });
            return;
        }
        read_body();
    }

    void read_body() {
        stream_.expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
        http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_body, shared_from_this()));
    }

    void on_body(beast::error_code ec, std::size_t) {
        if (phase_ == Phase::closed) return;
        if (ec) return fail_read(ec);
        handle_request();
    }

    // A read failed: answer what deserves an answer (413, 400), then close either way.
    void fail_read(const beast::error_code& ec) {
        if (ec == http::error::body_limit)
            return answer_and_close(make_error(
                errc::payload_too_large,
                "request body is over the limit of " + std::to_string(server_->options.body_limit) + " bytes"));
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
            return answer_and_close(make_error(
                errc::payload_too_large,
                "request headers are over the limit of " + std::to_string(server_->options.header_limit) + " bytes"));
        if (ec == beast::error::timeout)
            logger().log(LogLevel::info, "http", "request read timed out; closing",
                         {{"remote", remote_}, {"phase", "read"}});
        if (is_disconnect(ec) || ec.category() != http::make_error_code(http::error::bad_target).category())
            return close();
        answer_and_close(make_error(errc::invalid_argument, "malformed HTTP request: " + ec.message()));
    }

    void answer_and_close(const Error& error) {
        ++seq_;
        answered_ = false;
        keep_alive_ = false;
        version_ = 11;
        request_ = HttpRequest{};
        request_.request_id = make_request_id();
        request_.route = "(malformed)";
        request_.method = "-";
        request_.remote_address = remote_;
        request_.received_at = started_;
        linger_ = true;
        respond(seq_, error_response(error, request_.request_id));
    }

    void handle_request() {
        phase_ = Phase::handling;
        ++seq_;
        answered_ = false;
        server_->in_flight_gauge->add(1);
        ++server_->in_flight;
        counted_in_flight_ = true;

        auto message = parser_->release();
        parser_.reset();
        keep_alive_ = message.keep_alive();
        version_ = message.version();

        request_ = HttpRequest{};
        request_.received_at = started_;
        request_.remote_address = remote_;
        request_.method = std::string(message.method_string());
        for (auto& c : request_.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        request_.target = std::string(message.target());
        for (const auto& field : message) {
            auto& slot = request_.headers[to_lower(field.name_string())];
            slot = slot.empty() ? std::string(field.value()) : slot + ", " + std::string(field.value());
        }
        auto incoming_id = request_.header("x-request-id");
        request_.request_id = is_sane_request_id(incoming_id) ? incoming_id : make_request_id();
        request_.body = std::move(message.body());

        if (auto problem = parse_target()) {
            request_.route = "(malformed)";
            return respond(seq_, error_response(*problem, request_.request_id));
        }

        if (server_->options.request_deadline_ms > 0) {
            deadline_.expires_after(std::chrono::milliseconds(server_->options.request_deadline_ms));
            deadline_.async_wait([self = shared_from_this(), seq = seq_](beast::error_code ec) {
                if (ec) return;
                self->respond(
                    seq,
                    error_response(make_error(errc::upstream_timeout,
                                              "no answer within the request deadline of " +
                                                  std::to_string(self->server_->options.request_deadline_ms) + " ms"),
                                   self->request_.request_id));
            });
        }

        // The sink may run on any thread, and after this session is gone: hold it weakly and hop
        // onto its strand. `seq` ties the answer to this request, so a late one is dropped.
        std::weak_ptr<Session> weak = shared_from_this();
        Responder responder(request_.request_id, [weak, seq = seq_](HttpResponse response) {
            if (auto self = weak.lock())
                net::post(self->stream_.get_executor(), [self, seq, response = std::move(response)]() mutable {
                    self->respond(seq, std::move(response));
                });
        });
        server_->router.dispatch(request_, std::move(responder));
    }

    // Fills path and query from the target; an Error when the target is unusable.
    std::optional<Error> parse_target() {
        std::string_view target = request_.target;
        // absolute-form (proxies): drop scheme and authority
        if (target.starts_with("http://") || target.starts_with("https://")) {
            auto slash = target.find('/', target.find("://") + 3);
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        }
        if (!target.starts_with('/')) return make_error(errc::invalid_argument, "request target must be a path");
        target = target.substr(0, target.find('#'));
        auto question = target.find('?');
        std::string_view raw_path = target.substr(0, question);
        auto path = percent_decode(raw_path, false);
        if (!path) return make_error(errc::invalid_argument, "bad percent-encoding in the path");
        if (question != std::string_view::npos) {
            auto query = parse_query(target.substr(question + 1));
            if (!query) return make_error(errc::invalid_argument, "bad percent-encoding in the query");
            request_.query = std::move(*query);
        }
        const auto& prefix = server_->options.url_prefix;
        if (!prefix.empty()) {
            bool under = *path == prefix || (path->starts_with(prefix) && (*path)[prefix.size()] == '/');
            if (!under)
                return make_error(errc::not_found, "no route for " + *path + " (routes live under " + prefix + ")");
            *path = path->size() == prefix.size() ? std::string("/") : path->substr(prefix.size());
        }
        request_.path = std::move(*path);
        return std::nullopt;
    }

    void respond(std::uint64_t seq, HttpResponse response) {
        if (seq != seq_ || answered_ || phase_ == Phase::closed) {
            // Late (after the deadline answer), duplicate, or the connection is gone.
            logger().log(LogLevel::debug, "http", "late answer dropped", {{"status", response.status}});
            return;
        }
        answered_ = true;
        deadline_.cancel();
        if (counted_in_flight_) {
            counted_in_flight_ = false;
            --server_->in_flight;
            server_->in_flight_gauge->add(-1);
        }
        phase_ = Phase::writing;

        bool close_after = !keep_alive_ || stop_requested_ || server_->stopping || linger_;
        response_ = std::make_shared<http::response<http::string_body>>();
        try {
            build(response, close_after);
        } catch (const std::exception& e) {
            // Only a header Beast refuses can get here: answer plainly instead.
            logger().log(LogLevel::error, "http", "could not build the response", {{"error", e.what()}},
                         request_.request_id);
            response = error_response(make_error(errc::internal, "could not build the response"), request_.request_id);
            response_ = std::make_shared<http::response<http::string_body>>();
            build(response, close_after);
        }
        close_after = !response_->keep_alive();

        server_->record(request_, response.status, response_->body().size(), started_);
        stream_.expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
        http::async_write(stream_, *response_,
                          [self = shared_from_this(), close_after](beast::error_code ec, std::size_t) {
                              self->on_write(ec, close_after);
                          });
    }

    void build(HttpResponse& response, bool close_after) {
        if (response.status < 100 || response.status > 599) response.status = 500;
        auto& res = *response_;
        res.version(version_ == 10 ? 10 : 11);
        res.result(static_cast<unsigned>(response.status));
        bool has_type = false;
        for (const auto& [name, value] : response.headers) {
            if (name.empty() || has_control_chars(name) || has_control_chars(value)) continue;  // no header injection
            // Framing is ours: the body's length and the connection's fate.
            if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) continue;
            if (iequals(name, "connection")) {
                if (iequals(value, "close")) close_after = true;
                continue;
            }
            if (iequals(name, "x-request-id") || iequals(name, "server")) continue;
            if (iequals(name, "content-type")) has_type = true;
            res.insert(name, value);
        }
        if (!has_type) res.set(http::field::content_type, "application/json");
        res.set(http::field::server, server_->options.server_header);
        res.set("X-Request-Id", request_.request_id);
        res.keep_alive(!close_after);
        if (request_.method == "HEAD") {
            // Same headers as GET, no body: the length is announced, not sent.
            res.content_length(response.body.size());
        } else {
            res.body() = std::move(response.body);
            res.prepare_payload();
        }
    }

    void on_write(beast::error_code ec, bool close_after) {
        response_.reset();
        if (phase_ == Phase::closed) return;
        if (ec) return close();
        if (close_after) return linger_ ? linger_close() : close();
        first_request_ = false;
        wait_for_request();
    }

    // After an error answer the client may still be sending (a body over the limit): closing
    // with unread input makes the kernel send RST, which can destroy the answer before the
    // client reads it. Shut our side, then read and discard for a bounded time and size.
    void linger_close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        phase_ = Phase::writing;
        stream_.expires_after(std::chrono::seconds(2));
        drain();
    }

    // Asynchronous, not recursive: each read is started from the previous one's completion.
    void drain() {  // NOLINT(misc-no-recursion)
        buffer_.consume(buffer_.size());
        stream_.async_read_some(
            buffer_.prepare(65536),
            [self = shared_from_this()](beast::error_code ec, std::size_t n) {  // NOLINT(misc-no-recursion)
                if (self->phase_ == Phase::closed) return;
                self->drained_ += n;
                if (ec || self->drained_ > (64u << 20)) return self->close();
                self->buffer_.commit(n);
                self->drain();
            });
    }

    void close() {
        if (phase_ == Phase::closed) return;
        if (counted_in_flight_) {
            counted_in_flight_ = false;
            --server_->in_flight;
            server_->in_flight_gauge->add(-1);
            logger().log(LogLevel::info, "http", "connection closed before the answer", {{"path", request_.path}},
                         request_.request_id);
        }
        phase_ = Phase::closed;
        deadline_.cancel();
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
        server_->remove(shared_from_this());
    }

    beast::tcp_stream stream_;
    net::steady_timer deadline_;
    HttpServer::Impl* server_;  // outlives every session: stop() joins the threads first
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::shared_ptr<http::response<http::string_body>> response_;
    HttpRequest request_;
    std::string remote_;
    Phase phase_ = Phase::waiting;
    Clock::time_point header_deadline_;
    Clock::time_point started_ = Clock::now();
    std::uint64_t seq_ = 0;
    std::size_t drained_ = 0;
    unsigned version_ = 11;
    bool answered_ = true;
    bool keep_alive_ = false;
    bool first_request_ = true;
    bool stop_requested_ = false;
    bool counted_in_flight_ = false;
    bool linger_ = false;
};

void HttpServer::Impl::accept() {
    acceptor.async_accept(net::make_strand(io), beast::bind_front_handler(&Impl::on_accept, this));
}

void HttpServer::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open() || stopping) return;
    if (ec) {
        // Out of descriptors and the like: back off instead of spinning on the error.
        logger().log(LogLevel::warn, "http", "accept failed", {{"error", ec.message()}});
        accept_retry.expires_after(std::chrono::milliseconds(100));
        accept_retry.async_wait([this](beast::error_code timer_ec) {
            if (!timer_ec && !stopping) accept();
        });
        return;
    }
    std::shared_ptr<Session> session;
    std::optional<tcp::socket> refused;  // the socket goes to exactly one of the two
    {
        std::lock_guard lock(mutex);
        if (sessions.size() < options.max_connections) {
            session = std::make_shared<Session>(std::move(socket), this);
            sessions.insert(session);
        } else {
            refused.emplace(std::move(socket));
        }
    }
    if (session) {
        connections_gauge->add(1);
        session->start();
    } else {
        logger().log(LogLevel::warn, "http", "connection limit reached; refusing a connection",
                     {{"max_connections", options.max_connections}});
        beast::error_code ignored;
        refused->close(ignored);
    }
    accept();
}

void HttpServer::Impl::remove(const std::shared_ptr<Session>& session) {
    bool erased = false;
    {
        std::lock_guard lock(mutex);
        erased = sessions.erase(session) > 0;
    }
    if (erased) connections_gauge->add(-1);
    sessions_changed.notify_all();
}

void HttpServer::Impl::record(const HttpRequest& request, int status, std::size_t bytes,
                              Clock::time_point request_started) {
    auto elapsed = std::chrono::duration<double>(Clock::now() - request_started).count();
    std::string route = request.route.empty() ? "(none)" : request.route;
    requests_total->inc(
        {{"method", method_label(request.method)}, {"route", route}, {"status", std::to_string(status)}});
    request_duration->observe(elapsed, {{"route", route}});
    // The path, never the query: query strings can carry tokens.
    auto level = status >= 500 ? LogLevel::error : (status >= 400 ? LogLevel::warn : LogLevel::info);
    logger().log(level, "http", "request",
                 {{"method", request.method},
                  {"path", request.target.substr(0, request.target.find('?'))},
                  {"route", route},
                  {"status", status},
                  {"duration_ms", std::round(elapsed * 1e6) / 1e3},
                  {"bytes", bytes},
                  {"request_bytes", request.body.size()},
                  {"remote", request.remote_address}},
                 request.request_id);
}

HttpServer::HttpServer(ServerOptions options, Router router, std::shared_ptr<MetricsRegistry> metrics)
    : impl_(std::make_shared<Impl>()) {
    options.url_prefix = normalize_url_prefix(options.url_prefix);
    if (options.threads < 1) options.threads = 1;
    if (options.max_connections < 1) options.max_connections = 1;
    impl_->options = std::move(options);
    impl_->router = std::move(router);
    impl_->metrics = metrics ? std::move(metrics) : std::make_shared<MetricsRegistry>();
    auto& registry = *impl_->metrics;
    impl_->requests_total =
        &registry.counter("seke_http_requests_total", "HTTP requests answered, by method, route and status.");
    impl_->request_duration = &registry.histogram("seke_http_request_duration_seconds",
                                                  "Time from the first byte of a request to its answer, by route.");
    impl_->connections_gauge = &registry.gauge("seke_http_connections", "Open HTTP connections.");
    impl_->in_flight_gauge =
        &registry.gauge("seke_http_requests_in_flight", "HTTP requests read and not yet answered.");
    impl_->connections_gauge->add(0);
    impl_->in_flight_gauge->add(0);
}

HttpServer::~HttpServer() {
    try {
        stop(std::chrono::milliseconds(0));
    } catch (...) {
        // Nothing to report to: the process is tearing the server down.
    }
}

Result<unsigned short> HttpServer::start() {
    auto& s = *impl_;
    {
        std::lock_guard lock(s.mutex);
        if (s.started) return make_error(errc::internal, "the server was started already");
        s.started = true;
    }
    beast::error_code ec;
    tcp::endpoint endpoint;
    auto address = net::ip::make_address(s.options.host, ec);
    if (!ec) {
        endpoint = tcp::endpoint(address, s.options.port);
    } else {
        tcp::resolver resolver(s.io);
        auto results = resolver.resolve(s.options.host, std::to_string(s.options.port), ec);
        if (ec || results.empty())
            return make_error(errc::config_error,
                              "cannot resolve server host '" + s.options.host + "': " + ec.message());
        endpoint = results.begin()->endpoint();
    }
    auto where = s.options.host + ":" + std::to_string(s.options.port);
    s.acceptor.open(endpoint.protocol(), ec);
    if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) s.acceptor.bind(endpoint, ec);
    if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        beast::error_code ignored;
        s.acceptor.close(ignored);
        return make_error(errc::io_error, "cannot listen on " + where + ": " + ec.message());
    }
    s.bound_port = s.acceptor.local_endpoint(ec).port();
    s.work.emplace(s.io.get_executor());
    s.accept();
    for (int i = 0; i < s.options.threads; ++i) s.threads.emplace_back([&s] { s.io.run(); });
    logger().log(LogLevel::info, "http", "listening",
                 {{"host", s.options.host},
                  {"port", s.bound_port},
                  {"threads", s.options.threads},
                  {"url_prefix", s.options.url_prefix}});
    return s.bound_port;
}

void HttpServer::stop(std::chrono::milliseconds grace) {
    auto& s = *impl_;
    std::vector<std::shared_ptr<Session>> snapshot;
    {
        std::lock_guard lock(s.mutex);
        if (!s.started || s.stopped) return;
        s.stopped = true;
        s.stopping = true;
        snapshot.assign(s.sessions.begin(), s.sessions.end());
    }
    net::post(s.acceptor.get_executor(), [&s] {
        beast::error_code ignored;
        s.acceptor.close(ignored);
        s.accept_retry.cancel();
    });
    for (auto& session : snapshot) session->request_stop();
    snapshot.clear();

    std::unique_lock lock(s.mutex);
    s.sessions_changed.wait_for(lock, grace, [&s] { return s.sessions.empty(); });
    if (!s.sessions.empty()) {
        logger().log(LogLevel::warn, "http", "grace period over; closing connections",
                     {{"connections", s.sessions.size()}, {"in_flight", s.in_flight.load()}});
        for (const auto& session : s.sessions) session->force_close();
        s.sessions_changed.wait_for(lock, std::chrono::seconds(1), [&s] { return s.sessions.empty(); });
    }
    lock.unlock();

    s.work.reset();
    s.io.stop();
    for (auto& thread : s.threads)
        if (thread.joinable()) thread.join();
    s.threads.clear();
    lock.lock();
    s.sessions.clear();  // whatever did not close in time; the loop is no longer running
    lock.unlock();
    logger().log(LogLevel::info, "http", "stopped", {{"port", s.bound_port}});
}

bool HttpServer::running() const noexcept {
    std::lock_guard lock(impl_->mutex);
    return impl_->started && !impl_->stopped;
}

unsigned short HttpServer::port() const noexcept {
    return impl_->bound_port;
}

std::size_t HttpServer::connection_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sessions.size();
}

int HttpServer::requests_in_flight() const noexcept {
    return impl_->in_flight.load();
}

MetricsRegistry& HttpServer::metrics() noexcept {
    return *impl_->metrics;
}

const ServerOptions& HttpServer::options() const noexcept {
    return impl_->options;
}

std::string normalize_url_prefix(std::string_view prefix) {
    std::string out(prefix);
    while (!out.empty() && out.back() == '/') out.pop_back();
    if (!out.empty() && out.front() != '/') out.insert(out.begin(), '/');
    return out;
}

int run_until_signal(HttpServer& server, std::chrono::milliseconds grace, const std::function<void()>& ready) {
    net::io_context io;
    net::signal_set signals(io, SIGINT, SIGTERM);
    int received = 0;
    signals.async_wait([&received](const beast::error_code& ec, int signal_number) {
        if (!ec) received = signal_number;
    });
    if (ready) ready();
    io.run();
    logger().log(LogLevel::info, "http", "signal received; stopping", {{"signal", received}});
    server.stop(grace);
    return received;
}

}  // namespace seke::server
