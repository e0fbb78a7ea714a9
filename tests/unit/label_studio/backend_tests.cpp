// The Label Studio backend's routes called through its router, without a socket: where the work
// runs (stored answers on the calling thread, tasks on the media pool, merges and fits on the
// backend's learning thread) and what a client receives from each.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "connectors/label_studio.hpp"
#include "connectors/vllm_client.hpp"
#include "plugin/config/config.hpp"
#include "plugin/label_studio/backend.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "plugin/labeling/media_work.hpp"
#include "plugin/learning/fit.hpp"
#include "plugin/records/store.hpp"
#include "plugin/server/http_types.hpp"
#include "plugin/server/log.hpp"
#include "plugin/server/metrics.hpp"
#include "plugin/server/router.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// One response and the thread it was sent from.
struct Sent {
    std::mutex mutex;
    std::condition_variable sent;
    std::optional<server::HttpResponse> response;
    std::thread::id thread;

    server::HttpResponse wait() {
        std::unique_lock lock(mutex);
        BOOST_REQUIRE_MESSAGE(sent.wait_for(lock, 20s, [&] { return response.has_value(); }), "no answer");
        return *response;
    }
    bool ready() {
        std::lock_guard lock(mutex);
        return response.has_value();
    }
    std::thread::id sender() {
        wait();
        std::lock_guard lock(mutex);
        return thread;
    }
    json body() { return json::parse(wait().body); }
};

struct BackendFixture {
    struct QuietLog {
        server::LogLevel saved = server::logger().level();
        QuietLog() { server::logger().set_level(server::LogLevel::off); }
        ~QuietLog() { server::logger().set_level(saved); }
    } quiet;
    test::TempDir dir;
    Config config;
    std::unique_ptr<Store> store;
    std::unique_ptr<VllmClient> client;
    std::unique_ptr<MediaWork> media_work;  // outlives the engine, as in `seke serve`
    std::unique_ptr<EngineService> engine;
    std::unique_ptr<LabelStudioClient> media;
    std::unique_ptr<FacePreparer> preparer;
    server::MetricsRegistry metrics;
    std::shared_ptr<LearnedState> learned;
    std::unique_ptr<label_studio::Backend> backend;
    server::Router router;
    int requests = 0;

    BackendFixture() {
        auto opened = Store::open((dir / "seke.db").string());
        BOOST_REQUIRE(opened.ok());
        store = std::move(*opened);
        client = std::make_unique<VllmClient>(config.vllm, nullptr);  // never reached: no task gets to the engine
        media_work = std::make_unique<MediaWork>(2);
        engine = std::make_unique<EngineService>(test::test_knowledge(), config.engine, *client);
        media = std::make_unique<LabelStudioClient>(config.label_studio, config.image);
        preparer = std::make_unique<FacePreparer>(test::face_options_with(FaceMode::off), config.image);
        auto loaded = LearnedState::load(*store, "base-version");
        BOOST_REQUIRE(loaded.ok());
        learned = *loaded;
        backend = std::make_unique<label_studio::Backend>(label_studio::BackendDeps{
            config, test::test_knowledge(), *store, *engine, *media, *preparer, metrics, *learned, *media_work});
        backend->add_routes(router);
    }
    ~BackendFixture() {
        backend.reset();
        media_work->join();
    }

    std::shared_ptr<Sent> call(const std::string& method, const std::string& path, const std::string& body = {}) {
        auto answer = std::make_shared<Sent>();
        server::HttpRequest request;
        request.method = method;
        request.target = request.path = path;
        request.body = body;
        request.request_id = "test-" + std::to_string(++requests);
        server::Responder responder(request.request_id, [answer](server::HttpResponse response) {
            std::lock_guard lock(answer->mutex);
            answer->response = std::move(response);
            answer->thread = std::this_thread::get_id();
            answer->sent.notify_all();
        });
        router.dispatch(request, std::move(responder));
        return answer;
    }
    std::shared_ptr<Sent> post(const std::string& path, const json& body) { return call("POST", path, body.dump()); }

    std::string model_version() const { return learned->current()->model_version; }
};

std::string faces_config() {
    return test::read_file(test::source_path("config/label_studio/faces.xml"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(label_studio_backend)

BOOST_AUTO_TEST_CASE(fits_run_on_one_learning_thread_and_answer_with_the_fit) {
    BackendFixture f;
    auto train = f.post("/train", json::object());
    auto response = train->wait();
    BOOST_TEST(response.status == 200);
    BOOST_TEST(train->body().contains("fit"));
    BOOST_TEST((train->sender() != std::this_thread::get_id()));

    auto start = f.post("/webhook", {{"action", "START_TRAINING"}, {"project", {{"id", 1}}}});
    BOOST_TEST(start->wait().status == 201);
    json body = start->body();
    BOOST_TEST(body["status"] == "ok");
    BOOST_TEST(body["result"]["action"] == "START_TRAINING");
    BOOST_TEST(body["result"]["event_id"].is_number_integer());
    BOOST_TEST(body["result"].contains("fit"));
    BOOST_TEST((start->sender() == train->sender()));  // the same one thread: two fits never race
}

BOOST_AUTO_TEST_CASE(review_merges_and_deletions_answer_from_the_learning_thread) {
    BackendFixture f;
    auto created = f.post(
        "/webhook", {{"action", "ANNOTATION_CREATED"}, {"project", {{"id", 1}, {"label_config", "<View></View>"}}}});
    BOOST_TEST(created->wait().status == 201);
    json body = created->body();
    BOOST_TEST(body["status"] == "ok");
    BOOST_TEST(body["result"]["review"]["skipped"].size() == 1u);
    BOOST_TEST(body["result"]["review"]["accepted"] == 0);
    BOOST_TEST((created->sender() != std::this_thread::get_id()));

    // A deletion reopens what its annotations reviewed, on the same thread as the merges.
    auto deleted = f.post("/webhook", {{"action", "ANNOTATIONS_DELETED"},
                                       {"annotations", json::array({{{"id", 3}}, {{"id", "x"}}})},
                                       {"project", {{"id", 1}}}});
    BOOST_TEST(deleted->wait().status == 201);
    BOOST_TEST((deleted->sender() == created->sender()));
    json result = deleted->body()["result"];
    BOOST_TEST(result["event_id"].get<long long>() == body["result"]["event_id"].get<long long>() + 1);
    BOOST_TEST(result["review"]["reopened"] == 0);
    BOOST_TEST(result["review"]["withdrawn_annotations"] == 1);
    BOOST_TEST(result["review"]["skipped"].size() == 1u);  // the id that is not one
    BOOST_TEST(!result.contains("fit"));
    auto redelivered = f.post("/webhook", {{"action", "ANNOTATIONS_DELETED"},
                                           {"annotations", json::array({{{"id", 3}}, {{"id", "x"}}})},
                                           {"project", {{"id", 1}}}});
    BOOST_TEST(redelivered->wait().status == 200);
    BOOST_TEST(redelivered->body()["result"]["duplicate"] == true);
    BOOST_TEST(redelivered->body()["result"]["event_id"] == result["event_id"]);

    auto unknown = f.post("/webhook", {{"action", "PROJECT_UPDATED"}});
    BOOST_TEST(unknown->body() == (json{{"status", "Unknown event"}}));
    BOOST_TEST(f.call("POST", "/webhook", "[1,2")->wait().status == 400);
}

BOOST_AUTO_TEST_CASE(webhook_fields_of_the_wrong_type_are_ignored_never_a_500) {
    BackendFixture f;
    json project = {{"id", 3}, {"label_config", faces_config()}};
    auto first = f.post("/webhook", {{"action", "ANNOTATION_UPDATED"}, {"project", project}});
    BOOST_TEST(first->wait().status == 201);
    // Each of these used to throw in the merge after the event was stored ("stored, but 500").
    const std::vector<json> annotations = {
        {{"result", json::array()}, {"was_cancelled", "yes"}, {"task", 1}},
        {{"result", json::array()}, {"updated_at", 17}, {"created_at", json::array()}, {"task", 1}},
        {{"result", "not a list"}, {"task", "one"}, {"completed_by", json::object()}},
        {{"result", json::array({1, "x", json::object()})}, {"task", {{"id", "1"}}}},
    };
    for (const auto& annotation : annotations) {
        auto sent =
            f.post("/webhook", {{"action", "ANNOTATION_CREATED"}, {"annotation", annotation}, {"project", project}});
        auto response = sent->wait();
        BOOST_TEST(response.status == 201, annotation.dump() << " → " << response.status << " " << response.body);
    }
    auto wrong_body = f.post("/webhook", {{"action", "ANNOTATION_CREATED"}, {"annotation", 5}, {"task", "x"}});
    BOOST_TEST(wrong_body->wait().status < 500);
    // Every event was stored once, and the learning thread goes on.
    auto after = f.post("/webhook", {{"action", "ANNOTATION_UPDATED"}, {"project", project}, {"seq", 2}});
    BOOST_TEST(after->wait().status == 201);
    BOOST_TEST(after->body()["result"]["event_id"].get<long long>() ==
               first->body()["result"]["event_id"].get<long long>() + 6);
    // The first event delivered again is the same event, merged already.
    auto again = f.post("/webhook", {{"action", "ANNOTATION_UPDATED"}, {"project", project}});
    BOOST_TEST(again->wait().status == 200);
    BOOST_TEST(again->body()["result"]["event_id"] == first->body()["result"]["event_id"]);
    BOOST_TEST(again->body()["result"]["duplicate"] == true);
}

BOOST_AUTO_TEST_CASE(shutdown_lets_queued_fits_answer_and_refuses_new_ones) {
    BackendFixture f;
    std::vector<std::shared_ptr<Sent>> fits;
    for (int i = 0; i < 3; ++i) fits.push_back(f.post("/train", json::object()));
    f.backend->shutdown(0ms);
    for (auto& fit : fits) {
        BOOST_REQUIRE(fit->ready());
        BOOST_TEST(fit->wait().status == 200);
    }
    auto late = f.post("/train", json::object());
    BOOST_REQUIRE(late->ready());
    BOOST_TEST(late->wait().status == 503);
    BOOST_TEST(late->body()["error"]["message"] == "server stopping");
}

BOOST_AUTO_TEST_CASE(predict_bodies_of_the_wrong_type_get_a_4xx_or_are_ignored) {
    BackendFixture f;
    auto not_json = f.call("POST", "/predict", "{not json");
    BOOST_TEST(not_json->wait().status == 400);
    BOOST_TEST(not_json->body()["error"]["code"] == "bad_json");
    auto tasks = f.post("/predict", {{"tasks", 5}});
    BOOST_TEST(tasks->wait().status == 400);
    BOOST_TEST(tasks->body()["error"]["message"].get<std::string>().find("tasks") != std::string::npos);
    auto bad_xml = f.post("/predict", {{"tasks", json::array()}, {"label_config", "<View><Image"}});
    BOOST_TEST(bad_xml->wait().status == 400);
    // A config nested 20,000 levels deep is a 400 on every route that reads one, not a crash.
    std::string deep;
    for (int i = 0; i < 20'000; ++i) deep += "<View>";
    for (int i = 0; i < 20'000; ++i) deep += "</View>";
    auto deep_predict = f.post("/predict", {{"tasks", json::array()}, {"label_config", deep}});
    BOOST_TEST(deep_predict->wait().status == 400);
    auto deep_setup = f.post("/setup", {{"project", "9"}, {"schema", deep}});
    BOOST_TEST(deep_setup->wait().status < 500);
    auto deep_webhook = f.post("/webhook", {{"action", "ANNOTATION_CREATED"},
                                            {"annotation", {{"result", json::array()}, {"task", 1}}},
                                            {"project", {{"id", 9}, {"label_config", deep}}}});
    BOOST_TEST(deep_webhook->wait().status < 500);
    // JSON nested 200,000 levels deep is a 400 before it is parsed: /setup dumped extra_params and
    // the webhook copied its annotations, both recursing once per level (a stack overflow).
    const std::string deep_json = std::string(200'000, '[') + std::string(200'000, ']');
    for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
             {"/setup", R"({"schema": "<View/>", "extra_params": )" + deep_json + "}"},
             {"/webhook", R"({"action": "ANNOTATION_CREATED", "annotation": )" + deep_json + "}"},
             {"/predict", R"({"tasks": [{"id": 1, "data": )" + deep_json + "}]}"}}) {
        auto sent = f.call("POST", path, body);
        BOOST_TEST(sent->wait().status == 400, path);
        BOOST_TEST(sent->body()["error"]["code"] == "bad_json", path);
    }

    // A drawn region of another type is no region; no tasks, nothing to answer.
    json region = {{"id", "r"}, {"type", 5}, {"value", {{"x", 1}, {"y", 1}, {"width", 5}, {"height", 5}}}};
    auto drawn = f.post("/predict", {{"tasks", json::array()},
                                     {"label_config", faces_config()},
                                     {"params", {{"context", {{"result", json::array({region})}}}}}});
    BOOST_TEST(drawn->wait().status == 200);
    BOOST_TEST(drawn->body() == (json{{"results", json::array()}}));

    // Tasks that cannot be predicted: one [] each, in order, from the media pool; stored as failed.
    json unusable = json::array({{{"id", 1}, {"data", 5}},
                                 {{"id", 2}, {"data", {{"image", 7}}}},
                                 3,
                                 {{"id", 4}, {"data", {{"image", "http://169.254.169.254/latest/meta-data"}}}}});
    auto failed = f.post("/predict", {{"tasks", unusable}, {"label_config", faces_config()}, {"project", "5.1"}});
    BOOST_TEST(failed->wait().status == 200);
    BOOST_TEST(failed->body() ==
               (json{{"results", json::array({json::array(), json::array(), json::array(), json::array()})}}));
    BOOST_TEST((failed->sender() != std::this_thread::get_id()));
    for (long long task : {1, 2, 4}) {
        auto row = f.store->task_prediction("5", task, f.model_version());
        BOOST_REQUIRE(row.ok());
        BOOST_REQUIRE(row->has_value());
        BOOST_TEST((*row)->status == "failed");
    }
    BOOST_TEST((*f.store->task_prediction("5", 4, f.model_version()))->error.rfind("forbidden: ", 0) == 0);
    // Every task finishes (a task's last step comes just after the answer it completed).
    bool idle = false;
    for (int attempt = 0; attempt < 200 && !idle; ++attempt) {
        idle = f.call("GET", "/metrics")->wait().body.find("seke_predict_tasks_running 0") != std::string::npos;
        if (!idle) std::this_thread::sleep_for(10ms);
    }
    BOOST_TEST(idle);
}

BOOST_AUTO_TEST_CASE(stored_predictions_are_read_once_and_answer_where_they_can) {
    BackendFixture f;
    json one = {{"model_version", f.model_version()}, {"score", 0.5}, {"result", json::array({{{"id", "a"}}})}};
    json two = {{"model_version", f.model_version()}, {"score", 0.25}, {"result", json::array()}};
    BOOST_REQUIRE(f.store->save_task_prediction({"5", 1, f.model_version(), "done", one.dump(), "", {}}).ok());
    BOOST_REQUIRE(f.store->save_task_prediction({"5", 2, f.model_version(), "done", two.dump(), "", {}}).ok());
    auto task = [](long long id) { return json{{"id", id}, {"data", {{"image", "unused.jpg"}}}}; };

    // Every task stored: answered by the call itself, with the stored JSON.
    auto all = f.post("/predict",
                      {{"tasks", json::array({task(1), task(2)})}, {"label_config", faces_config()}, {"project", "5"}});
    BOOST_REQUIRE(all->ready());
    BOOST_TEST((all->sender() == std::this_thread::get_id()));
    BOOST_TEST(all->body() == (json{{"results", json::array({one, two})}}));

    // One task missing: the stored one still answers, from what the call read; the other fails.
    json missing = {{"id", 3}, {"data", 5}};
    auto some = f.post(
        "/predict",
        {{"tasks", json::array({task(2), missing, task(1)})}, {"label_config", faces_config()}, {"project", "5"}});
    BOOST_TEST(some->body() == (json{{"results", json::array({two, json::array(), one})}}));
    BOOST_TEST((some->sender() != std::this_thread::get_id()));
    std::string metrics = f.call("GET", "/metrics")->wait().body;
    BOOST_TEST(metrics.find("seke_predict_store_hits_total 4") != std::string::npos, metrics);
}

BOOST_AUTO_TEST_SUITE_END()
