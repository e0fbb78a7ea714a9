#pragma once
// Routes a transport-free request to an asynchronous handler. A handler gets the request and a
// Responder; it may answer at once or later from any thread (e.g. when model work finishes),
// without holding a server thread while it waits.
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/server/http_types.hpp"

namespace seke::server {

// Sends exactly one HttpResponse for one request. Move-only. The first send wins; later ones are
// ignored (and return false). Destroying a Responder that never answered sends a 500, so a
// forgotten code path cannot hang a connection. Safe to use from any thread.
class Responder {
  public:
    using Sink = std::function<void(HttpResponse)>;  // delivers to the transport; called once

    Responder() = default;  // answers nowhere
    Responder(std::string request_id, Sink sink);
    Responder(Responder&& other) noexcept = default;
    Responder& operator=(Responder&& other) noexcept;  // drops (→ 500) what it held before
    Responder(const Responder&) = delete;
    Responder& operator=(const Responder&) = delete;
    ~Responder();

    bool operator()(HttpResponse response) { return send(std::move(response)); }
    bool send(HttpResponse response);
    bool send_json(int status, const nlohmann::json& body);
    bool send_error(const Error& error);  // error_response() with this request's id

    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(state_); }
    [[nodiscard]] bool answered() const;
    [[nodiscard]] const std::string& request_id() const;

    struct State;

  private:
    friend class Router;
    void drop() noexcept;
    std::shared_ptr<State> state_;
};

// Runs on a server thread: never block in it (hand slow work elsewhere and answer through the
// Responder). `request` is valid only during the call; copy what the later work needs.
using Handler = std::function<void(const HttpRequest& request, Responder responder)>;

class Router {
  public:
    // `pattern` is an exact path ("/predict") or has whole-segment parameters
    // ("/api/functions/{name}", "/api/functions/{name}/invoke"); a parameter matches one
    // non-empty segment and lands in request.params. Exact patterns win over parameterised
    // ones; among those, the first added wins. `method` is case-insensitive.
    // `body_limit` > 0: this route takes bodies up to that many bytes instead of the server's
    // limit (the transport reads it before the body: a larger one is a 413 and never buffered).
    Router& add(std::string_view method, std::string pattern, Handler handler, std::size_t body_limit = 0);
    Router& get(std::string pattern, Handler handler) { return add("GET", std::move(pattern), std::move(handler)); }
    Router& post(std::string pattern, Handler handler, std::size_t body_limit = 0) {
        return add("POST", std::move(pattern), std::move(handler), body_limit);
    }

    // Sets request.route and request.params, then calls the handler. Unknown path → 404 JSON
    // naming the path; known path with another method → 405 JSON with `Allow`. A handler that
    // throws → 500 JSON (logged); a handler that drops the responder → 500. Never throws.
    void dispatch(HttpRequest& request, Responder responder) const noexcept;

    // Methods registered for a path, sorted ("GET, POST"); empty when no route matches it.
    [[nodiscard]] std::vector<std::string> allowed_methods(std::string_view path) const;
    // The body limit of the route `method` and `path` dispatch to; 0 when it has none of its
    // own (or no route matches).
    [[nodiscard]] std::size_t body_limit(std::string_view method, std::string_view path) const;

  private:
    struct Route {
        std::string method;
        std::string pattern;
        std::vector<std::string> segments;  // split pattern; "{x}" marks a parameter
        bool exact = true;
        Handler handler;
        std::size_t body_limit = 0;
    };
    static bool match(const Route& route, std::string_view path, std::map<std::string, std::string>* params);
    // The route dispatch takes for this method and path (HEAD takes GET's); null if none.
    const Route* find(std::string_view method, std::string_view path, bool* path_known) const;
    std::vector<Route> routes_;
};

}  // namespace seke::server
