#include "connectors/curl_easy.hpp"  // first: the header is self-contained

#include <boost/test/unit_test.hpp>

#include <string>

#include "tests/support/scripted_http_server.hpp"

using namespace seke;
using seke::test::HttpReply;
using seke::test::HttpRequest;
using seke::test::ScriptedHttpServer;

namespace {

struct Outcome {
    CURLcode code = CURLE_OK;
    long status = 0;
};

Outcome perform(const std::string& url, CurlResponse& response, bool follow_redirects = false) {
    auto handle = make_curl_easy();
    BOOST_TEST_REQUIRE(static_cast<bool>(handle));
    set_transfer_options(handle.get(), url, response, TransferOptions{});
    if (follow_redirects) curl_easy_setopt(handle.get(), CURLOPT_FOLLOWLOCATION, 1L);
    Outcome outcome;
    outcome.code = curl_easy_perform(handle.get());
    curl_easy_getinfo(handle.get(), CURLINFO_RESPONSE_CODE, &outcome.status);
    return outcome;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connectors_curl_easy)

BOOST_AUTO_TEST_CASE(keeps_the_body_and_the_headers_lower_case_and_trimmed) {
    ScriptedHttpServer server([](const HttpRequest&) {
        return HttpReply::text("hello").with_header("Retry-After", "  7 ").with_header("X-Thing", "a");
    });
    CurlResponse response;
    response.max_bytes = 100;
    auto outcome = perform(server.base_url() + "/x", response);
    BOOST_TEST((outcome.code == CURLE_OK));
    BOOST_TEST(outcome.status == 200);
    BOOST_TEST(response.body == "hello");
    BOOST_TEST(response.header("retry-after").value_or("") == "7");
    BOOST_TEST(response.header("x-thing").value_or("") == "a");
    BOOST_TEST(!response.header("X-Thing").has_value());
    BOOST_TEST(server.requests().at(0).header("User-Agent") == "seke/" SEKE_VERSION);
}

BOOST_AUTO_TEST_CASE(only_the_final_response_headers_are_kept) {
    ScriptedHttpServer server([](const HttpRequest& request) {
        if (request.path() == "/first")
            return HttpReply::text("", 302).with_header("Location", "/final").with_header("X-First", "1");
        return HttpReply::text("done").with_header("X-Final", "2");
    });
    CurlResponse response;
    response.max_bytes = 100;
    auto outcome = perform(server.base_url() + "/first", response, true);
    BOOST_TEST((outcome.code == CURLE_OK));
    BOOST_TEST(response.body == "done");
    BOOST_TEST(!response.header("x-first").has_value());
    BOOST_TEST(response.header("x-final").value_or("") == "2");
}

BOOST_AUTO_TEST_CASE(a_body_over_the_cap_aborts_and_reset_starts_afresh) {
    ScriptedHttpServer server([](const HttpRequest&) { return HttpReply::text(std::string(1000, 'x')); });
    CurlResponse response;
    response.max_bytes = 10;
    auto outcome = perform(server.base_url() + "/big", response);
    BOOST_TEST(response.over_cap(outcome.code));
    BOOST_TEST(response.body.size() <= 10u);
    BOOST_TEST(!response.failure(outcome.code).empty());

    response.reset(2000);
    BOOST_TEST(response.body.empty());
    BOOST_TEST(response.headers.empty());
    BOOST_TEST(!response.too_large);
    outcome = perform(server.base_url() + "/big", response);
    BOOST_TEST((outcome.code == CURLE_OK));
    BOOST_TEST(!response.over_cap(outcome.code));
    BOOST_TEST(response.body.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(only_http_and_https_are_fetched) {
    CurlResponse response;
    response.max_bytes = 100;
    auto outcome = perform("file:///etc/hostname", response);
    BOOST_TEST((outcome.code == CURLE_UNSUPPORTED_PROTOCOL));
    BOOST_TEST(response.body.empty());
    BOOST_TEST(!response.failure(outcome.code).empty());
}

BOOST_AUTO_TEST_SUITE_END()
