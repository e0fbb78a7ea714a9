// Many model endpoints: the list in vllm.base_url, requests spread by free capacity, failover to
// another endpoint, rest and return of one that fails, and a fleet sharing its cached answers.
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "connectors/vllm_client.hpp"
#include "connectors/vllm_endpoints.hpp"
#include "tests/support/scripted_http_server.hpp"
#include "tests/unit/connectors/vllm_test_helpers.hpp"

using namespace seke;
using seke::test::HttpReply;
using seke::test::HttpRequest;
using seke::test::ScriptedHttpServer;
using namespace std::chrono_literals;
using namespace seke::test::vllm;

namespace {

using Env = std::map<std::string, std::string>;

EnvLookup lookup_in(const Env& env) {
    return [env](const std::string& name) -> std::optional<std::string> {
        auto found = env.find(name);
        if (found == env.end()) return std::nullopt;
        return found->second;
    };
}

std::vector<VllmEndpoint> endpoints(const std::string& spec, const Env& env = {}) {
    auto parsed = parse_endpoints(spec, 4, "global-key", lookup_in(env));
    BOOST_TEST_REQUIRE(parsed.ok(), (parsed.ok() ? std::string() : parsed.error().message));
    return *parsed;
}

std::string parse_error(const std::string& spec, const Env& env = {}) {
    auto parsed = parse_endpoints(spec, 4, "global-key", lookup_in(env));
    BOOST_TEST_REQUIRE(!parsed.ok(), "accepted: " << spec);
    BOOST_TEST((parsed.error().code == errc::config_error));
    return parsed.error().message;
}

// The client's settings for a fleet: the test settings, with `spec` parsed into endpoints.
VllmSettings fleet(const ScriptedHttpServer& any, const std::string& spec, Logs* logs = nullptr, const Env& env = {}) {
    auto settings = settings_for(any, logs);
    settings.base_url = spec;
    auto parsed = parse_endpoints(spec, settings.max_concurrency, settings.api_key, lookup_in(env));
    BOOST_TEST_REQUIRE(parsed.ok(), (parsed.ok() ? std::string() : parsed.error().message));
    settings.endpoints = *parsed;
    return settings;
}

std::string v1(const ScriptedHttpServer& server) {
    return server.base_url() + "/v1";
}

// A loopback URL nothing listens on: connections to it are refused.
std::string refusing_url() {
    ScriptedHttpServer server;
    std::string url = v1(server);
    server.stop();
    return url;
}

HttpReply unavailable(const HttpRequest&) {
    return HttpReply::json(R"({"error":{"message":"warming up"}})", 503);
}

HttpReply hang(const HttpRequest&) {
    HttpReply reply;
    reply.hang = true;
    return reply;
}

void all_answered(Collector& collector, std::size_t count) {
    BOOST_REQUIRE(collector.wait(count));
    std::lock_guard lock(collector.mutex);
    for (auto& [id, result] : collector.results) BOOST_TEST(!result.error, id << ": " << error_text(result));
    for (auto& [id, calls] : collector.calls) BOOST_TEST(calls == 1);
}

const VllmEndpointStats& endpoint_stats(const VllmClient& client, std::size_t i) {
    BOOST_TEST_REQUIRE(client.stats().endpoints.size() > i);
    return *client.stats().endpoints[i];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connectors_vllm_endpoint_list)

BOOST_AUTO_TEST_CASE(one_url_is_one_endpoint_with_the_global_limit_and_key) {
    auto one = endpoints("http://127.0.0.1:8000/v1");
    BOOST_TEST_REQUIRE(one.size() == 1u);
    BOOST_TEST(one[0].base_url == "http://127.0.0.1:8000/v1");
    BOOST_TEST(one[0].max_concurrency == 4);
    BOOST_TEST(one[0].api_key == "global-key");
    BOOST_TEST(endpoints("").empty());
    BOOST_TEST(endpoints("  ").empty());
}

BOOST_AUTO_TEST_CASE(a_list_with_limits_and_keys) {
    auto list = endpoints(
        " http://gpu1:8000/v1|concurrency=8|key=env:GPU1_KEY ,http://gpu2:8000/v1,"
        "https://gpu3/v1 | key = none | concurrency = 2",
        {{"GPU1_KEY", "sk-gpu1"}});
    BOOST_TEST_REQUIRE(list.size() == 3u);
    BOOST_TEST(list[0].base_url == "http://gpu1:8000/v1");
    BOOST_TEST(list[0].max_concurrency == 8);
    BOOST_TEST(list[0].api_key == "sk-gpu1");
    BOOST_TEST(list[1].base_url == "http://gpu2:8000/v1");
    BOOST_TEST(list[1].max_concurrency == 4);
    BOOST_TEST(list[1].api_key == "global-key");
    BOOST_TEST(list[2].base_url == "https://gpu3/v1");
    BOOST_TEST(list[2].max_concurrency == 2);
    BOOST_TEST(list[2].api_key.empty());
}

BOOST_AUTO_TEST_CASE(bad_lists_say_which_entry_and_why) {
    struct Case {
        std::string spec;
        std::string says;
    };
    const std::vector<Case> cases = {
        {"ftp://gpu1/v1", "\"ftp://gpu1/v1\": must start with http:// or https://"},
        {"http://", "not a URL"},
        {"http://a/v1,,http://b/v1", "(entry 2 of 3): empty entry"},
        {"http://a/v1,", "(entry 2 of 2): empty entry"},
        {"http://a/v1|concurrency=0", "concurrency \"0\" must be a whole number from 1 to 1024"},
        {"http://a/v1|concurrency=1025", "from 1 to 1024"},
        {"http://a/v1|concurrency=two", "concurrency \"two\""},
        {"http://a/v1|concurrency=2|concurrency=3", "concurrency is given twice"},
        {"http://a/v1|key=none|key=none", "key is given twice"},
        {"http://a/v1|key=env:", "key must be env:NAME"},
        {"http://a/v1|key=env:1X", "key must be env:NAME"},
        {"http://a/v1|key=env:NOT_SET", "key=env:NOT_SET: the variable is not set"},
        {"http://a/v1|key=env:EMPTY", "key=env:EMPTY: the variable is not set"},
        {"http://a/v1|weight=2", "unknown setting \"weight\" (concurrency, key)"},
        {"http://a/v1,http://b/v1|concurrency", "\"http://b/v1\" (entry 2 of 2): setting 1 is not name=value"},
        {"http://a/v1,http://b/v1,http://a/v1/", "(entry 3 of 3): the same endpoint as entry 1"},
    };
    for (const auto& c : cases) {
        auto message = parse_error(c.spec, {{"EMPTY", ""}});
        BOOST_TEST(message.find(c.says) != std::string::npos, c.spec << " -> " << message);
    }
}

BOOST_AUTO_TEST_CASE(errors_never_show_a_key_or_user_info) {
    for (const std::string spec : {"http://a/v1|key=sk-written-in-the-list", "http://a/v1|sk-written-in-the-list",
                                   "http://a/v1|key=env:sk-written-in-the-list"}) {
        auto message = parse_error(spec);
        BOOST_TEST(message.find("sk-written") == std::string::npos, message);
    }
    auto message = parse_error("http://user:hunter2@a/v1?token=t0k|concurrency=0");
    BOOST_TEST(message.find("hunter2") == std::string::npos, message);
    BOOST_TEST(message.find("t0k") == std::string::npos, message);
    BOOST_TEST(message.find("\"http://a/v1\"") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(labels_drop_user_info_query_and_trailing_slash) {
    BOOST_TEST(endpoint_label("http://u:p@gpu1:8000/v1/?api-version=1#x") == "http://gpu1:8000/v1");
    BOOST_TEST(endpoint_label("https://api.openai.com/v1") == "https://api.openai.com/v1");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(connectors_vllm_endpoints)

BOOST_AUTO_TEST_CASE(one_endpoint_reports_its_figures) {
    ScriptedHttpServer server(answer_n);
    VllmClient client(settings_for(server), nullptr);
    auto result = run(client, make_request());
    BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
    BOOST_TEST_REQUIRE(client.stats().endpoints.size() == 1u);
    const auto& only = endpoint_stats(client, 0);
    BOOST_TEST(only.endpoint == v1(server));
    BOOST_TEST(only.max_concurrency == 4);
    BOOST_TEST(only.requests.load() == 1);
    BOOST_TEST(only.failures.load() == 0);
    BOOST_TEST(only.in_flight.load() == 0);
    BOOST_TEST(!only.out());
}

BOOST_AUTO_TEST_CASE(requests_go_where_most_of_the_limit_is_free) {
    auto slow = [](const HttpRequest& request) { return answer_n(request).with_delay(150); };
    ScriptedHttpServer big(slow, 4);
    ScriptedHttpServer small(slow, 4);
    auto settings = fleet(big, v1(big) + "|concurrency=3," + v1(small) + "|concurrency=1");
    Collector collector;  // outlives the client, whose destructor may still call back
    VllmClient client(settings, nullptr);
    for (int i = 0; i < 8; ++i) client.submit(make_request(1, i), collector.callback(i));
    all_answered(collector, 8);
    // Both are used to their own limit at once, never past it.
    BOOST_TEST(big.max_open_requests() == 3);
    BOOST_TEST(small.max_open_requests() == 1);
    BOOST_TEST(big.request_count() + small.request_count() == 8u);
    BOOST_TEST(big.request_count() > small.request_count());
    BOOST_TEST(endpoint_stats(client, 0).requests.load() == static_cast<std::int64_t>(big.request_count()));
    BOOST_TEST(endpoint_stats(client, 1).requests.load() == static_cast<std::int64_t>(small.request_count()));
    BOOST_TEST(endpoint_stats(client, 0).in_flight.load() == 0);
    BOOST_TEST(endpoint_stats(client, 1).in_flight.load() == 0);
}

BOOST_AUTO_TEST_CASE(a_busy_endpoint_is_passed_over_for_a_free_one) {
    ScriptedHttpServer slow([](const HttpRequest& request) { return answer_n(request).with_delay(500); });
    ScriptedHttpServer fast(answer_n);
    Collector collector;  // outlives the client, whose destructor may still call back
    VllmClient client(fleet(fast, v1(slow) + "," + v1(fast)), nullptr);
    client.submit(make_request(1, 0), collector.callback(0));  // both idle: the first takes it
    BOOST_REQUIRE(slow.wait_for([](const ScriptedHttpServer& s) { return s.open_requests() == 1; }));
    // 3 of 4 free there, 4 of 4 here: the free one takes every request meanwhile.
    for (int i = 1; i <= 4; ++i) BOOST_TEST(!run(client, make_request(1, i)).error);
    BOOST_TEST(fast.request_count() == 4u);
    BOOST_TEST(slow.request_count() == 1u);
    all_answered(collector, 1);
}

BOOST_AUTO_TEST_CASE(equally_free_endpoints_take_turns) {
    ScriptedHttpServer a(answer_n);
    ScriptedHttpServer b(answer_n);
    VllmClient client(fleet(a, v1(a) + "," + v1(b)), nullptr);
    for (int i = 0; i < 6; ++i) {
        auto result = run(client, make_request(1, i));
        BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
        BOOST_TEST((i % 2 == 0 ? a : b).request_count() == static_cast<std::size_t>(i / 2 + 1), "request " << i);
    }
}

BOOST_AUTO_TEST_CASE(the_global_limit_bounds_the_whole_fleet) {
    ScriptedHttpServer a(hang, 4);
    ScriptedHttpServer b(hang, 4);
    auto settings = fleet(a, v1(a) + "|concurrency=4," + v1(b) + "|concurrency=4");
    settings.max_concurrency = 3;
    Collector collector;  // outlives the client, whose destructor may still call back
    VllmClient client(settings, nullptr);
    for (int i = 0; i < 6; ++i) client.submit(make_request(1, i), collector.callback(i));
    auto open = [&] { return a.open_requests() + b.open_requests(); };
    BOOST_REQUIRE(a.wait_for([&](const ScriptedHttpServer&) { return open() == 3; }));
    BOOST_TEST(a.open_requests() >= 1);
    BOOST_TEST(b.open_requests() >= 1);
    BOOST_TEST(client.stats().in_flight.load() == 3);
    BOOST_TEST(client.stats().queued.load() == 3);
    BOOST_TEST(endpoint_stats(client, 0).in_flight.load() + endpoint_stats(client, 1).in_flight.load() == 3);
    std::this_thread::sleep_for(50ms);  // a fourth would be on the wire by now
    BOOST_TEST(open() == 3);
    client.cancel_all();
    BOOST_REQUIRE(collector.wait(6));
}

BOOST_AUTO_TEST_CASE(each_endpoint_sends_its_own_key) {
    ScriptedHttpServer a(answer_n);
    ScriptedHttpServer b(answer_n);
    ScriptedHttpServer c(answer_n);
    Logs logs;
    auto settings = settings_for(a, &logs);
    settings.api_key = "sk-global";
    auto parsed = parse_endpoints(v1(a) + "|key=env:KEY_A," + v1(b) + "|key=none," + v1(c), settings.max_concurrency,
                                  settings.api_key, lookup_in({{"KEY_A", "sk-a"}}));
    BOOST_TEST_REQUIRE(parsed.ok());
    settings.endpoints = *parsed;
    VllmClient client(settings, nullptr);
    for (int i = 0; i < 3; ++i) BOOST_TEST(!run(client, make_request(1, i)).error);
    BOOST_TEST_REQUIRE(a.request_count() == 1u);
    BOOST_TEST_REQUIRE(b.request_count() == 1u);
    BOOST_TEST_REQUIRE(c.request_count() == 1u);
    BOOST_TEST(a.requests()[0].header("Authorization") == "Bearer sk-a");
    BOOST_TEST(b.requests()[0].header("Authorization").empty());
    BOOST_TEST(c.requests()[0].header("Authorization") == "Bearer sk-global");
    for (const auto& stats : client.stats().endpoints) BOOST_TEST(stats->endpoint.find("sk-") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_refusing_endpoint_rests_and_the_other_answers) {
    ScriptedHttpServer good(answer_n);
    Logs logs;
    auto settings = fleet(good, refusing_url() + "|key=env:KEY," + v1(good), &logs, {{"KEY", "sk-fleet"}});
    settings.backoff_base_ms = 60000;  // the rest outlasts the test; the retries must not wait a backoff
    settings.backoff_max_ms = 60000;
    Collector collector;  // outlives the client, whose destructor may still call back
    VllmClient client(settings, nullptr);
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) client.submit(make_request(1, i), collector.callback(i));
    all_answered(collector, 20);
    BOOST_TEST((std::chrono::steady_clock::now() - started < 3s));
    const auto& down = endpoint_stats(client, 0);
    BOOST_TEST(down.failures.load() >= 1);
    BOOST_TEST(down.failures.load() == down.requests.load());
    BOOST_TEST(down.requests.load() <= 4);  // the first requests only: then it rests
    BOOST_TEST(down.out());
    BOOST_TEST(!endpoint_stats(client, 1).out());
    BOOST_TEST(good.request_count() == 20u);
    BOOST_TEST(client.stats().failures.load() == 0);
    BOOST_TEST(logs.contains("rests"));
    BOOST_TEST(!logs.contains("sk-fleet"));
}

BOOST_AUTO_TEST_CASE(an_endpoint_answering_503_rests_and_the_other_answers) {
    ScriptedHttpServer sick(unavailable);
    ScriptedHttpServer good(answer_n);
    Logs logs;
    auto settings = fleet(good, v1(sick) + "," + v1(good), &logs);
    settings.backoff_base_ms = 60000;
    settings.backoff_max_ms = 60000;
    Collector collector;  // outlives the client, whose destructor may still call back
    VllmClient client(settings, nullptr);
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 12; ++i) client.submit(make_request(2, i), collector.callback(i));
    all_answered(collector, 12);
    BOOST_TEST((std::chrono::steady_clock::now() - started < 3s));
    BOOST_TEST(sick.request_count() >= 1u);
    BOOST_TEST(sick.request_count() <= 4u);
    BOOST_TEST(good.request_count() == 12u);
    BOOST_TEST(endpoint_stats(client, 0).out());
    BOOST_TEST(endpoint_stats(client, 0).failures.load() == static_cast<std::int64_t>(sick.request_count()));
    BOOST_TEST(logs.contains("HTTP 503"));
}

BOOST_AUTO_TEST_CASE(an_endpoint_timing_out_rests_and_the_other_answers) {
    ScriptedHttpServer stuck(hang, 4);
    ScriptedHttpServer good(answer_n);
    auto settings = fleet(good, v1(stuck) + "," + v1(good));
    settings.timeout_ms = 300;
    settings.backoff_base_ms = 60000;
    settings.backoff_max_ms = 60000;
    Collector collector;  // outlives the client, whose destructor may still call back
    VllmClient client(settings, nullptr);
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 8; ++i) client.submit(make_request(1, i), collector.callback(i));
    all_answered(collector, 8);
    BOOST_TEST((std::chrono::steady_clock::now() - started < 3s));  // one timeout, then the other at once
    BOOST_TEST(stuck.request_count() >= 1u);
    BOOST_TEST(stuck.request_count() <= 4u);
    BOOST_TEST(good.request_count() == 8u);
    BOOST_TEST(endpoint_stats(client, 0).out());
}

BOOST_AUTO_TEST_CASE(a_rested_endpoint_that_answers_is_back) {
    std::atomic<bool> first{true};
    ScriptedHttpServer flaky([&](const HttpRequest& request) {
        if (first.exchange(false)) return unavailable(request);
        return answer_n(request);
    });
    ScriptedHttpServer good(answer_n);
    Logs logs;
    auto settings = fleet(good, v1(flaky) + "," + v1(good), &logs);
    settings.backoff_base_ms = 100;
    VllmClient client(settings, nullptr);
    BOOST_TEST(!run(client, make_request(1, 0)).error);  // 503 there, answered by the other
    BOOST_TEST(endpoint_stats(client, 0).out());
    // Sequential requests: the rested one is asked again after its rest, and answers.
    for (int i = 1; i < 100 && !logs.contains("answers again"); ++i) {
        BOOST_TEST(!run(client, make_request(1, i)).error);
        if (endpoint_stats(client, 0).out()) std::this_thread::sleep_for(20ms);
    }
    BOOST_TEST(logs.contains("answers again"));
    BOOST_TEST(!endpoint_stats(client, 0).out());
    BOOST_TEST(flaky.request_count() >= 2u);
    BOOST_TEST(endpoint_stats(client, 0).failures.load() == 1);
}

BOOST_AUTO_TEST_CASE(back_from_its_rest_an_endpoint_takes_one_request_until_it_answers) {
    std::atomic<bool> first{true};
    ScriptedHttpServer flaky(
        [&](const HttpRequest& request) {
            if (first.exchange(false)) return unavailable(request);
            return answer_n(request).with_delay(200);
        },
        4);
    ScriptedHttpServer good([](const HttpRequest& request) { return answer_n(request).with_delay(200); }, 4);
    auto settings = fleet(good, v1(flaky) + "," + v1(good));
    settings.max_concurrency = 8;
    settings.backoff_base_ms = 100;
    Collector collector;  // outlives the client, whose destructor may still call back
    VllmClient client(settings, nullptr);
    BOOST_TEST(!run(client, make_request(1, 0)).error);  // 503 there, answered by the other
    BOOST_REQUIRE(flaky.wait_for([&](const ScriptedHttpServer&) { return !endpoint_stats(client, 0).out(); }));
    for (int i = 1; i <= 6; ++i) client.submit(make_request(1, i), collector.callback(i));
    all_answered(collector, 6);
    BOOST_TEST(flaky.max_open_requests() == 1);  // the probe alone, then the work was done
    BOOST_TEST(flaky.request_count() >= 2u);
    BOOST_TEST(good.max_open_requests() == 4);
}

BOOST_AUTO_TEST_CASE(with_every_endpoint_down_requests_wait_for_the_first_back) {
    std::atomic<bool> b_up{false};
    ScriptedHttpServer a(unavailable);
    ScriptedHttpServer b([&](const HttpRequest& request) { return b_up ? answer_n(request) : unavailable(request); });
    auto settings = fleet(a, v1(a) + "," + v1(b));
    settings.backoff_base_ms = 100;
    settings.backoff_max_ms = 400;
    settings.max_retries = 12;
    Collector collector;  // outlives the client, whose destructor may still call back
    VllmClient client(settings, nullptr);
    for (int i = 0; i < 6; ++i) client.submit(make_request(1, i), collector.callback(i));
    // Both fail and rest; nobody is failed for it meanwhile, and nobody hammers them.
    BOOST_REQUIRE(a.wait_for(
        [&](const ScriptedHttpServer&) { return endpoint_stats(client, 0).out() && endpoint_stats(client, 1).out(); }));
    std::this_thread::sleep_for(250ms);
    {
        std::lock_guard lock(collector.mutex);
        BOOST_TEST(collector.results.empty());
    }
    BOOST_TEST(a.request_count() + b.request_count() <= 6u * 4u);
    b_up = true;
    all_answered(collector, 6);
    BOOST_TEST(!endpoint_stats(client, 1).out());
    BOOST_TEST(endpoint_stats(client, 1).failures.load() >= 1);
    BOOST_TEST(client.stats().failures.load() == 0);
    BOOST_TEST(client.stats().retries.load() >= 6);  // every request was tried during the outage
}

BOOST_AUTO_TEST_CASE(a_dead_fleet_still_fails_after_max_retries) {
    ScriptedHttpServer a(unavailable);
    ScriptedHttpServer b(unavailable);
    auto settings = fleet(a, v1(a) + "," + v1(b));
    settings.backoff_base_ms = 10;
    settings.backoff_max_ms = 40;
    settings.max_retries = 3;
    VllmClient client(settings, nullptr);
    auto result = run(client, make_request());
    BOOST_REQUIRE(result.error.has_value());
    BOOST_TEST((result.error->code == errc::upstream_error));
    BOOST_TEST(result.http_requests == 4);
    BOOST_TEST(a.request_count() == 2u);  // the retries took turns
    BOOST_TEST(b.request_count() == 2u);
}

BOOST_AUTO_TEST_CASE(a_fleet_that_stays_down_fails_its_requests_without_holding_them) {
    ScriptedHttpServer a(unavailable, 4);
    ScriptedHttpServer b(unavailable, 4);
    auto settings = fleet(a, v1(a) + "|concurrency=12," + v1(b) + "|concurrency=12");
    settings.max_concurrency = 12;
    settings.backoff_base_ms = 100;
    settings.backoff_max_ms = 100;
    settings.max_retries = 2;
    Collector collector;  // outlives the client, whose destructor may still call back
    VllmClient client(settings, nullptr);
    const auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < 12; ++i) client.submit(make_request(1, i), collector.callback(i));
    BOOST_REQUIRE(collector.wait(12));
    // Rounds of the whole queue, not one probe per rest (36 attempts, two per 100 ms: 1.8 s).
    BOOST_TEST((std::chrono::steady_clock::now() - started < 1200ms));
    std::lock_guard lock(collector.mutex);
    for (auto& [id, result] : collector.results) {
        BOOST_TEST(result.error.has_value());
        BOOST_TEST(result.http_requests == 3);
    }
}

BOOST_AUTO_TEST_CASE(a_fleet_shares_its_cached_answers) {
    ScriptedHttpServer a(answer_n);
    ScriptedHttpServer b(answer_n);
    ScriptedHttpServer alone(answer_n);
    MemoryCache cache;
    {
        VllmClient client(fleet(a, v1(a) + "," + v1(b)), &cache);
        for (int i = 0; i < 2; ++i) BOOST_TEST(!run(client, make_request(2, i)).error);
        BOOST_TEST(a.request_count() == 1u);
        BOOST_TEST(b.request_count() == 1u);
    }
    VllmClient other(settings_for(alone), &cache);
    for (int i = 0; i < 2; ++i) {
        auto result = run(other, make_request(2, i));
        BOOST_REQUIRE_MESSAGE(!result.error, error_text(result));
        BOOST_TEST(result.cached);
    }
    BOOST_TEST(alone.request_count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
