#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "tests/unit/connectors/label_studio_test_helpers.hpp"

using namespace seke;
using namespace seke::test::ls;
using seke::test::HttpReply;
using seke::test::HttpRequest;
using seke::test::ScriptedHttpServer;

BOOST_AUTO_TEST_SUITE(ls_media_settings)

BOOST_AUTO_TEST_CASE(token_kinds) {
    BOOST_TEST((classify_label_studio_token("") == LabelStudioTokenKind::none));
    BOOST_TEST((classify_label_studio_token(kLegacyKey) == LabelStudioTokenKind::legacy));
    BOOST_TEST((classify_label_studio_token("a.b.c") == LabelStudioTokenKind::legacy));
    BOOST_TEST((classify_label_studio_token(access_token("x")) == LabelStudioTokenKind::jwt));
    BOOST_TEST((classify_label_studio_token(refresh_token()) == LabelStudioTokenKind::refresh));
    // A header without "alg" is not a JWT.
    BOOST_TEST((classify_label_studio_token(b64url(R"({"typ":"JWT"})") + ".e30.x") == LabelStudioTokenKind::legacy));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ls_media_auth)

namespace {

HttpReply image_reply() {
    return HttpReply::text("IMAGEBYTES");
}

}  // namespace

BOOST_AUTO_TEST_CASE(legacy_key_sends_token_scheme) {
    ScriptedHttpServer ls([](const HttpRequest&) { return image_reply(); });
    LabelStudioClient client(settings_for(ls), small_limits());
    BOOST_TEST((client.token_kind() == LabelStudioTokenKind::legacy));
    auto bytes = client.fetch_task_media("/data/upload/1/a.jpg", 5);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), error_text(bytes));
    BOOST_TEST(*bytes == "IMAGEBYTES");
    auto requests = ls.requests();
    BOOST_REQUIRE_EQUAL(requests.size(), 1u);
    BOOST_TEST(requests[0].header("Authorization") == "Token " + kLegacyKey);
}

BOOST_AUTO_TEST_CASE(plain_jwt_is_sent_as_bearer_without_exchange) {
    ScriptedHttpServer ls([](const HttpRequest&) { return image_reply(); });
    std::string jwt = access_token("plain");
    LabelStudioClient client(settings_for(ls, jwt), small_limits());
    BOOST_REQUIRE(client.fetch_task_media("/data/upload/1/a.jpg", 5).ok());
    auto requests = ls.requests();
    BOOST_REQUIRE_EQUAL(requests.size(), 1u);
    BOOST_TEST(requests[0].header("Authorization") == "Bearer " + jwt);
}

BOOST_AUTO_TEST_CASE(refresh_token_is_exchanged_once_and_cached) {
    std::string pat = refresh_token();
    std::string access = access_token("a1");
    ScriptedHttpServer ls([&](const HttpRequest& r) {
        if (r.path() == "/api/token/refresh/") return HttpReply::json(nlohmann::json{{"access", access}}.dump());
        return image_reply();
    });
    LabelStudioClient client(settings_for(ls, pat), small_limits());
    BOOST_TEST((client.token_kind() == LabelStudioTokenKind::refresh));
    BOOST_REQUIRE(client.fetch_task_media("/data/upload/1/a.jpg", 5).ok());
    BOOST_REQUIRE(client.fetch_task_media("/data/upload/1/b.jpg", 5).ok());
    auto requests = ls.requests();
    BOOST_REQUIRE_EQUAL(requests.size(), 3u);
    BOOST_TEST(requests[0].method == "POST");
    BOOST_TEST(requests[0].path() == "/api/token/refresh/");
    BOOST_TEST(requests[0].header("Authorization").empty());
    BOOST_TEST(requests[0].header("Content-Type") == "application/json");
    auto body = nlohmann::json::parse(requests[0].body);
    BOOST_TEST(body == (nlohmann::json{{"refresh", pat}}));
    BOOST_TEST(requests[1].header("Authorization") == "Bearer " + access);
    BOOST_TEST(requests[2].header("Authorization") == "Bearer " + access);
}

BOOST_AUTO_TEST_CASE(access_token_close_to_expiry_is_refreshed) {
    int issued = 0;
    ScriptedHttpServer ls([&](const HttpRequest& r) {
        if (r.path() == "/api/token/refresh/")
            return HttpReply::json(nlohmann::json{{"access", access_token("a" + std::to_string(++issued), 10)}}.dump());
        return image_reply();
    });
    LabelStudioClient client(settings_for(ls, refresh_token()), small_limits());
    BOOST_REQUIRE(client.fetch_task_media("/data/upload/1/a.jpg", 5).ok());
    BOOST_REQUIRE(client.fetch_task_media("/data/upload/1/b.jpg", 5).ok());
    BOOST_TEST(issued == 2);  // 10 s left is under the 30 s margin
}

BOOST_AUTO_TEST_CASE(a_401_triggers_one_refresh_and_retry) {
    std::string first = access_token("revoked");
    std::string second = access_token("good");
    int issued = 0;
    ScriptedHttpServer ls([&](const HttpRequest& r) {
        if (r.path() == "/api/token/refresh/")
            return HttpReply::json(nlohmann::json{{"access", issued++ == 0 ? first : second}}.dump());
        if (r.header("Authorization") != "Bearer " + second) return HttpReply::json(R"({"detail":"invalid"})", 401);
        return image_reply();
    });
    LabelStudioClient client(settings_for(ls, refresh_token()), small_limits());
    auto bytes = client.fetch_task_media("/storage-data/uploaded/?filepath=upload/1/a.jpg", 5);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), error_text(bytes));
    BOOST_TEST(issued == 2);
    BOOST_TEST(ls.request_count() == 4u);  // refresh, 401, refresh, 200
}

BOOST_AUTO_TEST_CASE(expired_or_refused_personal_token_is_unauthorized) {
    ScriptedHttpServer ls([](const HttpRequest& r) {
        if (r.path() == "/api/token/refresh/") return HttpReply::json(R"({"detail":"Token is blacklisted"})", 401);
        return image_reply();
    });
    {
        LabelStudioClient client(settings_for(ls, refresh_token(-60)), small_limits());
        auto bytes = client.fetch_task_media("/data/upload/1/a.jpg", 5);
        BOOST_REQUIRE(!bytes.ok());
        BOOST_TEST((bytes.error().code == errc::unauthorized));
        BOOST_TEST(ls.request_count() == 0u);  // known expired: not even sent
    }
    std::string pat = refresh_token();
    LabelStudioClient client(settings_for(ls, pat), small_limits());
    auto bytes = client.fetch_task_media("/data/upload/1/a.jpg", 5);
    BOOST_REQUIRE(!bytes.ok());
    BOOST_TEST((bytes.error().code == errc::unauthorized));
    BOOST_TEST(bytes.error().message.find(pat) == std::string::npos);  // never echo the secret
}

BOOST_AUTO_TEST_CASE(concurrent_callers_share_one_exchange) {
    std::atomic<int> issued{0};
    ScriptedHttpServer ls(
        [&](const HttpRequest& r) {
            if (r.path() == "/api/token/refresh/") {
                ++issued;
                return HttpReply::json(nlohmann::json{{"access", access_token("shared")}}.dump()).with_delay(50);
            }
            return image_reply();
        },
        4);
    LabelStudioClient client(settings_for(ls, refresh_token()), small_limits());
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 6; ++i)
        threads.emplace_back([&, i] {
            if (client.fetch_task_media("/data/upload/1/" + std::to_string(i) + ".jpg", 5).ok()) ++ok;
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(ok.load() == 6);
    BOOST_TEST(issued.load() == 1);
}

BOOST_AUTO_TEST_CASE(header_goes_only_to_the_ls_origin) {
    ScriptedHttpServer ls([](const HttpRequest&) { return image_reply(); });
    ScriptedHttpServer other([](const HttpRequest&) { return image_reply(); });
    LabelStudioClient client(settings_for(ls), small_limits());
    // Same host (127.0.0.1), other port: a different origin.
    BOOST_REQUIRE(client.fetch_task_media(other.base_url() + "/img.jpg", std::nullopt).ok());
    BOOST_REQUIRE(client.fetch_task_media(ls.base_url() + "/data/upload/1/abs.jpg", std::nullopt).ok());
    BOOST_REQUIRE_EQUAL(other.request_count(), 1u);
    BOOST_TEST(other.requests()[0].header("Authorization").empty());
    BOOST_REQUIRE_EQUAL(ls.request_count(), 1u);
    BOOST_TEST(ls.requests()[0].header("Authorization") == "Token " + kLegacyKey);
}

BOOST_AUTO_TEST_CASE(redirect_to_another_host_drops_the_header) {
    ScriptedHttpServer other([](const HttpRequest&) { return image_reply(); });
    ScriptedHttpServer ls([&](const HttpRequest& r) {
        if (r.path() == "/go")
            return HttpReply::text("", 302).with_header("Location", other.base_url() + "/landed.jpg");
        if (r.path() == "/inside") return HttpReply::text("", 301).with_header("Location", "/go");
        return HttpReply::text("", 404);
    });
    LabelStudioClient client(settings_for(ls), small_limits());
    auto bytes = client.fetch_task_media(ls.base_url() + "/inside", std::nullopt);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), error_text(bytes));
    BOOST_TEST(*bytes == "IMAGEBYTES");
    auto ls_requests = ls.requests();
    BOOST_REQUIRE_EQUAL(ls_requests.size(), 2u);
    BOOST_TEST(ls_requests[1].header("Authorization") == "Token " + kLegacyKey);  // LS-internal hop keeps it
    BOOST_REQUIRE_EQUAL(other.request_count(), 1u);
    BOOST_TEST(other.requests()[0].header("Authorization").empty());
}

BOOST_AUTO_TEST_CASE(redirect_back_to_ls_after_leaving_it_carries_no_header) {
    ScriptedHttpServer ls([](const HttpRequest&) { return image_reply(); });
    ScriptedHttpServer other([&](const HttpRequest&) {
        return HttpReply::text("", 302).with_header("Location", ls.base_url() + "/api/projects/");
    });
    LabelStudioClient client(settings_for(ls), small_limits());
    BOOST_REQUIRE(client.fetch_task_media(other.base_url() + "/x.jpg", std::nullopt).ok());
    BOOST_REQUIRE_EQUAL(ls.request_count(), 1u);
    BOOST_TEST(ls.requests()[0].header("Authorization").empty());
}

BOOST_AUTO_TEST_SUITE_END()
