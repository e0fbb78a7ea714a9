#include "plugin/server/http_types.hpp"  // first: the header is self-contained

#include <cmath>
#include <limits>
#include <set>

#include <boost/test/unit_test.hpp>

using namespace seke;
using namespace seke::server;

BOOST_AUTO_TEST_SUITE(server_types)

BOOST_AUTO_TEST_CASE(status_mapping_covers_every_errc) {
    BOOST_TEST(http_status(errc::invalid_argument) == 400);
    BOOST_TEST(http_status(errc::bad_json) == 400);
    BOOST_TEST(http_status(errc::config_error) == 400);
    BOOST_TEST(http_status(errc::unauthorized) == 401);
    BOOST_TEST(http_status(errc::forbidden) == 403);
    BOOST_TEST(http_status(errc::not_found) == 404);
    BOOST_TEST(http_status(errc::method_not_allowed) == 405);
    BOOST_TEST(http_status(errc::payload_too_large) == 413);
    BOOST_TEST(http_status(errc::unsupported_media) == 415);
    BOOST_TEST(http_status(errc::image_error) == 422);
    BOOST_TEST(http_status(errc::no_face) == 422);
    BOOST_TEST(http_status(errc::malformed_answer) == 422);
    BOOST_TEST(http_status(errc::upstream_error) == 502);
    BOOST_TEST(http_status(errc::upstream_timeout) == 504);
    BOOST_TEST(http_status(errc::cancelled) == 503);
    BOOST_TEST(http_status(errc::overloaded) == 503);
    BOOST_TEST(http_status(errc::io_error) == 500);
    BOOST_TEST(http_status(errc::internal) == 500);
}

BOOST_AUTO_TEST_CASE(error_response_has_the_one_shape) {
    auto response = error_response(make_error(errc::no_face, "no face found"), "req-1");
    BOOST_TEST(response.status == 422);
    BOOST_TEST(response.header("content-type") == "application/json");
    BOOST_TEST(response.header("X-REQUEST-ID") == "req-1");
    auto body = nlohmann::json::parse(response.body);
    BOOST_TEST(body["error"]["code"] == "no_face");
    BOOST_TEST(body["error"]["message"] == "no face found");
    BOOST_TEST(body["request_id"] == "req-1");
    BOOST_TEST(body.size() == 2u);
}

BOOST_AUTO_TEST_CASE(json_response_never_emits_nan_or_bad_utf8) {
    nlohmann::json body = {{"score", std::numeric_limits<double>::quiet_NaN()},
                           {"inf", std::numeric_limits<double>::infinity()},
                           {"path", std::string("/caf\xC3")}};  // truncated UTF-8 from the network
    auto response = json_response(200, body);
    BOOST_TEST(response.body.find("NaN") == std::string::npos);
    BOOST_TEST(response.body.find("Infinity") == std::string::npos);
    auto parsed = nlohmann::json::parse(response.body);
    BOOST_TEST(parsed["score"].is_null());
    BOOST_TEST(parsed["inf"].is_null());
    BOOST_TEST(parsed["path"].get<std::string>().starts_with("/caf"));
}

BOOST_AUTO_TEST_CASE(percent_decoding_and_queries) {
    BOOST_TEST(*percent_decode("/a%20b/%41+c", false) == "/a b/A+c");
    BOOST_TEST(*percent_decode("a+b", true) == "a b");
    BOOST_TEST(!percent_decode("%zz", false).has_value());
    BOOST_TEST(!percent_decode("abc%4", false).has_value());
    BOOST_TEST(!percent_decode("abc%", false).has_value());
    BOOST_TEST(!percent_decode("a%00b", false).has_value());

    auto query = parse_query("a=1&b=x%20y&a=2&flag&&c=");
    BOOST_REQUIRE(query.has_value());
    BOOST_TEST(query->count("a") == 2u);
    BOOST_TEST(query->find("b")->second == "x y");
    BOOST_TEST(query->find("flag")->second == "");
    BOOST_TEST(query->find("c")->second == "");
    BOOST_TEST(!parse_query("a=%G1").has_value());

    HttpRequest request;
    request.query = *query;
    BOOST_TEST(*request.query_param("a") == "1");
    BOOST_TEST(!request.query_param("missing").has_value());
}

BOOST_AUTO_TEST_CASE(request_ids) {
    BOOST_TEST(is_sane_request_id("abc-123_X.y:z"));
    BOOST_TEST(!is_sane_request_id(""));
    BOOST_TEST(!is_sane_request_id("has space"));
    BOOST_TEST(!is_sane_request_id("quote\""));
    BOOST_TEST(!is_sane_request_id(std::string(129, 'a')));
    std::set<std::string> ids;
    for (int i = 0; i < 100; ++i) {
        auto id = make_request_id();
        BOOST_TEST(id.size() == 32u);
        BOOST_TEST(is_sane_request_id(id));
        ids.insert(id);
    }
    BOOST_TEST(ids.size() == 100u);
}

BOOST_AUTO_TEST_CASE(headers_are_case_insensitive) {
    HttpRequest request;
    request.headers["x-thing"] = "v";
    BOOST_TEST(request.header("X-Thing") == "v");
    BOOST_TEST(request.has_header("X-THING"));
    BOOST_TEST(request.header("absent") == "");

    HttpResponse response;
    response.set_header("Content-Type", "a").set_header("content-type", "b");
    BOOST_TEST(response.headers.size() == 1u);
    BOOST_TEST(response.header("CONTENT-TYPE") == "b");
}

BOOST_AUTO_TEST_SUITE_END()
