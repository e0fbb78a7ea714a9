// EngineService over a scripted model: few-shot example sets and which faces see them; spending caps.
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "connectors/crypto.hpp"
#include "connectors/vllm_client.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "tests/support/scripted_http_server.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using nlohmann::json;
using seke::test::HttpReply;
using seke::test::HttpRequest;
using seke::test::ScriptedHttpServer;
using seke::test::test_knowledge;
using namespace std::chrono_literals;

namespace {

// Every key any prompt asks; the parser reads the asked ones and ignores the rest.
const char* kAnswer = R"({"action_units":["AU6","AU12"],"expression":"happy","valence":0.6,"arousal":0.3,)"
                      R"("au_description":"d","expression_description":"d","va_description":"d","verdict":"agree"})";

json choices_of(int n) {
    json choices = json::array();
    for (int i = 0; i < n; ++i)
        choices.push_back({{"index", i}, {"message", {{"role", "assistant"}, {"content", kAnswer}}}});
    return choices;
}

HttpReply answer_n(const HttpRequest& request) {
    return HttpReply::json(json{{"choices", choices_of(json::parse(request.body).value("n", 1))}}.dump());
}

std::string data_uri(const std::string& bytes) {
    return "data:image/jpeg;base64," + base64_encode(bytes);
}

std::shared_ptr<const FewShotExamples> examples_with_images(const std::vector<std::string>& images) {
    auto out = std::make_shared<FewShotExamples>();
    for (const auto& image : images) {
        FewShotExample example;
        example.id = image;
        example.labels.expression = "sad";
        example.labels.action_units = std::vector<std::string>{"AU1", "AU4", "AU15"};
        example.labels.valence = -0.5;
        example.labels.arousal = -0.3;
        example.image_jpeg = image;
        example.image_hash = sha256_hex(image);
        out->push_back(std::move(example));
    }
    return out;
}

// What one request showed: the face's image and the example images, in order.
struct Shown {
    std::string face;
    std::vector<std::string> examples;
};

Shown shown(const HttpRequest& request) {
    auto messages = json::parse(request.body)["messages"];
    Shown out;
    out.face = messages.back()["content"][1]["image_url"]["url"].get<std::string>();
    for (std::size_t i = 1; i + 1 < messages.size(); i += 2) {
        BOOST_TEST(messages[i]["role"] == "user");
        BOOST_TEST(messages[i + 1]["role"] == "assistant");
        BOOST_TEST(!messages[i + 1]["content"].get<std::string>().empty());
        out.examples.push_back(messages[i]["content"][1]["image_url"]["url"].get<std::string>());
    }
    return out;
}

FaceJob face(const std::string& jpeg) {
    FaceJob job;
    job.jpeg = jpeg;
    job.crop_hash = sha256_hex(jpeg);
    return job;
}

// Two sample rounds per face, nothing else: one answer does not settle the vote, two reach k_max.
EngineConfig two_rounds() {
    EngineConfig config;
    config.k_min = 1;
    config.round_size = 1;
    config.k_max = 2;
    config.self_verify = false;
    return config;
}

VllmSettings settings_for(const ScriptedHttpServer& server) {
    VllmSettings settings;
    settings.base_url = server.base_url() + "/v1";
    settings.model = "test-model";
    settings.timeout_ms = 20000;
    settings.max_retries = 0;
    settings.log = [](const std::string&) {};
    return settings;
}

std::future<FaceResult> submit(EngineService& service, FaceJob job) {
    auto promise = std::make_shared<std::promise<FaceResult>>();
    auto future = promise->get_future();
    service.submit(std::move(job), [promise](FaceResult result) { promise->set_value(std::move(result)); });
    return future;
}

// n choices; 1000 prompt tokens (768 cached) and 100 completion tokens per choice.
HttpReply answer_with_usage(const HttpRequest& request) {
    const int n = json::parse(request.body).value("n", 1);
    json usage = {
        {"prompt_tokens", 1000}, {"completion_tokens", 100 * n}, {"prompt_tokens_details", {{"cached_tokens", 768}}}};
    return HttpReply::json(json{{"choices", choices_of(n)}, {"usage", usage}}.dump());
}

VllmSettings capped_settings(const ScriptedHttpServer& server) {
    VllmSettings settings = settings_for(server);
    settings.max_tokens = 100;  // the upper guess of a request before any answer
    return settings;
}

std::vector<FaceResult> label_three(EngineService& service) {
    std::vector<std::future<FaceResult>> futures;
    for (const char* name : {"face A", "face B", "face C"}) {
        auto promise = std::make_shared<std::promise<FaceResult>>();
        futures.push_back(promise->get_future());
        service.submit(face(name), [promise](FaceResult result) { promise->set_value(std::move(result)); });
    }
    std::vector<FaceResult> results;
    for (auto& future : futures) {
        BOOST_REQUIRE(future.wait_for(20s) == std::future_status::ready);
        results.push_back(future.get());
    }
    return results;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_engine_service_examples)

BOOST_AUTO_TEST_CASE(set_examples_affects_only_faces_submitted_later) {
    // The first request is held until the test has changed the example set, so face A is
    // running (one request answered, one to come) when the set changes.
    std::mutex mutex;
    std::condition_variable cv;
    bool first_arrived = false;
    bool released = false;
    ScriptedHttpServer server([&](const HttpRequest& request) {
        std::unique_lock lock(mutex);
        if (!first_arrived) {
            first_arrived = true;
            cv.notify_all();
            cv.wait_for(lock, 10s, [&] { return released; });
        }
        return answer_n(request);
    });
    VllmClient client(settings_for(server), nullptr);
    const EngineConfig config = two_rounds();
    EngineService service(test_knowledge(), config, client);

    service.set_examples(examples_with_images({"example one"}));
    auto a = submit(service, face("face A"));
    {
        std::unique_lock lock(mutex);
        BOOST_REQUIRE(cv.wait_for(lock, 10s, [&] { return first_arrived; }));
    }
    service.set_examples(examples_with_images({"example two", "example three"}));
    auto b = submit(service, face("face B"));
    {
        std::lock_guard lock(mutex);
        released = true;
    }
    cv.notify_all();
    BOOST_REQUIRE(a.wait_for(20s) == std::future_status::ready);
    BOOST_REQUIRE(b.wait_for(20s) == std::future_status::ready);
    BOOST_TEST(a.get().ok);
    BOOST_TEST(b.get().ok);

    service.set_examples(nullptr);
    auto c = submit(service, face("face C"));
    BOOST_REQUIRE(c.wait_for(20s) == std::future_status::ready);
    BOOST_TEST(c.get().ok);

    const std::vector<std::string> old_set{data_uri("example one")};
    const std::vector<std::string> new_set{data_uri("example two"), data_uri("example three")};
    std::map<std::string, int> requests_per_face;
    for (const auto& request : server.requests()) {
        Shown s = shown(request);
        ++requests_per_face[s.face];
        if (s.face == data_uri("face A")) BOOST_TEST(s.examples == old_set, boost::test_tools::per_element());
        else if (s.face == data_uri("face B")) BOOST_TEST(s.examples == new_set, boost::test_tools::per_element());
        else if (s.face == data_uri("face C")) BOOST_TEST(s.examples.empty());
        else BOOST_FAIL("a request for an unknown face");
    }
    BOOST_TEST(requests_per_face[data_uri("face A")] == 2);  // both of A's rounds kept the old set
    BOOST_TEST(requests_per_face[data_uri("face B")] == 2);
    BOOST_TEST(requests_per_face[data_uri("face C")] == 2);
}

BOOST_AUTO_TEST_CASE(no_examples_by_default) {
    ScriptedHttpServer server(answer_n);
    VllmClient client(settings_for(server), nullptr);
    const EngineConfig config = two_rounds();
    EngineService service(test_knowledge(), config, client);
    auto a = submit(service, face("face A"));
    BOOST_REQUIRE(a.wait_for(20s) == std::future_status::ready);
    BOOST_TEST(a.get().ok);
    BOOST_REQUIRE(server.request_count() == 2u);
    for (const auto& request : server.requests()) BOOST_TEST(json::parse(request.body)["messages"].size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(plugin_engine_service_cap)

BOOST_AUTO_TEST_CASE(a_request_cap_lets_exactly_that_many_go_and_stops_the_rest) {
    ScriptedHttpServer server(answer_with_usage);
    VllmClient client(capped_settings(server), nullptr);
    const EngineConfig config = two_rounds();
    EngineService service(test_knowledge(), config, client);
    service.limit_spending({std::nullopt, 4}, std::nullopt);
    BOOST_TEST(service.spending_stopped().empty());
    // Three faces of two requests each, four requests allowed: the first rounds of all three, the
    // second of one. The others stop at their second round, their first answers kept in flight.
    auto results = label_three(service);
    int finished = 0;
    for (const auto& result : results) {
        if (result.ok) {
            ++finished;
            BOOST_TEST(result.cost.requests == 2);
        } else {
            BOOST_TEST_REQUIRE(result.failure.has_value());
            BOOST_TEST((result.failure->code == errc::cancelled));
            BOOST_TEST(result.failure->message.find("max_requests") != std::string::npos);
        }
    }
    BOOST_TEST(finished == 1);
    BOOST_TEST(server.request_count() == 4u);
    BOOST_TEST(service.spending_stopped() == "max_requests");
}

BOOST_AUTO_TEST_CASE(a_money_cap_keeps_the_bill_under_it_at_the_cached_rate) {
    ScriptedHttpServer server(answer_with_usage);
    VllmClient client(capped_settings(server), nullptr);
    const EngineConfig config = two_rounds();
    EngineService service(test_knowledge(), config, client);
    // One request: 232 tokens at $1/M, 768 cached at $0.1/M, 100 completion at $10/M = $0.0013088.
    const Price price{1.0, 0.1, 10.0, 0, {}};
    const double per_request = (232 * 1.0 + 768 * 0.1 + 100 * 10.0) / 1e6;
    service.limit_spending({per_request * 5.5, std::nullopt}, price);
    auto results = label_three(service);
    // Before an answer the upper guess holds the others back; after it, each request is reserved
    // at the dearest seen. Five fit under 5.5 requests' worth, a sixth would pass: one face stops.
    BOOST_TEST(server.request_count() == 5u);
    int finished = 0;
    for (const auto& result : results) finished += result.ok;
    BOOST_TEST(finished == 2);
    BOOST_TEST(service.spending_stopped() == "max_cost");
}

BOOST_AUTO_TEST_SUITE_END()
