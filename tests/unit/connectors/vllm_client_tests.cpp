#include <boost/test/unit_test.hpp>
#include <thread>

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <future>
#include <map>
#include <mutex>

#include "connectors/crypto.hpp"
#include "connectors/vllm_client.hpp"
#include "tests/support/scripted_http_server.hpp"
#include "tests/unit/connectors/vllm_test_helpers.hpp"

using namespace seke;
using nlohmann::json;
using seke::test::HttpReply;
using seke::test::HttpRequest;
using seke::test::ScriptedHttpServer;
using namespace std::chrono_literals;
using namespace seke::test::vllm;

BOOST_AUTO_TEST_SUITE(connectors_vllm_client)

BOOST_AUTO_TEST_CASE(success_and_request_shape) {
    ScriptedHttpServer server(answer_n);
    auto settings = settings_for(server);
    settings.api_key = "sk-test";
    VllmClient client(settings, nullptr);
    auto request = make_request(3);
    auto result = run(client, request);
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    BOOST_TEST(result.contents.size() == 3u);
    BOOST_TEST(result.contents[0] == R"({"expression":"happy"})");
    BOOST_TEST(result.prompt_tokens == 10);
    BOOST_TEST(result.completion_tokens == 5);
    BOOST_TEST(result.http_requests == 1);
    BOOST_TEST(!result.cached);

    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 1u);
    const auto& sent = requests[0];
    BOOST_TEST(sent.method == "POST");
    BOOST_TEST(sent.target == "/v1/chat/completions");
    BOOST_TEST(sent.header("Content-Type") == "application/json");
    BOOST_TEST(sent.header("Authorization") == "Bearer sk-test");
    auto body = json::parse(sent.body);
    BOOST_TEST(body["model"] == "test-model");
    BOOST_TEST(body["messages"].size() == 2u);
    BOOST_TEST(body["messages"][0]["role"] == "system");
    BOOST_TEST(body["messages"][0]["content"] == "You know emotions.");
    BOOST_TEST(body["messages"][1]["role"] == "user");
    const auto& content = body["messages"][1]["content"];
    BOOST_TEST(content[0]["type"] == "text");
    BOOST_TEST(content[0]["text"] == "Label this face.");
    BOOST_TEST(content[1]["type"] == "image_url");
    BOOST_TEST(content[1]["image_url"]["url"] == "data:image/jpeg;base64," + base64_encode(request.image_jpeg));
    BOOST_TEST(body["temperature"].get<double>() == 0.7);
    BOOST_TEST(body["n"] == 3);
    BOOST_TEST(body["max_tokens"] == 300);
    BOOST_TEST(body["response_format"]["type"] == "json_schema");
    BOOST_TEST(body["response_format"]["json_schema"]["name"] == "emotion");
    BOOST_TEST(body["response_format"]["json_schema"]["strict"] == true);
    BOOST_TEST((body["response_format"]["json_schema"]["schema"] == json::parse(kSchema)));

    BOOST_TEST(client.stats().http_requests.load() == 1);
    BOOST_TEST(client.stats().prompt_tokens.load() == 10);
}

BOOST_AUTO_TEST_CASE(n_is_omitted_for_one_sample_and_no_key_no_auth) {
    ScriptedHttpServer server(answer_n);
    VllmClient client(settings_for(server), nullptr);
    auto result = run(client, make_request(1));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 1u);
    BOOST_TEST(!json::parse(requests[0].body).contains("n"));
    BOOST_TEST(requests[0].header("Authorization").empty());
}

BOOST_AUTO_TEST_CASE(concurrency_limit_holds) {
    ScriptedHttpServer server([](const HttpRequest& request) { return answer_n(request).with_delay(30); }, 4);
    auto settings = settings_for(server);
    settings.max_concurrency = 3;
    VllmClient client(settings, nullptr);
    Collector collector;
    for (int i = 0; i < 50; ++i) client.submit(make_request(1, i), collector.callback(i));
    BOOST_REQUIRE(collector.wait(50));
    for (auto& [id, result] : collector.results) BOOST_TEST(!result.error, error_text(result));
    BOOST_TEST(server.request_count() == 50u);
    BOOST_TEST(server.max_open_requests() <= 3);
    BOOST_TEST(server.max_open_requests() >= 2);  // the limit is used, not serialised
    BOOST_TEST(client.stats().in_flight.load() == 0);
    BOOST_TEST(client.stats().queued.load() == 0);
}

BOOST_AUTO_TEST_CASE(rate_limit_honours_retry_after) {
    int calls = 0;
    ScriptedHttpServer server([&](const HttpRequest& request) {
        if (calls++ == 0)
            return HttpReply::json(R"({"error":{"message":"slow down"}})", 429).with_header("Retry-After", "1");
        return answer_n(request);
    });
    auto settings = settings_for(server);
    settings.backoff_max_ms = 5000;
    VllmClient client(settings, nullptr);
    auto result = run(client, make_request(1));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    BOOST_TEST(result.http_requests == 2);
    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 2u);
    auto waited = requests[1].received_at - requests[0].received_at;
    BOOST_TEST((waited >= 900ms));
    BOOST_TEST((waited < 3000ms));
    BOOST_TEST(client.stats().retries.load() == 1);
}

BOOST_AUTO_TEST_CASE(retry_after_as_an_http_date) {
    int calls = 0;
    ScriptedHttpServer server([&](const HttpRequest& request) {
        if (calls++ == 0) {
            std::time_t when = std::time(nullptr) + 2;
            std::tm tm{};
            gmtime_r(&when, &tm);
            char date[64];
            std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
            return HttpReply::json("{}", 429).with_header("Retry-After", date);
        }
        return answer_n(request);
    });
    auto settings = settings_for(server);
    settings.backoff_max_ms = 5000;
    VllmClient client(settings, nullptr);
    auto result = run(client, make_request(1));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 2u);
    auto waited = requests[1].received_at - requests[0].received_at;
    BOOST_TEST((waited >= 700ms));  // the date has whole seconds: 1 to 2 s from now
    BOOST_TEST((waited < 3000ms));
}

BOOST_AUTO_TEST_CASE(retry_after_is_capped_by_backoff_max) {
    int calls = 0;
    ScriptedHttpServer server([&](const HttpRequest& request) {
        if (calls++ == 0) return HttpReply::json("{}", 503).with_header("Retry-After", "120");
        return answer_n(request);
    });
    auto settings = settings_for(server);
    settings.backoff_max_ms = 200;
    VllmClient client(settings, nullptr);
    auto started = std::chrono::steady_clock::now();
    auto result = run(client, make_request(1));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 2u);
    BOOST_TEST((requests[1].received_at - requests[0].received_at >= 150ms));
    BOOST_TEST((std::chrono::steady_clock::now() - started < 2s));
}

BOOST_AUTO_TEST_CASE(server_error_then_success) {
    int calls = 0;
    ScriptedHttpServer server([&](const HttpRequest& request) {
        if (calls++ == 0) return HttpReply::json(R"({"error":{"message":"overloaded"}})", 500);
        return answer_n(request);
    });
    VllmClient client(settings_for(server), nullptr);
    auto result = run(client, make_request(2));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    BOOST_TEST(result.contents.size() == 2u);
    BOOST_TEST(result.http_requests == 2);
    BOOST_TEST(client.stats().retries.load() == 1);
}

BOOST_AUTO_TEST_CASE(timeout_then_success) {
    int calls = 0;
    ScriptedHttpServer server([&](const HttpRequest& request) {
        if (calls++ == 0) {
            HttpReply reply;
            reply.hang = true;
            return reply;
        }
        return answer_n(request);
    });
    auto settings = settings_for(server);
    settings.timeout_ms = 300;
    VllmClient client(settings, nullptr);
    auto result = run(client, make_request(1));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    BOOST_TEST(result.http_requests == 2);
}

BOOST_AUTO_TEST_CASE(network_error_then_success) {
    int calls = 0;
    ScriptedHttpServer server([&](const HttpRequest& request) {
        if (calls++ == 0) {
            HttpReply reply;
            reply.drop = true;
            return reply;
        }
        return answer_n(request);
    });
    VllmClient client(settings_for(server), nullptr);
    auto result = run(client, make_request(1));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    BOOST_TEST(result.http_requests == 2);
}

BOOST_AUTO_TEST_CASE(persistent_timeouts_are_upstream_timeout) {
    ScriptedHttpServer server([](const HttpRequest&) {
        HttpReply reply;
        reply.hang = true;
        return reply;
    });
    auto settings = settings_for(server);
    settings.timeout_ms = 100;
    settings.max_retries = 1;
    VllmClient client(settings, nullptr);
    auto result = run(client, make_request(1));
    BOOST_REQUIRE(result.error.has_value());
    BOOST_TEST((result.error->code == errc::upstream_timeout));
    BOOST_TEST(result.http_requests == 2);
}

BOOST_AUTO_TEST_CASE(permanent_server_error_gives_up_after_max_retries) {
    ScriptedHttpServer server(
        [](const HttpRequest&) { return HttpReply::json(R"({"error":{"message":"boom"}})", 500); });
    auto settings = settings_for(server);
    settings.max_retries = 3;
    VllmClient client(settings, nullptr);
    auto result = run(client, make_request(1));
    BOOST_REQUIRE(result.error.has_value());
    BOOST_TEST((result.error->code == errc::upstream_error));
    BOOST_TEST(result.error->message.find("500") != std::string::npos);
    BOOST_TEST(result.error->message.find("boom") != std::string::npos);
    BOOST_TEST(server.request_count() == 4u);
    BOOST_TEST(result.http_requests == 4);
    BOOST_TEST(client.stats().failures.load() == 1);
}

BOOST_AUTO_TEST_CASE(client_errors_are_not_retried) {
    ScriptedHttpServer server([](const HttpRequest&) {
        return HttpReply::json(R"({"error":{"message":"invalid api key","type":"auth"}})", 401);
    });
    VllmClient client(settings_for(server), nullptr);
    auto result = run(client, make_request(1));
    BOOST_REQUIRE(result.error.has_value());
    BOOST_TEST((result.error->code == errc::upstream_error));
    BOOST_TEST(result.error->message.find("401") != std::string::npos);
    BOOST_TEST(result.error->message.find("invalid api key") != std::string::npos);
    BOOST_TEST(server.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(json_schema_rejected_falls_back_to_json_object) {
    ScriptedHttpServer server([](const HttpRequest& request) {
        auto body = json::parse(request.body);
        if (body.contains("response_format") && body["response_format"]["type"] == "json_schema")
            return HttpReply::json(R"({"error":{"message":"response_format.type json_schema is not supported"}})", 400);
        return answer_n(request);
    });
    Logs logs;
    VllmClient client(settings_for(server, &logs), nullptr);
    auto first = run(client, make_request(1));
    BOOST_REQUIRE_MESSAGE(!first.error, error_text(first));
    BOOST_TEST(first.http_requests == 2);
    auto second = run(client, make_request(1, 1));
    BOOST_REQUIRE_MESSAGE(!second.error, error_text(second));
    BOOST_TEST(second.http_requests == 1);  // sticky
    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 3u);
    BOOST_TEST(json::parse(requests[1].body)["response_format"]["type"] == "json_object");
    BOOST_TEST(json::parse(requests[2].body)["response_format"]["type"] == "json_object");
    BOOST_TEST(logs.contains("json_object"));
}

BOOST_AUTO_TEST_CASE(any_response_format_rejected_falls_back_to_none) {
    ScriptedHttpServer server([](const HttpRequest& request) {
        if (json::parse(request.body).contains("response_format"))
            return HttpReply::json(R"({"error":{"message":"unknown field"}})", 400);
        return answer_n(request);
    });
    VllmClient client(settings_for(server), nullptr);
    auto first = run(client, make_request(1));
    BOOST_REQUIRE_MESSAGE(!first.error, error_text(first));
    BOOST_TEST(first.http_requests == 3);
    auto second = run(client, make_request(1, 1));
    BOOST_TEST(second.http_requests == 1);
    BOOST_TEST(!json::parse(server.requests().back().body).contains("response_format"));
}

BOOST_AUTO_TEST_CASE(provider_ignoring_n_switches_to_fan_out) {
    ScriptedHttpServer server([](const HttpRequest&) { return HttpReply::json(completion(answers(1), 10, 5)); });
    Logs logs;
    VllmClient client(settings_for(server, &logs), nullptr);
    auto first = run(client, make_request(3));
    BOOST_REQUIRE_MESSAGE(!first.error, error_text(first));
    BOOST_TEST(first.contents.size() == 3u);
    BOOST_TEST(first.http_requests == 3);
    BOOST_TEST(first.prompt_tokens == 30);  // summed over every HTTP request
    BOOST_TEST(first.completion_tokens == 15);
    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 3u);
    BOOST_TEST(json::parse(requests[0].body)["n"] == 3);
    BOOST_TEST(!json::parse(requests[1].body).contains("n"));
    BOOST_TEST(!json::parse(requests[2].body).contains("n"));
    BOOST_TEST(logs.contains("ignores n"));

    server.clear_requests();
    auto second = run(client, make_request(2, 1));
    BOOST_REQUIRE_MESSAGE(!second.error, error_text(second));
    BOOST_TEST(second.contents.size() == 2u);
    for (const auto& request : server.requests()) BOOST_TEST(!json::parse(request.body).contains("n"));
    BOOST_TEST(server.request_count() == 2u);
    BOOST_TEST(client.stats().prompt_tokens.load() == 50);
    BOOST_TEST(client.stats().completion_tokens.load() == 25);
}

BOOST_AUTO_TEST_CASE(use_n_off_fans_out_from_the_start) {
    ScriptedHttpServer server(answer_n);
    auto settings = settings_for(server);
    settings.use_n = false;
    VllmClient client(settings, nullptr);
    auto result = run(client, make_request(3));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    BOOST_TEST(result.contents.size() == 3u);
    BOOST_TEST(result.http_requests == 3);
    for (const auto& request : server.requests()) BOOST_TEST(!json::parse(request.body).contains("n"));
}

BOOST_AUTO_TEST_CASE(fewer_choices_than_n_asks_for_the_remainder) {
    int calls = 0;
    ScriptedHttpServer server([&](const HttpRequest& request) {
        int n = json::parse(request.body).value("n", 1);
        if (calls++ == 0) return HttpReply::json(completion(answers(2)));  // of 4
        return HttpReply::json(completion(answers(n)));
    });
    VllmClient client(settings_for(server), nullptr);
    auto result = run(client, make_request(4));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    BOOST_TEST(result.contents.size() == 4u);
    BOOST_TEST(result.http_requests == 2);
    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 2u);
    BOOST_TEST(json::parse(requests[1].body)["n"] == 2);
}

BOOST_AUTO_TEST_CASE(remainder_requests_are_bounded) {
    ScriptedHttpServer server([](const HttpRequest&) { return HttpReply::json(completion({})); });
    auto settings = settings_for(server);
    settings.max_retries = 2;
    VllmClient client(settings, nullptr);
    auto result = run(client, make_request(2));
    BOOST_REQUIRE(result.error.has_value());
    BOOST_TEST(result.http_requests == 3);
}

BOOST_AUTO_TEST_CASE(null_content_counts_as_an_empty_sample) {
    ScriptedHttpServer server([](const HttpRequest&) {
        json body = {
            {"choices", json::array({{{"message", {{"role", "assistant"}, {"content", nullptr}, {"refusal", "no"}}}},
                                     {{"message", {{"role", "assistant"}, {"content", "{}"}}}}})}};
        return HttpReply::json(body.dump());
    });
    VllmClient client(settings_for(server), nullptr);
    auto result = run(client, make_request(2));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    BOOST_REQUIRE(result.contents.size() == 2u);
    BOOST_TEST(result.contents[0].empty());
    BOOST_TEST(result.contents[1] == "{}");
}

BOOST_AUTO_TEST_CASE(oversized_answers_are_errors) {
    ScriptedHttpServer server([](const HttpRequest&) { return HttpReply::json(completion({std::string(5000, 'x')})); });
    auto settings = settings_for(server);
    settings.max_response_bytes = 1000;
    VllmClient client(settings, nullptr);
    auto result = run(client, make_request(1));
    BOOST_REQUIRE(result.error.has_value());
    BOOST_TEST((result.error->code == errc::upstream_error));
    BOOST_TEST(server.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(invalid_schema_is_refused_without_a_request) {
    ScriptedHttpServer server(answer_n);
    VllmClient client(settings_for(server), nullptr);
    auto request = make_request(1);
    request.prompt.response_schema = "{not json";
    auto result = run(client, request);
    BOOST_REQUIRE(result.error.has_value());
    BOOST_TEST((result.error->code == errc::invalid_argument));
    BOOST_TEST(server.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(cache_key_covers_every_field) {
    VllmSettings settings;
    auto base = make_request(2);
    auto key = cache_key(settings, base);
    BOOST_TEST(key.size() == 64u);
    BOOST_TEST(cache_key(settings, base) == key);
    std::vector<std::function<void(VllmSettings&, ChatRequest&)>> changes = {
        [](VllmSettings& s, ChatRequest&) { s.model += "x"; },
        [](VllmSettings&, ChatRequest& r) { r.image_hash += "x"; },
        [](VllmSettings&, ChatRequest& r) { r.prompt.system += "x"; },
        [](VllmSettings&, ChatRequest& r) { r.prompt.user += "x"; },
        [](VllmSettings&, ChatRequest& r) { r.prompt.schema_name += "x"; },
        [](VllmSettings&, ChatRequest& r) { r.prompt.response_schema += " "; },
        [](VllmSettings&, ChatRequest& r) { r.temperature = 0.8; },
        [](VllmSettings&, ChatRequest& r) { r.n = 3; },
        [](VllmSettings&, ChatRequest& r) { r.ordinal = 1; },
    };
    for (std::size_t i = 0; i < changes.size(); ++i) {
        auto s = settings;
        auto r = base;
        changes[i](s, r);
        BOOST_TEST(cache_key(s, r) != key, "change " << i);
    }
    // The api key, the endpoints (a fleet shares its answers) and the image bytes (hashed
    // separately) are not part of the key.
    auto s = settings;
    s.api_key = "other";
    s.base_url = "http://gpu1:8000/v1,http://gpu2:8000/v1";
    s.endpoints = {{"http://gpu1:8000/v1", 8, "k1"}, {"http://gpu2:8000/v1", 4, ""}};
    BOOST_TEST(cache_key(s, base) == key);
}

BOOST_AUTO_TEST_CASE(cache_hit_pays_nothing) {
    ScriptedHttpServer server(answer_n);
    MemoryCache cache;
    VllmClient client(settings_for(server), &cache);
    auto first = run(client, make_request(2));
    BOOST_REQUIRE_MESSAGE(!first.error, error_text(first));
    BOOST_TEST(!first.cached);
    BOOST_TEST(cache.size() == 1u);
    BOOST_TEST(server.request_count() == 1u);

    auto second = run(client, make_request(2));
    BOOST_REQUIRE_MESSAGE(!second.error, error_text(second));
    BOOST_TEST(second.cached);
    BOOST_TEST(second.http_requests == 0);
    BOOST_TEST(second.contents == first.contents);
    BOOST_TEST(second.prompt_tokens == first.prompt_tokens);
    BOOST_TEST(second.completion_tokens == first.completion_tokens);
    BOOST_TEST(server.request_count() == 1u);
    BOOST_TEST(client.stats().cache_hits.load() == 1);
    BOOST_TEST(client.stats().http_requests.load() == 1);

    auto other = run(client, make_request(2, 1));  // another ordinal: a new sample
    BOOST_TEST(!other.cached);
    BOOST_TEST(server.request_count() == 2u);
}

BOOST_AUTO_TEST_CASE(errors_are_not_cached) {
    bool failing = true;
    ScriptedHttpServer server([&](const HttpRequest& request) {
        if (failing) return HttpReply::json(R"({"error":{"message":"down"}})", 503);
        return answer_n(request);
    });
    MemoryCache cache;
    auto settings = settings_for(server);
    settings.max_retries = 0;
    VllmClient client(settings, &cache);
    auto first = run(client, make_request(1));
    BOOST_REQUIRE(first.error.has_value());
    BOOST_TEST(cache.size() == 0u);
    server.set_handler(answer_n);
    auto second = run(client, make_request(1));
    BOOST_REQUIRE_MESSAGE(!second.error, error_text(second));
    BOOST_TEST(!second.cached);
    BOOST_TEST(server.request_count() == 2u);
    BOOST_TEST(cache.size() == 1u);
}

BOOST_AUTO_TEST_CASE(cancel_all_cancels_each_pending_request_once) {
    ScriptedHttpServer server([](const HttpRequest&) {
        HttpReply reply;
        reply.hang = true;
        return reply;
    });
    auto settings = settings_for(server);
    settings.max_concurrency = 2;
    VllmClient client(settings, nullptr);
    Collector collector;
    for (int i = 0; i < 6; ++i) client.submit(make_request(1, i), collector.callback(i));
    BOOST_REQUIRE(server.wait_for([](const ScriptedHttpServer& s) { return s.open_requests() == 2; }));
    client.cancel_all();
    BOOST_REQUIRE(collector.wait(6, 5s));
    {
        std::lock_guard lock(collector.mutex);
        for (auto& [id, result] : collector.results) {
            BOOST_TEST(collector.calls[id] == 1);
            BOOST_REQUIRE(result.error.has_value());
            BOOST_TEST((result.error->code == errc::cancelled));
        }
    }
    // The client stays usable after cancel_all.
    server.set_handler(answer_n);
    auto after = run(client, make_request(1, 99));
    BOOST_TEST(!after.error, error_text(after));
    std::this_thread::sleep_for(50ms);
    std::lock_guard lock(collector.mutex);
    for (auto& [id, count] : collector.calls) BOOST_TEST(count == 1);
}

BOOST_AUTO_TEST_CASE(destructor_cancels_pending_requests) {
    ScriptedHttpServer server([](const HttpRequest& request) {
        if (json::parse(request.body)["messages"][1]["content"][0]["text"] == "hang") {
            HttpReply reply;
            reply.hang = true;
            return reply;
        }
        return answer_n(request).with_delay(2000);
    });
    Collector collector;
    {
        auto settings = settings_for(server);
        settings.max_concurrency = 1;
        VllmClient client(settings, nullptr);
        auto hanging = make_request(1);
        hanging.prompt.user = "hang";
        client.submit(hanging, collector.callback(0));
        client.submit(make_request(1), collector.callback(1));  // queued behind the first
        BOOST_REQUIRE(server.wait_for([](const ScriptedHttpServer& s) { return s.open_requests() == 1; }));
    }
    BOOST_REQUIRE(collector.wait(2, 1s));
    for (auto& [id, result] : collector.results) {
        BOOST_TEST(collector.calls[id] == 1);
        BOOST_TEST((result.error && result.error->code == errc::cancelled));
    }
}

BOOST_AUTO_TEST_CASE(callbacks_may_submit_more_work) {
    ScriptedHttpServer server(answer_n);
    VllmClient client(settings_for(server), nullptr);
    auto promise = std::make_shared<std::promise<ChatResult>>();
    auto future = promise->get_future();
    auto first_ok = std::make_shared<std::atomic<bool>>(false);
    // Boost.Test assertions are not thread-safe: only record on the client's thread.
    client.submit(make_request(1), [&client, promise, first_ok](ChatResult first) {
        first_ok->store(!first.error);
        client.submit(make_request(1, 1), [promise](ChatResult second) { promise->set_value(std::move(second)); });
    });
    BOOST_REQUIRE(future.wait_for(10s) == std::future_status::ready);
    BOOST_TEST(!future.get().error);
    BOOST_TEST(first_ok->load());
    BOOST_TEST(server.request_count() == 2u);
}

namespace {

// A cache two processes share, with claims on requests in flight that run out after `lasts`.
class SharedCache : public MemoryCache {
  public:
    explicit SharedCache(std::chrono::milliseconds lasts) : lasts_(lasts) {}
    bool claim(const std::string& key) override {
        std::lock_guard lock(mutex_);
        auto now = std::chrono::steady_clock::now();
        auto [it, fresh] = claims_.emplace(key, now + lasts_);
        if (fresh || it->second <= now) {
            it->second = now + lasts_;
            return true;
        }
        return false;
    }
    void release(const std::string& key) override {
        std::lock_guard lock(mutex_);
        claims_.erase(key);
    }

  private:
    std::chrono::milliseconds lasts_;
    std::mutex mutex_;
    std::map<std::string, std::chrono::steady_clock::time_point> claims_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(two_clients_needing_one_request_at_once_pay_for_it_once) {
    ScriptedHttpServer server([](const HttpRequest& request) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // long enough to overlap
        return answer_n(request);
    });
    SharedCache cache(std::chrono::seconds(30));
    VllmClient first_process(settings_for(server), &cache);
    VllmClient second_process(settings_for(server), &cache);
    Collector collector;
    first_process.submit(make_request(2), collector.callback(1));
    second_process.submit(make_request(2), collector.callback(2));
    BOOST_REQUIRE(collector.wait(2));
    const ChatResult& one = collector.results[1];
    const ChatResult& two = collector.results[2];
    BOOST_REQUIRE_MESSAGE((!one.error && !two.error), error_text(one) << " / " << error_text(two));
    BOOST_TEST(server.request_count() == 1u);
    BOOST_TEST(one.cached != two.cached);  // one sent it, the other read its answer
    BOOST_TEST(one.contents == two.contents);
}

BOOST_AUTO_TEST_CASE(a_claim_left_by_a_process_that_died_runs_out) {
    ScriptedHttpServer server(answer_n);
    SharedCache cache(std::chrono::milliseconds(600));
    VllmClient client(settings_for(server), &cache);
    BOOST_REQUIRE(cache.claim(cache_key(client.settings(), make_request(2))));  // and never released
    const auto start = std::chrono::steady_clock::now();
    auto result = run(client, make_request(2));
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    BOOST_TEST(!result.cached);
    BOOST_TEST(server.request_count() == 1u);
    const auto waited_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST(waited_ms >= 600);  // it waited for the claim to run out, then sent
}

BOOST_AUTO_TEST_SUITE_END()
