#include "plugin/server/router.hpp"  // first: the header is self-contained

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "plugin/server/log.hpp"

using namespace seke;
using namespace seke::server;

namespace {

// Collects what a Responder delivers, from any thread.
struct Capture {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<HttpResponse> responses;

    Responder responder(const std::string& id = "rid") {
        return Responder(id, [this](HttpResponse response) {
            std::lock_guard lock(mutex);
            responses.push_back(std::move(response));
            cv.notify_all();
        });
    }
    std::optional<HttpResponse> wait(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        std::unique_lock lock(mutex);
        if (!cv.wait_for(lock, timeout, [this] { return !responses.empty(); })) return std::nullopt;
        return responses.front();
    }
    std::size_t count() {
        std::lock_guard lock(mutex);
        return responses.size();
    }
};

HttpRequest make_request(std::string method, std::string path) {
    HttpRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.target = request.path;
    request.request_id = "rid";
    return request;
}

nlohmann::json body_of(const HttpResponse& response) {
    return nlohmann::json::parse(response.body);
}

struct Quiet {
    Quiet() : saved(logger().level()) { logger().set_level(LogLevel::off); }
    ~Quiet() { logger().set_level(saved); }
    LogLevel saved;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(server_router, Quiet)

BOOST_AUTO_TEST_CASE(exact_route_and_404_and_405) {
    Router router;
    router.get("/health", [](const HttpRequest&, Responder r) { r.send_json(200, {{"status", "UP"}}); });
    router.post("/health", [](const HttpRequest&, Responder r) { r.send_json(201, {}); });
    router.post("/predict", [](const HttpRequest&, Responder r) { r.send_json(200, {}); });

    Capture ok;
    auto request = make_request("GET", "/health");
    router.dispatch(request, ok.responder());
    BOOST_REQUIRE_EQUAL(ok.count(), 1u);
    BOOST_TEST(ok.responses[0].status == 200);
    BOOST_TEST(request.route == "/health");

    Capture missing;
    auto unknown = make_request("GET", "/nope");
    router.dispatch(unknown, missing.responder());
    BOOST_REQUIRE_EQUAL(missing.count(), 1u);
    BOOST_TEST(missing.responses[0].status == 404);
    BOOST_TEST(body_of(missing.responses[0])["error"]["code"] == "not_found");
    BOOST_TEST(body_of(missing.responses[0])["error"]["message"].get<std::string>().find("/nope") != std::string::npos);
    BOOST_TEST(body_of(missing.responses[0])["request_id"] == "rid");

    Capture wrong;
    auto put = make_request("PUT", "/health");
    router.dispatch(put, wrong.responder());
    BOOST_REQUIRE_EQUAL(wrong.count(), 1u);
    BOOST_TEST(wrong.responses[0].status == 405);
    BOOST_TEST(wrong.responses[0].header("Allow") == "GET, HEAD, POST");
    BOOST_TEST(body_of(wrong.responses[0])["error"]["code"] == "method_not_allowed");

    // HEAD takes the GET route (the transport sends its headers without the body); a path with
    // no GET has no HEAD either.
    Capture head;
    auto head_request = make_request("HEAD", "/health");
    router.dispatch(head_request, head.responder());
    BOOST_REQUIRE_EQUAL(head.count(), 1u);
    BOOST_TEST(head.responses[0].status == 200);
    Capture head_post;
    auto head_predict = make_request("HEAD", "/predict");
    router.dispatch(head_predict, head_post.responder());
    BOOST_TEST(head_post.responses.at(0).status == 405);
    BOOST_TEST(head_post.responses.at(0).header("Allow") == "POST");
}

BOOST_AUTO_TEST_CASE(parameter_routes_and_precedence) {
    Router router;
    router.get("/api/functions/{name}", [](const HttpRequest& q, Responder r) {
        r.send_json(200, {{"which", "param"}, {"name", q.param("name")}});
    });
    router.post("/api/functions/{name}/invoke", [](const HttpRequest& q, Responder r) {
        r.send_json(200, {{"which", "invoke"}, {"name", q.param("name")}});
    });
    router.get("/api/functions/special", [](const HttpRequest&, Responder r) {
        r.send_json(200, {{"which", "exact"}});
    });

    Capture a;
    auto request = make_request("GET", "/api/functions/seke-faces");
    router.dispatch(request, a.responder());
    BOOST_TEST(body_of(a.responses.at(0))["name"] == "seke-faces");
    BOOST_TEST(request.route == "/api/functions/{name}");

    Capture b;
    auto exact = make_request("GET", "/api/functions/special");
    router.dispatch(exact, b.responder());
    BOOST_TEST(body_of(b.responses.at(0))["which"] == "exact");  // exact wins though added later

    Capture c;
    auto invoke = make_request("POST", "/api/functions/x/invoke");
    router.dispatch(invoke, c.responder());
    BOOST_TEST(body_of(c.responses.at(0))["which"] == "invoke");

    Capture d;  // an empty segment is not a parameter value
    auto empty = make_request("GET", "/api/functions/");
    router.dispatch(empty, d.responder());
    BOOST_TEST(d.responses.at(0).status == 404);

    BOOST_TEST(router.allowed_methods("/api/functions/x") == (std::vector<std::string>{"GET", "HEAD"}));
}

BOOST_AUTO_TEST_CASE(handler_that_throws_gives_500) {
    Router router;
    router.get("/boom", [](const HttpRequest&, Responder) { throw std::runtime_error("kaput"); });
    Capture capture;
    auto request = make_request("GET", "/boom");
    router.dispatch(request, capture.responder());
    BOOST_REQUIRE_EQUAL(capture.count(), 1u);
    BOOST_TEST(capture.responses[0].status == 500);
    BOOST_TEST(body_of(capture.responses[0])["error"]["code"] == "internal");
    BOOST_TEST(body_of(capture.responses[0])["error"]["message"].get<std::string>().find("kaput") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(throw_after_handing_responder_away_answers_once) {
    Router router;
    std::optional<Responder> kept;
    router.get("/x", [&](const HttpRequest&, Responder r) {
        kept.emplace(std::move(r));
        throw std::runtime_error("late failure");
    });
    Capture capture;
    auto request = make_request("GET", "/x");
    router.dispatch(request, capture.responder());
    BOOST_REQUIRE_EQUAL(capture.count(), 1u);
    BOOST_TEST(capture.responses[0].status == 500);
    BOOST_TEST(!kept->send_json(200, {}));  // the late answer is ignored
    kept.reset();
    BOOST_TEST(capture.count() == 1u);
}

BOOST_AUTO_TEST_CASE(dropped_responder_gives_500) {
    Router router;
    router.get("/forgot", [](const HttpRequest&, Responder) {});
    Capture capture;
    auto request = make_request("GET", "/forgot");
    router.dispatch(request, capture.responder());
    BOOST_REQUIRE_EQUAL(capture.count(), 1u);
    BOOST_TEST(capture.responses[0].status == 500);

    // Dropped later, on another thread.
    Router later;
    later.get("/later", [](const HttpRequest&, Responder r) {
        std::thread([r = std::move(r)]() mutable {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            auto gone = std::move(r);
        }).detach();
    });
    Capture async_capture;
    auto second = make_request("GET", "/later");
    later.dispatch(second, async_capture.responder());
    auto response = async_capture.wait();
    BOOST_REQUIRE(response.has_value());
    BOOST_TEST(response->status == 500);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    BOOST_TEST(async_capture.count() == 1u);
}

BOOST_AUTO_TEST_CASE(async_answer_from_another_thread) {
    Router router;
    router.get("/slow", [](const HttpRequest& q, Responder r) {
        std::thread([r = std::move(r), id = q.request_id]() mutable {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            r.send_json(200, {{"id", id}});
        }).detach();
    });
    Capture capture;
    auto request = make_request("GET", "/slow");
    router.dispatch(request, capture.responder());
    BOOST_TEST(capture.count() == 0u);  // not yet
    auto response = capture.wait();
    BOOST_REQUIRE(response.has_value());
    BOOST_TEST(response->status == 200);
    BOOST_TEST(body_of(*response)["id"] == "rid");
}

BOOST_AUTO_TEST_CASE(responder_answers_once_and_move_assign_drops) {
    Capture capture;
    auto responder = capture.responder();
    BOOST_TEST(responder.send_json(200, {}));
    BOOST_TEST(!responder.send_json(201, {}));
    BOOST_TEST(responder.answered());

    Capture first;
    Capture second;
    auto a = first.responder();
    a = second.responder();  // the first is dropped unanswered → 500 there
    BOOST_REQUIRE_EQUAL(first.count(), 1u);
    BOOST_TEST(first.responses[0].status == 500);
    a.send_error(make_error(errc::bad_json, "nope"));
    BOOST_REQUIRE_EQUAL(second.count(), 1u);
    BOOST_TEST(second.responses[0].status == 400);
    BOOST_TEST(body_of(second.responses[0])["request_id"] == "rid");

    Responder empty;
    BOOST_TEST(!empty.valid());
    BOOST_TEST(!empty.send_json(200, {}));
}

BOOST_AUTO_TEST_SUITE_END()
