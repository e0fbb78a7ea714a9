// Few-shot examples on the wire: their turns in the request body, the cache key, the bounds.
#include <functional>
#include <future>
#include <map>
#include <mutex>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

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

namespace {

ChatExample example(int i, std::size_t image_bytes = 16) {
    ChatExample out;
    out.image_jpeg = std::string(image_bytes, static_cast<char>('a' + i % 26));
    out.image_hash = "example-hash-" + std::to_string(i);
    out.user = "Label this face.";
    out.assistant = R"({"expression":"sad","n":)" + std::to_string(i) + "}";
    return out;
}

// The question with these example turns before it.
ChatRequest with_examples(std::vector<ChatExample> examples = {}) {
    ChatRequest request = make_request(2);
    request.image_jpeg = "the face itself";
    request.examples = std::move(examples);
    return request;
}

std::string data_uri(const std::string& bytes) {
    return "data:image/jpeg;base64," + base64_encode(bytes);
}

// The messages of the one request the server got.
json sent_messages(const ScriptedHttpServer& server) {
    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 1u);
    return json::parse(requests[0].body)["messages"];
}

// The example turns sent (user/assistant pairs between the system message and the question).
std::size_t example_pairs(const json& messages) {
    return (messages.size() - 2) / 2;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connectors_vllm_examples)

BOOST_AUTO_TEST_CASE(example_turns_come_in_order_before_the_question) {
    ScriptedHttpServer server(answer_n);
    VllmClient client(settings_for(server), nullptr);
    auto request = with_examples({example(0), example(1), example(2)});
    auto result = run(client, request);
    BOOST_REQUIRE(!result.error);

    auto messages = sent_messages(server);
    BOOST_REQUIRE(messages.size() == 2u + 2u * 3u);
    BOOST_TEST(messages[0]["role"] == "system");
    BOOST_TEST(messages[0]["content"] == "You know emotions.");
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& user = messages[1 + 2 * i];
        const auto& assistant = messages[2 + 2 * i];
        BOOST_TEST(user["role"] == "user");
        BOOST_TEST(user["content"][0]["type"] == "text");
        BOOST_TEST(user["content"][0]["text"] == request.examples[i].user);
        BOOST_TEST(user["content"][1]["type"] == "image_url");
        BOOST_TEST(user["content"][1]["image_url"]["url"] == data_uri(request.examples[i].image_jpeg));
        BOOST_TEST(assistant["role"] == "assistant");
        BOOST_TEST(assistant["content"] == request.examples[i].assistant);
    }
    const auto& question = messages.back();
    BOOST_TEST(question["role"] == "user");
    BOOST_TEST(question["content"][0]["text"] == "Label this face.");
    BOOST_TEST(question["content"][1]["image_url"]["url"] == data_uri("the face itself"));
}

BOOST_AUTO_TEST_CASE(no_examples_keeps_the_two_message_shape) {
    ScriptedHttpServer server(answer_n);
    VllmClient client(settings_for(server), nullptr);
    BOOST_REQUIRE(!run(client, with_examples()).error);
    auto messages = sent_messages(server);
    BOOST_TEST(messages.size() == 2u);
    BOOST_TEST(messages[1]["role"] == "user");
}

BOOST_AUTO_TEST_CASE(cache_key_without_examples_is_unchanged) {
    // The canonical form of requests without examples: caches filled by them still answer.
    VllmSettings settings;
    auto request = with_examples();
    std::string canonical = "seke-vllm-cache-v2\n";
    auto field = [&](const std::string& name, const std::string& value) {
        canonical += name + " " + std::to_string(value.size()) + ":" + value + "\n";
    };
    field("model", settings.model);
    field("image_hash", request.image_hash);
    field("system", request.prompt.system);
    field("user", request.prompt.user);
    field("schema_name", request.prompt.schema_name);
    field("response_schema", request.prompt.response_schema);
    field("temperature", "0.700000");
    field("n", "2");
    field("ordinal", "0");
    BOOST_TEST(cache_key(settings, request) == sha256_hex(canonical));
}

BOOST_AUTO_TEST_CASE(cache_key_follows_the_example_set) {
    VllmSettings settings;
    const auto base = with_examples({example(0), example(1)});
    const auto key = cache_key(settings, base);
    BOOST_TEST(cache_key(settings, with_examples({example(0), example(1)})) == key);
    BOOST_TEST(cache_key(settings, with_examples()) != key);

    std::vector<std::function<void(ChatRequest&)>> changes = {
        [](ChatRequest& r) { r.examples[1].image_hash += "x"; },
        [](ChatRequest& r) { r.examples[1].assistant += " "; },
        [](ChatRequest& r) { r.examples[0].user += "x"; },
        [](ChatRequest& r) { std::swap(r.examples[0], r.examples[1]); },
        [](ChatRequest& r) { r.examples.pop_back(); },
        [](ChatRequest& r) { r.examples.push_back(example(2)); },
        // A field boundary moved: length prefixes keep the keys apart.
        [](ChatRequest& r) {
            r.examples[0].user += r.examples[0].assistant.substr(0, 1);
            r.examples[0].assistant.erase(0, 1);
        },
    };
    for (std::size_t i = 0; i < changes.size(); ++i) {
        auto r = base;
        changes[i](r);
        BOOST_TEST(cache_key(settings, r) != key, "change " << i);
    }
    // The bytes are keyed by their hash only.
    auto same_hash = base;
    same_hash.examples[0].image_jpeg = "other bytes, same hash";
    BOOST_TEST(cache_key(settings, same_hash) == key);
}

BOOST_AUTO_TEST_CASE(cached_answers_are_reused_only_for_the_same_examples) {
    ScriptedHttpServer server(answer_n);
    MemoryCache cache;
    VllmClient client(settings_for(server), &cache);
    BOOST_TEST(!run(client, with_examples({example(0)})).cached);
    BOOST_TEST(run(client, with_examples({example(0)})).cached);
    BOOST_TEST(server.request_count() == 1u);

    auto changed = example(0);
    changed.assistant = R"({"expression":"angry"})";
    BOOST_TEST(!run(client, with_examples({changed})).cached);
    BOOST_TEST(!run(client, with_examples()).cached);
    BOOST_TEST(!run(client, with_examples({example(0), example(1)})).cached);
    BOOST_TEST(server.request_count() == 4u);
    BOOST_TEST(run(client, with_examples({changed})).cached);
}

BOOST_AUTO_TEST_CASE(bounds_keep_a_prefix) {
    std::vector<ChatExample> many;
    for (int i = 0; i < 11; ++i) many.push_back(example(i));
    BOOST_TEST(examples_within_bounds(many) == kMaxFewShotExamples);

    const std::size_t kib100 = 100 * 1024;
    BOOST_TEST(examples_within_bounds({example(0, kib100), example(1, kib100), example(2, kib100)}) == 2u);
    // Exactly at the byte bound fits; a first example over it leaves none.
    BOOST_TEST(examples_within_bounds({example(0, kMaxFewShotImageBytes)}) == 1u);
    BOOST_TEST(examples_within_bounds({example(0, kMaxFewShotImageBytes + 1), example(1)}) == 0u);
    // The prefix ends at the first that does not fit, later small ones included.
    BOOST_TEST(examples_within_bounds({example(0, kib100), example(1, 200 * 1024), example(2)}) == 1u);
    BOOST_TEST(examples_within_bounds({}) == 0u);
}

BOOST_AUTO_TEST_CASE(bounds_hold_on_the_wire_and_in_the_key) {
    ScriptedHttpServer server(answer_n);
    Logs logs;
    VllmClient client(settings_for(server, &logs), nullptr);
    std::vector<ChatExample> many;
    for (int i = 0; i < 11; ++i) many.push_back(example(i));
    BOOST_REQUIRE(!run(client, with_examples(many)).error);
    auto messages = sent_messages(server);
    BOOST_REQUIRE(example_pairs(messages) == kMaxFewShotExamples);
    for (std::size_t i = 0; i < kMaxFewShotExamples; ++i)
        BOOST_TEST(messages[2 + 2 * i]["content"] == many[i].assistant);
    {
        std::lock_guard lock(logs.mutex);
        BOOST_TEST(logs.lines.size() == 1u);
    }

    server.clear_requests();
    const std::size_t kib100 = 100 * 1024;
    std::vector<ChatExample> heavy{example(0, kib100), example(1, kib100), example(2, kib100)};
    BOOST_REQUIRE(!run(client, with_examples(heavy)).error);
    messages = sent_messages(server);
    BOOST_TEST(example_pairs(messages) == 2u);
    {
        std::lock_guard lock(logs.mutex);
        BOOST_TEST(logs.lines.size() == 1u);  // said once, not per request
    }

    // What is dropped is not keyed: the over-long set and its kept prefix share cached answers.
    VllmSettings settings;
    std::vector<ChatExample> prefix(many.begin(), many.begin() + kMaxFewShotExamples);
    BOOST_TEST(cache_key(settings, with_examples(many)) == cache_key(settings, with_examples(prefix)));
    BOOST_TEST(cache_key(settings, with_examples(heavy)) == cache_key(settings, with_examples({heavy[0], heavy[1]})));
}

BOOST_AUTO_TEST_SUITE_END()
