// Two `seke serve` replicas on one PostgreSQL store, as behind a load balancer: a task one
// replica predicts is not paid for again by the other, and a replica killed while it labels a
// task frees it within a claim's length; a review delivered to both (or redelivered to the other)
// is merged exactly once, and so is the deletion of its annotation; /queue reads the same from
// each. And docs/deploy.md's nginx config in front of two replicas, run by Debian's nginx.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <sstream>
#include <thread>

#include "connectors/claim_renewer.hpp"

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

BOOST_AUTO_TEST_CASE(a_replica_killed_while_it_labels_a_task_frees_it_within_a_claims_length) {
    using Clock = std::chrono::steady_clock;
    Replicas f;
    f.make_data(1);
    f.start_fake();  // the model replica b asks
    // The model replica a asks answers after the test is over: a is killed while it waits.
    fake::FakeOptions stuck_options;
    stuck_options.latency_ms = 300'000;
    fake::FakeVllmServer stuck(stuck_options);
    stuck.start();
    // The deadline is far beyond a claim's length: b's answer must come from the claim running out.
    const std::vector<std::string> deadline = {"--predict-deadline-ms", "120000"};
    std::vector<std::string> args = {"--db", f.store.target()};
    args.insert(args.end(), deadline.begin(), deadline.end());
    f.a = f.start_server("a", args, {{"OPENAI_BASE_URL", stuck.base_url()}}, f.a_process);
    f.b = f.start_server("b", args, {}, f.b_process);
    const json body = {{"tasks", json::array({ServeFixture::task(41, "s00001.jpg")})},
                       {"label_config", ServeFixture::faces_config()},
                       {"project", "9.1"}};
    auto on_a =
        std::async(std::launch::async, [&] { return test::http_request("POST", f.a + "/predict", body.dump()); });

    // a holds the task's claim and, at the model, the request's claim in the shared cache.
    auto claims = [&](const std::string& prefix) {
        return f.store.number("SELECT count(*) FROM claims WHERE key LIKE '" + prefix + "%'");
    };
    const auto asked_by = Clock::now() + std::chrono::seconds(30);
    while ((claims("task:") == 0 || claims("cache:") == 0) && Clock::now() < asked_by)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    BOOST_TEST_REQUIRE(claims("task:") == 1);
    BOOST_TEST_REQUIRE(claims("cache:") >= 1);
    // Both claims are renewed while a works: each lasts from its last renewal.
    auto until = [&](const std::string& prefix) {
        return f.store.number("SELECT max(until_ms) FROM claims WHERE key LIKE '" + prefix + "%'");
    };
    const auto task_until = until("task:"), cache_until = until("cache:");
    std::this_thread::sleep_for(kClaimRenewal + std::chrono::milliseconds(700));
    BOOST_TEST(until("task:") > task_until);
    BOOST_TEST(until("cache:") > cache_until);

    f.a_process->signal(SIGKILL);
    BOOST_TEST_REQUIRE((f.a_process->wait(30) == -SIGKILL));
    const auto killed = Clock::now();
    auto answer = test::http_request("POST", f.b + "/predict", body.dump(), {}, 100'000);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed);
    json results = parse(answer)["results"];
    BOOST_TEST_REQUIRE(results.size() == 1u);
    BOOST_TEST(!results[0]["result"].empty(), results.dump());
    // b waited for a's claims to run out (they were renewed at most kClaimRenewal before the
    // kill), then labeled the task itself: about a claim's length, far from the deadline.
    BOOST_TEST(waited.count() >= (kClaimLength - kClaimRenewal - std::chrono::seconds(1)).count(), waited.count());
    BOOST_TEST(waited.count() <= (kClaimLength + std::chrono::seconds(8)).count(), waited.count());
    BOOST_TEST(f.server->stats().total_requests > 0u);
    BOOST_TEST(f.store.faces_labeled_twice() == 0);
    // Its claims released once the task was done.
    BOOST_TEST(claims("task:") == 0);
    on_a.wait();  // a's connection was cut by the kill
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
    // A replica that finds the event merged before it starts answers a bare duplicate.
    auto review_count = [](const json& answer, const char* count) {
        const json& result = answer.at("result");
        return result.contains("review") ? result.at("review").value(count, 0) : 0;
    };
    const int accepted = review_count(answer_a, "accepted") + review_count(answer_b, "accepted");
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
    const int reopened = review_count(deletion_a, "reopened") + review_count(deletion_b, "reopened");
    BOOST_TEST(reopened == 1, deletion_a.dump() << " " << deletion_b.dump());
    BOOST_TEST(f.store.number("SELECT count(*) FROM events WHERE action='ANNOTATIONS_DELETED'") == 1);
    BOOST_TEST(parse(test::http_request("GET", f.a + "/queue?project=9"))["items"].size() == 3u);
    BOOST_TEST(parse(test::http_request("GET", f.b + "/queue?project=9"))["items"].size() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// docs/deploy.md's fenced block in `language`, as the doc has it.
std::string deploy_doc_block(const std::string& language) {
    const std::string doc = test::read_file(test::source_path("docs/deploy.md"));
    const std::string fence = "```" + language + "\n";
    const auto begin = doc.find(fence);
    BOOST_TEST_REQUIRE(begin != std::string::npos, "docs/deploy.md has no " << language << " block");
    const auto end = doc.find("```", begin + fence.size());
    BOOST_TEST_REQUIRE(end != std::string::npos);
    return doc.substr(begin + fence.size(), end - begin - fence.size());
}

// `text` with its one `from` replaced by `to` (the test fails when `from` is not there once).
std::string replace_once(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    BOOST_TEST_REQUIRE(at != std::string::npos, "not in the doc's config: " << from);
    BOOST_TEST_REQUIRE(text.find(from, at + 1) == std::string::npos, "twice in the doc's config: " << from);
    return text.replace(at, from.size(), to);
}

// A loopback port nothing listens on now.
int free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    BOOST_TEST_REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                       ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    ::close(fd);
    BOOST_TEST_REQUIRE(bound);
    return ntohs(address.sin_port);
}

std::string port_of(const std::string& base) {
    return base.substr(base.rfind(':') + 1);
}

// Debian's nginx as an unprivileged user may run it: in the foreground, under a prefix of its own
// with its pid, logs and temporary files there; the server block is the one in docs/deploy.md,
// with the compose services' addresses replaced by the loopback replicas'.
struct Nginx {
    std::filesystem::path prefix;
    std::unique_ptr<test::BackgroundProcess> process;
    std::string base;

    Nginx(const std::filesystem::path& where, const std::string& replica_a, const std::string& replica_b) {
        prefix = where;
        std::filesystem::create_directories(prefix);
        for (const char* temp : {"body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
            // The workers of an nginx started by root run as nobody: their temporary files must be theirs too.
            std::filesystem::create_directories(prefix / temp);
            std::filesystem::permissions(prefix / temp, std::filesystem::perms::all);
        }
        const int port = free_loopback_port();
        std::string server = deploy_doc_block("nginx");
        server = replace_once(server, "seke-a:9090", "127.0.0.1:" + port_of(replica_a));
        server = replace_once(server, "seke-b:9090", "127.0.0.1:" + port_of(replica_b));
        server = replace_once(server, "listen 9090;", "listen 127.0.0.1:" + std::to_string(port) + ";");
        test::write_file(prefix / "default.conf", server);
        const std::string p = prefix.string() + "/";
        test::write_file(prefix / "nginx.conf",
                         "daemon off;\nworker_processes 1;\npid " + p + "nginx.pid;\nerror_log " + p +
                             "error.log info;\nevents { worker_connections 64; }\nhttp {\n" + "  access_log " + p +
                             "access.log;\n  client_body_temp_path " + p + "body;\n  proxy_temp_path " + p +
                             "proxy;\n  fastcgi_temp_path " + p + "fastcgi;\n  uwsgi_temp_path " + p +
                             "uwsgi;\n  scgi_temp_path " + p + "scgi;\n  include " + p + "default.conf;\n}\n");
        process = std::make_unique<test::BackgroundProcess>(
            std::vector<std::string>{"/usr/sbin/nginx", "-p", p, "-c", p + "nginx.conf", "-e", p + "error.log"},
            std::map<std::string, std::string>{}, prefix / "nginx.out", prefix / "nginx.err");
        base = "http://127.0.0.1:" + std::to_string(port);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < until) {
            if (test::http_request("GET", base + "/health", {}, {}, 2000).status == 200) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        BOOST_FAIL("nginx did not answer: " + test::read_file(prefix / "nginx.err") +
                   test::read_file(prefix / "error.log"));
    }
    ~Nginx() {
        if (process) process->signal(SIGQUIT);  // a graceful stop; killed at scope exit otherwise
        if (process) process->wait(10);
    }
    Nginx(const Nginx&) = delete;
    Nginx& operator=(const Nginx&) = delete;
};

// How many HTTP requests a replica answered, from its own /metrics.
double requests_answered(const std::string& replica) {
    const std::string metrics = test::http_request("GET", replica + "/metrics").body;
    double total = 0;
    std::istringstream lines(metrics);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("seke_http_requests_total{", 0) == 0) total += std::stod(line.substr(line.rfind(' ') + 1));
    return total;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_deploy_nginx)

BOOST_AUTO_TEST_CASE(the_nginx_config_of_docs_deploy_serves_two_replicas) {
    if (!std::filesystem::exists("/usr/sbin/nginx")) {
        BOOST_TEST_MESSAGE("skipped: /usr/sbin/nginx is missing (apt-get install nginx; scripts/test.sh installs it)");
        return;
    }
    Replicas f;
    f.make_data(3);
    f.start_fake();
    f.start_replicas();
    Nginx nginx(f.dir / "nginx", f.a, f.b);

    // /health, several times: the load is spread over both replicas.
    const double a_before = requests_answered(f.a), b_before = requests_answered(f.b);
    for (int i = 0; i < 6; ++i) {
        auto health = test::http_request("GET", nginx.base + "/health");
        BOOST_TEST(health.status == 200);
        BOOST_TEST(parse(health)["status"] == "UP");
    }
    // Each replica's count includes its own /metrics reads: more than those means nginx sent it some.
    BOOST_TEST(requests_answered(f.a) - a_before > 1, "replica a answered none through nginx");
    BOOST_TEST(requests_answered(f.b) - b_before > 1, "replica b answered none through nginx");

    // /predict through nginx, then the same tasks from the store, whichever replica answers.
    auto predicted = test::http_request("POST", nginx.base + "/predict", f.predict_body().dump());
    BOOST_TEST_REQUIRE(predicted.status == 200, predicted.body);
    json results = parse(predicted)["results"];
    BOOST_TEST_REQUIRE(results.size() == 3u);
    for (const auto& r : results) BOOST_TEST(!r["result"].empty());
    const auto paid = f.server->stats().total_requests;
    for (int i = 0; i < 2; ++i)
        BOOST_TEST(parse(test::http_request("POST", nginx.base + "/predict", f.predict_body().dump()))["results"] ==
                   results);
    BOOST_TEST(f.server->stats().total_requests == paid);

    // A review webhook through nginx, delivered twice (Label Studio retrying): merged once.
    json event = ServeFixture::review_event({{"id", 9}, {"label_config", ServeFixture::faces_config()}}, 41,
                                            results[0]["result"]);
    auto first = test::http_request("POST", nginx.base + "/webhook", event.dump());
    BOOST_TEST(first.status == 201, first.body);
    BOOST_TEST(parse(first)["result"]["review"].value("accepted", 0) == 1, first.body);
    auto again = test::http_request("POST", nginx.base + "/webhook", event.dump());
    BOOST_TEST(again.status == 200, again.body);
    BOOST_TEST(parse(again)["result"]["duplicate"] == true);
    BOOST_TEST(f.store.number("SELECT merges FROM events WHERE action='ANNOTATION_CREATED'") == 1);

    // A replica that is down: the other answers (proxy_next_upstream error).
    f.b_process->signal(SIGKILL);
    f.b_process->wait(30);
    for (int i = 0; i < 4; ++i) BOOST_TEST(test::http_request("GET", nginx.base + "/health").status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(integration_deploy_compose)

// docs/deploy.md's compose file, read by Debian's docker-compose (no daemon needed for `config`).
BOOST_AUTO_TEST_CASE(the_compose_file_of_docs_deploy_is_valid) {
    if (!std::filesystem::exists("/usr/bin/docker-compose")) {
        BOOST_TEST_MESSAGE("skipped: /usr/bin/docker-compose is missing (scripts/test.sh installs it)");
        return;
    }
    test::TempDir dir;
    test::write_file(dir / "docker-compose.yml", deploy_doc_block("yaml"));
    test::write_file(dir / "nginx.conf", deploy_doc_block("nginx"));
    const std::map<std::string, std::string> env = {{"SEKE_DB_PASSWORD", "secret"}, {"LABEL_STUDIO_API_KEY", "key"}};
    auto services = test::run_process(
        {"/usr/bin/docker-compose", "-f", (dir / "docker-compose.yml").string(), "config", "--services"}, env, 120);
    BOOST_TEST_REQUIRE(services.exit_code == 0, services.err);
    for (const char* service : {"postgres", "label-studio", "seke-a", "seke-b", "seke"})
        BOOST_TEST(services.out.find(std::string(service) + "\n") != std::string::npos, services.out);
    auto resolved =
        test::run_process({"/usr/bin/docker-compose", "-f", (dir / "docker-compose.yml").string(), "config"}, env, 120);
    BOOST_TEST_REQUIRE(resolved.exit_code == 0, resolved.err);
    // Both replicas on the one database; the load balancer mounts the nginx config the other suite runs.
    BOOST_TEST(resolved.out.find("SEKE_DB: postgresql://seke:secret@postgres:5432/seke") != std::string::npos,
               resolved.out);
    BOOST_TEST(resolved.out.find("nginx.conf:/etc/nginx/conf.d/default.conf:ro") != std::string::npos, resolved.out);
}

BOOST_AUTO_TEST_SUITE_END()
