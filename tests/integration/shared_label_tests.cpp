// Several `seke label` workers on one job, sharing a PostgreSQL store: the real binaries, the
// real server, real HTTP to the fake VLLM on 127.0.0.1. Items are claimed with leases; a worker
// killed with SIGKILL loses its leases when they run out and another finishes its items; no item
// is committed twice, none is lost, and a request already answered is not paid again.
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "tests/integration/label_fixture.hpp"
#include "tests/support/postgres.hpp"

using namespace seke;
using nlohmann::json;

namespace {

std::vector<std::string> worker_args(const test::LabelFixture& f, const test::StoreTarget& store,
                                     const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        SEKE_BINARY, "label",  "--input", f.manifest().string(), "--db", store.target(), "--face-detection",
        "off",       "--jobs", "4"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// Waits until the store holds `done` finished items (false after 60 s).
bool wait_for_done(const test::StoreTarget& store, std::int64_t done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        // The first worker creates the tables: until then there is nothing to count.
        if (store.number("SELECT count(*) FROM information_schema.tables WHERE table_name='job_items'") > 0 &&
            store.number("SELECT count(*) FROM items WHERE status='done'") >= done)
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_shared_label)

BOOST_AUTO_TEST_CASE(two_workers_share_a_job_and_pay_for_no_request_twice) {
    test::LabelFixture f;
    f.make_data(30);
    fake::FakeOptions slow;
    slow.latency_ms = 60;
    f.start_fake(slow);
    test::StoreTarget store("postgres");
    test::BackgroundProcess a(worker_args(f, store), f.env(), f.dir / "a.out", f.dir / "a.err");
    test::BackgroundProcess b(worker_args(f, store), f.env(), f.dir / "b.out", f.dir / "b.err");
    auto code_a = a.wait(240);
    auto code_b = b.wait(240);
    BOOST_TEST_REQUIRE((code_a && *code_a == 0), test::read_file(f.dir / "a.err"));
    BOOST_TEST_REQUIRE((code_b && *code_b == 0), test::read_file(f.dir / "b.err"));
    json sa = json::parse(test::read_file(f.dir / "a.out"));
    json sb = json::parse(test::read_file(f.dir / "b.out"));
    // One job, two workers, each with a part; the parts add up to the whole.
    BOOST_TEST(sa["job"]["name"] == sb["job"]["name"]);
    BOOST_TEST(sa["job"]["worker"] != sb["job"]["worker"]);
    BOOST_TEST(sa["job"]["finished"] == 30);
    BOOST_TEST(sb["job"]["finished"] == 30);
    BOOST_TEST(sa["labeled_now"].get<int>() + sb["labeled_now"].get<int>() == 30);
    BOOST_TEST(sa["labeled_now"].get<int>() > 0);
    BOOST_TEST(sb["labeled_now"].get<int>() > 0);
    BOOST_TEST(sa["db"].get<std::string>().find("seke-test-") == std::string::npos);  // no password shown
    // Every item labeled once: one prediction per face, and the model asked about each item by
    // one worker only (the requests of both add up to what one worker alone would send).
    BOOST_TEST(store.number("SELECT count(*) FROM items WHERE status='done'") == 30);
    BOOST_TEST(store.faces_labeled_twice() == 0);
    const auto shared_requests = f.server->stats().total_requests;
    BOOST_TEST(static_cast<std::int64_t>(shared_requests) ==
               sa["http_requests"].get<std::int64_t>() + sb["http_requests"].get<std::int64_t>());

    test::StoreTarget alone("postgres");
    f.start_fake(slow);
    auto single = f.run_seke(
        {"label", "--input", f.manifest().string(), "--db", alone.target(), "--face-detection", "off", "--jobs", "4"},
        240);
    BOOST_TEST_REQUIRE(single.exit_code == 0, single.err);
    const auto single_requests = f.server->stats().total_requests;
    BOOST_TEST(static_cast<double>(shared_requests) <= 1.02 * static_cast<double>(single_requests),
               shared_requests << " requests shared against " << single_requests << " alone");

    // A third worker on the finished job has nothing to do and pays nothing.
    auto late =
        f.run_seke({"label", "--input", f.manifest().string(), "--db", store.target(), "--face-detection", "off"}, 120);
    BOOST_TEST_REQUIRE(late.exit_code == 0, late.err);
    json sl = test::LabelFixture::summary(late);
    BOOST_TEST(sl["labeled_now"] == 0);
    BOOST_TEST(sl["already_done"] == 30);
    BOOST_TEST(sl["http_requests"] == 0);
}

BOOST_AUTO_TEST_CASE(a_killed_worker_loses_its_leases_and_another_finishes_its_items) {
    test::LabelFixture f;
    f.make_data(30);
    fake::FakeOptions slow;
    slow.latency_ms = 150;
    f.start_fake(slow);
    test::StoreTarget store("postgres");
    const std::vector<std::string> lease = {"--lease-seconds", "3"};
    test::BackgroundProcess doomed(worker_args(f, store, lease), f.env(), f.dir / "doomed.out", f.dir / "doomed.err");
    if (!wait_for_done(store, 3)) BOOST_FAIL("no item done: " + test::read_file(f.dir / "doomed.err"));
    test::BackgroundProcess survivor(worker_args(f, store, lease), f.env(), f.dir / "survivor.out",
                                     f.dir / "survivor.err");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    doomed.signal(SIGKILL);
    auto killed = doomed.wait(30);
    BOOST_TEST_REQUIRE((killed && *killed == -SIGKILL));
    auto code = survivor.wait(240);
    BOOST_TEST_REQUIRE((code && *code == 0), test::read_file(f.dir / "survivor.err"));
    json summary = json::parse(test::read_file(f.dir / "survivor.out"));
    BOOST_TEST(summary["job"]["items"] == 30);
    BOOST_TEST(summary["job"]["finished"] == 30);
    BOOST_TEST(store.number("SELECT count(*) FROM items WHERE status='done'") == 30);
    BOOST_TEST(store.number("SELECT count(*) FROM job_items WHERE state='done'") == 30);
    BOOST_TEST(store.faces_labeled_twice() == 0);
    // Some items were claimed twice: the dead worker's, taken over after their leases ran out.
    BOOST_TEST(store.number("SELECT count(*) FROM job_items WHERE claims > 1") > 0);
    auto out = f.dir / "shared.jsonl";
    auto exported = f.run_seke({"export", "--db", store.target(), "--format", "feid-jsonl", "--out", out.string()});
    BOOST_TEST_REQUIRE(exported.exit_code == 0, exported.err);
    BOOST_TEST(test::read_jsonl(out).size() == 30u);
}

BOOST_AUTO_TEST_SUITE_END()
