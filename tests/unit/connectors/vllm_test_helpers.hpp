#pragma once
// Shared bits of the VLLM client tests: chat completions a fake model answers with, a request,
// settings pointing at a fake on 127.0.0.1, and collectors for the client's callbacks.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "connectors/vllm_client.hpp"
#include "tests/support/scripted_http_server.hpp"

namespace seke::test::vllm {

using nlohmann::json;
using namespace std::chrono_literals;

inline constexpr const char* kSchema =
    R"({"type":"object","properties":{"expression":{"type":"string"}},"required":["expression"],"additionalProperties":false})";

inline std::string completion(const std::vector<std::string>& contents, int prompt_tokens = 10,
                              int completion_tokens = 5) {
    json choices = json::array();
    for (std::size_t i = 0; i < contents.size(); ++i)
        choices.push_back(
            {{"index", i}, {"message", {{"role", "assistant"}, {"content", contents[i]}}}, {"finish_reason", "stop"}});
    return json{{"id", "chatcmpl-1"},
                {"object", "chat.completion"},
                {"choices", choices},
                {"usage", {{"prompt_tokens", prompt_tokens}, {"completion_tokens", completion_tokens}}}}
        .dump();
}

inline std::vector<std::string> answers(int n) {
    return std::vector<std::string>(static_cast<std::size_t>(std::max(0, n)), R"({"expression":"happy"})");
}

// Answers with as many choices as asked.
inline HttpReply answer_n(const HttpRequest& request) {
    auto body = json::parse(request.body);
    return HttpReply::json(completion(answers(body.value("n", 1))));
}

inline ChatRequest make_request(int n = 1, int ordinal = 0) {
    ChatRequest request;
    request.prompt.system = "You know emotions.";
    request.prompt.user = "Label this face.";
    request.prompt.schema_name = "emotion";
    request.prompt.response_schema = kSchema;
    request.image_jpeg = std::string("\xFF\xD8\xFF\xE0 not really a jpeg \xFF\xD9", 24);
    request.image_hash = "abc123";
    request.ordinal = ordinal;
    request.n = n;
    request.temperature = 0.7;
    return request;
}

struct Logs {
    std::mutex mutex;
    std::vector<std::string> lines;
    bool contains(const std::string& text) {
        std::lock_guard lock(mutex);
        for (const auto& line : lines)
            if (line.find(text) != std::string::npos) return true;
        return false;
    }
};

inline VllmSettings settings_for(const ScriptedHttpServer& server, Logs* logs = nullptr) {
    VllmSettings settings;
    settings.base_url = server.base_url() + "/v1";
    settings.model = "test-model";
    settings.max_concurrency = 4;
    settings.timeout_ms = 3000;
    settings.connect_timeout_ms = 1000;
    settings.max_retries = 3;
    settings.backoff_base_ms = 5;
    settings.backoff_max_ms = 50;
    settings.max_tokens = 300;
    if (logs)
        settings.log = [logs](const std::string& line) {
            std::lock_guard lock(logs->mutex);
            logs->lines.push_back(line);
        };
    else settings.log = [](const std::string&) {};
    return settings;
}

inline ChatResult run(VllmClient& client, ChatRequest request) {
    auto promise = std::make_shared<std::promise<ChatResult>>();
    auto future = promise->get_future();
    client.submit(std::move(request), [promise](ChatResult result) { promise->set_value(std::move(result)); });
    BOOST_REQUIRE(future.wait_for(20s) == std::future_status::ready);
    return future.get();
}

// Collects many callbacks, counting calls per id (each must come exactly once).
struct Collector {
    std::mutex mutex;
    std::condition_variable cv;
    std::map<int, int> calls;
    std::map<int, ChatResult> results;

    VllmClient::Callback callback(int id) {
        return [this, id](ChatResult result) {
            std::lock_guard lock(mutex);
            ++calls[id];
            results[id] = std::move(result);
            cv.notify_all();
        };
    }
    bool wait(std::size_t count, std::chrono::milliseconds timeout = 20s) {
        std::unique_lock lock(mutex);
        return cv.wait_for(lock, timeout, [&] { return results.size() >= count; });
    }
};

class MemoryCache : public ResponseCache {
  public:
    std::optional<std::string> get(const std::string& key) override {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(key);
        if (it == entries_.end()) return std::nullopt;
        return it->second;
    }
    void put(const std::string& key, const std::string& value) override {
        std::lock_guard lock(mutex_);
        entries_[key] = value;
    }
    std::size_t size() {
        std::lock_guard lock(mutex_);
        return entries_.size();
    }

  private:
    std::mutex mutex_;
    std::map<std::string, std::string> entries_;
};

inline std::string error_text(const ChatResult& result) {
    return result.error ? std::string(errc_name(result.error->code)) + ": " + result.error->message : std::string();
}

}  // namespace seke::test::vllm
