#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tests/unit/fake_vllm/test_util.hpp"
#include "tools/fake_vllm/dataset.hpp"
#include "tools/fake_vllm/face_code.hpp"
#include "tools/fake_vllm/fake_model.hpp"
#include "tools/fake_vllm/fake_server.hpp"

using namespace seke::fake;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

struct Response {
    int status = -1;  // -1: the connection closed without an answer
    std::string body;
    std::string retry_after;
    nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// One request on a fresh loopback connection, bounded by `timeout`.
Response fetch(unsigned short port, http::verb verb, const std::string& target, const std::string& body = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    Response out;
    beast::error_code ec;
    stream.expires_after(timeout);
    http::write(stream, req, ec);
    if (ec) return out;
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    // Sync reads ignore tcp_stream's timer: read asynchronously and run the context.
    http::async_read(stream, buffer, res, [&](beast::error_code read_ec, std::size_t) { ec = read_ec; });
    ioc.run();
    if (ec) return out;
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    out.retry_after = std::string(res[http::field::retry_after]);
    return out;
}

std::string jpeg_of(std::uint32_t code, int side, int quality) {
    cv::Mat image = draw_code_image(code, 256), scaled;
    cv::resize(image, scaled, cv::Size(side, side), 0, 0, cv::INTER_AREA);
    std::vector<uchar> bytes;
    cv::imencode(".jpg", scaled, bytes, {cv::IMWRITE_JPEG_QUALITY, quality});
    return std::string(bytes.begin(), bytes.end());
}

std::string chat(const std::string& jpeg, int n, double temperature, bool schema = true,
                 const std::vector<std::string>& keys = {"expression", "valence", "arousal", "action_units",
                                                         "au_description"}) {
    nlohmann::json body{{"model", "test-model"}, {"temperature", temperature}, {"n", n}};
    std::string key_line = "Answer keys: ";
    nlohmann::json properties = nlohmann::json::object();
    for (std::size_t i = 0; i < keys.size(); ++i) {
        key_line += (i ? ", " : "") + keys[i];
        properties[keys[i]] = {{"type", "string"}};
    }
    body["messages"] = {
        {{"role", "system"}, {"content", "Emotion knowledge goes here."}},
        {{"role", "user"},
         {"content",
          {{{"type", "text"}, {"text", "Label this face.\n" + key_line}},
           {{"type", "image_url"}, {"image_url", {{"url", "data:image/jpeg;base64," + testing::base64(jpeg)}}}}}}}};
    if (schema)
        body["response_format"] = {
            {"type", "json_schema"},
            {"json_schema",
             {{"name", "labels"}, {"strict", true}, {"schema", {{"type", "object"}, {"properties", properties}}}}}};
    return body.dump();
}

// A small dataset and a server on an ephemeral loopback port.
struct Fixture {
    testing::ScratchDir dir;
    std::vector<TruthItem> items = generate_truth(16, 5);

    FakeOptions options() const {
        FakeOptions o;
        o.seed = 3;
        o.hang_ms = 300;
        return o;
    }
    std::unique_ptr<FakeVllmServer> server(FakeOptions o) const {
        auto s = std::make_unique<FakeVllmServer>(o, TruthTable(items));
        s->start();
        return s;
    }
    const TruthItem& easiest() const {
        return *std::min_element(items.begin(), items.end(),
                                 [](const auto& a, const auto& b) { return a.difficulty < b.difficulty; });
    }
};

long long ms_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

nlohmann::json first_content(const Response& r) {
    const auto j = r.json();
    return nlohmann::json::parse(j.at("choices").at(0).at("message").at("content").get<std::string>(), nullptr, false);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(fake_vllm_server, Fixture)

BOOST_AUTO_TEST_CASE(a_system_prefix_seen_before_is_reported_cached_in_128_token_blocks) {
    auto o = options();
    auto s = server(o);
    const auto& item = easiest();
    auto with_system = [&](const std::string& system) {
        auto body = nlohmann::json::parse(chat(jpeg_of(item.code, 256, 90), 2, 0.7));
        body["messages"][0]["content"] = system;
        const auto r = fetch(s->port(), http::verb::post, "/v1/chat/completions", body.dump());
        BOOST_REQUIRE(r.status == 200);
        return r.json().at("usage");
    };
    const std::string knowledge(2000, 'k');  // 500 tokens at 4 characters each: three whole blocks
    const auto first = with_system(knowledge);
    BOOST_TEST(first.at("prompt_tokens_details").at("cached_tokens").get<int>() == 0);
    const auto second = with_system(knowledge);
    BOOST_TEST(second.at("prompt_tokens_details").at("cached_tokens").get<int>() == 384);
    BOOST_TEST(second.at("prompt_tokens").get<int>() == first.at("prompt_tokens").get<int>());
    const auto other = with_system(std::string(2000, 'x'));  // another prefix: not cached yet
    BOOST_TEST(other.at("prompt_tokens_details").at("cached_tokens").get<int>() == 0);
    const auto stats = s->stats();
    BOOST_TEST(stats.cached_prompt_tokens == 384u);
    BOOST_TEST(stats.prompt_tokens == 3u * first.at("prompt_tokens").get<std::uint64_t>());

    o.prefix_cache = false;
    auto plain = server(o);
    for (int i = 0; i < 2; ++i) {
        auto body = nlohmann::json::parse(chat(jpeg_of(item.code, 256, 90), 1, 0.7));
        body["messages"][0]["content"] = knowledge;
        const auto r = fetch(plain->port(), http::verb::post, "/v1/chat/completions", body.dump());
        BOOST_TEST(r.json().at("usage").at("prompt_tokens_details").at("cached_tokens").get<int>() == 0);
    }
}

BOOST_AUTO_TEST_CASE(chat_returns_n_choices_with_only_the_asked_keys) {
    auto s = server(options());
    const auto& item = easiest();
    const auto r =
        fetch(s->port(), http::verb::post, "/v1/chat/completions", chat(jpeg_of(item.code, 384, 85), 4, 0.8));
    BOOST_REQUIRE(r.status == 200);
    const auto j = r.json();
    BOOST_TEST(j.at("object") == "chat.completion");
    BOOST_TEST(j.at("model") == "test-model");
    BOOST_REQUIRE(j.at("choices").size() == 4u);
    for (const auto& choice : j.at("choices")) {
        const auto content = nlohmann::json::parse(choice.at("message").at("content").get<std::string>());
        BOOST_TEST(content.size() == 5u);
        for (const char* key : {"expression", "valence", "arousal", "action_units", "au_description"})
            BOOST_TEST(content.contains(key), key);
        BOOST_TEST(choice.at("finish_reason") == "stop");
    }
    BOOST_TEST(j.at("usage").at("prompt_tokens").get<int>() > 255);
    BOOST_TEST(j.at("usage").at("completion_tokens").get<int>() > 0);

    // Greedy on the easiest item: the truth, and the plain-text key list works too.
    const auto g = fetch(s->port(), http::verb::post, "/chat/completions",
                         chat(jpeg_of(item.code, 256, 90), 1, 0.0, false, {"expression"}));
    BOOST_REQUIRE(g.status == 200);
    const auto content = first_content(g);
    BOOST_TEST(content.size() == 1u);
    BOOST_TEST(content.at("expression") == item.expression);

    const auto stats = s->stats();
    BOOST_TEST(stats.per_item.at(item.id) == 2u);
    BOOST_TEST(stats.choices == 5u);
    BOOST_TEST(stats.by_kind.at("sample") == 2u);
    BOOST_TEST(stats.by_status.at(200) == 2u);
}

// Few-shot turns (an earlier user turn with its image, and the answer) are counted per item,
// and the question's image, not the example's, decides whose item the request is.
BOOST_AUTO_TEST_CASE(few_shot_requests_are_counted_per_item) {
    Fixture f;
    auto s = f.server(f.options());
    const auto& item = f.easiest();
    const auto& other = item.id == f.items[0].id ? f.items[1] : f.items[0];
    auto body = nlohmann::json::parse(chat(jpeg_of(item.code, 256, 90), 1, 0.7));
    nlohmann::json example_user = {
        {"role", "user"},
        {"content",
         {{{"type", "text"}, {"text", "Label this face."}},
          {{"type", "image_url"},
           {"image_url", {{"url", "data:image/jpeg;base64," + testing::base64(jpeg_of(other.code, 256, 90))}}}}}}};
    nlohmann::json example_answer = {{"role", "assistant"}, {"content", R"({"expression":"sad"})"}};
    auto& messages = body["messages"];
    messages.insert(messages.begin() + 1, example_answer);
    messages.insert(messages.begin() + 1, example_user);
    BOOST_REQUIRE(parse_chat_request(body).example_turns == 1);
    BOOST_REQUIRE(fetch(s->port(), http::verb::post, "/v1/chat/completions", body.dump()).status == 200);
    BOOST_REQUIRE(
        fetch(s->port(), http::verb::post, "/v1/chat/completions", chat(jpeg_of(item.code, 256, 90), 1, 0.7)).status ==
        200);
    const auto stats = s->stats();
    BOOST_TEST(stats.per_item.at(item.id) == 2u);
    BOOST_TEST(stats.few_shot_per_item.at(item.id) == 1u);
    BOOST_TEST(stats.per_item.count(other.id) == 0u);
    BOOST_TEST(stats.few_shot_per_item.count(other.id) == 0u);
}

BOOST_AUTO_TEST_CASE(other_routes_and_bad_input) {
    auto o = options();
    o.body_limit = 4096;
    auto s = server(o);
    BOOST_TEST(fetch(s->port(), http::verb::get, "/health").status == 200);
    const auto models = fetch(s->port(), http::verb::get, "/v1/models");
    BOOST_TEST(models.status == 200);
    BOOST_TEST(models.json().at("data").at(0).at("id") == "fake-vllm");
    BOOST_TEST(fetch(s->port(), http::verb::get, "/nope").status == 404);
    BOOST_TEST(fetch(s->port(), http::verb::get, "/v1/chat/completions").status == 405);
    const auto bad = fetch(s->port(), http::verb::post, "/v1/chat/completions", "{not json");
    BOOST_TEST(bad.status == 400);
    BOOST_TEST(bad.json().at("error").at("type") == "invalid_request_error");
    BOOST_TEST(fetch(s->port(), http::verb::post, "/v1/chat/completions", "[1,2]").status == 400);
    BOOST_TEST(fetch(s->port(), http::verb::post, "/v1/chat/completions", std::string(8000, 'x')).status == 413);
    // Not HTTP at all: a 400 (or a close), and the server keeps serving.
    {
        net::io_context ioc;
        tcp::socket socket(ioc);
        socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), s->port()));
        net::write(socket, net::buffer(std::string("\x01\x02 garbage \xff\r\n\r\n")));
        std::string reply(256, '\0');
        beast::error_code ec;
        const auto got = socket.read_some(net::buffer(reply), ec);
        BOOST_TEST((ec || reply.substr(0, got).starts_with("HTTP/1.1 400")));
    }
    BOOST_TEST(fetch(s->port(), http::verb::get, "/health").status == 200);
    // Direct handler calls: junk never throws.
    for (
        const std::string junk :
        {"", "null", R"({"messages":[1]})", R"({"messages":[{"content":5}]})",
         R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,!!!"}}]}]})"})
        BOOST_TEST(s->handle("POST", "/v1/chat/completions", junk).status / 100 != 5, junk);
}

BOOST_AUTO_TEST_CASE(unreadable_images) {
    auto s = server(options());
    const std::string blank = [] {
        std::vector<uchar> bytes;
        cv::imencode(".jpg", cv::Mat(64, 64, CV_8UC3, cv::Scalar(128, 128, 128)), bytes);
        return std::string(bytes.begin(), bytes.end());
    }();
    const auto r = fetch(s->port(), http::verb::post, "/v1/chat/completions", chat(blank, 1, 0.7));
    BOOST_TEST(r.status == 200);
    BOOST_TEST(s->stats().unreadable_codes == 1u);

    auto o = options();
    o.strict_codes = true;
    auto strict = server(o);
    const auto rejected = fetch(strict->port(), http::verb::post, "/v1/chat/completions", chat(blank, 1, 0.7));
    BOOST_TEST(rejected.status == 400);
    BOOST_TEST(rejected.json().at("error").contains("message"));
}

BOOST_AUTO_TEST_CASE(each_fault_at_rate_one) {
    const auto body = chat(jpeg_of(items[0].code, 256, 90), 2, 0.7);
    auto run = [&](auto set) {
        auto o = options();
        set(o);
        auto s = server(o);
        return fetch(s->port(), http::verb::post, "/v1/chat/completions", body);
    };

    auto r = run([](FakeOptions& o) {
        o.fault_429 = 1;
        o.retry_after_s = 7;
    });
    BOOST_TEST(r.status == 429);
    BOOST_TEST(r.retry_after == "7");

    r = run([](FakeOptions& o) { o.fault_500 = 1; });
    BOOST_TEST(r.status == 500);
    BOOST_TEST(r.json().at("error").at("type") == "server_error");

    const auto start = std::chrono::steady_clock::now();
    r = run([](FakeOptions& o) { o.fault_hang = 1; });
    BOOST_TEST(r.status == -1);  // closed after hang_ms, never answered
    BOOST_TEST(ms_since(start) >= 250);

    r = run([](FakeOptions& o) { o.fault_malformed = 1; });
    BOOST_REQUIRE(r.status == 200);
    BOOST_TEST(first_content(r).is_discarded());
    BOOST_TEST(r.json().at("choices").at(0).at("message").at("content").get<std::string>().find('{') ==
               std::string::npos);

    r = run([](FakeOptions& o) { o.fault_truncated = 1; });
    BOOST_REQUIRE(r.status == 200);
    BOOST_TEST(first_content(r).is_discarded());
    BOOST_TEST(r.json().at("choices").at(0).at("finish_reason") == "length");

    r = run([](FakeOptions& o) { o.fault_refusal = 1; });
    BOOST_REQUIRE(r.status == 200);
    BOOST_TEST(r.json().at("choices").at(1).at("message").at("content").is_null());
    BOOST_TEST(r.json().at("choices").at(1).at("message").at("refusal") == "I can't help with that");

    r = run([](FakeOptions& o) { o.fault_wrong_types = 1; });
    BOOST_REQUIRE(r.status == 200);
    BOOST_TEST(first_content(r).at("valence") == "high");
    BOOST_TEST(first_content(r).at("action_units").is_string());

    r = run([](FakeOptions& o) { o.reject_json_schema = true; });
    BOOST_TEST(r.status == 400);
    BOOST_TEST(r.json().at("error").at("message") == "response_format json_schema is not supported");

    r = run([](FakeOptions& o) { o.ignore_n = true; });
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.json().at("choices").size() == 1u);
}

BOOST_AUTO_TEST_CASE(per_item_faults_from_the_truth_file) {
    items[0].faults = {"always_500"};
    items[1].faults = {"always_malformed"};
    auto s = server(options());
    BOOST_TEST(fetch(s->port(), http::verb::post, "/v1/chat/completions", chat(jpeg_of(items[0].code, 256, 90), 1, 0.7))
                   .status == 500);
    const auto m =
        fetch(s->port(), http::verb::post, "/v1/chat/completions", chat(jpeg_of(items[1].code, 256, 90), 1, 0.7));
    BOOST_TEST(m.status == 200);
    BOOST_TEST(first_content(m).is_discarded());
    BOOST_TEST(fetch(s->port(), http::verb::post, "/v1/chat/completions", chat(jpeg_of(items[2].code, 256, 90), 1, 0.7))
                   .status == 200);
}

BOOST_AUTO_TEST_CASE(slow_requests_are_all_in_flight_at_once) {
    auto o = options();
    o.latency_ms = 300;
    o.threads = 2;
    auto s = server(o);
    std::vector<std::string> bodies;
    for (int i = 0; i < 64; ++i)
        bodies.push_back(chat(jpeg_of(items[static_cast<std::size_t>(i) % items.size()].code, 128, 85), 1, 0.7));
    std::atomic<int> ok{0};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> clients;
    for (int i = 0; i < 64; ++i)
        clients.emplace_back([&, i] {
            if (fetch(s->port(), http::verb::post, "/v1/chat/completions", bodies[static_cast<std::size_t>(i)])
                    .status == 200)
                ++ok;
        });
    for (auto& t : clients) t.join();
    const auto elapsed = ms_since(start);
    BOOST_TEST(ok.load() == 64);
    BOOST_TEST(elapsed >= 300);
    BOOST_TEST(elapsed < 3000);  // one at a time would be 19.2 s
}

BOOST_AUTO_TEST_CASE(keep_alive_serves_several_requests_per_connection) {
    auto s = server(options());
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), s->port()));
    for (int i = 0; i < 3; ++i) {
        http::request<http::string_body> req{http::verb::post, "/v1/chat/completions", 11};
        req.set(http::field::host, "127.0.0.1");
        req.body() = chat(jpeg_of(items[3].code, 200, 80), 1, 0.5);
        req.prepare_payload();
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        BOOST_TEST(res.result_int() == 200u);
        BOOST_TEST(res.keep_alive());
    }
    BOOST_TEST(s->stats().per_item.at(items[3].id) == 3u);
    s->stop();
    s->stop();  // idempotent
}

BOOST_AUTO_TEST_SUITE_END()

// ---- the Batch API -------------------------------------------------------------------------

namespace {

const std::string kBoundary = "seke-test-boundary";

std::string multipart(const std::string& purpose, const std::string& file) {
    std::string body = "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n" + purpose +
                       "\r\n--" + kBoundary +
                       "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n"
                       "Content-Type: application/octet-stream\r\n\r\n" +
                       file + "\r\n--" + kBoundary + "--\r\n";
    return body;
}

const std::string kMultipartType = "multipart/form-data; boundary=" + kBoundary;

std::string batch_line(const std::string& custom_id, const std::string& body) {
    return nlohmann::json{{"custom_id", custom_id},
                          {"method", "POST"},
                          {"url", "/v1/chat/completions"},
                          {"body", nlohmann::json::parse(body)}}
        .dump();
}

nlohmann::json parsed(const FakeReply& reply) {
    return nlohmann::json::parse(reply.body, nullptr, false);
}

// Uploads `file`, makes a batch of it and returns the batch object.
nlohmann::json submit_batch(FakeVllmServer& s, const std::string& file) {
    auto uploaded = s.handle("POST", "/v1/files", multipart("batch", file), kMultipartType);
    BOOST_TEST_REQUIRE(uploaded.status == 200, uploaded.body);
    const auto file_id = parsed(uploaded).at("id").get<std::string>();
    nlohmann::json create{
        {"input_file_id", file_id}, {"endpoint", "/v1/chat/completions"}, {"completion_window", "24h"}};
    auto made = s.handle("POST", "/v1/batches", create.dump());
    BOOST_TEST_REQUIRE(made.status == 200, made.body);
    return parsed(made);
}

std::vector<nlohmann::json> file_lines(FakeVllmServer& s, const nlohmann::json& id) {
    std::vector<nlohmann::json> lines;
    if (!id.is_string()) return lines;
    auto content = s.handle("GET", "/v1/files/" + id.get<std::string>() + "/content", "");
    BOOST_TEST_REQUIRE(content.status == 200);
    std::size_t start = 0;
    while (start < content.body.size()) {
        auto end = content.body.find('\n', start);
        if (end == std::string::npos) end = content.body.size();
        if (end > start) lines.push_back(nlohmann::json::parse(content.body.substr(start, end - start)));
        start = end + 1;
    }
    return lines;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(fake_vllm_batch, Fixture)

BOOST_AUTO_TEST_CASE(a_batch_answers_each_line_as_the_online_endpoint_answers_its_body) {
    const auto& item = easiest();
    const std::string first = chat(jpeg_of(item.code, 256, 90), 3, 0.7);
    const std::string second = chat(jpeg_of(items[1].code, 256, 90), 2, 0.7);
    FakeVllmServer batch(options(), TruthTable(items)), online(options(), TruthTable(items));

    auto made = submit_batch(batch, batch_line("a", first) + "\n" + batch_line("b", second) + "\n");
    BOOST_TEST(made["status"] == "validating");
    auto status = parsed(batch.handle("GET", "/v1/batches/" + made["id"].get<std::string>(), ""));
    BOOST_TEST_REQUIRE(status["status"] == "completed", status.dump());
    BOOST_TEST(status["request_counts"]["completed"] == 2);
    BOOST_TEST(status["error_file_id"].is_null());
    auto out = file_lines(batch, status["output_file_id"]);
    BOOST_TEST_REQUIRE(out.size() == 2u);
    const auto expect_a = parsed(online.handle("POST", "/v1/chat/completions", first));
    const auto expect_b = parsed(online.handle("POST", "/v1/chat/completions", second));
    BOOST_TEST(out[0]["custom_id"] == "a");
    BOOST_TEST(out[0]["error"].is_null());
    BOOST_TEST(out[0]["response"]["status_code"] == 200);
    BOOST_TEST(out[0]["response"]["body"]["choices"] == expect_a["choices"]);
    BOOST_TEST(out[0]["response"]["body"]["usage"] == expect_a["usage"]);
    BOOST_TEST(out[1]["response"]["body"]["choices"] == expect_b["choices"]);
    const auto stats = batch.stats();
    BOOST_TEST(stats.batches == 1u);
    BOOST_TEST(stats.batch_lines == 2u);
    BOOST_TEST(stats.per_item.at(item.id) == 1u);  // each line is one model request
}

BOOST_AUTO_TEST_CASE(a_batch_waits_its_delay_and_a_cancelled_one_answers_nothing) {
    auto o = options();
    o.batch_delay_ms = 60'000;
    FakeVllmServer s(o, TruthTable(items));
    const std::string body = chat(jpeg_of(easiest().code, 256, 90), 1, 0.7);
    auto made = submit_batch(s, batch_line("only", body) + "\n");
    const std::string id = made["id"].get<std::string>();
    BOOST_TEST(parsed(s.handle("GET", "/v1/batches/" + id, ""))["status"] == "in_progress");
    auto cancelled = parsed(s.handle("POST", "/v1/batches/" + id + "/cancel", ""));
    BOOST_TEST(cancelled["status"] == "cancelled");
    BOOST_TEST(cancelled["output_file_id"].is_null());
    BOOST_TEST(s.stats().per_item.empty());
}

BOOST_AUTO_TEST_CASE(failed_lines_go_to_the_error_file_or_come_back_as_500_lines_without_reaching_the_model) {
    auto o = options();
    o.batch_fail = 1.0;
    FakeVllmServer s(o, TruthTable(items));
    std::string file;
    for (int i = 0; i < 20; ++i)
        file += batch_line("id" + std::to_string(i), chat(jpeg_of(items[0].code, 256, 90), 1, 0.7)) + "\n";
    auto made = submit_batch(s, file);
    auto status = parsed(s.handle("GET", "/v1/batches/" + made["id"].get<std::string>(), ""));
    BOOST_TEST_REQUIRE(status["status"] == "completed");
    BOOST_TEST(status["request_counts"]["failed"] == 20);
    auto out = file_lines(s, status["output_file_id"]);
    auto errors = file_lines(s, status["error_file_id"]);
    BOOST_TEST(out.size() + errors.size() == 20u);
    BOOST_TEST(!out.empty());
    BOOST_TEST(!errors.empty());
    for (const auto& line : out) BOOST_TEST(line["response"]["status_code"] == 500);
    for (const auto& line : errors) BOOST_TEST(line["error"]["code"] == "server_error");
    BOOST_TEST(s.stats().per_item.empty());
    BOOST_TEST(s.stats().batch_failed_lines == 20u);
}

BOOST_AUTO_TEST_CASE(wrong_batch_requests_get_4xx_and_bad_lines_fail_the_batch) {
    FakeVllmServer s(options(), TruthTable(items));
    BOOST_TEST(s.handle("POST", "/v1/files", "not multipart", "text/plain").status == 400);
    BOOST_TEST(s.handle("POST", "/v1/files", multipart("fine-tune", "{}"), kMultipartType).status == 400);
    BOOST_TEST(s.handle("POST", "/v1/files", "--" + kBoundary + "\r\nbroken", kMultipartType).status == 400);
    BOOST_TEST(s.handle("POST", "/v1/batches", "[]").status == 400);
    BOOST_TEST(s.handle("POST", "/v1/batches", R"({"input_file_id":7})").status == 400);
    BOOST_TEST(s.handle("POST", "/v1/batches",
                        R"({"input_file_id":"file-none","endpoint":"/v1/chat/completions","completion_window":"24h"})")
                   .status == 404);
    BOOST_TEST(s.handle("POST", "/v1/batches",
                        R"({"input_file_id":"x","endpoint":"/v1/embeddings","completion_window":"24h"})")
                   .status == 400);
    BOOST_TEST(s.handle("GET", "/v1/batches/batch_none", "").status == 404);
    BOOST_TEST(s.handle("GET", "/v1/files/file-none/content", "").status == 404);
    BOOST_TEST(s.handle("DELETE", "/v1/batches", "").status == 405);

    const std::string good = batch_line("a", chat(jpeg_of(items[0].code, 256, 90), 1, 0.7));
    for (const std::string& bad :
         {std::string("not json"),
          std::string(R"({"custom_id":5,"method":"POST","url":"/v1/chat/completions","body":{}})"),
          std::string(R"({"custom_id":"a","method":"GET","url":"/v1/chat/completions","body":{}})"),
          std::string(R"({"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":"text"})"),
          good /* the same custom_id twice */, std::string("[1,2]")}) {
        auto made = submit_batch(s, good + "\n" + bad + "\n");
        BOOST_TEST(made["status"] == "failed", bad);
        BOOST_TEST(made["errors"]["data"].size() >= 1u);
    }
    BOOST_TEST(submit_batch(s, "\n\n")["status"] == "failed");  // no requests
    BOOST_TEST(s.stats().per_item.empty());
}

BOOST_AUTO_TEST_SUITE_END()
