#include <boost/test/unit_test.hpp>

#include "connectors/ssrf_guard.hpp"
#include "tests/unit/connectors/label_studio_test_helpers.hpp"

using namespace seke;
using namespace seke::test::ls;
using seke::test::HttpReply;
using seke::test::HttpRequest;
using seke::test::ScriptedHttpServer;

BOOST_AUTO_TEST_SUITE(ls_media_ssrf)

BOOST_AUTO_TEST_CASE(address_classes) {
    const std::pair<const char*, AddressKind> cases[] = {
        {"169.254.169.254", AddressKind::metadata},
        {"fd00:ec2::254", AddressKind::metadata},
        {"169.254.1.2", AddressKind::link_local},
        {"fe80::1", AddressKind::link_local},
        {"0.0.0.0", AddressKind::unspecified},
        {"::", AddressKind::unspecified},
        {"224.0.0.1", AddressKind::multicast},
        {"ff02::1", AddressKind::multicast},
        {"255.255.255.255", AddressKind::reserved},
        {"127.0.0.1", AddressKind::loopback},
        {"::1", AddressKind::loopback},
        {"10.1.2.3", AddressKind::private_address},
        {"172.20.0.1", AddressKind::private_address},
        {"192.168.1.1", AddressKind::private_address},
        {"100.64.0.1", AddressKind::private_address},
        {"fd12:3456::1", AddressKind::private_address},
        {"8.8.8.8", AddressKind::public_address},
        {"2001:4860::8888", AddressKind::public_address},
        {"172.32.0.1", AddressKind::public_address},
        {"::ffff:169.254.169.254", AddressKind::metadata},
        {"::ffff:10.0.0.1", AddressKind::private_address},
        {"64:ff9b::a9fe:a9fe", AddressKind::metadata},
        {"[::1]", AddressKind::loopback},
        {"not-an-ip", AddressKind::invalid},
    };
    for (const auto& [address, kind] : cases)
        BOOST_TEST((classify_address(address) == kind),
                   address << " is " << address_kind_name(classify_address(address)));
}

BOOST_AUTO_TEST_CASE(policy_on_addresses) {
    SsrfPolicy open;  // allow_private_hosts = true
    SsrfPolicy closed;
    closed.allow_private_hosts = false;
    for (const char* never : {"169.254.169.254", "fd00:ec2::254", "fe80::1", "0.0.0.0", "::", "224.0.0.251"}) {
        auto error = check_address(never, open);
        BOOST_REQUIRE_MESSAGE(error.has_value(), never);
        BOOST_TEST((error->code == errc::forbidden));
    }
    for (const char* priv : {"127.0.0.1", "10.0.0.1", "192.168.0.10", "::1"}) {
        BOOST_TEST(!check_address(priv, open).has_value(), priv);
        BOOST_TEST(check_address(priv, closed).has_value(), priv);
    }
    BOOST_TEST(!check_address("93.184.216.34", closed).has_value());
}

BOOST_AUTO_TEST_CASE(metadata_names_and_allowlist_need_no_network) {
    SsrfPolicy policy;
    for (const char* name : {"metadata.google.internal", "METADATA.google.internal.", "metadata.goog"}) {
        auto error = check_host_name(name, policy);
        BOOST_REQUIRE_MESSAGE(error.has_value(), name);
        BOOST_TEST(error->message.find("metadata") != std::string::npos);
        // resolve_guarded refuses before any DNS query.
        auto resolved = resolve_guarded(name, policy);
        BOOST_REQUIRE(!resolved.ok());
        BOOST_TEST((resolved.error().code == errc::forbidden));
    }
    SsrfPolicy listed;
    listed.host_allowlist = {"images.example.org", "*.cdn.example"};
    BOOST_TEST(!check_host_name("images.example.org", listed).has_value());
    BOOST_TEST(!check_host_name("a.b.cdn.example", listed).has_value());
    BOOST_TEST(check_host_name("cdn.example", listed).has_value());
    BOOST_TEST(check_host_name("evil.example.org", listed).has_value());
    // A name whose DNS answer mixes a public and a metadata address is refused.
    BOOST_TEST(check_resolved("rebind.example", {"93.184.216.34", "169.254.169.254"}, policy).has_value());
    BOOST_TEST(!check_resolved("fine.example", {"93.184.216.34"}, policy).has_value());
}

BOOST_AUTO_TEST_CASE(client_refuses_metadata_and_link_local_urls) {
    LabelStudioClient client(LabelStudioSettings{}, small_limits());
    for (const char* url : {"http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/",
                            "http://0.0.0.0:1/x", "http://[::ffff:169.254.169.254]/"}) {
        auto bytes = client.fetch_task_media(url, std::nullopt);
        BOOST_REQUIRE_MESSAGE(!bytes.ok(), url);
        BOOST_TEST((bytes.error().code == errc::forbidden), url << ": " << bytes.error().message);
    }
}

BOOST_AUTO_TEST_CASE(private_hosts_refused_by_policy_but_ls_still_reachable) {
    ScriptedHttpServer ls([](const HttpRequest&) { return HttpReply::text("LS"); });
    ScriptedHttpServer other([](const HttpRequest&) { return HttpReply::text("OTHER"); });
    auto settings = settings_for(ls);
    settings.allow_private_hosts = false;
    LabelStudioClient client(settings, small_limits());
    auto refused = client.fetch_task_media(other.base_url() + "/a.jpg", std::nullopt);
    BOOST_REQUIRE(!refused.ok());
    BOOST_TEST((refused.error().code == errc::forbidden));
    BOOST_TEST(refused.error().message.find("private") != std::string::npos, refused.error().message);
    BOOST_TEST(other.request_count() == 0u);
    auto from_ls = client.fetch_task_media("/data/upload/1/a.jpg", std::nullopt);
    BOOST_REQUIRE_MESSAGE(from_ls.ok(), error_text(from_ls));
}

BOOST_AUTO_TEST_CASE(allowlist_limits_other_hosts) {
    ScriptedHttpServer ls([](const HttpRequest&) { return HttpReply::text("LS"); });
    ScriptedHttpServer other([](const HttpRequest&) { return HttpReply::text("OTHER"); });
    auto settings = settings_for(ls);
    settings.host_allowlist = {"images.example.org"};
    {
        LabelStudioClient client(settings, small_limits());
        auto refused = client.fetch_task_media(other.base_url() + "/a.jpg", std::nullopt);
        BOOST_REQUIRE(!refused.ok());
        BOOST_TEST((refused.error().code == errc::forbidden));
        BOOST_TEST(refused.error().message.find("allowlist") != std::string::npos);
        BOOST_TEST(client.fetch_task_media("/data/upload/1/a.jpg", std::nullopt).ok());  // LS is always allowed
    }
    settings.host_allowlist = {"127.0.0.1"};
    LabelStudioClient client(settings, small_limits());
    BOOST_TEST(client.fetch_task_media(other.base_url() + "/a.jpg", std::nullopt).ok());
}

BOOST_AUTO_TEST_CASE(every_redirect_hop_is_checked) {
    ScriptedHttpServer web([](const HttpRequest& r) {
        if (r.path() == "/meta")
            return HttpReply::text("", 302).with_header("Location", "http://169.254.169.254/latest/");
        if (r.path() == "/file") return HttpReply::text("", 302).with_header("Location", "file:///etc/passwd");
        return HttpReply::text("", 302).with_header("Location", "/loop");
    });
    LabelStudioClient client(LabelStudioSettings{}, small_limits());
    auto meta = client.fetch_task_media(web.base_url() + "/meta", std::nullopt);
    BOOST_REQUIRE(!meta.ok());
    BOOST_TEST((meta.error().code == errc::forbidden), meta.error().message);
    auto file = client.fetch_task_media(web.base_url() + "/file", std::nullopt);
    BOOST_REQUIRE(!file.ok());
    BOOST_TEST((file.error().code == errc::forbidden), file.error().message);
    web.clear_requests();
    auto loop = client.fetch_task_media(web.base_url() + "/loop", std::nullopt);
    BOOST_REQUIRE(!loop.ok());
    BOOST_TEST((loop.error().code == errc::upstream_error));
    BOOST_TEST(loop.error().message.find("redirects") != std::string::npos);
    BOOST_TEST(web.request_count() == 6u);  // the first request and 5 redirects
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ls_media_api)

BOOST_AUTO_TEST_CASE(create_prediction_posts_the_documented_body) {
    ScriptedHttpServer ls([](const HttpRequest& r) {
        if (r.method == "POST" && r.path() == "/api/predictions/")
            return HttpReply::json(R"({"id": 99, "task": 7})", 201);
        return HttpReply::text("", 404);
    });
    LabelStudioClient client(settings_for(ls), small_limits());
    nlohmann::json result = nlohmann::json::array(
        {{{"from_name", "emotion"}, {"to_name", "image"}, {"type", "choices"}, {"value", {{"choices", {"happy"}}}}}});
    auto created =
        client.create_prediction(7, {{"result", result}, {"score", 0.25}, {"model_version", "seke-1"}, {"junk", 1}});
    BOOST_REQUIRE_MESSAGE(created.ok(), error_text(created));
    BOOST_TEST((*created)["id"] == 99);
    auto requests = ls.requests();
    BOOST_REQUIRE_EQUAL(requests.size(), 1u);
    BOOST_TEST(requests[0].header("Authorization") == "Token " + kLegacyKey);
    BOOST_TEST(requests[0].header("Content-Type") == "application/json");
    auto body = nlohmann::json::parse(requests[0].body);
    nlohmann::json expected = {{"task", 7}, {"result", result}, {"score", 0.25}, {"model_version", "seke-1"}};
    BOOST_TEST(body == expected, body.dump());
}

BOOST_AUTO_TEST_CASE(create_prediction_with_a_personal_token_uses_the_access_token) {
    std::string access = access_token("p");
    ScriptedHttpServer ls([&](const HttpRequest& r) {
        if (r.path() == "/api/token/refresh/") return HttpReply::json(nlohmann::json{{"access", access}}.dump());
        return HttpReply::json(R"({"id": 1})", 201);
    });
    LabelStudioClient client(settings_for(ls, refresh_token()), small_limits());
    BOOST_REQUIRE(client.create_prediction(3, {{"result", nlohmann::json::array()}}).ok());
    BOOST_TEST(ls.requests().back().header("Authorization") == "Bearer " + access);
}

BOOST_AUTO_TEST_CASE(retries_5xx_and_429_then_succeeds) {
    int calls = 0;
    ScriptedHttpServer ls([&](const HttpRequest&) {
        ++calls;
        if (calls == 1) return HttpReply::json("{}", 503);
        if (calls == 2) return HttpReply::json("{}", 429).with_header("Retry-After", "0");
        return HttpReply::json(R"({"id": 5})", 201);
    });
    LabelStudioClient client(settings_for(ls), small_limits());
    auto created = client.create_prediction(1, {{"result", nlohmann::json::array()}});
    BOOST_REQUIRE_MESSAGE(created.ok(), error_text(created));
    BOOST_TEST(calls == 3);
}

BOOST_AUTO_TEST_CASE(retries_are_bounded_and_4xx_is_not_retried) {
    ScriptedHttpServer ls([](const HttpRequest& r) {
        return r.path() == "/api/predictions/" ? HttpReply::json("{}", 502)
                                               : HttpReply::json(R"({"detail":"bad"})", 400);
    });
    auto settings = settings_for(ls);
    settings.max_retries = 2;
    LabelStudioClient client(settings, small_limits());
    auto created = client.create_prediction(1, {{"result", nlohmann::json::array()}});
    BOOST_REQUIRE(!created.ok());
    BOOST_TEST((created.error().code == errc::upstream_error));
    BOOST_TEST(created.error().message.find("502") != std::string::npos);
    BOOST_TEST(ls.request_count() == 3u);
    ls.clear_requests();
    auto task = client.get_json("/api/tasks/1");
    BOOST_REQUIRE(!task.ok());
    BOOST_TEST(ls.request_count() == 1u);
}

BOOST_AUTO_TEST_CASE(bad_prediction_is_refused_locally) {
    ScriptedHttpServer ls([](const HttpRequest&) { return HttpReply::json("{}", 201); });
    LabelStudioClient client(settings_for(ls), small_limits());
    BOOST_TEST((client.create_prediction(1, {{"score", 0.5}}).error().code == errc::invalid_argument));
    BOOST_TEST((client.create_prediction(1, {{"result", "x"}}).error().code == errc::invalid_argument));
    BOOST_TEST(ls.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(get_json_reads_ls_api) {
    ScriptedHttpServer ls([](const HttpRequest& r) {
        if (r.target == "/api/tasks/12?fields=all")
            return HttpReply::json(R"({"id": 12, "data": {"image": "/data/upload/1/a.jpg"}})");
        return HttpReply::text("not json");
    });
    LabelStudioClient client(settings_for(ls), small_limits());
    auto task = client.get_json("/api/tasks/12?fields=all");
    BOOST_REQUIRE_MESSAGE(task.ok(), error_text(task));
    BOOST_TEST((*task)["data"]["image"] == "/data/upload/1/a.jpg");
    BOOST_TEST(ls.requests()[0].header("Authorization") == "Token " + kLegacyKey);
    BOOST_TEST((client.get_json("/api/other").error().code == errc::bad_json));
    BOOST_TEST((client.get_json("api/tasks/1").error().code == errc::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()
