#include "tests/support/scripted_http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace seke::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string lower(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

}  // namespace

std::string HttpRequest::header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? std::string() : it->second;
}

std::string HttpRequest::path() const {
    return target.substr(0, target.find('?'));
}

HttpReply HttpReply::json(std::string body, int status) {
    HttpReply reply;
    reply.status = status;
    reply.body = std::move(body);
    return reply;
}

HttpReply HttpReply::text(std::string body, int status) {
    HttpReply reply = json(std::move(body), status);
    reply.headers.emplace_back("Content-Type", "text/plain");
    return reply;
}

HttpReply& HttpReply::with_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
}

HttpReply& HttpReply::with_delay(int ms) {
    delay_ms = ms;
    return *this;
}

class Session;

struct ScriptedHttpServer::State {
    net::io_context io;
    tcp::acceptor acceptor{io};
    std::vector<std::thread> threads;
    unsigned short port = 0;

    std::mutex handler_mutex;  // serialises handler calls
    Handler handler;

    mutable std::mutex mutex;  // guards what follows
    std::vector<HttpRequest> requests;
    int next_index = 0;
    int open = 0;
    int max_open = 0;
    std::set<std::shared_ptr<Session>> sessions;  // to close them on stop
    bool stopped = false;

    HttpReply call(const HttpRequest& request) {
        std::lock_guard lock(handler_mutex);
        if (!handler) return HttpReply::text("no handler", 404);
        try {
            return handler(request);
        } catch (const std::exception& e) {
            return HttpReply::text(std::string("handler threw: ") + e.what(), 500);
        }
    }
    void opened() {
        std::lock_guard lock(mutex);
        max_open = std::max(max_open, ++open);
    }
    void answered() {
        std::lock_guard lock(mutex);
        --open;
    }
    void accept();
};

class Session : public std::enable_shared_from_this<Session> {
  public:
    // `state` outlives every session: stop() joins the threads before the state goes away.
    Session(tcp::socket socket, ScriptedHttpServer::State* state)
        : stream_(std::move(socket)), timer_(stream_.get_executor()), state_(state) {}

    void start() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
    }

    // Called from stop(): from any thread, so hop onto the session's strand.
    void shutdown() {
        net::post(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
    }

  private:
    void read() {
        parser_.emplace();
        parser_->body_limit(256u << 20);
        http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec) return close();
        auto message = parser_->release();
        HttpRequest request;
        request.method = std::string(message.method_string());
        request.target = std::string(message.target());
        for (const auto& field : message) {
            auto name = lower(std::string(field.name_string()));
            auto& slot = request.headers[name];
            slot = slot.empty() ? std::string(field.value()) : slot + ", " + std::string(field.value());
        }
        request.body = std::move(message.body());
        request.received_at = std::chrono::steady_clock::now();
        {
            std::lock_guard lock(state_->mutex);
            request.index = state_->next_index++;
            state_->requests.push_back(request);
        }
        state_->opened();
        pending_ = true;
        keep_alive_ = message.keep_alive();
        reply_ = state_->call(request);

        if (reply_.drop) return close();
        if (reply_.hang) return watch();
        if (reply_.delay_ms > 0) {
            timer_.expires_after(std::chrono::milliseconds(reply_.delay_ms));
            timer_.async_wait([self = shared_from_this()](beast::error_code timer_ec) {
                if (timer_ec) return;  // closed meanwhile
                self->write();
            });
            return;
        }
        write();
    }

    // While hanging: a read that only ends when the client closes (or sends more, ignored).
    void watch() {
        stream_.socket().async_read_some(net::buffer(probe_),
                                         [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                             if (ec) return self->close();
                                             self->watch();
                                         });
    }

    void write() {
        if (closed_) return;
        // Counted as answered before the bytes go out: the client may start its next request on
        // another connection as soon as it has read this one.
        settle();
        response_ = {};
        response_.version(11);
        response_.result(static_cast<unsigned>(reply_.status));
        bool has_type = false;
        for (const auto& [name, value] : reply_.headers) {
            response_.insert(name, value);
            if (lower(name) == "content-type") has_type = true;
        }
        if (!has_type) response_.set(http::field::content_type, "application/json");
        response_.body() = reply_.body;
        response_.keep_alive(keep_alive_ && !reply_.close);
        response_.prepare_payload();
        http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec || !self->response_.keep_alive()) return self->close();
            self->read();
        });
    }

    void settle() {
        if (pending_) {
            pending_ = false;
            state_->answered();
        }
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        settle();
        timer_.cancel();
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
        std::lock_guard lock(state_->mutex);
        state_->sessions.erase(shared_from_this());
    }

    beast::tcp_stream stream_;
    net::steady_timer timer_;
    ScriptedHttpServer::State* state_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> response_;
    HttpReply reply_;
    char probe_[512];
    bool keep_alive_ = true;
    bool pending_ = false;
    bool closed_ = false;
};

void ScriptedHttpServer::State::accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
        if (ec) return;  // acceptor closed
        std::shared_ptr<Session> session;
        {
            std::lock_guard lock(mutex);
            if (stopped) return;
            session = std::make_shared<Session>(std::move(socket), this);
            sessions.insert(session);
        }
        session->start();
        accept();
    });
}

ScriptedHttpServer::ScriptedHttpServer(Handler handler, int threads) : state_(std::make_shared<State>()) {
    state_->handler = std::move(handler);
    tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
    state_->acceptor.open(endpoint.protocol());
    state_->acceptor.set_option(net::socket_base::reuse_address(true));
    state_->acceptor.bind(endpoint);
    state_->acceptor.listen(net::socket_base::max_listen_connections);
    state_->port = state_->acceptor.local_endpoint().port();
    state_->accept();
    for (int i = 0; i < std::max(1, threads); ++i)
        state_->threads.emplace_back([state = state_.get()] { state->io.run(); });
}

ScriptedHttpServer::~ScriptedHttpServer() {
    stop();
}

void ScriptedHttpServer::stop() {
    std::vector<std::shared_ptr<Session>> sessions;
    {
        std::lock_guard lock(state_->mutex);
        if (state_->stopped) return;
        state_->stopped = true;
        sessions.assign(state_->sessions.begin(), state_->sessions.end());
    }
    net::post(state_->acceptor.get_executor(), [state = state_.get()] {
        beast::error_code ignored;
        state->acceptor.close(ignored);
    });
    for (auto& session : sessions) session->shutdown();
    sessions.clear();
    // Let the closes run, then end the loop even if a timer is still pending.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
        {
            std::lock_guard lock(state_->mutex);
            if (state_->sessions.empty()) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    state_->io.stop();
    for (auto& thread : state_->threads)
        if (thread.joinable()) thread.join();
}

void ScriptedHttpServer::set_handler(Handler handler) {
    std::lock_guard lock(state_->handler_mutex);
    state_->handler = std::move(handler);
}

unsigned short ScriptedHttpServer::port() const {
    return state_->port;
}

std::string ScriptedHttpServer::base_url() const {
    return "http://127.0.0.1:" + std::to_string(state_->port);
}

std::vector<HttpRequest> ScriptedHttpServer::requests() const {
    std::lock_guard lock(state_->mutex);
    return state_->requests;
}

std::size_t ScriptedHttpServer::request_count() const {
    std::lock_guard lock(state_->mutex);
    return state_->requests.size();
}

void ScriptedHttpServer::clear_requests() {
    std::lock_guard lock(state_->mutex);
    state_->requests.clear();
}

int ScriptedHttpServer::open_requests() const {
    std::lock_guard lock(state_->mutex);
    return state_->open;
}

int ScriptedHttpServer::max_open_requests() const {
    std::lock_guard lock(state_->mutex);
    return state_->max_open;
}

bool ScriptedHttpServer::wait_for(const std::function<bool(const ScriptedHttpServer&)>& predicate,
                                  std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (predicate(*this)) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace seke::test
