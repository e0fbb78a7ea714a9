// The batch line formats read defensively: output and error lines with wrong types anywhere give
// a failed line or none, never a crash; request lines keep the online body; batch objects.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "connectors/vllm_batch.hpp"

using namespace seke;
using nlohmann::json;

namespace {

json good_line() {
    return json::parse(R"({"id":"batch_req_1","custom_id":"key-1","response":{"status_code":200,"request_id":"r",
        "body":{"choices":[{"message":{"content":"{\"expression\":\"joy\"}"}},{"message":{"content":"b"}}],
        "usage":{"prompt_tokens":100,"completion_tokens":20,"prompt_tokens_details":{"cached_tokens":64}}}},
        "error":null})");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(vllm_batch_lines)

BOOST_AUTO_TEST_CASE(an_output_line_gives_its_choices_and_usage) {
    auto line = parse_batch_output_line(good_line().dump(), 2);
    BOOST_TEST_REQUIRE(line.has_value());
    BOOST_TEST(line->custom_id == "key-1");
    BOOST_TEST_REQUIRE(line->answer.has_value());
    BOOST_TEST(line->answer->contents.size() == 2u);
    BOOST_TEST(line->answer->contents[0] == R"({"expression":"joy"})");
    BOOST_TEST(line->answer->usage.prompt == 100);
    BOOST_TEST(line->answer->usage.cached_prompt == 64);
    BOOST_TEST(line->answer->usage.completion == 20);
    // At most n choices are taken.
    BOOST_TEST(parse_batch_output_line(good_line().dump(), 1)->answer->contents.size() == 1u);
    // A body sent as its text is read too.
    json as_text = good_line();
    as_text["response"]["body"] = as_text["response"]["body"].dump();
    BOOST_TEST(parse_batch_output_line(as_text.dump(), 2)->answer.has_value());
}

BOOST_AUTO_TEST_CASE(an_error_line_or_a_non_200_line_is_a_failed_line_with_its_reason) {
    auto error = parse_batch_output_line(
        R"({"id":"x","custom_id":"k","response":null,"error":{"code":"server_error","message":"boom"}})", 1);
    BOOST_TEST_REQUIRE(error.has_value());
    BOOST_TEST(!error->answer.has_value());
    BOOST_TEST(error->error.find("boom") != std::string::npos);
    auto status = parse_batch_output_line(
        R"({"custom_id":"k","response":{"status_code":429,"body":{"error":{"message":"slow down"}}},"error":null})", 1);
    BOOST_TEST_REQUIRE(status.has_value());
    BOOST_TEST(!status->answer.has_value());
    BOOST_TEST(status->error.find("429") != std::string::npos);
    BOOST_TEST(status->error.find("slow down") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(wrong_types_everywhere_never_crash) {
    // No custom_id to name: not a line at all.
    for (const char* text : {"", "not json", "[]", "7", "null", R"({"custom_id":7})", R"({"custom_id":""})",
                             R"({"custom_id":null,"response":{}})", R"({"custom_id":["a"]})", "{\"custom_id\":\"k\""})
        BOOST_TEST(!parse_batch_output_line(text, 1).has_value(), text);
    BOOST_TEST(!parse_batch_output_line(R"({"custom_id":")" + std::string(600, 'k') + R"("})", 1).has_value());
    // Deeply nested: refused before parsing.
    BOOST_TEST(!parse_batch_output_line(std::string(100'000, '[') + std::string(100'000, ']'), 1).has_value());

    // Each field of a good line replaced by every wrong type: a failed line or an answer, never a throw.
    const std::vector<json> wrong = {json(nullptr), json(true),    json(-1),       json(3.5),
                                     json("text"),  json::array(), json::object(), json::array({1, "a", nullptr})};
    const std::vector<std::vector<std::string>> paths = {{"response"},
                                                         {"response", "status_code"},
                                                         {"response", "body"},
                                                         {"response", "body", "choices"},
                                                         {"response", "body", "usage"},
                                                         {"response", "body", "usage", "prompt_tokens"},
                                                         {"response", "body", "usage", "prompt_tokens_details"},
                                                         {"error"}};
    for (const auto& path : paths)
        for (const auto& value : wrong) {
            json line = good_line();
            json* at = &line;
            for (std::size_t i = 0; i + 1 < path.size(); ++i) at = &(*at)[path[i]];
            (*at)[path.back()] = value;
            std::optional<BatchLineResult> parsed;
            BOOST_CHECK_NO_THROW(parsed = parse_batch_output_line(line.dump(), 3));
            BOOST_TEST_REQUIRE(parsed.has_value(), line.dump());
            BOOST_TEST((parsed->answer.has_value() || !parsed->error.empty()), line.dump());
        }
    // Choices of every shape: contents are text ("" when unreadable), usage counts 0 when wrong.
    json odd = good_line();
    odd["response"]["body"]["choices"] = json::array(
        {7, json::object(), json{{"message", "x"}}, json{{"message", {{"content", {{{"text", "a"}}, 5}}}}}});
    odd["response"]["body"]["usage"] = {{"prompt_tokens", "many"}, {"completion_tokens", -4}};
    auto parsed = parse_batch_output_line(odd.dump(), 4);
    BOOST_TEST_REQUIRE(parsed->answer.has_value());
    BOOST_TEST((parsed->answer->contents == std::vector<std::string>{"", "", "", "a"}));
    BOOST_TEST(parsed->answer->usage.prompt == 0);
    BOOST_TEST(parsed->answer->usage.completion == 0);
}

BOOST_AUTO_TEST_CASE(a_request_line_carries_the_body_as_sent_and_names_its_custom_id) {
    const std::string body = R"({"model":"m","messages":[],"temperature":0.7})";
    const std::string line = batch_request_line("key \"1\"", body);
    const json parsed = json::parse(line);
    BOOST_TEST(parsed["custom_id"] == "key \"1\"");
    BOOST_TEST(parsed["method"] == "POST");
    BOOST_TEST(parsed["url"] == "/v1/chat/completions");
    BOOST_TEST(parsed["body"].dump() == json::parse(body).dump());
    BOOST_TEST(batch_request_custom_id(batch_request_line("abc123", body)).value() == "abc123");
    for (const char* text : {"", "{}", R"({"custom_id":5})", R"({"custom_id":""})", "garbage \"custom_id\""})
        BOOST_TEST(!batch_request_custom_id(text).has_value(), text);
}

BOOST_AUTO_TEST_CASE(batch_objects_are_read_defensively) {
    auto done = read_batch_status(
        R"({"id":"b","status":"completed","output_file_id":"file-1","error_file_id":null,"errors":null})");
    BOOST_TEST_REQUIRE(done.ok());
    BOOST_TEST(done->finished());
    BOOST_TEST(done->output_file_id == "file-1");
    BOOST_TEST(done->error_file_id.empty());
    auto running = read_batch_status(R"({"status":"in_progress","output_file_id":5})");
    BOOST_TEST_REQUIRE(running.ok());
    BOOST_TEST(!running->finished());
    BOOST_TEST(running->output_file_id.empty());
    for (const char* text : {"", "[]", R"({"status":3})", R"({"id":"b"})", "nope"})
        BOOST_TEST(!read_batch_status(text).ok(), text);
    auto failed = read_batch_status(R"({"status":"failed","errors":{"data":[{"message":"bad line"}]}})");
    BOOST_TEST(failed->finished());
    BOOST_TEST(failed->errors.find("bad line") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
