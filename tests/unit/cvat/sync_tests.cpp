// The review sync: a job edited by a human in the fake CVAT, diffed against seke's shapes.
#include <boost/test/unit_test.hpp>

#include "plugin/cvat/sync.hpp"
#include "plugin/records/feid.hpp"
#include "tests/unit/cvat/cvat_test_util.hpp"

using namespace seke;
using nlohmann::json;

namespace {

Result<cvat::SyncSummary> sync(test::ReviewedTaskFixture& f) {
    cvat::SyncDeps deps{test::test_knowledge(), f.spec, *f.store, *f.client};
    return cvat::sync_job(deps, f.job);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cvat_sync)

BOOST_AUTO_TEST_CASE(unchanged_corrected_moved_deleted_and_added_faces) {
    test::ReviewedTaskFixture f;
    f.seed_frame(0);
    long long relabeled = f.seed_frame(1);
    long long moved = f.seed_frame(2);
    long long deleted = f.seed_frame(3, "sad");

    f.fake.set_attribute(relabeled, "expression", "surprise");
    f.fake.set_attribute(relabeled, "valence", "30");  // -0.7
    f.fake.set_attribute(relabeled, "arousal", "180");
    f.fake.move_shape(moved, 12, 0);
    f.fake.delete_shape(deleted);
    long long drawn =
        f.fake.add_manual_shape(f.task, 3, {60, 60, 100, 110},
                                {{"expression", "anger"}, {"valence", "20"}, {"arousal", "190"}, {"AU4", "true"}});

    auto summary = sync(f);
    BOOST_TEST_REQUIRE(summary.ok(), (summary ? "" : summary.error().message));
    BOOST_TEST(summary->accepted == 1);
    BOOST_TEST(summary->corrected == 2);
    BOOST_TEST(summary->rejected == 1);
    BOOST_TEST(summary->added == 1);
    BOOST_TEST(summary->written == 5);

    json accepted = f.record(f.face_ids[0]);
    BOOST_TEST(accepted["status"] == "accepted");
    BOOST_TEST(accepted["provenance"]["expression"] == "human");
    BOOST_TEST(accepted["labels"]["expression"] == "happy");
    BOOST_TEST(accepted["review"]["reviewer"] == "cvat:alice");

    json corrected = f.record(f.face_ids[1]);
    BOOST_TEST(corrected["status"] == "corrected");
    BOOST_TEST(corrected["labels"]["expression"] == "surprise");
    BOOST_TEST(corrected["labels"]["valence"].get<double>() == -0.7, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(corrected["provenance"]["va"] == "human");
    BOOST_TEST(corrected["review"]["model_labels"]["expression"] == "happy");

    json boxed = f.record(f.face_ids[2]);
    BOOST_TEST(boxed["status"] == "corrected");
    BOOST_TEST(boxed["face"]["x"] == 22);
    BOOST_TEST(boxed["review"]["box"] == "corrected");
    BOOST_TEST(boxed["labels"]["expression"] == "happy");

    json rejected = f.record(f.face_ids[3]);
    BOOST_TEST(rejected["status"] == "rejected");

    json added = f.record(cvat::added_face_id(f.task, 3, drawn));
    BOOST_TEST(added["status"] == "added");
    BOOST_TEST(added["labels"]["expression"] == "anger");
    BOOST_TEST(added["provenance"]["expression"] == "human");
    BOOST_TEST(added["provenance"]["au"] == "human");
    BOOST_TEST(added["face"]["w"] == 40);
    BOOST_TEST(added["labels"]["action_units"] == json::array({"AU4"}));
    auto row = f.store->face(cvat::added_face_id(f.task, 3, drawn));
    BOOST_TEST((*row)->status == "added");
    BOOST_TEST((*row)->item_id == cvat::frame_item_id(f.task, 3));

    // Idempotent: the same annotations again change nothing.
    std::string before = f.store->face(f.face_ids[1])->value().record_json;
    auto again = sync(f);
    BOOST_TEST_REQUIRE(again.ok());
    BOOST_TEST(again->written == 0);
    BOOST_TEST(again->accepted == 1);
    BOOST_TEST(again->corrected == 2);
    BOOST_TEST(again->rejected == 1);
    BOOST_TEST(again->added == 1);
    BOOST_TEST(f.store->face(f.face_ids[1])->value().record_json == before);
    BOOST_TEST(f.store->cvat_job_sync(cvat::store_url(f.fake.url()), f.job)->has_value());

    // A later edit is picked up, and the model's labels stay the first review's snapshot.
    f.fake.set_attribute(relabeled, "expression", "fear");
    auto third = sync(f);
    BOOST_TEST(third->written == 1);
    json fear = f.record(f.face_ids[1]);
    BOOST_TEST(fear["labels"]["expression"] == "fear");
    BOOST_TEST(fear["review"]["model_labels"]["expression"] == "happy");
}

BOOST_AUTO_TEST_CASE(what_is_not_a_human_face_label_is_skipped_with_a_reason) {
    test::ReviewedTaskFixture f;
    f.seed_frame(0);
    // Another tool's automatic shape, and an attribute value seke cannot read.
    long long odd = f.fake.add_manual_shape(f.task, 1, {1, 1, 20, 20}, {{"valence", "abc"}, {"arousal", "100"}});
    auto created =
        f.client->create_job_annotations(f.job, {{"shapes", json::array({{{"type", "rectangle"},
                                                                          {"frame", 2},
                                                                          {"label_id", f.fake.label_id(f.task, "face")},
                                                                          {"points", {5, 5, 30, 30}},
                                                                          {"source", "auto"},
                                                                          {"attributes", json::array()}}})}});
    BOOST_REQUIRE(created);
    auto summary = sync(f);
    BOOST_TEST_REQUIRE(summary.ok());
    BOOST_TEST(summary->accepted == 1);
    BOOST_TEST(summary->added == 1);  // the manual one, without VA
    std::string skipped = json(summary->skipped).dump();
    BOOST_TEST(skipped.find("made automatically") != std::string::npos);
    BOOST_TEST(skipped.find("valence \\\"abc\\\"") != std::string::npos);
    json added = f.record(cvat::added_face_id(f.task, 1, odd));
    BOOST_TEST(added["labels"]["valence"].is_null());
}

BOOST_AUTO_TEST_CASE(a_job_that_cannot_be_read_is_an_error) {
    test::ReviewedTaskFixture f;
    cvat::SyncDeps deps{test::test_knowledge(), f.spec, *f.store, *f.client};
    auto missing = cvat::sync_job(deps, 4242);
    BOOST_TEST(missing.error().code == errc::not_found);
}

BOOST_AUTO_TEST_CASE(a_face_whose_record_cannot_be_read_is_skipped_with_the_reason) {
    test::ReviewedTaskFixture f;
    f.seed_frame(0);
    f.seed_frame(1);
    auto stored = f.store->face(f.face_ids[0]);
    BOOST_TEST_REQUIRE((stored && stored->has_value()));
    FaceRow broken = **stored;
    broken.record_json = R"({"id":")" + broken.id + R"(","labels":{"valence":"high"}})";
    ItemRow item;
    item.id = broken.item_id;
    BOOST_TEST_REQUIRE(f.store->save_human_face(item, broken).ok());

    auto summary = sync(f);
    BOOST_TEST_REQUIRE(summary.ok(), (summary ? "" : summary.error().message));
    BOOST_TEST(summary->accepted == 1);  // the other face
    std::string skipped = json(summary->skipped).dump();
    BOOST_TEST(skipped.find("face " + f.face_ids[0] + ": FEID record: labels.valence is string, not a number") !=
                   std::string::npos,
               skipped);
    BOOST_TEST(f.store->face(f.face_ids[0])->value().record_json == broken.record_json);  // left as it was
}

// A face a human drew and then deleted is withdrawn: kept for the record, never exported.
BOOST_AUTO_TEST_CASE(a_drawn_face_whose_shape_is_deleted_is_withdrawn) {
    test::ReviewedTaskFixture f;
    f.seed_frame(0);
    long long drawn = f.fake.add_manual_shape(f.task, 1, {20, 20, 60, 70}, {{"expression", "anger"}});
    BOOST_TEST_REQUIRE(sync(f)->added == 1);
    const std::string face = cvat::added_face_id(f.task, 1, drawn);

    f.fake.delete_shape(drawn);
    auto summary = sync(f);
    BOOST_TEST_REQUIRE(summary.ok(), (summary ? "" : summary.error().message));
    BOOST_TEST(summary->withdrawn == 1);
    BOOST_TEST(summary->added == 0);
    BOOST_TEST(summary->accepted == 1);
    BOOST_TEST(summary->written == 1);
    json withdrawn = f.record(face);
    BOOST_TEST(withdrawn["status"] == "withdrawn");
    BOOST_TEST(withdrawn["review"]["status"] == "withdrawn");
    BOOST_TEST(withdrawn["review"]["cvat_shape_id"] == drawn);
    BOOST_TEST(withdrawn["labels"]["expression"] == "anger");  // what the human said, for the record
    BOOST_TEST(f.store->face(face)->value().status == "withdrawn");

    test::TempDir out;
    auto exported = write_export(*f.store, ExportFormat::feid_jsonl, (out / "e.jsonl").string(), {});
    BOOST_TEST_REQUIRE(exported.ok());
    BOOST_TEST(exported->records == 1u);  // seke's face only
    BOOST_TEST(test::read_file(out / "e.jsonl").find(face) == std::string::npos);

    auto again = sync(f);
    BOOST_TEST(again->withdrawn == 1);
    BOOST_TEST(again->written == 0);
}

// A frame deleted in CVAT takes its reviews with it: seke's faces there are open again, with the
// model's labels and box, and a face a human drew there is withdrawn.
BOOST_AUTO_TEST_CASE(faces_on_a_deleted_frame_are_reopened_not_rejected) {
    test::ReviewedTaskFixture f;
    long long relabeled = f.seed_frame(0);
    f.seed_frame(1);
    f.fake.set_attribute(relabeled, "expression", "surprise");
    f.fake.move_shape(relabeled, 4, 4);
    long long drawn = f.fake.add_manual_shape(f.task, 0, {80, 80, 120, 120}, {{"expression", "fear"}});
    auto reviewed = sync(f);
    BOOST_TEST_REQUIRE(reviewed.ok());
    BOOST_TEST(reviewed->corrected == 1);
    BOOST_TEST(f.record(f.face_ids[0])["face"]["x"] == 14);

    f.fake.delete_frame(f.task, 0);
    f.fake.delete_shape(relabeled);  // whether CVAT lists its shapes or not, the frame is gone
    auto summary = sync(f);
    BOOST_TEST_REQUIRE(summary.ok(), (summary ? "" : summary.error().message));
    BOOST_TEST(summary->reopened == 1);
    BOOST_TEST(summary->rejected == 0);
    BOOST_TEST(summary->accepted == 1);  // frame 1
    BOOST_TEST(summary->withdrawn == 1);
    BOOST_TEST(summary->written == 2);  // reopened and withdrawn; frame 1 was accepted before
    json reopened = f.record(f.face_ids[0]);
    BOOST_TEST(reopened["status"] == "auto");
    BOOST_TEST(!reopened.contains("review"));
    BOOST_TEST(reopened["labels"]["expression"] == "happy");
    BOOST_TEST(reopened["provenance"]["expression"] == "model");
    BOOST_TEST(reopened["face"]["x"] == 10);  // the box seke drew
    BOOST_TEST(f.store->face(f.face_ids[0])->value().status == "auto");
    BOOST_TEST(f.record(cvat::added_face_id(f.task, 0, drawn))["status"] == "withdrawn");
    BOOST_TEST(sync(f)->written == 0);
}

// "Remove annotations" on a job is no verdict on its faces: they are reopened, not rejected.
BOOST_AUTO_TEST_CASE(a_job_cleared_whole_reopens_its_faces) {
    test::ReviewedTaskFixture f;
    long long relabeled = f.seed_frame(0);
    f.seed_frame(1);
    f.seed_frame(2);
    f.fake.set_attribute(relabeled, "expression", "sad");
    BOOST_TEST_REQUIRE(sync(f)->corrected == 1);

    f.fake.clear_job(f.job);
    auto summary = sync(f);
    BOOST_TEST_REQUIRE(summary.ok(), (summary ? "" : summary.error().message));
    BOOST_TEST(summary->cleared);
    BOOST_TEST(summary->reopened == 3);
    BOOST_TEST(summary->rejected == 0);
    BOOST_TEST(summary->written == 3);
    for (const auto& face : f.face_ids) BOOST_TEST(f.record(face)["status"] == "auto", face);
    BOOST_TEST(f.record(f.face_ids[0])["labels"]["expression"] == "happy");
    BOOST_TEST(cvat::sync_summary_json(*summary)["cleared"] == true);
    BOOST_TEST(sync(f)->written == 0);

    // Deleting seke's shapes one by one while others remain is still a rejection.
    test::ReviewedTaskFixture g;
    long long gone = g.seed_frame(0);
    g.seed_frame(1);
    g.fake.delete_shape(gone);
    auto partial = sync(g);
    BOOST_TEST(!partial->cleared);
    BOOST_TEST(partial->rejected == 1);
    BOOST_TEST(partial->reopened == 0);
}

BOOST_AUTO_TEST_SUITE_END()
