// The REST worker and the review sync end to end: the real `seke cvat annotate`, `seke cvat sync`
// and `seke serve` binaries against the fake CVAT and the fake VLLM, all on 127.0.0.1.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "plugin/cvat/ids.hpp"
#include "plugin/records/store.hpp"
#include "tests/integration/serve_fixture.hpp"
#include "tests/support/fake_cvat.hpp"

using namespace seke;
using nlohmann::json;

namespace {

// Four synthetic faces and a broken frame; job A holds frames 0-2, job B frames 3-4.
struct CvatRestFixture : test::ServeFixture {
    test::FakeCvat cvat;
    json project_labels;
    long long task = -1, job_a = -1, job_b = -1;
    std::string frame_tag;  // the frame tag label (cvat.frame_tag_label), "" for none

    explicit CvatRestFixture(std::string tag_label = "") : frame_tag(std::move(tag_label)) {
        make_data(4);
        start_fake();
        std::vector<std::string> spec_args = {"cvat", "spec", "--labels"};
        if (!frame_tag.empty()) spec_args.insert(spec_args.end(), {"--cvat-frame-tag", frame_tag});
        auto spec = run_seke(spec_args);
        BOOST_REQUIRE_MESSAGE(spec.exit_code == 0, spec.err);
        project_labels = json::parse(spec.out);
        std::vector<std::filesystem::path> images;
        for (const auto& entry : std::filesystem::directory_iterator(data() / "images")) images.push_back(entry.path());
        std::sort(images.begin(), images.end());
        BOOST_REQUIRE(images.size() == 4u);
        std::vector<std::string> frames;
        for (const auto& path : images) frames.push_back(test::read_file(path));
        frames.emplace_back("this frame is not an image");
        task = cvat.add_task("faces", project_labels, frames, 128, 128);
        job_a = cvat.add_job(task, 0, 2);
        job_b = cvat.add_job(task, 3, 4);
    }

    std::map<std::string, std::string> cvat_env(const std::string& token = "pat-secret") const {
        auto environment = env();
        environment["CVAT_ACCESS_TOKEN"] = token;
        environment["CVAT_ORG"] = "lab";
        if (!frame_tag.empty()) environment["SEKE_CVAT_FRAME_TAG"] = frame_tag;
        return environment;
    }

    test::ProcessResult annotate(const std::string& token = "pat-secret",
                                 const std::vector<std::string>& extra = {}) const {
        std::vector<std::string> args = {
            SEKE_BINARY, "cvat",        "annotate",         "--url", cvat.url(), "--task", std::to_string(task),
            "--db",      db().string(), "--face-detection", "off",   "--jobs",   "2"};
        args.insert(args.end(), extra.begin(), extra.end());
        return test::run_process(args, cvat_env(token), 300);
    }

    test::ProcessResult sync_by_hand(long long job) const {
        return test::run_process(
            {SEKE_BINARY, "cvat", "sync", "--job", std::to_string(job), "--db", db().string()},
            [&] {
                auto e = cvat_env();
                e["CVAT_URL"] = cvat.url();
                return e;
            }(),
            120);
    }

    // frame → (shape id, face id) of the shapes seke recorded.
    std::map<long long, std::pair<long long, std::string>> recorded() const {
        auto store = Store::open(db().string());
        BOOST_REQUIRE(store);
        auto rows = (*store)->cvat_shapes(cvat::store_url(cvat.url()), task, 0, 100);
        BOOST_REQUIRE(rows);
        std::map<long long, std::pair<long long, std::string>> out;
        for (const auto& r : *rows) out[r.frame] = {r.shape_id, r.face_id};
        return out;
    }

    json record(const std::string& face_id) const {
        auto store = Store::open(db().string());
        BOOST_REQUIRE(store);
        auto row = (*store)->face(face_id);
        BOOST_REQUIRE(row && row->has_value());
        return json::parse((*row)->record_json);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_cvat_rest)

BOOST_AUTO_TEST_CASE(annotate_writes_filter_proof_shapes_once_and_reports_the_broken_frame) {
    CvatRestFixture f;
    auto first = f.annotate();
    BOOST_TEST_REQUIRE(first.exit_code == 3, first.err);  // partial: the broken frame
    json summary = test::LabelFixture::summary(first);
    BOOST_TEST(summary["frames"] == 5);
    BOOST_TEST(summary["labeled"] == 4);
    BOOST_TEST(summary["failed"] == 1);
    BOOST_TEST(summary["shapes_created"] == 4);
    BOOST_TEST(summary["failures"][0]["frame"] == 4);
    BOOST_TEST(first.err.find("\"failed_frame\"") != std::string::npos);
    BOOST_TEST(f.cvat.organizations_seen().back() == "lab");

    json face_label = f.cvat.label(f.task, "face");
    std::map<long long, json> attribute_by_id;
    for (const auto& a : face_label["attributes"]) attribute_by_id[a["id"].get<long long>()] = a;
    auto shapes = f.cvat.shapes(f.task);
    BOOST_TEST_REQUIRE(shapes.size() == 4u);
    for (const auto& shape : shapes) {
        BOOST_TEST(shape["label_id"] == face_label["id"]);
        BOOST_TEST(shape["source"] == "auto");
        BOOST_TEST(shape["type"] == "rectangle");
        BOOST_TEST(shape["points"] == json::array({0.0, 0.0, 128.0, 128.0}));  // whole image: detection off
        std::set<std::string> names;
        for (const auto& a : shape["attributes"]) {
            auto spec = attribute_by_id.find(a["spec_id"].get<long long>());
            BOOST_TEST_REQUIRE((spec != attribute_by_id.end()),
                               "spec_id " << a["spec_id"] << " is not the face label's");
            BOOST_TEST(test::passes_cvat_filter(spec->second, a["value"].get<std::string>()),
                       spec->second["name"] << " = " << a["value"]);
            names.insert(spec->second["name"].get<std::string>());
        }
        for (const char* wanted : {"expression", "valence", "arousal", "AU12", "pl_confidence"})
            BOOST_TEST(names.count(wanted) == 1u, wanted);
    }
    auto recorded = f.recorded();
    BOOST_TEST(recorded.size() == 4u);
    BOOST_TEST(recorded.count(4) == 0u);

    // A re-run adds nothing: the frames with shapes are skipped, the broken one is tried again.
    auto again = f.annotate();
    BOOST_TEST(again.exit_code == 3);
    json second = test::LabelFixture::summary(again);
    BOOST_TEST(second["already_annotated"] == 4);
    BOOST_TEST(second["shapes_created"] == 0);
    BOOST_TEST(f.cvat.shapes(f.task).size() == 4u);

    // Bad credentials: a clear error naming the credential, and nothing written.
    auto refused = f.annotate("not-the-token");
    BOOST_TEST(refused.exit_code == 2);
    BOOST_TEST(refused.err.find("HTTP 401") != std::string::npos, refused.err);
    BOOST_TEST(refused.err.find("personal access token") != std::string::npos);
    BOOST_TEST(refused.err.find("not-the-token") == std::string::npos);
}

// Job A reviewed by a human: frame 0 relabeled, frame 1 left as is, frame 2's face deleted and
// another drawn; the job is then completed. Returns the id of the drawn shape.
long long review_job_a(CvatRestFixture& f, const std::map<long long, std::pair<long long, std::string>>& shapes,
                       std::string& relabeled_to) {
    std::string model_expression = f.record(shapes.at(0).second)["labels"]["expression"];
    relabeled_to = model_expression == "anger" ? "fear" : "anger";
    f.cvat.set_attribute(shapes.at(0).first, "expression", relabeled_to);
    f.cvat.delete_shape(shapes.at(2).first);
    long long drawn = f.cvat.add_manual_shape(f.task, 2, {30, 30, 90, 100},
                                              {{"expression", "surprise"}, {"valence", "140"}, {"arousal", "170"}});
    f.cvat.set_job_status(f.job_a, "completed", "annotation");
    return drawn;
}

void expect_job_a_reviewed(CvatRestFixture& f, const std::map<long long, std::pair<long long, std::string>>& shapes,
                           const std::string& relabeled_to, long long drawn) {
    json corrected = f.record(shapes.at(0).second);
    BOOST_TEST(corrected["status"] == "corrected");
    BOOST_TEST(corrected["labels"]["expression"] == relabeled_to);
    BOOST_TEST(corrected["provenance"]["expression"] == "human");
    json accepted = f.record(shapes.at(1).second);
    BOOST_TEST(accepted["status"] == "accepted");
    BOOST_TEST(accepted["provenance"]["va"] == "human");
    BOOST_TEST(f.record(shapes.at(2).second)["status"] == "rejected");
    json added = f.record(cvat::added_face_id(f.task, 2, drawn));
    BOOST_TEST(added["status"] == "added");
    BOOST_TEST(added["labels"]["expression"] == "surprise");
    BOOST_TEST(added["provenance"]["expression"] == "human");
    BOOST_TEST(f.record(shapes.at(3).second)["status"] == "auto");  // job B was not part of it
}

// After `seke fit`, `seke cvat annotate` labels as `seke serve` does: the fit's few-shot examples
// in every face's requests and its model_version on the records (so labels of the unfitted
// version are not reused for these frames).
BOOST_AUTO_TEST_CASE(annotate_prices_what_it_paid_as_label_does) {
    CvatRestFixture f;
    auto run = f.annotate("pat-secret", {"--price", "1,0.1,4"});
    BOOST_TEST_REQUIRE(run.exit_code == 3, run.err);  // partial: the broken frame
    json summary = test::LabelFixture::summary(run);
    const auto stats = f.server->stats();
    BOOST_TEST(summary["spent"]["prompt_tokens"].get<std::uint64_t>() == stats.prompt_tokens);
    BOOST_TEST(summary["spent"]["cached_prompt_tokens"].get<std::uint64_t>() == stats.cached_prompt_tokens);
    BOOST_TEST(summary["spent"]["completion_tokens"].get<std::uint64_t>() == stats.completion_tokens);
    BOOST_TEST(stats.prompt_tokens > 0u);
    const double usd =
        (static_cast<double>(stats.prompt_tokens - stats.cached_prompt_tokens) * 1.0 +
         static_cast<double>(stats.cached_prompt_tokens) * 0.1 + static_cast<double>(stats.completion_tokens) * 4.0) /
        1e6;
    BOOST_TEST(summary["spent"]["usd"].get<double>() == usd, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(summary["cost_usd"].get<double>() > 0);
    BOOST_TEST(summary["cached_prompt_tokens"].get<std::int64_t>() ==
               summary["spent"]["cached_prompt_tokens"].get<std::int64_t>());
    BOOST_TEST(summary["price"]["model"] == "fake");

    // Without a price: the tokens, and a note saying why there is no money.
    auto unpriced = f.annotate();
    json plain = test::LabelFixture::summary(unpriced);
    BOOST_TEST(plain["cost_usd"].is_null());
    BOOST_TEST(plain["spent"]["usd"].is_null());
    BOOST_TEST(plain["price_note"].get<std::string>().find("fake") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(annotate_after_a_fit_uses_its_examples_and_version) {
    CvatRestFixture f;
    auto labeled = f.label();
    BOOST_TEST_REQUIRE(labeled.exit_code == 0, labeled.err);
    auto simulated = test::run_process({SEKE_BENCH_REVIEW_BINARY, "simulate", "--fraction", "1", "--db",
                                        f.db().string(), "--truth", (f.data() / "truth.jsonl").string()},
                                       {}, 120);
    BOOST_TEST_REQUIRE(simulated.exit_code == 0, simulated.err);
    auto fitted = f.run_seke({"fit", "--db", f.db().string()});
    BOOST_TEST_REQUIRE(fitted.exit_code == 0, fitted.err);
    json fit = json::parse(fitted.out);
    BOOST_TEST_REQUIRE(fit["changed"] == true, fitted.out);
    const std::string fit_version = fit["model_version"];

    f.server->reset_stats();
    auto annotated = f.annotate();
    BOOST_TEST_REQUIRE(annotated.exit_code == 3, annotated.err);  // partial: the broken frame
    json summary = test::LabelFixture::summary(annotated);
    BOOST_TEST(summary["model_version"] == fit_version);
    BOOST_TEST(summary["labeled"] == 4);
    BOOST_TEST(summary["reused"] == 0);
    auto stats = f.server->stats();
    for (const auto& [id, truth] : f.truth()) BOOST_TEST(stats.few_shot_per_item[id] > 0u, id);
    auto recorded = f.recorded();
    BOOST_TEST_REQUIRE(recorded.size() == 4u);
    for (const auto& [frame, shape] : recorded)
        BOOST_TEST(f.record(shape.second)["model_version"] == fit_version, frame);
}

BOOST_AUTO_TEST_CASE(manual_sync_brings_reviews_back_once) {
    CvatRestFixture f;
    auto annotated = f.annotate();
    BOOST_TEST_REQUIRE(annotated.exit_code == 3, annotated.err);
    auto shapes = f.recorded();
    BOOST_TEST_REQUIRE(shapes.size() == 4u);
    std::string relabeled_to;
    long long drawn = review_job_a(f, shapes, relabeled_to);

    auto first = f.sync_by_hand(f.job_a);
    BOOST_TEST_REQUIRE(first.exit_code == 0, first.err);
    json summary = test::LabelFixture::summary(first);
    BOOST_TEST(summary["accepted"] == 1);
    BOOST_TEST(summary["corrected"] == 1);
    BOOST_TEST(summary["rejected"] == 1);
    BOOST_TEST(summary["added"] == 1);
    BOOST_TEST(summary["written"] == 4);
    expect_job_a_reviewed(f, shapes, relabeled_to, drawn);

    std::map<std::string, std::string> before;
    for (const auto& [frame, shape] : shapes) before[shape.second] = f.record(shape.second).dump();
    auto again = f.sync_by_hand(f.job_a);
    BOOST_TEST(test::LabelFixture::summary(again)["written"] == 0);
    for (const auto& [face, text] : before) BOOST_TEST(f.record(face).dump() == text, face);

    // Job B: frame 3's box moved.
    f.cvat.move_shape(shapes[3].first, 5, 7);
    auto moved_sync = f.sync_by_hand(f.job_b);
    BOOST_TEST_REQUIRE(moved_sync.exit_code == 0, moved_sync.err);
    json moved_summary = test::LabelFixture::summary(moved_sync);
    BOOST_TEST(moved_summary["corrected"] == 1);
    BOOST_TEST(moved_summary["written"] == 1);
    json moved = f.record(shapes[3].second);
    BOOST_TEST(moved["status"] == "corrected");
    BOOST_TEST(moved["face"]["x"] == 5);
    BOOST_TEST(moved["face"]["y"] == 7);

    auto unknown = f.sync_by_hand(9999);
    BOOST_TEST(unknown.exit_code != 0);
    BOOST_TEST(unknown.err.find("HTTP 404") != std::string::npos, unknown.err);
}

BOOST_AUTO_TEST_CASE(signed_webhook_in_seke_serve_triggers_the_sync) {
    CvatRestFixture f;
    auto annotated = f.annotate();
    BOOST_TEST_REQUIRE(annotated.exit_code == 3, annotated.err);
    auto shapes = f.recorded();
    BOOST_TEST_REQUIRE(shapes.size() == 4u);
    std::string relabeled_to;
    long long drawn = review_job_a(f, shapes, relabeled_to);

    f.start_serve({"--cvat-url", f.cvat.url(), "--cvat-webhook-secret", "hook-secret"},
                  {{"CVAT_ACCESS_TOKEN", "pat-secret"}, {"CVAT_ORG", "lab"}});
    std::string hook = f.base + "/cvat/webhook";
    std::string event = f.cvat.update_job_event(f.job_a, {{"state", "in progress"}}).dump();

    auto unsigned_delivery = test::FakeCvat::deliver_webhook(hook, event, "");
    if (unsigned_delivery.status == 404)
        BOOST_FAIL(
            "seke serve has no route POST /cvat/webhook: cvat::CvatWebhook is not wired into "
            "plugin/cli_serve.cpp");
    BOOST_TEST(unsigned_delivery.status == 401, unsigned_delivery.body);
    auto badly_signed = test::FakeCvat::deliver_webhook(hook, event, "wrong-secret");
    BOOST_TEST(badly_signed.status == 403);
    BOOST_TEST(f.record(shapes[0].second)["status"] == "auto");

    auto delivered = test::FakeCvat::deliver_webhook(hook, event, "hook-secret");
    BOOST_TEST_REQUIRE(delivered.status == 200, delivered.body);
    auto wait_for_syncs = [&](std::size_t count) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < deadline) {
            std::string log = f.serve_log();
            std::size_t seen = 0;
            for (auto at = log.find("\"review synced\""); at != std::string::npos;
                 at = log.find("\"review synced\"", at + 1))
                ++seen;
            if (seen >= count) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        BOOST_FAIL("no review sync in the log: " + f.serve_log());
    };
    wait_for_syncs(1);
    expect_job_a_reviewed(f, shapes, relabeled_to, drawn);

    // A redelivered webhook changes nothing.
    std::map<std::string, std::string> before;
    for (const auto& [frame, shape] : shapes) before[shape.second] = f.record(shape.second).dump();
    auto redelivered = test::FakeCvat::deliver_webhook(hook, event, "hook-secret");
    BOOST_TEST(redelivered.status == 200);
    wait_for_syncs(2);
    for (const auto& [face, text] : before) BOOST_TEST(f.record(face).dump() == text, face);
}

// With a tag label, each frame written also gets the whole image's expression as a frame tag,
// as the function's answer has it, once; a tag a human changed corrects the face it speaks for.
BOOST_AUTO_TEST_CASE(annotate_writes_the_frame_tag_once_and_the_sync_reads_it_back) {
    CvatRestFixture f("frame_emotion");
    auto first = f.annotate();
    BOOST_TEST_REQUIRE(first.exit_code == 3, first.err);  // the broken frame
    json summary = test::LabelFixture::summary(first);
    BOOST_TEST(summary["shapes_created"] == 4);
    BOOST_TEST(summary["tags_created"] == 4);
    const long long tag_label = f.cvat.label_id(f.task, "frame_emotion");
    auto tags = f.cvat.tags(f.task);
    BOOST_TEST_REQUIRE(tags.size() == 4u);
    auto shapes = f.recorded();
    std::map<long long, long long> tag_of_frame;
    for (const auto& tag : tags) {
        BOOST_TEST(tag["label_id"] == tag_label);
        BOOST_TEST(tag["source"] == "auto");
        const long long frame = tag["frame"].get<long long>();
        tag_of_frame[frame] = tag["id"].get<long long>();
        const long long id = tag["id"].get<long long>();
        BOOST_TEST(f.cvat.tag_attribute(id, "expression") == f.cvat.attribute(shapes.at(frame).first, "expression"),
                   frame);
        BOOST_TEST(f.cvat.tag_attribute(id, "faces_visible") == "1");
    }
    auto again = f.annotate();
    BOOST_TEST(test::LabelFixture::summary(again)["tags_created"] == 0);
    BOOST_TEST(f.cvat.tags(f.task).size() == 4u);

    // Frame 1's tag relabeled; its face's own shape left as it was.
    std::string model_expression = f.record(shapes.at(1).second)["labels"]["expression"];
    std::string relabeled_to = model_expression == "anger" ? "fear" : "anger";
    f.cvat.set_tag_attribute(tag_of_frame.at(1), "expression", relabeled_to);
    auto synced = f.sync_by_hand(f.job_a);
    BOOST_TEST_REQUIRE(synced.exit_code == 0, synced.err);
    json sync = test::LabelFixture::summary(synced);
    BOOST_TEST(sync["tags_read"] == 1);
    BOOST_TEST(sync["corrected"] == 1);
    BOOST_TEST(sync["accepted"] == 2);
    json corrected = f.record(shapes.at(1).second);
    BOOST_TEST(corrected["labels"]["expression"] == relabeled_to);
    BOOST_TEST(corrected["provenance"]["expression"] == "human");
    BOOST_TEST(test::LabelFixture::summary(f.sync_by_hand(f.job_a))["written"] == 0);
}

// What a deletion in CVAT means: a drawn face deleted is withdrawn, a deleted frame's faces and
// a cleared job's are reopened; none of them counts as seke's mistake, and a re-run writes nothing.
BOOST_AUTO_TEST_CASE(deleted_drawn_faces_deleted_frames_and_cleared_jobs) {
    CvatRestFixture f;
    BOOST_TEST_REQUIRE(f.annotate().exit_code == 3);
    auto shapes = f.recorded();
    BOOST_TEST_REQUIRE(shapes.size() == 4u);
    long long drawn = f.cvat.add_manual_shape(f.task, 0, {30, 30, 90, 100}, {{"expression", "surprise"}});
    const std::string model_expression = f.record(shapes.at(1).second)["labels"]["expression"];
    const std::string relabeled_to = model_expression == "disgust" ? "fear" : "disgust";
    f.cvat.set_attribute(shapes.at(1).first, "expression", relabeled_to);
    auto reviewed = f.sync_by_hand(f.job_a);
    BOOST_TEST_REQUIRE(reviewed.exit_code == 0, reviewed.err);
    BOOST_TEST(test::LabelFixture::summary(reviewed)["added"] == 1);
    const std::string drawn_face = cvat::added_face_id(f.task, 0, drawn);
    auto exported_ids = [&] {
        std::set<std::string> ids;
        for (const auto& r : f.export_records()) ids.insert(r["id"].get<std::string>());
        return ids;
    };
    BOOST_TEST(exported_ids().count(drawn_face) == 1u);

    // The drawn face deleted, frame 1 deleted from the task.
    f.cvat.delete_shape(drawn);
    f.cvat.delete_frame(f.task, 1);
    auto first = f.sync_by_hand(f.job_a);
    BOOST_TEST_REQUIRE(first.exit_code == 0, first.err);
    json summary = test::LabelFixture::summary(first);
    BOOST_TEST(summary["withdrawn"] == 1);
    BOOST_TEST(summary["reopened"] == 1);
    BOOST_TEST(summary["rejected"] == 0);
    BOOST_TEST(summary["accepted"] == 2);  // frames 0 and 2
    BOOST_TEST(f.record(drawn_face)["status"] == "withdrawn");
    json reopened = f.record(shapes.at(1).second);
    BOOST_TEST(reopened["status"] == "auto");
    BOOST_TEST(reopened["labels"]["expression"] == model_expression);
    BOOST_TEST(!reopened.contains("review"));
    BOOST_TEST(exported_ids().count(drawn_face) == 0u);
    BOOST_TEST(test::LabelFixture::summary(f.sync_by_hand(f.job_a))["written"] == 0);

    // Job B accepted as it was, then cleared whole: its face is open again, not rejected.
    BOOST_TEST(test::LabelFixture::summary(f.sync_by_hand(f.job_b))["accepted"] == 1);
    BOOST_TEST(f.record(shapes.at(3).second)["status"] == "accepted");
    f.cvat.clear_job(f.job_b);
    auto cleared = f.sync_by_hand(f.job_b);
    BOOST_TEST_REQUIRE(cleared.exit_code == 0, cleared.err);
    json cleared_summary = test::LabelFixture::summary(cleared);
    BOOST_TEST(cleared_summary["cleared"] == true);
    BOOST_TEST(cleared_summary["reopened"] == 1);
    BOOST_TEST(cleared_summary["rejected"] == 0);
    BOOST_TEST(f.record(shapes.at(3).second)["status"] == "auto");
    BOOST_TEST(test::LabelFixture::summary(f.sync_by_hand(f.job_b))["written"] == 0);
}

BOOST_AUTO_TEST_SUITE_END()
