// `seke label` + `seke export` end to end: the real binary, the real store on disk, real HTTP
// to the fake VLLM on 127.0.0.1.
#include <signal.h>
#include <sqlite3.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "plugin/records/feid.hpp"
#include "plugin/records/store.hpp"
#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;

namespace {

const std::set<std::string> kExpressions = {"neutral", "happy",   "sad",   "surprise",
                                            "fear",    "disgust", "anger", "contempt"};

void check_complete_record(const json& r) {
    const json& labels = r["labels"];
    BOOST_TEST_REQUIRE(labels["expression"].is_string(), r.dump());
    BOOST_TEST(kExpressions.count(labels["expression"].get<std::string>()) == 1u);
    for (const char* va : {"valence", "arousal"}) {
        BOOST_TEST_REQUIRE(labels[va].is_number(), r.dump());
        BOOST_TEST(std::abs(labels[va].get<double>()) <= 1.0);
    }
    BOOST_TEST_REQUIRE(labels["action_units"].is_array());
    for (const char* level : {"expression", "va", "au", "consistency", "overall"}) {
        BOOST_TEST_REQUIRE(r["uncertainty"][level].is_number(), r.dump());
        double u = r["uncertainty"][level].get<double>();
        BOOST_TEST((u >= 0.0 && u <= 1.0), level << " " << u);
    }
    BOOST_TEST(!r["model_version"].get<std::string>().empty());
    BOOST_TEST(r["conversations"].size() >= 2u);
}

std::map<std::string, std::pair<std::string, std::string>> item_rows(const std::filesystem::path& db) {
    std::map<std::string, std::pair<std::string, std::string>> rows;
    sqlite3* handle = nullptr;
    sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(handle, "SELECT id, status, error FROM items", -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        auto text = [&](int c) {
            auto* p = sqlite3_column_text(stmt, c);
            return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
        };
        rows[text(0)] = {text(1), text(2)};
    }
    sqlite3_finalize(stmt);
    sqlite3_close(handle);
    return rows;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_label)

BOOST_AUTO_TEST_CASE(labels_every_item_keeps_known_labels_and_exports) {
    test::LabelFixture f;
    f.make_data(32, 0.3);
    f.start_fake();
    auto result = f.label();
    BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
    json summary = test::LabelFixture::summary(result);
    BOOST_TEST(summary["labeled_now"] == 32);
    BOOST_TEST(summary["failed"] == 0);
    BOOST_TEST(summary["samples"].get<int>() >= 32);

    auto records = f.export_records();
    BOOST_TEST_REQUIRE(records.size() == 32u);
    auto truth = f.truth();
    std::map<std::string, json> known;
    for (const auto& line : f.manifest_lines()) known[line["id"]] = line["known"];
    int correct = 0;
    int known_checked = 0;
    for (const auto& r : records) {
        check_complete_record(r);
        std::string id = r["id"];
        BOOST_TEST(r["face"].is_null());
        correct += r["labels"]["expression"] == truth.at(id)["expression"];
        const json& k = known.at(id);
        if (k.contains("expression")) {
            BOOST_TEST(r["labels"]["expression"] == k["expression"]);
            BOOST_TEST(r["provenance"]["expression"] == "source");
            ++known_checked;
        } else {
            BOOST_TEST(r["provenance"]["expression"] == "model");
        }
        if (k.contains("action_units")) {
            std::set<std::string> want(k["action_units"].begin(), k["action_units"].end());
            std::set<std::string> got(r["labels"]["action_units"].begin(), r["labels"]["action_units"].end());
            BOOST_TEST((want == got), id);
            BOOST_TEST(r["provenance"]["au"] == "source");
            ++known_checked;
        }
        if (k.contains("valence")) {
            BOOST_TEST(r["labels"]["valence"].get<double>() == k["valence"].get<double>());
            ++known_checked;
        }
    }
    BOOST_TEST(known_checked > 0);
    BOOST_TEST(correct >= 24, "expression right on " << correct << " of 32");

    auto llava = f.export_records("llava");
    BOOST_TEST_REQUIRE(llava.size() == 32u);
    BOOST_TEST(llava[0]["conversations"][0]["value"].get<std::string>().rfind("<image>", 0) == 0);
    auto sharegpt = f.export_records("sharegpt");
    BOOST_TEST_REQUIRE(sharegpt.size() == 32u);
    BOOST_TEST(sharegpt[0]["images"].size() == 1u);
    BOOST_TEST(sharegpt[0]["messages"][1]["role"] == "assistant");
}

BOOST_AUTO_TEST_CASE(a_second_run_resumes_and_pays_nothing) {
    test::LabelFixture f;
    f.make_data(12);
    f.start_fake();
    BOOST_TEST_REQUIRE(f.label().exit_code == 0);
    auto requests_after_first = f.server->stats().total_requests;
    auto second = f.label();
    BOOST_TEST_REQUIRE(second.exit_code == 0, second.err);
    json summary = test::LabelFixture::summary(second);
    BOOST_TEST(summary["already_done"] == 12);
    BOOST_TEST(summary["labeled_now"] == 0);
    BOOST_TEST(summary["http_requests"] == 0);
    BOOST_TEST(f.server->stats().total_requests == requests_after_first);
}

BOOST_AUTO_TEST_CASE(ctrl_c_keeps_finished_items_and_the_resumed_run_repays_none) {
    test::LabelFixture f;
    f.make_data(40);
    fake::FakeOptions slow;
    slow.latency_ms = 250;
    f.start_fake(slow);
    std::vector<std::string> args = {
        SEKE_BINARY, "label",  "--input", f.manifest().string(), "--db", f.db().string(), "--face-detection",
        "off",       "--jobs", "4"};
    test::BackgroundProcess run(args, f.env(), f.dir / "run1.out", f.dir / "run1.err");
    // Interrupt once some items are committed.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        int done = 0;
        if (std::filesystem::exists(f.db()))
            for (const auto& [id, row] : item_rows(f.db())) done += row.first == "done";
        if (done >= 5) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    run.signal(SIGINT);
    auto code = run.wait(30);
    BOOST_TEST_REQUIRE(code.has_value());
    BOOST_TEST(*code == 130);
    json first = json::parse(test::read_file(f.dir / "run1.out"));
    BOOST_TEST(first["interrupted"] == true);
    auto after_first = item_rows(f.db());
    std::set<std::string> finished;
    for (const auto& [id, row] : after_first)
        if (row.first == "done") finished.insert(id);
    BOOST_TEST(finished.size() >= 5u);
    BOOST_TEST(finished.size() < 40u);

    auto per_item_before = f.server->stats().per_item;
    f.start_fake();  // fast now
    auto second = f.label();
    BOOST_TEST_REQUIRE(second.exit_code == 0, second.err);
    json summary = test::LabelFixture::summary(second);
    BOOST_TEST(summary["already_done"].get<std::size_t>() == finished.size());
    BOOST_TEST(summary["labeled_now"].get<std::size_t>() == 40 - finished.size());
    // The new fake saw no request for an item the first run finished.
    auto per_item_after = f.server->stats().per_item;
    for (const auto& id : finished) BOOST_TEST(per_item_after.count(id) == 0u, id);
    BOOST_TEST(f.export_records().size() == 40u);
}

BOOST_AUTO_TEST_CASE(transient_faults_are_retried_and_malformed_answers_dropped) {
    test::LabelFixture f;
    f.make_data(30);
    fake::FakeOptions faulty;
    faulty.fault_429 = 0.15;
    faulty.fault_500 = 0.1;
    faulty.fault_malformed = 0.1;
    faulty.fault_truncated = 0.05;
    faulty.fault_refusal = 0.05;
    faulty.fault_wrong_types = 0.05;
    faulty.retry_after_s = 1;
    f.start_fake(faulty);
    auto result = f.label({"--max-retries", "6"});
    BOOST_TEST_REQUIRE((result.exit_code == 0 || result.exit_code == 3), result.err);
    json summary = test::LabelFixture::summary(result);
    BOOST_TEST(summary["retries"].get<int>() > 0);
    BOOST_TEST(summary["malformed_answers"].get<int>() > 0);
    BOOST_TEST(summary["labeled_now"].get<int>() >= 28);
    for (const auto& r : f.export_records()) check_complete_record(r);
    auto stats = f.server->stats();
    BOOST_TEST(stats.by_status[429] > 0u);
    BOOST_TEST(stats.by_status[500] > 0u);
}

BOOST_AUTO_TEST_CASE(a_model_that_keeps_failing_is_recorded_and_retried_next_run) {
    test::LabelFixture f;
    f.make_data(10);
    f.add_item_fault("s00003", "always_500");
    f.add_item_fault("s00007", "always_malformed");
    f.start_fake();
    auto result = f.label({"--max-retries", "1"});
    BOOST_TEST_REQUIRE(result.exit_code == 3, result.err);
    json summary = test::LabelFixture::summary(result);
    BOOST_TEST(summary["failed"] == 2);
    BOOST_TEST(result.err.find("failed_item") != std::string::npos);
    auto rows = item_rows(f.db());
    BOOST_TEST(rows["s00003"].first == "failed");
    BOOST_TEST(rows["s00003"].second.find("500") != std::string::npos, rows["s00003"].second);
    BOOST_TEST(rows["s00007"].first == "failed");
    BOOST_TEST(!rows["s00007"].second.empty());
    auto records = f.export_records();
    BOOST_TEST(records.size() == 8u);  // no label invented for the failed ones
    for (const auto& r : records) BOOST_TEST((r["id"] != "s00003" && r["id"] != "s00007"));

    auto again = f.label({"--max-retries", "0"});
    json second = test::LabelFixture::summary(again);
    BOOST_TEST(second["already_done"] == 8);
    BOOST_TEST(second["failed"] == 2);
}

BOOST_AUTO_TEST_CASE(a_hanging_model_times_out_and_the_run_goes_on) {
    test::LabelFixture f;
    f.make_data(6);
    f.add_item_fault("s00002", "always_hang");
    f.start_fake();
    auto start = std::chrono::steady_clock::now();
    auto result = f.label({"--timeout-ms", "400", "--max-retries", "1"});
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST_REQUIRE(result.exit_code == 3, result.err);
    BOOST_TEST(seconds < 30.0);
    auto rows = item_rows(f.db());
    BOOST_TEST(rows["s00002"].first == "failed");
    BOOST_TEST(rows["s00002"].second.find("timeout") != std::string::npos, rows["s00002"].second);
    BOOST_TEST(rows["s00001"].first == "done");
}

BOOST_AUTO_TEST_CASE(bad_inputs_get_reasons_and_good_items_are_labeled) {
    test::LabelFixture f;
    f.make_data(4);
    f.start_fake();
    test::write_file(f.data() / "notes.jpg", "this is not an image");
    std::string jpeg = test::read_file(f.data() / "images" / "s00001.jpg");
    test::write_file(f.data() / "cut.jpg", jpeg.substr(0, jpeg.size() / 2));
    std::string manifest = test::read_file(f.manifest());
    manifest += "{\"id\": \"missing\", \"image\": \"images/nope.jpg\"}\n";
    manifest += "{\"id\": \"text\", \"image\": \"notes.jpg\"}\n";
    manifest += "{\"id\": \"cut\", \"image\": \"cut.jpg\"}\n";
    manifest += "{\"id\": \"download\", \"image\": \"http://127.0.0.1:9/x.jpg\"}\n";
    manifest += "{\"id\": \"broken\", \"image\": \n";
    manifest += "{\"id\": \"bored\", \"image\": \"images/s00001.jpg\", \"known\": {\"expression\": \"bored\"}}\n";
    test::write_file(f.manifest(), manifest);

    auto result = f.label();
    BOOST_TEST_REQUIRE(result.exit_code == 3, result.err);
    json summary = test::LabelFixture::summary(result);
    BOOST_TEST(summary["rejected_input_lines"] == 2);
    BOOST_TEST(summary["failed"] == 4);
    BOOST_TEST(summary["labeled_now"] == 4);
    BOOST_TEST(result.err.find("rejected_input") != std::string::npos);
    BOOST_TEST(result.err.find("bored") != std::string::npos);
    auto rows = item_rows(f.db());
    BOOST_TEST(rows["missing"].second.find("not_found") != std::string::npos, rows["missing"].second);
    BOOST_TEST(rows["text"].second.find("unsupported_media") != std::string::npos, rows["text"].second);
    BOOST_TEST(rows["cut"].second.find("image_error") != std::string::npos, rows["cut"].second);
    BOOST_TEST(rows["download"].second.find("upstream") != std::string::npos, rows["download"].second);
    BOOST_TEST(f.export_records().size() == 4u);
}

BOOST_AUTO_TEST_CASE(providers_without_json_schema_or_n_still_work) {
    test::LabelFixture f;
    f.make_data(10);
    fake::FakeOptions limited;
    limited.reject_json_schema = true;
    limited.ignore_n = true;
    f.start_fake(limited);
    auto result = f.label();
    BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
    json summary = test::LabelFixture::summary(result);
    BOOST_TEST(summary["labeled_now"] == 10);
    BOOST_TEST(f.server->stats().by_status.at(400) >= 1u);
    BOOST_TEST(summary["samples"].get<int>() >= 30);  // k_min samples per face still drawn
    for (const auto& r : f.export_records()) check_complete_record(r);
}

BOOST_AUTO_TEST_CASE(required_face_mode_skips_images_without_faces) {
    test::LabelFixture f;
    f.make_data(3);
    f.start_fake();
    auto result = f.label({"--face-detection", "required"});
    BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
    json summary = test::LabelFixture::summary(result);
    BOOST_TEST(summary["skipped"] == 3);
    for (const auto& [id, row] : item_rows(f.db())) {
        BOOST_TEST(row.first == "skipped");
        BOOST_TEST(row.second.find("no_face") != std::string::npos);
    }
    BOOST_TEST(f.server->stats().total_requests == 0u);
}

BOOST_AUTO_TEST_CASE(usage_errors_are_json_with_a_reason) {
    test::LabelFixture f;
    f.make_data(1);
    auto bad_flag = f.label({"--k-max", "lots"});
    BOOST_TEST(bad_flag.exit_code == 2);
    json error = json::parse(bad_flag.err.substr(0, bad_flag.err.find('\n')));
    BOOST_TEST(error["error"]["message"].get<std::string>().find("engine.k_max") != std::string::npos);
    auto no_input = f.run_seke({"label", "--db", f.db().string()});
    BOOST_TEST(no_input.exit_code == 2);
    BOOST_TEST(no_input.err.find("--input") != std::string::npos);
    auto bad_format = f.run_seke({"export", "--db", f.db().string(), "--format", "csv", "--out", "x"});
    BOOST_TEST(bad_format.exit_code == 2);
    BOOST_TEST(bad_format.err.find("csv") != std::string::npos);
    auto no_db = f.run_seke({"export", "--db", (f.dir / "none.db").string(), "--out", "x"});
    BOOST_TEST(no_db.exit_code == 2);
    auto unknown = f.run_seke({"frobnicate"});
    BOOST_TEST(unknown.exit_code == 2);
    BOOST_TEST(unknown.err.find("\"error\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unreadable_record_is_left_out_of_the_export_and_named) {
    test::LabelFixture f;
    std::string good_record;
    {
        auto store = Store::open(f.db().string());
        BOOST_TEST_REQUIRE(store.ok());
        FaceResult result;
        result.ok = true;
        result.labels.expression = "happy";
        FeidInput input;
        input.id = input.image = "good";
        input.result = &result;
        input.model_version = "v1";
        ItemOutcome good;
        good.item.id = "good";
        good.item.status = ItemStatus::done;
        good.faces.push_back(face_row(test::test_knowledge(), input, "good", 0));
        good_record = good.faces[0].record_json;
        ItemOutcome bad = good;
        bad.item.id = bad.faces[0].id = bad.faces[0].item_id = "bad";
        bad.faces[0].record_json = R"({"id":"bad","face":{"x":"left"}})";
        BOOST_TEST_REQUIRE((*store)->save_outcomes({good, bad}).ok());
    }
    auto out = f.dir / "export.jsonl";
    auto run = f.run_seke({"export", "--db", f.db().string(), "--out", out.string()});
    BOOST_TEST(run.exit_code == 3, run.err);  // partial
    BOOST_TEST(run.err.find("face bad: FEID record: face.x is string, not an integer") != std::string::npos, run.err);
    BOOST_TEST(test::LabelFixture::summary(run)["unreadable_records"] == 1);
    BOOST_TEST(test::read_file(out) == good_record + "\n");
}

BOOST_AUTO_TEST_SUITE_END()
