#include <boost/test/unit_test.hpp>

#include <curl/curl.h>

#include <memory>
#include <thread>

#include "tests/support/scripted_http_server.hpp"

using seke::test::HttpReply;
using seke::test::HttpRequest;
using seke::test::ScriptedHttpServer;

namespace {

struct Fetched {
    long status = 0;
    std::string body;
    std::string headers;
    CURLcode code = CURLE_OK;
};

std::size_t append(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

Fetched fetch(const std::string& url, const std::string& post = {}, long timeout_ms = 3000) {
    Fetched out;
    CURL* h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &append);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &out.headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_slist* headers = curl_slist_append(nullptr, "X-Test: one");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (!post.empty()) curl_easy_setopt(h, CURLOPT_POSTFIELDS, post.c_str());
    out.code = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connectors_scripted_server)

BOOST_AUTO_TEST_CASE(answers_and_records) {
    ScriptedHttpServer server([](const HttpRequest& request) {
        if (request.path() == "/teapot") return HttpReply::text("short and stout", 418).with_header("X-Kind", "tea");
        return HttpReply::json(R"({"echo":")" + request.body + "\"}");
    });
    auto a = fetch(server.base_url() + "/echo?x=1", "hello");
    BOOST_TEST(a.code == CURLE_OK);
    BOOST_TEST(a.status == 200);
    BOOST_TEST(a.body == R"({"echo":"hello"})");
    BOOST_TEST(a.headers.find("application/json") != std::string::npos);
    auto b = fetch(server.base_url() + "/teapot");
    BOOST_TEST(b.status == 418);
    BOOST_TEST(b.headers.find("X-Kind: tea") != std::string::npos);

    auto requests = server.requests();
    BOOST_REQUIRE(requests.size() == 2u);
    BOOST_TEST(requests[0].method == "POST");
    BOOST_TEST(requests[0].target == "/echo?x=1");
    BOOST_TEST(requests[0].path() == "/echo");
    BOOST_TEST(requests[0].body == "hello");
    BOOST_TEST(requests[0].header("x-test") == "one");
    BOOST_TEST(requests[0].header("X-TEST") == "one");
    BOOST_TEST(requests[1].method == "GET");
    BOOST_TEST(requests[1].index == 1);
    server.clear_requests();
    BOOST_TEST(server.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(delay_hang_and_drop) {
    ScriptedHttpServer server([](const HttpRequest& request) {
        HttpReply reply = HttpReply::json("{}");
        if (request.path() == "/delay") reply.delay_ms = 200;
        if (request.path() == "/hang") reply.hang = true;
        if (request.path() == "/drop") reply.drop = true;
        return reply;
    });
    auto started = std::chrono::steady_clock::now();
    BOOST_TEST(fetch(server.base_url() + "/delay").status == 200);
    BOOST_TEST((std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(190)));
    BOOST_TEST(fetch(server.base_url() + "/hang", {}, 200).code == CURLE_OPERATION_TIMEDOUT);
    BOOST_TEST(server.wait_for([](const ScriptedHttpServer& s) { return s.open_requests() == 0; }));
    BOOST_TEST(fetch(server.base_url() + "/drop").code == CURLE_GOT_NOTHING);
    BOOST_TEST(server.max_open_requests() == 1);
}

BOOST_AUTO_TEST_CASE(stop_with_a_hanging_request) {
    auto server = std::make_unique<ScriptedHttpServer>([](const HttpRequest&) {
        HttpReply reply;
        reply.hang = true;
        return reply;
    });
    std::string url = server->base_url() + "/";
    std::thread client([url] { fetch(url, {}, 5000); });
    BOOST_REQUIRE(server->wait_for([](const ScriptedHttpServer& s) { return s.open_requests() == 1; }));
    auto started = std::chrono::steady_clock::now();
    server.reset();
    client.join();
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(3)));
}

BOOST_AUTO_TEST_SUITE_END()
