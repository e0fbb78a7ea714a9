#pragma once
// A loopback HTTP/1.1 server whose answers a test scripts with a handler: fakes the VLLM,
// Label Studio and CVAT. Records every request; can delay, hang or drop an answer.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace seke::test {

struct HttpRequest {
    std::string method;                          // "GET", "POST", ...
    std::string target;                          // path and query, as sent
    std::map<std::string, std::string> headers;  // lower-case names; repeats joined with ", "
    std::string body;
    std::chrono::steady_clock::time_point received_at;
    int index = 0;  // 0-based order of arrival at the server

    // The header's value, or "" when absent. `name` is matched case-insensitively.
    [[nodiscard]] std::string header(const std::string& name) const;
    [[nodiscard]] std::string path() const;  // target without the query
};

struct HttpReply {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;  // Content-Type defaults to JSON
    std::string body;
    int delay_ms = 0;    // wait this long before answering (other connections are served meanwhile)
    bool hang = false;   // never answer: hold the connection until the client closes it or stop()
    bool drop = false;   // close the connection without answering (a network error for the client)
    bool close = false;  // answer, then close the connection (no keep-alive)

    static HttpReply json(std::string body, int status = 200);
    static HttpReply text(std::string body, int status = 200);
    HttpReply& with_header(std::string name, std::string value);
    HttpReply& with_delay(int ms);
};

class ScriptedHttpServer {
  public:
    using Handler = std::function<HttpReply(const HttpRequest&)>;

    // Binds 127.0.0.1 on a free port and starts serving on `threads` threads. The handler runs
    // on a server thread, one call at a time (calls are serialised), so it may keep plain state.
    explicit ScriptedHttpServer(Handler handler = {}, int threads = 2);
    ~ScriptedHttpServer();  // stop()
    ScriptedHttpServer(const ScriptedHttpServer&) = delete;
    ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

    void set_handler(Handler handler);  // default handler: 404
    [[nodiscard]] unsigned short port() const;
    [[nodiscard]] std::string base_url() const;  // "http://127.0.0.1:PORT"

    [[nodiscard]] std::vector<HttpRequest> requests() const;  // in arrival order
    [[nodiscard]] std::size_t request_count() const;
    void clear_requests();
    // Requests received and not yet answered (being delayed or hanging), and its peak so far.
    [[nodiscard]] int open_requests() const;
    [[nodiscard]] int max_open_requests() const;

    // Polls until `predicate(*this)` holds or `timeout` passes; returns whether it held.
    bool wait_for(const std::function<bool(const ScriptedHttpServer&)>& predicate,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

    // Closes every connection and joins the threads. Idempotent.
    void stop();

    struct State;

  private:
    std::shared_ptr<State> state_;
};

}  // namespace seke::test
