#include "plugin/server/router.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <set>

#include "plugin/server/log.hpp"

namespace seke::server {

// Shared by the Responder and the router's dispatch frame, so a throw or a drop during the
// handler call is told apart from a drop later on another thread.
struct Responder::State {
    std::string request_id;
    Sink sink;
    std::mutex mutex;
    bool sent = false;
    bool held = true;          // a Responder still owns this state
    bool in_dispatch = false;  // the router is inside the handler call

    // Claims the single answer; false when someone answered already.
    bool claim() {
        std::lock_guard lock(mutex);
        if (sent) return false;
        sent = true;
        return true;
    }
    void deliver(HttpResponse response) noexcept {
        try {
            if (sink) sink(std::move(response));
        } catch (const std::exception& e) {
            logger().log(LogLevel::error, "http", "response sink threw", {{"error", e.what()}}, request_id);
        } catch (...) {
            logger().log(LogLevel::error, "http", "response sink threw", {}, request_id);
        }
    }
};

namespace {

HttpResponse dropped_response(const std::string& request_id) {
    return error_response(make_error(errc::internal, "the handler finished without answering"), request_id);
}

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> segments;
    std::size_t start = path.starts_with('/') ? 1 : 0;
    while (start <= path.size()) {
        auto slash = path.find('/', start);
        if (slash == std::string_view::npos) slash = path.size();
        segments.emplace_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return segments;
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

Responder::Responder(std::string request_id, Sink sink) : state_(std::make_shared<State>()) {
    state_->request_id = std::move(request_id);
    state_->sink = std::move(sink);
}

Responder& Responder::operator=(Responder&& other) noexcept {
    if (this != &other) {
        drop();
        state_ = std::move(other.state_);
    }
    return *this;
}

Responder::~Responder() {
    drop();
}

void Responder::drop() noexcept {
    if (!state_) return;
    auto state = std::move(state_);
    bool answer = false;
    {
        std::lock_guard lock(state->mutex);
        state->held = false;
        // Inside the handler call the router answers (500 "threw" or "dropped") once it returns.
        if (!state->sent && !state->in_dispatch) answer = state->sent = true;
    }
    if (answer) {
        logger().log(LogLevel::error, "http", "responder dropped without an answer", {}, state->request_id);
        state->deliver(dropped_response(state->request_id));
    }
}

bool Responder::send(HttpResponse response) {
    if (!state_ || !state_->claim()) {
        if (state_) logger().log(LogLevel::warn, "http", "second response ignored", {}, state_->request_id);
        return false;
    }
    state_->deliver(std::move(response));
    return true;
}

bool Responder::send_json(int status, const nlohmann::json& body) {
    return send(json_response(status, body));
}

bool Responder::send_error(const Error& error) {
    return send(error_response(error, request_id()));
}

bool Responder::answered() const {
    if (!state_) return true;
    std::lock_guard lock(state_->mutex);
    return state_->sent;
}

const std::string& Responder::request_id() const {
    static const std::string none;
    return state_ ? state_->request_id : none;
}

Router& Router::add(std::string_view method, std::string pattern, Handler handler, std::size_t body_limit) {
    Route route;
    route.body_limit = body_limit;
    route.method = upper(method);
    route.segments = split_path(pattern);
    route.exact = std::none_of(route.segments.begin(), route.segments.end(),
                               [](const std::string& s) { return s.starts_with('{') && s.ends_with('}'); });
    route.pattern = std::move(pattern);
    route.handler = std::move(handler);
    // Exact routes first, each kind in the order added: matching then takes the first hit.
    auto position = route.exact ? std::find_if(routes_.begin(), routes_.end(), [](const Route& r) { return !r.exact; })
                                : routes_.end();
    routes_.insert(position, std::move(route));
    return *this;
}

bool Router::match(const Route& route, std::string_view path, std::map<std::string, std::string>* params) {
    if (route.exact) return route.pattern == path;
    auto segments = split_path(path);
    if (segments.size() != route.segments.size()) return false;
    std::map<std::string, std::string> found;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        const auto& want = route.segments[i];
        if (want.size() >= 2 && want.front() == '{' && want.back() == '}') {
            if (segments[i].empty()) return false;
            found[want.substr(1, want.size() - 2)] = segments[i];
        } else if (want != segments[i]) {
            return false;
        }
    }
    if (params) *params = std::move(found);
    return true;
}

std::vector<std::string> Router::allowed_methods(std::string_view path) const {
    std::set<std::string> methods;
    for (const auto& route : routes_)
        if (match(route, path, nullptr)) methods.insert(route.method);
    if (methods.count("GET")) methods.insert("HEAD");
    return {methods.begin(), methods.end()};
}

const Router::Route* Router::find(std::string_view method, std::string_view path, bool* path_known) const {
    // Exact routes come first in routes_, so the first full match is the right one.
    for (const auto& route : routes_) {
        if (!match(route, path, nullptr)) continue;
        if (path_known) *path_known = true;
        // HEAD is GET without the body (the transport leaves it out).
        if (route.method == method || (method == "HEAD" && route.method == "GET")) return &route;
    }
    return nullptr;
}

std::size_t Router::body_limit(std::string_view method, std::string_view path) const {
    const Route* route = find(method, path, nullptr);
    return route ? route->body_limit : 0;
}

void Router::dispatch(HttpRequest& request, Responder responder) const noexcept {
    try {
        bool path_known = false;
        const Route* chosen = find(request.method, request.path, &path_known);
        if (!chosen) {
            if (!path_known) {
                request.route = "(unmatched)";
                responder.send_error(make_error(errc::not_found, "no route for " + request.path));
                return;
            }
            request.route = "(method not allowed)";
            std::string allow;
            for (const auto& method : allowed_methods(request.path)) allow += (allow.empty() ? "" : ", ") + method;
            auto response =
                error_response(make_error(errc::method_not_allowed, request.method + " is not allowed on " +
                                                                        request.path + "; allowed: " + allow),
                               request.request_id);
            response.set_header("Allow", allow);
            responder.send(std::move(response));
            return;
        }
        request.route = chosen->pattern;
        match(*chosen, request.path, &request.params);

        auto state = responder.state_;
        if (!state) return;
        {
            std::lock_guard lock(state->mutex);
            state->in_dispatch = true;
        }
        std::string failure;
        try {
            chosen->handler(request, std::move(responder));
        } catch (const std::exception& e) {
            failure = e.what();
        } catch (...) {
            failure = "unknown exception";
        }
        bool answer_threw = false;
        bool answer_dropped = false;
        {
            std::lock_guard lock(state->mutex);
            state->in_dispatch = false;
            if (!state->sent && !failure.empty()) answer_threw = state->sent = true;
            else if (!state->sent && !state->held) answer_dropped = state->sent = true;
        }
        if (!failure.empty())
            logger().log(LogLevel::error, "http", "handler threw", {{"route", request.route}, {"error", failure}},
                         request.request_id);
        if (answer_threw)
            state->deliver(
                error_response(make_error(errc::internal, "the handler failed: " + failure), request.request_id));
        if (answer_dropped) {
            logger().log(LogLevel::error, "http", "handler returned without answering or keeping the responder",
                         {{"route", request.route}}, request.request_id);
            state->deliver(dropped_response(request.request_id));
        }
    } catch (...) {
        // Only allocation failures can get here; the responder's destructor still answers 500.
    }
}

}  // namespace seke::server
