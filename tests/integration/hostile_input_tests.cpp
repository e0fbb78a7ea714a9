// Issue 12's defects, black-box: the real `seke serve` on loopback fed what a broken or hostile
// client sends — configs nested without end, webhook and CVAT fields of every wrong type, HEAD,
// task paths that probe the disk. Each answer is a 2xx or a 4xx JSON error, never a 5xx; what the
// server says it stored, it stored.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sqlite3.h>

#include <boost/test/unit_test.hpp>

#include "connectors/crypto.hpp"
#include "tests/integration/serve_fixture.hpp"

using namespace seke;
using nlohmann::json;
using test::parse;
using test::ServeFixture;

namespace {

long long event_count(const std::filesystem::path& db) {
    sqlite3* handle = nullptr;
    sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(handle, "SELECT COUNT(*) FROM events", -1, &stmt, nullptr);
    long long count = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    sqlite3_close(handle);
    return count;
}

// A 4xx answer is a JSON error body with a code.
bool is_json_error(const test::HttpResult& r) {
    json body = json::parse(r.body, nullptr, false);
    return !body.is_discarded() && body.is_object() && body.contains("error") && body["error"]["code"].is_string();
}

std::string deep_config(int levels) {
    std::string xml;
    for (int i = 0; i < levels; ++i) xml += "<View>";
    for (int i = 0; i < levels; ++i) xml += "</View>";
    return xml;
}

// The reason the serve log gives for a task it did not predict.
std::string failure_reason(const std::filesystem::path& log, long long task) {
    std::istringstream in(test::read_file(log));
    for (std::string line; std::getline(in, line);) {
        json entry = json::parse(line, nullptr, false);
        if (!entry.is_discarded() && entry.value("msg", "") == "task not predicted" &&
            entry.value("task", -2LL) == task)
            return entry.value("reason", "");
    }
    return "(no reason logged for task " + std::to_string(task) + ")";
}

// A client of the flood: a plain socket that connects and then sends `bytes` (maybe none) and
// nothing more. -1 when the connection could not be made.
int flood_socket(unsigned short port, const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        (!bytes.empty() && ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0)) {
        ::close(fd);
        return -1;
    }
    return fd;
}

unsigned short port_of(const std::string& base) {
    return static_cast<unsigned short>(std::stoi(base.substr(base.rfind(':') + 1)));
}

// The soft descriptor limit raised to the hard one: the flood needs more than 1,024.
void raise_descriptor_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_serve_hostile_input)

// A config nested 20,000 levels deep is a 4xx on /predict, /setup and /webhook; /setup refuses
// it before storing it, so nothing of it is left for a restart or a later call to trip on.
BOOST_AUTO_TEST_CASE(a_deep_labeling_config_is_refused_everywhere_and_survives_a_restart) {
    ServeFixture f;
    f.make_data(1);
    f.start_fake();
    f.start_serve();
    const std::string deep = deep_config(20'000);
    auto setup = f.post("/setup", {{"project", "40"}, {"schema", deep}});
    BOOST_TEST(setup.status == 400);
    BOOST_TEST(is_json_error(setup), setup.body);
    auto predict = f.post(
        "/predict",
        {{"tasks", json::array({ServeFixture::task(1, "s00001.jpg")})}, {"label_config", deep}, {"project", "40"}});
    BOOST_TEST(predict.status == 400);
    BOOST_TEST(is_json_error(predict), predict.body);
    auto webhook = f.post("/webhook", {{"action", "ANNOTATION_CREATED"},
                                       {"annotation", {{"result", json::array()}, {"task", 1}}},
                                       {"project", {{"id", 40}, {"label_config", deep}}}});
    BOOST_TEST(webhook.status < 500);

    f.serve->signal(SIGTERM);
    BOOST_TEST_REQUIRE((f.serve->wait(20) == std::optional<int>(0)));
    f.start_serve();
    BOOST_TEST(f.get("/health").status == 200);
    // No config was stored: a call naming the project alone has nothing to fill.
    auto stored =
        f.post("/predict", {{"tasks", json::array({ServeFixture::task(1, "s00001.jpg")})}, {"project", "40"}});
    BOOST_TEST(stored.status == 200);
    BOOST_TEST(parse(stored)["results"] == json::array(), stored.body);
    auto review = f.post("/webhook", {{"action", "ANNOTATION_CREATED"},
                                      {"annotation", {{"result", json::array()}, {"task", 1}}},
                                      {"project", {{"id", 40}}}});
    BOOST_TEST(review.status < 500);
    BOOST_TEST(f.get("/health").status == 200);
}

// Every wrong-typed field of a Label Studio webhook: 201 with the field ignored, or a 4xx JSON
// error; 201 means the event is stored, a 4xx that it is not. A wrong-typed was_cancelled on a
// good annotation is ignored, and the review is applied.
BOOST_AUTO_TEST_CASE(webhook_fields_of_every_wrong_type_are_ignored_or_refused_never_a_500) {
    ServeFixture f;
    f.make_data(2);
    f.start_fake();
    f.start_serve();
    const std::string xml = ServeFixture::faces_config();
    json results = parse(
        f.post("/predict",
               {{"tasks", json::array({ServeFixture::task(41, "s00001.jpg"), ServeFixture::task(42, "s00002.jpg")})},
                {"label_config", xml},
                {"project", "41"}}))["results"];
    BOOST_TEST_REQUIRE(results[0].is_object());
    BOOST_TEST_REQUIRE(results[1].is_object());
    const json good = results[0]["result"];
    const json project = {{"id", 41}, {"label_config", xml}};
    auto event = [&](const json& annotation) {
        return json{{"action", "ANNOTATION_CREATED"}, {"annotation", annotation}, {"project", project}}.dump();
    };
    // A good annotation with a wrong-typed was_cancelled: the field is ignored, the review applied.
    auto first = test::http_request("POST", f.base + "/webhook",
                                    event({{"result", good}, {"task", 41}, {"was_cancelled", "no"}}));
    BOOST_TEST_REQUIRE(first.status == 201, first.body);
    BOOST_TEST(parse(first)["result"]["review"]["accepted"] == 1);
    std::vector<std::string> bodies = {
        event({{"result", good}, {"task", 41}, {"was_cancelled", 0}}),
        event({{"result", good}, {"task", 41}, {"updated_at", 17}, {"created_at", json::array()}}),
        event({{"result", good}, {"task", "41"}, {"completed_by", json::object()}}),
        event({{"result", good}, {"task", {{"id", "41"}}}, {"completed_by", "7"}}),
        event({{"result", "not a list"}, {"task", 41}}),
        // Regions of the wrong shape, on task 42: what they say is not understood, and logged.
        event({{"result", json::array({1, "x", json::object(), nullptr})}, {"task", 42}}),
        event({{"result", json::array({{{"from_name", 5}, {"type", json::array()}, {"value", "x"}}})}, {"task", 42}}),
        event({{"result",
                json::array({{{"from_name", "expression"}, {"type", "choices"}, {"value", {{"choices", "Sad"}}}}})},
               {"task", 42}}),
        event(
            {{"result", json::array({{{"from_name", "valence"}, {"type", "number"}, {"value", {{"number", "0.5"}}}}})},
             {"task", 42}}),
        event(json::array({1, 2, 3})),
        event(5),
        event(nullptr),
        json{{"action", "ANNOTATIONS_CREATED"},
             {"annotation", json::array({{{"result", good}}})},
             {"task", "x"},
             {"project", project}}
            .dump(),
        json{{"action", "ANNOTATION_CREATED"},
             {"annotation", {{"result", good}, {"task", 41}}},
             {"project", "forty-one"}}
            .dump(),
        json{{"action", "ANNOTATION_CREATED"},
             {"annotation", {{"result", good}, {"task", 41}}},
             {"project", json::array()}}
            .dump(),
        json{{"action", "ANNOTATION_CREATED"},
             {"annotation", {{"result", good}, {"task", 41}}},
             {"project", {{"id", "41"}, {"label_config", 7}}}}
            .dump(),
        json{{"action", 5}, {"project", project}}.dump(),
        json{{"action", json::array({"ANNOTATION_CREATED"})}}.dump(),
        json{{"action", "START_TRAINING"}, {"project", 3.5}}.dump(),
        json::array({{{"action", "ANNOTATION_CREATED"}}}).dump(),
        "\"ANNOTATION_CREATED\"",
        "17",
        "null",
    };
    for (const auto& body : bodies) {
        long long before = event_count(f.db());
        auto reply = test::http_request("POST", f.base + "/webhook", body);
        long long stored = event_count(f.db()) - before;
        BOOST_TEST((reply.status / 100 == 2 || reply.status / 100 == 4), reply.status << " for " << body);
        if (reply.status / 100 == 4) {
            BOOST_TEST(is_json_error(reply), body << " → " << reply.body);
            BOOST_TEST(stored == 0, "refused but stored: " << body);
        } else if (reply.status == 201) {
            BOOST_TEST(stored == 1, "acknowledged but not stored: " << body);
        }
    }
    // No wrong-typed body turned the accepted face into another verdict: a result that is not a
    // list is no result, not an annotator who removed every region.
    bool accepted = false;
    for (const auto& record : f.export_records())
        if (record["id"] == "ls/41/41") accepted = record["status"] == "accepted";
    BOOST_TEST(accepted);
    BOOST_TEST(f.get("/health").status == 200);
}

// HEAD takes the GET route on the real server: same status and length, no body; auth applies.
BOOST_AUTO_TEST_CASE(head_is_answered_as_get_by_the_real_server) {
    ServeFixture open;
    open.start_serve();
    BOOST_TEST(test::http_request("HEAD", open.base + "/metrics").status == 200);
    for (const std::string path : {"/health", "/versions", "/ui"}) {
        auto get = open.get(path);
        auto head = test::http_request("HEAD", open.base + path);
        BOOST_TEST(head.status == get.status, path);
        BOOST_TEST(head.body.empty(), path);
        BOOST_TEST(head.headers["content-length"] == std::to_string(get.body.size()), path);
    }
    BOOST_TEST(test::http_request("HEAD", open.base + "/predict").status == 405);
    BOOST_TEST(test::http_request("HEAD", open.base + "/nope").status == 404);
    ServeFixture guarded;
    guarded.start_serve({"--basic-auth-user", "u", "--basic-auth-pass", "p"});
    BOOST_TEST(test::http_request("HEAD", guarded.base + "/health").status == 401);
    BOOST_TEST(test::http_request("HEAD", guarded.base + "/health", {}, {"Authorization: Basic dTpw"}).status == 200);
}

// LOCAL_FILES_DOCUMENT_ROOT unset: no task image is read from disk, by Label Studio path or by
// plain path. Set: a plain path outside it is refused in the same words whether or not the file
// exists, and one inside it is labeled.
BOOST_AUTO_TEST_CASE(without_a_document_root_no_file_is_read_and_refusals_do_not_probe) {
    ServeFixture closed;
    closed.make_data(1);
    closed.start_fake();
    closed.start_serve({}, {{"LOCAL_FILES_DOCUMENT_ROOT", ""}, {"LABEL_STUDIO_URL", ""}});
    const std::string image = (closed.data() / "images" / "s00001.jpg").string();
    json tasks = json::array({ServeFixture::task(1, "s00001.jpg"), {{"id", 2}, {"data", {{"image", image}}}}});
    json results = parse(closed.post(
        "/predict", {{"tasks", tasks}, {"label_config", ServeFixture::faces_config()}, {"project", "42"}}))["results"];
    BOOST_TEST_REQUIRE(results.size() == 2u);
    BOOST_TEST(results[0] == json::array());
    BOOST_TEST(results[1] == json::array());
    BOOST_TEST(closed.server->stats().total_requests == 0u);  // no pixels reached the model
    BOOST_TEST(failure_reason(closed.dir / "serve.err", 2).find("LOCAL_FILES_DOCUMENT_ROOT") != std::string::npos);

    ServeFixture rooted;
    rooted.make_data(1);
    rooted.start_fake();
    rooted.start_serve();  // the root is the data folder
    test::write_file(rooted.dir / "secret.jpg", test::read_file(rooted.data() / "images" / "s00001.jpg"));
    auto outside = [&](long long id, const std::filesystem::path& path) {
        return json{{"id", id}, {"data", {{"image", path.string()}}}};
    };
    json probes = json::array({outside(3, rooted.dir / "secret.jpg"), outside(4, rooted.dir / "nothing-here.jpg"),
                               outside(5, rooted.data() / "images" / "s00001.jpg")});
    json answers = parse(rooted.post(
        "/predict", {{"tasks", probes}, {"label_config", ServeFixture::faces_config()}, {"project", "43"}}))["results"];
    BOOST_TEST_REQUIRE(answers.size() == 3u);
    BOOST_TEST(answers[0] == json::array());
    BOOST_TEST(answers[1] == json::array());
    BOOST_TEST(answers[2].is_object());
    std::string existing = failure_reason(rooted.dir / "serve.err", 3);
    std::string missing = failure_reason(rooted.dir / "serve.err", 4);
    auto past_the_path = [](const std::string& reason) {
        auto at = reason.find("' is");
        return at == std::string::npos ? reason : reason.substr(at);
    };
    BOOST_TEST(past_the_path(existing) == past_the_path(missing), existing << " | " << missing);
    BOOST_TEST(existing.find("LOCAL_FILES_DOCUMENT_ROOT") != std::string::npos, existing);
}

// CVAT's function call and webhook with every field of the wrong type: 4xx JSON errors (or the
// webhook's 200 "ignored"), never a 5xx, and the server goes on labeling.
BOOST_AUTO_TEST_CASE(cvat_calls_with_fields_of_every_wrong_type_get_4xx_json) {
    ServeFixture f;
    f.make_data(1);
    f.start_fake();
    f.start_serve();
    const std::string image = base64_encode(test::read_file(f.data() / "images" / "s00001.jpg"));
    const std::vector<std::string> invocations = {
        json{{"image", 5}}.dump(),
        json{{"image", nullptr}}.dump(),
        json{{"image", json::array({image})}}.dump(),
        json{{"image", {{"data", image}}}}.dump(),
        json{{"image", true}}.dump(),
        json{{"image", ""}}.dump(),
        json{{"image", image}, {"threshold", true}}.dump(),
        json{{"image", image}, {"threshold", "0.5"}}.dump(),
        json{{"image", image}, {"threshold", json::array({0.5})}}.dump(),
        json{{"image", image}, {"threshold", json::object()}}.dump(),
        json{{"image", image}, {"threshold", -0.1}}.dump(),
        json{{"image", image}, {"threshold", 1.5}}.dump(),
        json{{"image", image}, {"threshold", 1e308}}.dump(),
        "{\"image\": \"" + image + "\", \"threshold\": 1e999}",
        json("a string").dump(),
        "5",
        "null",
        "",
    };
    for (const auto& body : invocations)
        for (const std::string route : {"/", "/api/function_invocations"}) {
            auto reply =
                test::http_request("POST", f.base + route, body, {"x-nuclio-function-name: seke-face-emotion"});
            BOOST_TEST(reply.status / 100 == 4, route << " " << body.substr(0, 80) << " → " << reply.status);
            BOOST_TEST(is_json_error(reply), route << " " << body.substr(0, 80) << " → " << reply.body);
        }
    const std::vector<json> hooks = {
        {{"event", 5}},
        {{"event", nullptr}},
        {{"event", json::array({"update:job"})}},
        {{"event", "update:job"}, {"job", "7"}},
        {{"event", "update:job"},
         {"job", {{"id", "7"}, {"state", "completed"}}},
         {"before_update", {{"state", "new"}}}},
        {{"event", "update:job"}, {"job", {{"id", 7}, {"state", 5}, {"stage", json::array()}}}, {"before_update", "x"}},
        {{"event", "update:job"}, {"job", {{"id", 7.5}, {"state", "completed"}}}, {"before_update", json::array()}},
        {{"event", "update:job"}, {"job", json::array({7})}, {"before_update", {{"state", "new"}}}},
    };
    for (const auto& hook : hooks) {
        auto reply = test::http_request("POST", f.base + "/cvat/webhook", hook.dump());
        BOOST_TEST((reply.status == 200 || reply.status / 100 == 4), hook.dump() << " → " << reply.status);
        BOOST_TEST(!json::parse(reply.body, nullptr, false).is_discarded(), reply.body);
    }
    for (const std::string raw : {"[1]", "\"update:job\"", "17", "{"}) {
        auto reply = test::http_request("POST", f.base + "/cvat/webhook", raw);
        BOOST_TEST(reply.status == 400, raw);
        BOOST_TEST(is_json_error(reply), raw);
    }
    auto good = test::http_request("POST", f.base + "/", json{{"image", image}}.dump());
    BOOST_TEST(good.status == 200);
    BOOST_TEST(parse(good).size() == 1u);
}

// Connections that never send a request, and ones that send headers and never the body they
// announce, more than the server's limits: the real server keeps answering a normal client's
// /health at once, by closing the flood's quietest connections to make room.
BOOST_AUTO_TEST_CASE(a_connection_flood_does_not_lock_a_normal_client_out) {
    raise_descriptor_limit();
    struct Case {
        std::vector<std::string> flags;
        int silent;
        int stalled;
    };
    const std::vector<Case> cases = {
        {{"--max-connections", "64", "--max-connections-per-client", "1000"}, 100, 64},
        // The default limits (1,024 in all, 256 per client) against 2,000 connections.
        {{}, 1500, 500},
    };
    for (const auto& c : cases) {
        ServeFixture f;
        f.start_serve(c.flags);
        auto port = port_of(f.base);
        std::vector<int> flood;
        int opened = 0;
        for (int i = 0; i < c.silent; ++i) flood.push_back(flood_socket(port, ""));
        for (int i = 0; i < c.stalled; ++i)
            flood.push_back(flood_socket(port, "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"));
        for (int fd : flood) opened += fd >= 0 ? 1 : 0;
        BOOST_TEST(opened > c.silent);  // the flood got in (the kernel accepts before the server chooses)
        // The body-less ones now count as stalled (a sanitizer build takes longer to accept them all).
        std::this_thread::sleep_for(std::chrono::milliseconds(1200 * test::kTimeScale));
        for (int i = 0; i < 5; ++i) {
            auto start = std::chrono::steady_clock::now();
            auto reply = test::http_request("GET", f.base + "/health", {}, {}, 3000 * test::kTimeScale);
            auto waited =
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
            BOOST_TEST(reply.status == 200, "flood of " << flood.size() << ": " << reply.status);
            BOOST_TEST(waited.count() < 1000 * test::kTimeScale);
        }
        for (int fd : flood)
            if (fd >= 0) ::close(fd);
        BOOST_TEST(f.get("/health").status == 200);
        std::smatch evicted;
        std::string metrics = f.get("/metrics").body;
        BOOST_TEST_REQUIRE(
            std::regex_search(metrics, evicted, std::regex("\nseke_http_connections_evicted_total ([0-9]+)")));
        BOOST_TEST(std::stoll(evicted[1].str()) > 0);
    }
}

BOOST_AUTO_TEST_SUITE_END()
