// `seke label --batch` and its file mode, end to end on the fake VLLM's Batch API: the same
// labels as the online path on the same seed at the batch discount, a run killed while it polls
// resumed without paying any request twice, failed lines asked again, and the request files of
// --batch-out answered and read back with --batch-in until the job is done.
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <thread>

#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;

namespace {

// USD per million tokens for the fake model: input, cached input, output, batch discount.
const std::string kPrice = "1,0.1,4,0.5";

std::uint64_t chat_requests(const fake::FakeStats& stats) {
    std::uint64_t total = 0;
    for (const auto& [kind, count] : stats.by_kind) total += count;
    return total;
}

// Each record's labels, by id.
std::map<std::string, json> labels_of(const test::LabelFixture& f) {
    std::map<std::string, json> labels;
    for (const auto& record : f.export_records()) labels[record["id"].get<std::string>()] = record["labels"];
    return labels;
}

// The online run on a fresh fake with the same data and seed: what batching must match.
struct Online {
    test::LabelFixture f;
    json summary;
    std::map<std::string, json> labels;
    std::uint64_t requests = 0;

    explicit Online(int count) {
        f.make_data(count);
        f.start_fake();
        auto result = f.label({"--price", kPrice});
        BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
        summary = test::LabelFixture::summary(result);
        labels = labels_of(f);
        requests = chat_requests(f.server->stats());
    }
};

const std::vector<std::string> kBatch = {
    "--price", kPrice, "--batch", "--batch-poll-ms", "50", "--batch-poll-max-ms", "200", "--batch-gather-ms", "200"};

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_batch)

BOOST_AUTO_TEST_CASE(a_batch_run_gives_the_online_labels_for_less_money) {
    Online online(16);
    test::LabelFixture f;
    f.make_data(16);
    fake::FakeOptions options;
    options.batch_delay_ms = 100;
    f.start_fake(options);
    auto result = f.label(kBatch);
    BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
    json summary = test::LabelFixture::summary(result);
    const auto stats = f.server->stats();
    BOOST_TEST(stats.batches >= 2u);          // more than one SV-UAMC round
    BOOST_TEST(stats.total_requests < 200u);  // batches, not a request per sample
    BOOST_TEST(stats.batch_lines == chat_requests(stats));
    BOOST_TEST(chat_requests(stats) == online.requests);
    BOOST_TEST(summary["batch"]["mode"] == "api");
    BOOST_TEST(summary["batch"]["batches"].get<std::uint64_t>() == stats.batches);
    BOOST_TEST((labels_of(f) == online.labels));
    // The same tokens, at half the price.
    BOOST_TEST(summary["spent"]["prompt_tokens"] == online.summary["spent"]["prompt_tokens"]);
    BOOST_TEST(summary["spent"]["completion_tokens"] == online.summary["spent"]["completion_tokens"]);
    BOOST_TEST(summary["spent"]["usd"].get<double>() == online.summary["spent"]["usd"].get<double>() * 0.5,
               boost::test_tools::tolerance(1e-9));
    BOOST_TEST(summary["spent"]["usd"].get<double>() > 0);

    // The answers are in the response cache: an online run of the same images (under other ids)
    // pays nothing.
    std::string renamed;
    for (auto line : f.manifest_lines()) {
        line["id"] = "again-" + line["id"].get<std::string>();
        line["image"] = (f.data() / line["image"].get<std::string>()).string();
        renamed += line.dump() + "\n";
    }
    test::write_file(f.dir / "again.jsonl", renamed);
    auto again = f.run_seke({"label", "--input", (f.dir / "again.jsonl").string(), "--db", f.db().string(),
                             "--face-detection", "off", "--price", kPrice});
    BOOST_TEST_REQUIRE(again.exit_code == 0, again.err);
    BOOST_TEST(test::LabelFixture::summary(again)["labeled_now"] == 16);
    BOOST_TEST(chat_requests(f.server->stats()) == online.requests);
}

BOOST_AUTO_TEST_CASE(a_run_killed_while_it_polls_resumes_its_batches_and_pays_no_request_twice) {
    Online online(12);
    test::LabelFixture f;
    f.make_data(12);
    fake::FakeOptions options;
    options.batch_delay_ms = 3000;  // the first round stays out while the run is killed
    f.start_fake(options);
    std::vector<std::string> argv = {SEKE_BINARY, "label",         "--input",          f.manifest().string(),
                                     "--db",      f.db().string(), "--face-detection", "off"};
    argv = with(argv, kBatch);
    {
        test::BackgroundProcess run(argv, f.env(), f.dir / "killed.out", f.dir / "killed.err");
        for (int i = 0; i < 200 && f.server->stats().batches == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        BOOST_TEST_REQUIRE(f.server->stats().batches == 1u);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));  // polling now
        run.signal(SIGKILL);
        auto code = run.wait(30);
        BOOST_TEST((code && *code == -SIGKILL));
    }
    BOOST_TEST(chat_requests(f.server->stats()) == 0u);  // nothing answered yet

    auto resumed = f.label(kBatch);
    BOOST_TEST_REQUIRE(resumed.exit_code == 0, resumed.err);
    BOOST_TEST(resumed.err.find("polling 1 batches an earlier run submitted") != std::string::npos, resumed.err);
    const auto stats = f.server->stats();
    // The killed run's batch was polled, not made again: every request paid once.
    BOOST_TEST(chat_requests(stats) == online.requests);
    BOOST_TEST(stats.batch_lines == online.requests);
    json summary = test::LabelFixture::summary(resumed);
    BOOST_TEST(summary["labeled_now"] == 12);
    BOOST_TEST((labels_of(f) == online.labels));
}

BOOST_AUTO_TEST_CASE(failed_batch_lines_are_asked_again_in_the_next_batch) {
    Online online(12);
    test::LabelFixture f;
    f.make_data(12);
    fake::FakeOptions options;
    options.batch_fail = 0.3;
    f.start_fake(options);
    auto result = f.label(with(kBatch, {"--max-retries", "8"}));
    BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
    json summary = test::LabelFixture::summary(result);
    const auto stats = f.server->stats();
    BOOST_TEST(stats.batch_failed_lines > 0u);
    BOOST_TEST(summary["batch"]["failed_lines"].get<std::uint64_t>() == stats.batch_failed_lines);
    BOOST_TEST(summary["labeled_now"] == 12);
    // A failed line never reached the model: the answers are the online ones, each paid once.
    BOOST_TEST(chat_requests(stats) == online.requests);
    BOOST_TEST((labels_of(f) == online.labels));
}

BOOST_AUTO_TEST_CASE(file_mode_writes_each_round_reads_its_answers_back_and_finishes) {
    Online online(10);
    test::LabelFixture f;
    f.make_data(10);
    f.start_fake();
    const auto dir = f.dir / "rounds";
    auto result = f.label({"--price", kPrice, "--batch-out", dir.string(), "--batch-gather-ms", "200"});
    int rounds = 0;
    while (result.exit_code == 5 && rounds < 20) {
        ++rounds;
        json summary = test::LabelFixture::summary(result);
        BOOST_TEST_REQUIRE(summary["stopped"] == "batch_out");
        const std::filesystem::path requests = summary["batch"]["requests_file"].get<std::string>();
        BOOST_TEST(summary["batch"]["run"].get<std::string>().find("run_batch -i " + requests.string()) !=
                   std::string::npos);
        // The offline runner: each line's body answered by the fake's online endpoint.
        std::string output;
        for (const auto& line : test::read_jsonl(requests)) {
            BOOST_TEST_REQUIRE(line["method"] == "POST");
            BOOST_TEST_REQUIRE(line["url"] == "/v1/chat/completions");
            auto reply = f.server->handle("POST", "/v1/chat/completions", line["body"].dump());
            output += json{{"id", "r"},
                           {"custom_id", line["custom_id"]},
                           {"response", {{"status_code", reply.status}, {"body", json::parse(reply.body)}}},
                           {"error", nullptr}}
                          .dump() +
                      "\n";
        }
        auto out_path = requests;
        out_path.replace_filename(requests.filename().string().substr(0, 10) + ".output.jsonl");
        test::write_file(out_path, output);
        result = f.label({"--price", kPrice, "--batch-in", dir.string(), "--batch-gather-ms", "200"});
    }
    BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
    BOOST_TEST(rounds >= 2);
    json summary = test::LabelFixture::summary(result);
    BOOST_TEST(summary["batch"]["answers_read"].get<int>() > 0);
    BOOST_TEST(!summary.contains("stopped"));
    BOOST_TEST(chat_requests(f.server->stats()) == online.requests);
    BOOST_TEST((labels_of(f) == online.labels));
}

BOOST_AUTO_TEST_SUITE_END()
