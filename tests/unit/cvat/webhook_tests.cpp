// POST /cvat/webhook on a real HttpServer: signatures, events, the background sync.
#include <chrono>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "plugin/cvat/webhook.hpp"
#include "plugin/server/http_server.hpp"
#include "tests/unit/cvat/cvat_test_util.hpp"

using namespace seke;
using nlohmann::json;

namespace {

struct WebhookServer {
    std::unique_ptr<cvat::CvatWebhook> webhook;
    std::unique_ptr<server::HttpServer> http;
    std::string url;

    WebhookServer(test::ReviewedTaskFixture& f, const std::string& secret) {
        CvatSettings settings = f.client->settings();
        settings.webhook_secret = secret;
        webhook = std::make_unique<cvat::CvatWebhook>(settings, test::test_knowledge(), *f.store);
        server::Router router;
        webhook->add_routes(router);
        server::ServerOptions options;
        options.port = 0;
        http = std::make_unique<server::HttpServer>(options, std::move(router));
        auto port = http->start();
        BOOST_REQUIRE(port);
        url = "http://127.0.0.1:" + std::to_string(*port) + "/cvat/webhook";
    }
    ~WebhookServer() {
        http->stop(std::chrono::seconds(1));
        webhook->shutdown();
    }
    void wait_idle() {
        for (int i = 0; i < 500 && webhook->pending_syncs() > 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        BOOST_TEST(webhook->pending_syncs() == 0u);
    }
};

json body_of(const test::HttpResult& r) {
    return json::parse(r.body, nullptr, false);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cvat_webhook)

BOOST_AUTO_TEST_CASE(events_are_parsed_at_the_edge) {
    auto completed = cvat::parse_webhook_event(
        R"({"event":"update:job","job":{"id":5,"state":"completed","stage":"annotation"},"before_update":{"state":"in progress"}})");
    BOOST_TEST_REQUIRE(completed.ok());
    BOOST_TEST(cvat::asks_for_sync(*completed));
    auto accepted = cvat::parse_webhook_event(
        R"({"event":"update:job","job":{"id":5,"state":"in progress","stage":"acceptance"},"before_update":{"stage":"validation"}})");
    BOOST_TEST(cvat::asks_for_sync(*accepted));
    auto saved = cvat::parse_webhook_event(
        R"({"event":"update:job","job":{"id":5,"state":"completed"},"before_update":{"updated_date":"x"}})");
    BOOST_TEST(!cvat::asks_for_sync(*saved));
    auto reopened = cvat::parse_webhook_event(
        R"({"event":"update:job","job":{"id":5,"state":"in progress","stage":"annotation"},"before_update":{"state":"completed"}})");
    BOOST_TEST(!cvat::asks_for_sync(*reopened));
    BOOST_TEST(!cvat::asks_for_sync(*cvat::parse_webhook_event(R"({"event":"update:task","task":{"id":1}})")));
    BOOST_TEST(cvat::parse_webhook_event("[1]").error().code == errc::bad_json);
    BOOST_TEST(cvat::parse_webhook_event("{").error().code == errc::bad_json);
    BOOST_TEST(cvat::parse_webhook_event(R"({"event":3})").error().code == errc::bad_json);
    // Nested past kMaxJsonDepth: refused before parsing (a copy of it would overflow the stack).
    const std::string deep = R"({"event":"ping","x":)" + std::string(200'000, '[') + std::string(200'000, ']') + "}";
    BOOST_TEST(cvat::parse_webhook_event(deep).error().code == errc::bad_json);
    BOOST_TEST(cvat::webhook_signature("s", "b").rfind("sha256=", 0) == 0u);
}

BOOST_AUTO_TEST_CASE(signed_completion_syncs_in_the_background_and_redelivery_changes_nothing) {
    test::ReviewedTaskFixture f;
    long long shape = f.seed_frame(0);
    f.seed_frame(1);
    f.fake.set_attribute(shape, "expression", "sad");
    f.fake.delete_shape(f.shape_ids[1]);
    f.fake.set_job_status(f.job, "completed", "annotation");
    WebhookServer server(f, "hook-secret");

    std::string event = f.fake.update_job_event(f.job, {{"state", "in progress"}}).dump();
    auto delivered = test::FakeCvat::deliver_webhook(server.url, event, "hook-secret");
    BOOST_TEST(delivered.status == 200);
    BOOST_TEST(body_of(delivered)["status"] == "queued");
    server.wait_idle();
    BOOST_TEST(f.record(f.face_ids[0])["status"] == "corrected");
    BOOST_TEST(f.record(f.face_ids[0])["labels"]["expression"] == "sad");
    BOOST_TEST(f.record(f.face_ids[1])["status"] == "rejected");
    std::string first = f.store->face(f.face_ids[0])->value().record_json;

    auto redelivered = test::FakeCvat::deliver_webhook(server.url, event, "hook-secret");
    BOOST_TEST(redelivered.status == 200);
    server.wait_idle();
    BOOST_TEST(f.store->face(f.face_ids[0])->value().record_json == first);
}

BOOST_AUTO_TEST_CASE(unsigned_or_badly_signed_deliveries_are_refused) {
    test::ReviewedTaskFixture f;
    f.seed_frame(0);
    f.fake.set_attribute(f.shape_ids[0], "expression", "sad");
    WebhookServer server(f, "hook-secret");
    f.fake.set_job_status(f.job, "completed", "annotation");
    std::string event = f.fake.update_job_event(f.job, {{"state", "in progress"}}).dump();

    auto missing = test::FakeCvat::deliver_webhook(server.url, event, "");
    BOOST_TEST(missing.status == 401);
    BOOST_TEST(body_of(missing)["error"]["code"] == "unauthorized");
    auto wrong = test::FakeCvat::deliver_webhook(server.url, event, "another-secret");
    BOOST_TEST(wrong.status == 403);
    auto tampered = test::http_request("POST", server.url, event + " ",
                                       {"X-Signature-256: " + cvat::webhook_signature("hook-secret", event)});
    BOOST_TEST(tampered.status == 403);
    server.wait_idle();
    BOOST_TEST(f.record(f.face_ids[0])["status"] == "auto");  // nothing ran

    auto ping = test::FakeCvat::deliver_webhook(server.url, R"({"event":"ping","webhook":{"id":1}})", "hook-secret");
    BOOST_TEST(ping.status == 200);
    BOOST_TEST(body_of(ping)["status"] == "pong");
    auto saved_only = test::FakeCvat::deliver_webhook(
        server.url, f.fake.update_job_event(f.job, {{"updated_date", "2025-01-01"}}).dump(), "hook-secret");
    BOOST_TEST(saved_only.status == 200);
    BOOST_TEST(body_of(saved_only)["status"] == "ignored");
    auto task_event =
        test::FakeCvat::deliver_webhook(server.url, R"({"event":"update:task","task":{"id":1}})", "hook-secret");
    BOOST_TEST(body_of(task_event)["status"] == "ignored");
    auto not_json = test::FakeCvat::deliver_webhook(server.url, "{not json", "hook-secret");
    BOOST_TEST(not_json.status == 400);
    BOOST_TEST(body_of(not_json)["error"]["code"] == "bad_json");
    server.wait_idle();
    BOOST_TEST(f.record(f.face_ids[0])["status"] == "auto");
}

BOOST_AUTO_TEST_CASE(without_a_secret_deliveries_are_taken_unsigned) {
    test::ReviewedTaskFixture f;
    f.seed_frame(0);
    f.fake.set_job_status(f.job, "in progress", "acceptance");
    WebhookServer server(f, "");
    auto delivered = test::FakeCvat::deliver_webhook(
        server.url, f.fake.update_job_event(f.job, {{"stage", "validation"}}).dump(), "");
    BOOST_TEST(delivered.status == 200);
    server.wait_idle();
    BOOST_TEST(f.record(f.face_ids[0])["status"] == "accepted");
}

BOOST_AUTO_TEST_SUITE_END()
