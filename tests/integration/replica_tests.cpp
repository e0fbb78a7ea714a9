// Two `seke serve` replicas on one PostgreSQL store, as behind a load balancer: a task one
// replica predicts is not paid for again by the other, a review delivered to both (or redelivered
// to the other) is merged exactly once, and so is the deletion of its annotation; /queue reads the
// same from each.
#include <boost/test/unit_test.hpp>
#include <future>

#include "tests/integration/serve_fixture.hpp"
#include "tests/support/postgres.hpp"

using namespace seke;
using nlohmann::json;
using test::parse;
using test::ServeFixture;

namespace {

struct Replicas : ServeFixture {
    test::StoreTarget store{"postgres"};
    std::unique_ptr<test::BackgroundProcess> a_process, b_process;
    std::string a, b;

    void start_replicas() {
        a = start_server("a", {"--db", store.target()}, {}, a_process);
        b = start_server("b", {"--db", store.target()}, {}, b_process);
    }
    static test::HttpResult post_to(const std::string& base, const std::string& path, const json& body) {
        return test::http_request("POST", base + path, body.dump());
    }
    json tasks() const { return json::array({task(41, "s00001.jpg"), task(42, "s00002.jpg"), task(43, "s00003.jpg")}); }
    json predict_body() const { return {{"tasks", tasks()}, {"label_config", faces_config()}, {"project", "9.1"}}; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_serve_replicas)

BOOST_AUTO_TEST_CASE(a_task_is_paid_for_once_whichever_replica_is_asked) {
    Replicas f;
    f.make_data(3);
    fake::FakeOptions slow;
    slow.latency_ms = 80;  // long enough for both replicas to ask while the first is labeling
    f.start_fake(slow);
    f.start_replicas();
    auto on_a = std::async(std::launch::async, [&] { return Replicas::post_to(f.a, "/predict", f.predict_body()); });
    auto on_b = std::async(std::launch::async, [&] { return Replicas::post_to(f.b, "/predict", f.predict_body()); });
    json from_a = parse(on_a.get())["results"];
    json from_b = parse(on_b.get())["results"];
    BOOST_TEST_REQUIRE(from_a.size() == 3u);
    BOOST_TEST_REQUIRE(from_b.size() == 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        BOOST_TEST(!from_a[i]["result"].empty());
        BOOST_TEST(from_a[i].dump() == from_b[i].dump());  // one prediction per task, served by both
    }
    const auto shared_requests = f.server->stats().total_requests;

    // A third call on either replica is answered from the store.
    json again = parse(Replicas::post_to(f.b, "/predict", f.predict_body()))["results"];
    BOOST_TEST(again.dump() == from_a.dump());
    BOOST_TEST(f.server->stats().total_requests == shared_requests);

    // What one replica alone pays for the same tasks.
    ServeFixture alone;
    alone.make_data(3);
    alone.start_fake(slow);
    alone.start_serve();
    BOOST_TEST_REQUIRE(parse(alone.post("/predict", f.predict_body()))["results"].size() == 3u);
    const auto single_requests = alone.server->stats().total_requests;
    BOOST_TEST(shared_requests <= single_requests,
               shared_requests << " requests by two replicas, " << single_requests << " by one");
    BOOST_TEST(f.store.faces_labeled_twice() == 0);
}

BOOST_AUTO_TEST_CASE(a_review_reaching_both_replicas_is_merged_once) {
    Replicas f;
    f.make_data(3);
    f.start_fake();
    f.start_replicas();
    json results = parse(Replicas::post_to(f.a, "/predict", f.predict_body()))["results"];
    BOOST_TEST_REQUIRE(results.size() == 3u);

    // Delivered to both at the same moment: one merges it, the other finds it merged.
    json event = ServeFixture::review_event({{"id", 9}, {"label_config", ServeFixture::faces_config()}}, 41,
                                            results[0]["result"]);
    auto on_a = std::async(std::launch::async, [&] { return Replicas::post_to(f.a, "/webhook", event); });
    auto on_b = std::async(std::launch::async, [&] { return Replicas::post_to(f.b, "/webhook", event); });
    json answer_a = parse(on_a.get());
    json answer_b = parse(on_b.get());
    BOOST_TEST(answer_a["result"]["event_id"] == answer_b["result"]["event_id"]);
    const int accepted =
        answer_a["result"]["review"].value("accepted", 0) + answer_b["result"]["review"].value("accepted", 0);
    BOOST_TEST(accepted == 1, answer_a.dump() << " " << answer_b.dump());

    // Redelivered to the other replica later: a duplicate, nothing merged again.
    auto redelivered = Replicas::post_to(f.b, "/webhook", event);
    BOOST_TEST(redelivered.status == 200);
    BOOST_TEST(parse(redelivered)["result"]["duplicate"] == true);
    BOOST_TEST(f.store.number("SELECT count(*) FROM events WHERE action='ANNOTATION_CREATED'") == 1);
    BOOST_TEST(f.store.number("SELECT merges FROM events WHERE action='ANNOTATION_CREATED'") == 1);

    // The queue is the store's: the same from each replica, the reviewed face gone from both.
    auto queue_a = test::http_request("GET", f.a + "/queue?project=9");
    auto queue_b = test::http_request("GET", f.b + "/queue?project=9");
    BOOST_TEST(queue_a.body == queue_b.body);
    BOOST_TEST(parse(queue_a)["items"].size() == 2u);

    // Its annotation deleted, delivered to both at once: the face is reopened once, back in both queues.
    json deletion = {{"action", "ANNOTATIONS_DELETED"},
                     {"annotations", json::array({{{"id", event["annotation"]["id"]}}})},
                     {"project", {{"id", 9}}}};
    auto deleted_a = std::async(std::launch::async, [&] { return Replicas::post_to(f.a, "/webhook", deletion); });
    auto deleted_b = std::async(std::launch::async, [&] { return Replicas::post_to(f.b, "/webhook", deletion); });
    json deletion_a = parse(deleted_a.get());
    json deletion_b = parse(deleted_b.get());
    // A replica that finds the event merged before it starts answers a bare duplicate.
    auto reopened_by = [](const json& answer) {
        const json& result = answer.at("result");
        return result.contains("review") ? result.at("review").value("reopened", 0) : 0;
    };
    const int reopened = reopened_by(deletion_a) + reopened_by(deletion_b);
    BOOST_TEST(reopened == 1, deletion_a.dump() << " " << deletion_b.dump());
    BOOST_TEST(f.store.number("SELECT count(*) FROM events WHERE action='ANNOTATIONS_DELETED'") == 1);
    BOOST_TEST(parse(test::http_request("GET", f.a + "/queue?project=9"))["items"].size() == 3u);
    BOOST_TEST(parse(test::http_request("GET", f.b + "/queue?project=9"))["items"].size() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
