#include "plugin/server/http_server.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <thread>
#include <vector>

#include <sys/resource.h>

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
    GaugeSeries* connections_gauge = nullptr;
    GaugeSeries* in_flight_gauge = nullptr;

    net::io_context io;
    // Answers given on other threads are posted onto `io`. The server's end waits for a post in
    // progress and turns later ones away: they would reach a loop that is being destroyed.
    struct PostGate {
        std::shared_mutex mutex;
        bool closed = false;
    };
    std::shared_ptr<PostGate> post_gate = std::make_shared<PostGate>();
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
    std::map<std::string, std::size_t> per_client;  // open sessions by client address
    std::size_t evictions_pending = 0;              // sessions told to close to make room
    bool started = false;
    bool stopped = false;
    Counter* refused_total = nullptr;
    Counter* evicted_total = nullptr;
    std::atomic<int> refusals_in_flight{0};
    std::atomic<Clock::rep> last_refusal_logged{0};

    void accept();
    void on_accept(beast::error_code ec, tcp::socket socket);
    // Under `mutex`: the session to close to make room (from `client` only, when given), or null.
    std::shared_ptr<Session> choose_eviction(const std::string* client);
    // Answers a connection it will not serve with `error` and closes it, without holding a slot.
    void refuse(tcp::socket socket, const Error& error, std::string_view reason);
    void remove(const std::shared_ptr<Session>& session);
    // The metric series of one (method, route, status): what a connection's last answer used,
    // kept by the session so that a run of alike requests renders no label set.
    struct RequestSeries {
        std::string method;
        std::string route;
        int status = 0;
        CounterSeries* requests = nullptr;
        HistogramSeries* duration = nullptr;
    };
    void record(const HttpRequest& request, int status, std::size_t bytes, Clock::time_point request_started,
                RequestSeries& series);
};

namespace {

// Bounded label values: a client can send any method, and every label value is a new series.
std::string_view method_label(std::string_view method) {
    for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
        if (method == known) return known;
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

// The wire form of `response`, for a request of HTTP/`version`: framing (length, connection) and
// the Server and X-Request-Id headers are the transport's; a header that could inject another
// is dropped; HEAD announces the body's length and sends none.
void write_wire_response(http::response<http::string_body>& res, HttpResponse& response, unsigned version, bool head,
                         const std::string& server_header, const std::string& request_id, bool close_after) {
    if (response.status < 100 || response.status > 599) response.status = 500;
    res.version(version == 10 ? 10 : 11);
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
    res.set(http::field::server, server_header);
    res.set("X-Request-Id", request_id);
    res.keep_alive(!close_after);
    if (head) {
        res.content_length(response.body.size());
    } else {
        res.body() = std::move(response.body);
        res.prepare_payload();
    }
}

// Debian starts processes with a soft limit of 1,024 descriptors: lower than max_connections
// plus the store's and the clients' own, and accept() failing is a lock-out of its own. The hard
// limit is ours to take.
void raise_descriptor_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

// What a connection is doing, as the acceptor sees it when a limit is reached: idle (between
// requests, or none yet) and reading can be closed to make room; busy (handled or answering)
// cannot.
enum class Activity { idle, reading, busy };

// One connection. Phases: waiting (no byte of the next request yet) → reading (headers, body)
// → handling (the router has it; we wait for the Responder) → writing → waiting again or
// closed. All members are touched only on the session's strand.
class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(tcp::socket socket, std::string client_address, HttpServer::Impl* server)
        : stream_(std::move(socket)), deadline_(stream_.get_executor()), server_(server), post_gate_(server->post_gate),
          client(std::move(client_address)) {
        beast::error_code ec;
        auto endpoint = stream_.socket().remote_endpoint(ec);
        if (!ec) remote_ = client + ":" + std::to_string(endpoint.port());
        auto executor = stream_.get_executor();
        if (const auto* strand = executor.target<Strand>()) strand_.emplace(*strand);
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

    // Chosen to make room at a connection limit: closes now unless a request got in meanwhile,
    // which is then answered and the connection closed after it.
    void evict() {
        net::post(stream_.get_executor(), [self = shared_from_this()] {
            self->stop_requested_ = true;
            if (self->phase_ == Phase::waiting || self->phase_ == Phase::reading) {
                logger().log(LogLevel::debug, "http", "connection closed to make room", {{"remote", self->remote_}});
                self->close();
            }
        });
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
        set_activity(Activity::idle);
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
        set_activity(Activity::reading);
        started_ = Clock::now();
        if (buffer_.size() > 0 && !first_request_ && header_deadline_ < started_)
            header_deadline_ = started_ + std::chrono::milliseconds(server_->options.header_timeout_ms);
        parser_.emplace();
        body_limit_ = server_->options.body_limit;
        parser_->body_limit(static_cast<std::uint64_t>(body_limit_));
        parser_->header_limit(
            static_cast<std::uint32_t>(std::min<std::size_t>(server_->options.header_limit, UINT32_MAX)));
        // Usually the whole head came with the first bytes: parse it here, without a trip through
        // the executor and a timer.
        beast::error_code ec;
        parse_buffered(ec);
        if (ec) return fail_read(ec);
        if (parser_->is_header_done()) return on_header({}, 0);
        stream_.expires_at(header_deadline_);
        http::async_read_header(stream_, buffer_, *parser_,
                                beast::bind_front_handler(&Session::on_header, shared_from_this()));
    }

    // Feeds the parser what the buffer holds: the head, or once it is read, the body. Stops
    // when it needs more bytes (ec stays clear) or at the parser's error.
    void parse_buffered(beast::error_code& ec) {
        while (buffer_.size() > 0 && !parser_->is_done()) {
            bool in_head = !parser_->is_header_done();
            std::size_t used = parser_->put(buffer_.data(), ec);
            buffer_.consume(used);
            if (ec == http::error::need_more) {
                ec = {};
                return;
            }
            if (ec || (in_head && parser_->is_header_done())) return;  // the head's checks come first
            if (used == 0) return;
        }
    }

    void on_header(beast::error_code ec, std::size_t) {
        if (phase_ == Phase::closed) return;
        if (ec) return fail_read(ec);
        take_head();
        if (auto problem = parse_target()) {
            // Answered before the body: the connection cannot be reused for the next request.
            request_.route = "(malformed)";
            return answer_and_close(*problem);
        }
        // A route may take less than the server's limit (webhooks): Beast checked the announced
        // length against the server's limit, so check it against the route's here.
        if (std::size_t route_limit = server_->router.body_limit(request_.method, request_.path);
            route_limit > 0 && route_limit < body_limit_) {
            body_limit_ = route_limit;
            auto announced = parser_->content_length();
            if (announced && *announced > route_limit) return fail_read(http::error::body_limit);
            parser_->body_limit(static_cast<std::uint64_t>(route_limit));
        }
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

    // The body is read piece by piece so that progress, not one long timer, keeps it alive: no
    // byte for body_progress_timeout_ms, or fewer than body_min_bytes_per_s on average after
    // that long, and the connection is dropped; the whole body still has read_timeout_ms.
    void read_body() {
        body_started_ = Clock::now();
        body_bytes_ = buffer_.size();
        parser_->eager(true);
        beast::error_code ec;
        parse_buffered(ec);
        if (ec) return fail_read(ec);
        if (parser_->is_done()) return handle_request();
        read_more_body();
    }

    void read_more_body() {
        const auto& o = server_->options;
        auto whole_deadline = body_started_ + std::chrono::milliseconds(o.read_timeout_ms);
        auto progress_deadline = Clock::now() + std::chrono::milliseconds(o.body_progress_timeout_ms);
        stream_.expires_at(std::min(whole_deadline, progress_deadline));
        http::async_read_some(stream_, buffer_, *parser_,
                              beast::bind_front_handler(&Session::on_body_bytes, shared_from_this()));
    }

    void on_body_bytes(beast::error_code ec, std::size_t n) {
        if (phase_ == Phase::closed) return;
        if (ec) return fail_read(ec);
        mark_progress();
        body_bytes_ += n;
        if (parser_->is_done()) return handle_request();
        const auto& o = server_->options;
        double seconds = std::chrono::duration<double>(Clock::now() - body_started_).count();
        if (seconds * 1000 > o.body_progress_timeout_ms &&
            static_cast<double>(body_bytes_) < seconds * static_cast<double>(o.body_min_bytes_per_s)) {
            logger().log(LogLevel::info, "http", "request body too slow; closing",
                         {{"remote", remote_}, {"bytes", body_bytes_}, {"seconds", seconds}});
            return close();
        }
        read_more_body();
    }

    // A read failed: answer what deserves an answer (413, 400), then close either way.
    void fail_read(const beast::error_code& ec) {
        if (ec == http::error::body_limit)
            return answer_and_close(make_error(
                errc::payload_too_large, "request body is over the limit of " + std::to_string(body_limit_) +
                                             " bytes for " +
                                             (request_.path.empty() ? std::string("this server") : request_.path)));
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

    // Answers without reading (the rest of) the request, then closes. Keeps the head when one
    // was read (its id, method and route go into the log line).
    void answer_and_close(const Error& error) {
        ++seq_;
        answered_ = false;
        keep_alive_ = false;
        activity = Activity::busy;
        if (!head_taken_) {
            version_ = 11;
            request_ = HttpRequest{};
            request_.request_id = make_request_id();
            request_.route = "(malformed)";
            request_.method = "-";
            request_.remote_address = remote_;
            request_.received_at = started_;
        }
        linger_ = true;
        respond(seq_, error_response(error, request_.request_id));
    }

    // The request line and headers, as soon as they are read: the route's body limit depends
    // on them.
    void take_head() {
        head_taken_ = true;
        const auto& message = parser_->get();
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
    }

    [[nodiscard]] bool on_own_strand() const { return strand_ && strand_->running_in_this_thread(); }

    void set_activity(Activity now) {
        activity = now;
        mark_progress();
    }
    void mark_progress() { quiet_since = Clock::now().time_since_epoch().count(); }

    void handle_request() {
        phase_ = Phase::handling;
        activity = Activity::busy;
        ++seq_;
        answered_ = false;
        server_->in_flight_gauge->add(1);
        ++server_->in_flight;
        counted_in_flight_ = true;

        request_.body = std::move(parser_->release().body());
        parser_.reset();
        head_taken_ = false;

        // Read only when there is a deadline to count: this is every request's path.
        const bool has_deadline = server_->options.request_deadline_ms > 0;
        const auto handling_started = has_deadline ? Clock::now() : Clock::time_point{};
        // The sink may run on any thread, and after this session is gone: hold it weakly and hop
        // onto its strand. `seq` ties the answer to this request, so a late one is dropped.
        std::weak_ptr<Session> weak = shared_from_this();
        Responder responder(request_.request_id, [weak, seq = seq_](HttpResponse response) {
            auto self = weak.lock();
            if (!self) return;
            // Answered inside the handler call (the common case): no hop, no thread woken.
            if (self->on_own_strand()) return self->respond(seq, std::move(response));
            std::shared_lock gate(self->post_gate_->mutex);
            if (self->post_gate_->closed) return;  // the server is gone
            net::post(self->stream_.get_executor(), [self, seq, response = std::move(response)]() mutable {
                self->respond(seq, std::move(response));
            });
        });
        server_->router.dispatch(request_, std::move(responder));
        // Most routes answer inside the call; only one still owed an answer needs the timer.
        if (!answered_ && has_deadline) arm_deadline(handling_started);
    }

    void arm_deadline(Clock::time_point handling_started) {
        deadline_armed_ = true;
        deadline_.expires_at(handling_started + std::chrono::milliseconds(server_->options.request_deadline_ms));
        deadline_.async_wait([self = shared_from_this(), seq = seq_](beast::error_code ec) {
            if (ec) return;
            self->respond(
                seq, error_response(make_error(errc::upstream_timeout,
                                               "no answer within the request deadline of " +
                                                   std::to_string(self->server_->options.request_deadline_ms) + " ms"),
                                    self->request_.request_id));
        });
    }

    void disarm_deadline() {
        if (!deadline_armed_) return;
        deadline_armed_ = false;
        deadline_.cancel();
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
        disarm_deadline();
        if (counted_in_flight_) {
            counted_in_flight_ = false;
            --server_->in_flight;
            server_->in_flight_gauge->add(-1);
        }
        phase_ = Phase::writing;

        bool close_after = !keep_alive_ || stop_requested_ || server_->stopping || linger_;
        response_.emplace();
        try {
            build(response, close_after);
        } catch (const std::exception& e) {
            // Only a header Beast refuses can get here: answer plainly instead.
            logger().log(LogLevel::error, "http", "could not build the response", {{"error", e.what()}},
                         request_.request_id);
            response = error_response(make_error(errc::internal, "could not build the response"), request_.request_id);
            response_.emplace();
            build(response, close_after);
        }
        close_after = !response_->keep_alive();

        server_->record(request_, response.status, response_->body().size(), started_, series_);
        stream_.expires_after(std::chrono::milliseconds(server_->options.read_timeout_ms));
        close_after_write_ = close_after;
        http::async_write(stream_, *response_, beast::bind_front_handler(&Session::on_write, shared_from_this()));
    }

    void build(HttpResponse& response, bool close_after) {
        write_wire_response(*response_, response, version_, request_.method == "HEAD", server_->options.server_header,
                            request_.request_id, close_after);
    }

    void on_write(beast::error_code ec, std::size_t) {
        bool close_after = close_after_write_;
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
        disarm_deadline();
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
        server_->remove(shared_from_this());
    }

    using Strand = net::strand<net::io_context::executor_type>;
    beast::tcp_stream stream_;
    std::optional<Strand> strand_;  // the stream's, to tell when an answer comes on it
    net::steady_timer deadline_;
    HttpServer::Impl* server_;                               // outlives every session: stop() joins the threads first
    std::shared_ptr<HttpServer::Impl::PostGate> post_gate_;  // outlives the server
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::optional<http::response<http::string_body>> response_;  // the one being written
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
    bool head_taken_ = false;
    std::size_t body_limit_ = 0;  // of the request being read: the server's or its route's
    Clock::time_point body_started_;
    std::size_t body_bytes_ = 0;
    bool deadline_armed_ = false;
    bool close_after_write_ = false;  // of the response being written
    HttpServer::Impl::RequestSeries series_;

  public:
    // What the acceptor reads, from its own thread, to choose a connection to close when a
    // limit is reached. Written on the session's strand.
    const std::string client;  // the remote address without the port: the per-client count's key
    std::atomic<Activity> activity{Activity::idle};
    std::atomic<Clock::rep> quiet_since{Clock::now().time_since_epoch().count()};
    bool evicting = false;  // guarded by the server's mutex
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
    beast::error_code endpoint_ec;
    auto endpoint = socket.remote_endpoint(endpoint_ec);
    std::string client = endpoint_ec ? std::string("?") : endpoint.address().to_string();
    std::shared_ptr<Session> session;
    std::shared_ptr<Session> evicted;
    std::optional<Error> refusal;
    std::optional<tcp::socket> refused;  // the socket goes to exactly one of session and refused
    std::string_view reason;
    {
        std::lock_guard lock(mutex);
        std::size_t& from_client = per_client[client];
        if (from_client >= options.max_connections_per_client) {
            evicted = choose_eviction(&client);
            if (!evicted) {
                reason = "per_client";
                refusal =
                    make_error(errc::too_many_requests, "too many connections from " + client + " (the limit is " +
                                                            std::to_string(options.max_connections_per_client) + ")");
            }
        } else if (sessions.size() - evictions_pending >= options.max_connections) {
            evicted = choose_eviction(nullptr);
            if (!evicted) {
                reason = "total";
                refusal = make_error(errc::overloaded, "the server is at its limit of " +
                                                           std::to_string(options.max_connections) +
                                                           " connections; retry shortly");
            }
        }
        if (!refusal) {
            session = std::make_shared<Session>(std::move(socket), client, this);
            sessions.insert(session);
            ++from_client;
        } else {
            refused.emplace(std::move(socket));
            if (from_client == 0) per_client.erase(client);
        }
    }
    if (evicted) {
        evicted_total->inc();
        evicted->evict();
    }
    if (session) {
        connections_gauge->add(1);
        session->start();
    } else {
        refuse(std::move(*refused), *refusal, reason);
    }
    accept();
}

std::shared_ptr<Session> HttpServer::Impl::choose_eviction(const std::string* client) {
    // Idle first, then a read stalled this long; the one quiet longest of its kind.
    constexpr auto kStalled = std::chrono::seconds(1);
    const Clock::rep stalled_before = (Clock::now() - kStalled).time_since_epoch().count();
    std::shared_ptr<Session> best;
    Activity best_activity = Activity::busy;
    Clock::rep best_quiet = 0;
    for (const auto& candidate : sessions) {
        if (candidate->evicting || (client && candidate->client != *client)) continue;
        Activity activity = candidate->activity.load();
        Clock::rep quiet = candidate->quiet_since.load();
        if (activity == Activity::busy || (activity == Activity::reading && quiet > stalled_before)) continue;
        bool better = !best || (activity == Activity::idle && best_activity == Activity::reading) ||
                      (activity == best_activity && quiet < best_quiet);
        if (better) {
            best = candidate;
            best_activity = activity;
            best_quiet = quiet;
        }
    }
    if (best) {
        best->evicting = true;
        ++evictions_pending;
    }
    return best;
}

void HttpServer::Impl::refuse(tcp::socket socket, const Error& error, std::string_view reason) {
    refused_total->inc({{"reason", std::string(reason)}});
    auto now = Clock::now().time_since_epoch().count();
    auto logged = last_refusal_logged.load();
    // One line a second at most: a flood must not become a flood of log lines.
    if (now - logged > std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)).count() &&
        last_refusal_logged.compare_exchange_strong(logged, now))
        logger().log(LogLevel::warn, "http", "connection refused at a limit",
                     {{"reason", reason}, {"error", error.message}});
    // The answer is a courtesy: under a flood, past a few hundred at once, just close.
    constexpr int kMaxRefusalsInFlight = 256;
    if (refusals_in_flight.fetch_add(1) >= kMaxRefusalsInFlight) {
        --refusals_in_flight;
        beast::error_code ignored;
        socket.close(ignored);
        return;
    }
    struct Refusal {
        Refusal(tcp::socket socket, std::atomic<int>& count) : stream(std::move(socket)), in_flight(count) {}
        Refusal(const Refusal&) = delete;
        Refusal& operator=(const Refusal&) = delete;
        ~Refusal() { --in_flight; }
        beast::tcp_stream stream;
        http::response<http::string_body> response;
        std::atomic<int>& in_flight;
    };
    auto refusal = std::make_shared<Refusal>(std::move(socket), refusals_in_flight);
    std::string request_id = make_request_id();
    HttpResponse answer = error_response(error, request_id);
    answer.set_header("Retry-After", "1");
    write_wire_response(refusal->response, answer, 11, false, options.server_header, request_id, true);
    refusal->stream.expires_after(std::chrono::seconds(2));
    http::async_write(refusal->stream, refusal->response, [refusal](beast::error_code, std::size_t) {
        beast::error_code ignored;
        refusal->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        refusal->stream.close();
    });
}

void HttpServer::Impl::remove(const std::shared_ptr<Session>& session) {
    bool erased = false;
    {
        std::lock_guard lock(mutex);
        erased = sessions.erase(session) > 0;
        if (erased) {
            if (auto it = per_client.find(session->client); it != per_client.end() && --it->second == 0)
                per_client.erase(it);
            if (session->evicting) --evictions_pending;
        }
    }
    if (erased) connections_gauge->add(-1);
    sessions_changed.notify_all();
}

void HttpServer::Impl::record(const HttpRequest& request, int status, std::size_t bytes,
                              Clock::time_point request_started, RequestSeries& series) {
    auto elapsed = std::chrono::duration<double>(Clock::now() - request_started).count();
    std::string_view route = request.route.empty() ? std::string_view("(none)") : std::string_view(request.route);
    std::string_view method = method_label(request.method);
    if (!series.requests || series.status != status || series.route != route || series.method != method) {
        series.method = method;
        series.route = route;
        series.status = status;
        series.requests = &requests_total->series(
            {{"method", series.method}, {"route", series.route}, {"status", std::to_string(status)}});
        series.duration = &request_duration->series({{"route", series.route}});
    }
    series.requests->inc();
    series.duration->observe(elapsed);
    // The path, never the query: query strings can carry tokens.
    auto level = status >= 500 ? LogLevel::error : (status >= 400 ? LogLevel::warn : LogLevel::info);
    if (!logger().enabled(level)) return;
    // One line per request: written as text, not built as a JSON tree (the hot path of a server
    // answering tens of thousands of requests a second).
    std::string line = log_line_head(level, "http", "request", request.request_id);
    line += R"(,"method":)";
    append_json_string(line, request.method);
    line += R"(,"path":)";
    append_json_string(line, std::string_view(request.target).substr(0, request.target.find('?')));
    line += R"(,"route":)";
    append_json_string(line, route);
    char number[32];
    auto append_number = [&line, &number](auto value) {
        auto written = std::to_chars(number, number + sizeof number, value);
        line.append(number, written.ptr);
    };
    line += R"(,"status":)";
    append_number(status);
    line += R"(,"duration_ms":)";
    append_number(std::round(elapsed * 1e6) / 1e3);
    line += R"(,"bytes":)";
    append_number(bytes);
    line += R"(,"request_bytes":)";
    append_number(request.body.size());
    line += R"(,"remote":)";
    append_json_string(line, request.remote_address);
    line += '}';
    logger().write_line(level, std::move(line));
}

HttpServer::HttpServer(ServerOptions options, Router router, std::shared_ptr<MetricsRegistry> metrics)
    : impl_(std::make_shared<Impl>()) {
    options.url_prefix = normalize_url_prefix(options.url_prefix);
    if (options.threads < 1) options.threads = 1;
    if (options.max_connections < 1) options.max_connections = 1;
    if (options.max_connections_per_client < 1) options.max_connections_per_client = 1;
    impl_->options = std::move(options);
    impl_->router = std::move(router);
    impl_->metrics = metrics ? std::move(metrics) : std::make_shared<MetricsRegistry>();
    auto& registry = *impl_->metrics;
    impl_->requests_total =
        &registry.counter("seke_http_requests_total", "HTTP requests answered, by method, route and status.");
    impl_->request_duration = &registry.histogram("seke_http_request_duration_seconds",
                                                  "Time from the first byte of a request to its answer, by route.");
    impl_->connections_gauge = &registry.gauge("seke_http_connections", "Open HTTP connections.").series();
    impl_->refused_total = &registry.counter("seke_http_connections_refused_total",
                                             "Connections answered 429/503 at a limit and closed, by limit.");
    impl_->evicted_total =
        &registry.counter("seke_http_connections_evicted_total", "Idle connections closed to make room at a limit.");
    impl_->in_flight_gauge =
        &registry.gauge("seke_http_requests_in_flight", "HTTP requests read and not yet answered.").series();
    impl_->connections_gauge->add(0);
    impl_->in_flight_gauge->add(0);
}

HttpServer::~HttpServer() {
    try {
        stop(std::chrono::milliseconds(0));
    } catch (...) {
        // Nothing to report to: the process is tearing the server down.
    }
    std::unique_lock gate(impl_->post_gate->mutex);
    impl_->post_gate->closed = true;
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
    raise_descriptor_limit();
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
    s.per_client.clear();
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
