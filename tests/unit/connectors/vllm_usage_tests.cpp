#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "connectors/vllm_client.hpp"
#include "tests/support/scripted_http_server.hpp"
#include "tests/unit/connectors/vllm_test_helpers.hpp"

using namespace seke;
using nlohmann::json;
using seke::test::HttpReply;
using seke::test::HttpRequest;
using seke::test::ScriptedHttpServer;
using namespace seke::test::vllm;

namespace {

// A completion whose usage object is `usage`, as given.
HttpReply completion_with_usage(const HttpRequest& request, const json& usage) {
    auto body = json::parse(request.body);
    auto reply = json::parse(completion(answers(body.value("n", 1))));
    reply["usage"] = usage;
    return HttpReply::json(reply.dump());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connectors_vllm_usage)

BOOST_AUTO_TEST_CASE(cached_prompt_tokens_are_read_where_each_kind_of_server_puts_them) {
    // OpenAI, vLLM, xAI and Azure.
    TokenCounts openai = read_usage(json::parse(R"({"prompt_tokens": 2006, "completion_tokens": 300,
                                   "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0}})"));
    BOOST_TEST(openai.prompt == 2006);
    BOOST_TEST(openai.cached_prompt == 1920);
    BOOST_TEST(openai.completion == 300);
    // DeepSeek.
    TokenCounts deepseek = read_usage(json::parse(
        R"({"prompt_tokens": 900, "completion_tokens": 10, "prompt_cache_hit_tokens": 640, "prompt_cache_miss_tokens": 260})"));
    BOOST_TEST(deepseek.cached_prompt == 640);
    // A bare cached_tokens beside the counts.
    BOOST_TEST(read_usage(json::parse(R"({"prompt_tokens": 50, "cached_tokens": 32})")).cached_prompt == 32);
    // OpenAI's field first when a server sends two.
    BOOST_TEST(read_usage(json::parse(R"({"prompt_tokens": 500, "prompt_tokens_details": {"cached_tokens": 128},
                                          "prompt_cache_hit_tokens": 256})"))
                   .cached_prompt == 128);
    // None reported: none cached. A null details object (some servers send it) is none too.
    BOOST_TEST(read_usage(json::parse(R"({"prompt_tokens": 50, "completion_tokens": 5})")).cached_prompt == 0);
    BOOST_TEST(read_usage(json::parse(R"({"prompt_tokens": 50, "prompt_tokens_details": null})")).cached_prompt == 0);
}

BOOST_AUTO_TEST_CASE(wrong_types_and_absurd_counts_are_ignored_never_a_crash) {
    for (const char* usage : {
             R"({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": "64"}})",
             R"({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": -64}})",
             R"({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 6.5}})",
             R"({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 1e300}})",
             R"({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": [64]}})",
             R"({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": true}})",
             R"({"prompt_tokens": 100, "prompt_tokens_details": "64"})",
             R"({"prompt_tokens": 100, "prompt_cache_hit_tokens": {"n": 64}})",
             R"({"prompt_tokens": 100, "cached_tokens": null})",
         }) {
        const TokenCounts tokens = read_usage(json::parse(usage));
        BOOST_TEST(tokens.prompt == 100, usage);
        BOOST_TEST(tokens.cached_prompt == 0, usage);
    }
    // Counts out of bounds read as none; whole floats are counts.
    BOOST_TEST(read_usage(json::parse(R"({"prompt_tokens": 1e300, "completion_tokens": -4})")).prompt == 0);
    BOOST_TEST(read_usage(json::parse(R"({"prompt_tokens": 18446744073709551615})")).prompt == 0);
    BOOST_TEST(read_usage(json::parse(R"({"prompt_tokens": 128.0})")).prompt == 128);
    // Never more cached than sent.
    BOOST_TEST(read_usage(json::parse(R"({"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 4096}})"))
                   .cached_prompt == 100);
    BOOST_TEST(read_usage(json::parse("[1, 2]")).prompt == 0);
    BOOST_TEST(read_usage(json::parse("\"usage\"")).prompt == 0);
}

BOOST_AUTO_TEST_CASE(the_client_carries_cached_tokens_to_the_result_the_stats_and_the_cache) {
    ScriptedHttpServer server([](const HttpRequest& request) {
        return completion_with_usage(
            request,
            {{"prompt_tokens", 1000}, {"completion_tokens", 40}, {"prompt_tokens_details", {{"cached_tokens", 768}}}});
    });
    MemoryCache cache;
    VllmClient client(settings_for(server), &cache);
    auto first = run(client, make_request(2));
    BOOST_REQUIRE_MESSAGE(!first.error, error_text(first));
    BOOST_TEST(first.prompt_tokens == 1000);
    BOOST_TEST(first.cached_prompt_tokens == 768);
    BOOST_TEST(client.stats().cached_prompt_tokens.load() == 768);
    // From the response cache: the same counts (what was paid when it was asked), nothing new paid.
    auto again = run(client, make_request(2));
    BOOST_TEST(again.cached);
    BOOST_TEST(again.cached_prompt_tokens == 768);
    BOOST_TEST(client.stats().cached_prompt_tokens.load() == 768);
    BOOST_TEST(client.stats().prompt_tokens.load() == 1000);
}

BOOST_AUTO_TEST_CASE(the_knowledge_prompt_opens_every_request_byte_for_byte) {
    // Providers cache the longest prefix they saw: the system message must come first and be the
    // same bytes in every request, whatever the face, the round or the examples.
    ScriptedHttpServer server(answer_n);
    VllmClient client(settings_for(server), nullptr);
    auto a = make_request(3, 0);
    auto b = make_request(1, 4);
    b.image_jpeg = std::string("\xFF\xD8\xFF\xE0 another face \xFF\xD9", 18);
    b.image_hash = "def456";
    b.prompt.user = "Check these candidate labels.";
    b.examples.push_back(ChatExample{std::string("\xFF\xD8 example \xFF\xD9", 13), "e1", "Label this face.", "{}"});
    run(client, a);
    run(client, b);
    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 2u);
    std::vector<std::string> openings;
    for (const auto& sent : requests) {
        auto body = json::parse(sent.body);
        BOOST_TEST(body["messages"][0]["role"] == "system");
        openings.push_back(body["messages"][0].dump());
    }
    BOOST_TEST(openings[0] == openings[1]);
}

BOOST_AUTO_TEST_SUITE_END()
