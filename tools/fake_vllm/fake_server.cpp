#include "tools/fake_vllm/fake_server.hpp"

#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tools/fake_vllm/face_code.hpp"
#include "tools/fake_vllm/fake_batch.hpp"
#include "tools/fake_vllm/fake_model.hpp"
#include "tools/fake_vllm/rng.hpp"

namespace seke::fake {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::string_view kModelName = "fake-vllm";

FakeReply json_reply(int status, const nlohmann::json& body) {
    FakeReply r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = body.dump();
    return r;
}

// OpenAI's error shape: {"error":{"message","type","param","code"}}.
FakeReply error_reply(int status, const std::string& message, const std::string& type, const std::string& code = {}) {
    nlohmann::json error{{"message", message}, {"type", type}, {"param", nullptr}};
    error["code"] = code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code);
    return json_reply(status, {{"error", error}});
}

std::optional<std::uint32_t> code_of(const std::optional<std::string>& url) {
    if (!url) return std::nullopt;
    auto bytes = decode_data_uri(*url);
    if (!bytes || bytes->empty()) return std::nullopt;
    try {
        const cv::Mat encoded(1, static_cast<int>(bytes->size()), CV_8UC1, bytes->data());
        const cv::Mat image = cv::imdecode(encoded, cv::IMREAD_COLOR);
        return read_code(image);
    } catch (const cv::Exception&) {
        return std::nullopt;  // not an image OpenCV can decode
    }
}

// The content faults, applied to one choice's message.
enum class ContentFault { none, malformed, truncated, refusal, wrong_types, out_of_vocabulary };

const char* content_fault_name(ContentFault f) {
    switch (f) {
        case ContentFault::malformed: return "malformed";
        case ContentFault::truncated: return "truncated";
        case ContentFault::refusal: return "refusal";
        case ContentFault::wrong_types: return "wrong_types";
        case ContentFault::out_of_vocabulary: return "out_of_vocabulary";
        case ContentFault::none: break;
    }
    return "none";
}

void make_wrong_types(nlohmann::json& answer) {
    for (auto& [key, value] : answer.items()) {
        if (key == "valence") value = "high";
        else if (key == "arousal") value = "low";
        else if (key == "action_units") {
            std::string joined;
            for (const auto& au : value) joined += (joined.empty() ? "" : ", ") + au.get<std::string>();
            value = joined;
        } else if (key == "verdict") value = true;
        else if (value.is_string()) value = nlohmann::json::array({value});
    }
}

// Well-formed JSON with labels no vocabulary has: an expression nobody lists, an AU code that
// does not exist. False when the answer has neither key (nothing to spoil).
bool make_out_of_vocabulary(nlohmann::json& answer) {
    bool spoiled = false;
    if (answer.contains("expression")) {
        answer["expression"] = "bewilderment";
        spoiled = true;
    }
    if (answer.contains("action_units") && answer["action_units"].is_array()) {
        answer["action_units"].push_back("AU99");
        spoiled = true;
    }
    return spoiled;
}

}  // namespace

// ---- state and request handling ------------------------------------------------------------

// The server's state and request logic; the sessions see only this.
struct ServerCore {
    FakeOptions options;
    TruthTable truth;

    mutable std::mutex mutex;  // guards stats and counters
    FakeStats stats;
    std::uint64_t request_counter = 0;
    std::map<std::string, std::uint64_t> item_counter;
    std::set<std::uint64_t> seen_prefixes;  // hashes of the system prefixes answered before

    std::unique_ptr<net::io_context> ioc;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
    std::vector<std::thread> threads;
    unsigned short bound_port = 0;
    std::unique_ptr<BatchDesk> batch_desk;  // made by the server's constructor, once the options are set

    void count(int status) {
        std::lock_guard lock(mutex);
        ++stats.by_status[status];
    }
    // A request answered by the transport itself (unparseable HTTP, body over the limit).
    void count_transport(int status) {
        std::lock_guard lock(mutex);
        ++stats.total_requests;
        ++stats.by_status[status];
    }
    void count_fault(const std::string& name) {
        std::lock_guard lock(mutex);
        ++stats.faults[name];
    }

    FakeReply handle(std::string_view method, std::string_view target, const std::string& body,
                     std::string_view content_type);
    FakeReply chat(const std::string& body);
};

FakeReply ServerCore::handle(std::string_view method, std::string_view target, const std::string& body,
                             std::string_view content_type) {
    {
        std::lock_guard lock(mutex);
        ++stats.total_requests;
    }
    FakeReply reply;
    try {
        const auto path = target.substr(0, target.find('?'));
        if (path == "/v1/chat/completions" || path == "/chat/completions") {
            reply = method == "POST" ? chat(body) : error_reply(405, "use POST", "invalid_request_error");
        } else if (path == "/v1/models" || path == "/models") {
            nlohmann::json model{
                {"id", kModelName}, {"object", "model"}, {"created", 0}, {"owned_by", "seke-fake-vllm"}};
            reply = method == "GET" ? json_reply(200, {{"object", "list"}, {"data", {model}}})
                                    : error_reply(405, "use GET", "invalid_request_error");
        } else if (BatchDesk::routes(path)) {
            reply = batch_desk->handle(method, path, content_type, body);
        } else if (path == "/health" || path == "/v1/health") {
            reply = json_reply(200, {{"status", "ok"}});
        } else {
            reply = error_reply(404, "no route " + std::string(path), "invalid_request_error", "not_found");
        }
    } catch (const std::exception& e) {
        reply = error_reply(500, std::string("fake server bug: ") + e.what(), "server_error");
    }
    count(reply.hang ? 0 : reply.status);
    return reply;
}

FakeReply ServerCore::chat(const std::string& body) {
    auto parsed_body = nlohmann::json::parse(body, nullptr, false);
    if (parsed_body.is_discarded()) return error_reply(400, "request body is not valid JSON", "invalid_request_error");
    ChatRequest request;
    try {
        request = parse_chat_request(parsed_body);
    } catch (const std::invalid_argument& e) {
        return error_reply(400, e.what(), "invalid_request_error");
    }
    if (options.reject_json_schema && request.json_schema)
        return error_reply(400, "response_format json_schema is not supported", "invalid_request_error");

    const auto code = code_of(request.image_url);
    const TruthItem* item = code ? truth.by_code(*code) : nullptr;
    std::uint64_t global = 0, per_item = 0;
    {
        std::lock_guard lock(mutex);
        global = request_counter++;
        ++stats.by_kind[std::string(ask_kind_name(request.kind))];
        if (item) {
            per_item = item_counter[item->id]++;
            ++stats.per_item[item->id];
            if (request.example_turns > 0) ++stats.few_shot_per_item[item->id];
        } else {
            ++stats.unreadable_codes;
        }
    }

    Rng fault_rng(hash_combine({options.seed, hash_string("transport"), global}));
    int delay = options.latency_ms;
    if (options.latency_jitter_ms > 0)
        delay += static_cast<int>(fault_rng.index(static_cast<std::size_t>(options.latency_jitter_ms) + 1));
    auto delayed = [&](FakeReply r) {
        r.delay_ms = delay;
        return r;
    };

    if (!item && options.strict_codes)
        return delayed(error_reply(400, "the image code could not be read (strict codes)", "invalid_request_error",
                                   "unreadable_image"));
    if (fault_rng.chance(options.fault_429)) {
        count_fault("429");
        auto r = error_reply(429, "Rate limit reached (fake). Please retry.", "requests", "rate_limit_exceeded");
        r.headers.emplace_back("Retry-After", std::to_string(options.retry_after_s));
        return delayed(std::move(r));
    }
    if (fault_rng.chance(options.fault_500) || (item && item->has_fault("always_500"))) {
        count_fault("500");
        return delayed(error_reply(500, "The server had an error while processing your request.", "server_error"));
    }
    if (fault_rng.chance(options.fault_hang) || (item && item->has_fault("always_hang"))) {
        count_fault("hang");
        FakeReply r;
        r.hang = true;
        return r;
    }

    const int n = options.ignore_n ? 1 : request.n;
    const bool item_malformed = item && item->has_fault("always_malformed");
    nlohmann::json choices = nlohmann::json::array();
    std::size_t completion_chars = 0;
    for (int i = 0; i < n; ++i) {
        Rng content_rng(hash_combine({options.seed, hash_string("content"), global, static_cast<std::uint64_t>(i)}));
        ContentFault fault = ContentFault::none;
        if (item_malformed || content_rng.chance(options.fault_malformed)) fault = ContentFault::malformed;
        else if (content_rng.chance(options.fault_truncated)) fault = ContentFault::truncated;
        else if (content_rng.chance(options.fault_refusal)) fault = ContentFault::refusal;
        else if (content_rng.chance(options.fault_wrong_types)) fault = ContentFault::wrong_types;
        else if (content_rng.chance(options.fault_out_of_vocabulary)) fault = ContentFault::out_of_vocabulary;

        nlohmann::json answer = simulate_answer(item, request, options.seed, per_item, i, *options.profile);
        if (fault == ContentFault::out_of_vocabulary && !make_out_of_vocabulary(answer)) fault = ContentFault::none;
        if (fault != ContentFault::none) count_fault(content_fault_name(fault));
        if (fault == ContentFault::none && item && options.record_answers) {
            std::lock_guard lock(mutex);
            stats.answered[item->id].push_back(answer);
        }
        nlohmann::json message{{"role", "assistant"}};
        std::string finish = "stop";
        switch (fault) {
            case ContentFault::none: message["content"] = answer.dump(); break;
            case ContentFault::malformed:
                message["content"] =
                    "Looking at this face, I would say the person seems "
                    "somewhat " +
                    std::string(answer.value("expression", "calm")) +
                    ", though it is hard to be certain from the image alone.";
                break;
            case ContentFault::truncated: {
                const auto full = answer.dump();
                message["content"] = full.substr(0, full.size() / 2);
                finish = "length";
                break;
            }
            case ContentFault::refusal:
                message["content"] = nullptr;
                message["refusal"] = "I can't help with that";
                break;
            case ContentFault::wrong_types:
                make_wrong_types(answer);
                message["content"] = answer.dump();
                break;
            case ContentFault::out_of_vocabulary: message["content"] = answer.dump(); break;
        }
        if (message["content"].is_string()) completion_chars += message["content"].get_ref<const std::string&>().size();
        choices.push_back({{"index", i}, {"message", message}, {"logprobs", nullptr}, {"finish_reason", finish}});
    }
    {
        std::lock_guard lock(mutex);
        stats.choices += static_cast<std::uint64_t>(n);
    }

    const auto prompt_tokens =
        static_cast<std::int64_t>(request.text_chars / 4) + 255 * std::int64_t{request.image_count};
    const auto completion_tokens = static_cast<std::int64_t>(completion_chars / 4);
    // OpenAI's prompt cache: the prefix seen before, in whole blocks of 128 tokens. Here the
    // prefix is the opening system text, cached once one answer to it has been given.
    std::int64_t cached_tokens = 0;
    {
        std::lock_guard lock(mutex);
        if (options.prefix_cache && !request.system_prefix.empty() &&
            !seen_prefixes.insert(hash_string(request.system_prefix)).second) {
            const auto prefix_tokens = static_cast<std::int64_t>(request.system_prefix.size() / 4);
            cached_tokens = std::min(prompt_tokens, prefix_tokens / 128 * 128);
        }
        stats.prompt_tokens += static_cast<std::uint64_t>(prompt_tokens);
        stats.cached_prompt_tokens += static_cast<std::uint64_t>(cached_tokens);
        stats.completion_tokens += static_cast<std::uint64_t>(completion_tokens);
    }
    nlohmann::json response{{"id", "chatcmpl-fake-" + std::to_string(global)},
                            {"object", "chat.completion"},
                            {"created", static_cast<std::int64_t>(std::time(nullptr))},
                            {"model", request.model},
                            {"system_fingerprint", "fake-vllm"},
                            {"choices", std::move(choices)},
                            {"usage",
                             {{"prompt_tokens", prompt_tokens},
                              {"completion_tokens", completion_tokens},
                              {"total_tokens", prompt_tokens + completion_tokens},
                              {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}}}};
    return delayed(json_reply(200, response));
}

// ---- transport -----------------------------------------------------------------------------

namespace {

class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(tcp::socket&& socket, ServerCore& impl)
        : stream_(std::move(socket)), timer_(stream_.get_executor()), impl_(impl) {}

    void run() {
        net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::do_read, shared_from_this()));
    }

  private:
    void do_read() {
        parser_.emplace();
        parser_->body_limit(impl_.options.body_limit);
        stream_.expires_after(std::chrono::seconds(60));  // idle keep-alive connections
        http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code ec, std::size_t) {
        if (ec == http::error::end_of_stream) return do_close();
        if (ec == http::error::body_limit) {
            impl_.count_transport(413);
            return send_error(http::status::payload_too_large, "request body too large");
        }
        if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()) {
            impl_.count_transport(400);
            return send_error(http::status::bad_request, "malformed HTTP request");
        }
        if (ec) return;  // timeout, reset: nothing to answer

        auto request = parser_->release();
        keep_alive_ = request.keep_alive();
        FakeReply reply = impl_.handle(std::string_view(request.method_string()), std::string_view(request.target()),
                                       request.body(), std::string_view(request[http::field::content_type]));
        if (reply.hang) {
            // Read, never answered: the client sees its own timeout or our close.
            stream_.expires_never();
            timer_.expires_after(std::chrono::milliseconds(impl_.options.hang_ms));
            timer_.async_wait([self = shared_from_this()](beast::error_code) { self->do_close(); });
            return;
        }
        response_ = {};
        response_.version(request.version());
        response_.result(static_cast<unsigned>(reply.status));
        response_.set(http::field::server, "seke-fake-vllm");
        for (const auto& [name, value] : reply.headers) response_.set(name, value);
        response_.body() = std::move(reply.body);
        response_.keep_alive(keep_alive_);
        response_.prepare_payload();
        if (reply.delay_ms > 0) {
            timer_.expires_after(std::chrono::milliseconds(reply.delay_ms));
            timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
                if (!wait_ec) self->do_write();
            });
        } else {
            do_write();
        }
    }

    void send_error(http::status status, const std::string& message) {
        keep_alive_ = false;  // the stream state is unknown after a parse error
        response_ = {};
        response_.version(11);
        response_.result(status);
        response_.set(http::field::content_type, "application/json");
        response_.body() = nlohmann::json{{"error", {{"message", message}, {"type", "invalid_request_error"}}}}.dump();
        response_.keep_alive(false);
        response_.prepare_payload();
        do_write();
    }

    void do_write() {
        stream_.expires_after(std::chrono::seconds(30));
        http::async_write(stream_, response_, beast::bind_front_handler(&Session::on_write, shared_from_this()));
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (ec) return;
        if (!keep_alive_) return do_close();
        do_read();
    }

    void do_close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
    }

    beast::tcp_stream stream_;
    net::steady_timer timer_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> response_;
    bool keep_alive_ = true;
    ServerCore& impl_;
};

class Listener : public std::enable_shared_from_this<Listener> {
  public:
    Listener(net::io_context& ioc, tcp::acceptor&& acceptor, ServerCore& impl)
        : ioc_(ioc), acceptor_(std::move(acceptor)), impl_(impl) {}

    void run() { do_accept(); }

  private:
    void do_accept() {
        acceptor_.async_accept(net::make_strand(ioc_),
                               beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
    }
    void on_accept(beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted) return;
        if (!ec) std::make_shared<Session>(std::move(socket), impl_)->run();
        do_accept();  // keep accepting after transient errors (EMFILE...)
    }

    net::io_context& ioc_;
    tcp::acceptor acceptor_;
    ServerCore& impl_;
};

}  // namespace

struct FakeVllmServer::Impl : ServerCore {};

// ---- FakeVllmServer --------------------------------------------------------------------------

FakeVllmServer::FakeVllmServer(const FakeOptions& options)
    : FakeVllmServer(options, options.truth_path.empty() ? TruthTable{} : TruthTable::load(options.truth_path)) {}

FakeVllmServer::FakeVllmServer(FakeOptions options, TruthTable truth) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    impl_->truth = std::move(truth);
    BatchLimits limits;
    limits.max_file_bytes = impl_->options.body_limit;
    impl_->batch_desk = std::make_unique<BatchDesk>(
        limits, impl_->options.seed, impl_->options.batch_delay_ms, impl_->options.batch_fail,
        [core = impl_.get()](const std::string& body) { return core->chat(body); });
}

FakeVllmServer::~FakeVllmServer() {
    stop();
}

unsigned short FakeVllmServer::start() {
    if (impl_->ioc) return impl_->bound_port;
    auto ioc = std::make_unique<net::io_context>(std::max(1, impl_->options.threads));
    const auto address = net::ip::make_address(impl_->options.host);
    tcp::acceptor acceptor(*ioc);
    const tcp::endpoint endpoint(address, impl_->options.port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(net::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(net::socket_base::max_listen_connections);
    impl_->bound_port = acceptor.local_endpoint().port();
    std::make_shared<Listener>(*ioc, std::move(acceptor), *impl_)->run();

    impl_->work.emplace(ioc->get_executor());
    impl_->ioc = std::move(ioc);
    for (int i = 0; i < std::max(1, impl_->options.threads); ++i)
        impl_->threads.emplace_back([ctx = impl_->ioc.get()] { ctx->run(); });
    return impl_->bound_port;
}

void FakeVllmServer::stop() {
    if (!impl_ || !impl_->ioc) return;
    impl_->work.reset();
    impl_->ioc->stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    impl_->ioc.reset();  // destroys pending handlers: closes every connection
}

unsigned short FakeVllmServer::port() const noexcept {
    return impl_->bound_port;
}

std::string FakeVllmServer::base_url() const {
    const auto& host = impl_->options.host;
    const bool v6 = host.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(impl_->bound_port) + "/v1";
}

FakeStats FakeVllmServer::stats() const {
    const BatchCounts batch = impl_->batch_desk->counts();
    std::lock_guard lock(impl_->mutex);
    FakeStats stats = impl_->stats;
    stats.batches = batch.batches;
    stats.batch_lines = batch.lines;
    stats.batch_failed_lines = batch.failed_lines;
    return stats;
}

void FakeVllmServer::reset_stats() {
    std::lock_guard lock(impl_->mutex);
    impl_->stats = {};
}

const TruthTable& FakeVllmServer::truth() const noexcept {
    return impl_->truth;
}

FakeReply FakeVllmServer::handle(std::string_view method, std::string_view target, const std::string& body,
                                 std::string_view content_type) {
    return impl_->handle(method, target, body, content_type);
}

}  // namespace seke::fake
