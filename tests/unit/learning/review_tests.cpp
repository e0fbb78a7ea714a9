#include <boost/test/unit_test.hpp>
#include <stdexcept>

#include "plugin/records/feid.hpp"
#include "plugin/learning/review.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;

namespace {

LabelSet happy_labels() {
    LabelSet l;
    l.expression = "happy";
    l.valence = 0.62;
    l.arousal = 0.31;
    l.action_units = std::vector<std::string>{"AU6", "AU12"};
    return l;
}

Descriptions happy_descriptions() {
    return {"Cheeks raised and lip corners pulled up.", "Pleasant and mildly activated.", "AU6 and AU12 are active."};
}

PredictedFace predicted(const std::string& id, std::optional<Box> box, std::optional<std::string> region = {}) {
    return PredictedFace{id, std::move(region), box, happy_labels(), happy_descriptions(), LevelProvenance{}};
}

// What a reviewer who touched nothing submits: the prediction as it was shown.
ReviewedFace unchanged(const PredictedFace& p) {
    return ReviewedFace{p.region_id, p.box, p.labels, p.descriptions};
}

FaceReview single(const PredictedFace& p, const ReviewedFace& h, const ReviewOptions& options = {}) {
    ReviewOutcome outcome = diff_review({p}, {h}, options);
    BOOST_TEST_REQUIRE(outcome.faces.size() == 1u);
    BOOST_TEST(outcome.added.empty());
    return outcome.faces[0];
}

struct RecordFixture {
    FaceResult result;
    FeidRecord record;
    RecordFixture() {
        result.ok = true;
        result.labels = happy_labels();
        result.descriptions = happy_descriptions();
        result.uncertainty = {0.1, 0.2, 0.3, 0.05, 0.15};
        FeidInput input{
            "img1_face0", "images/img1.jpg", Box{10, 20, 30, 40}, false, &result, "v1", "auto", {}, {}, {}, {}, {}};
        record = feid_record(test::test_knowledge(), input);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_review)

BOOST_AUTO_TEST_CASE(untouched_face_is_accepted_and_marked_reviewed) {
    PredictedFace p = predicted("f0", Box{10, 10, 100, 100}, "r1");
    FaceReview r = single(p, unchanged(p));
    BOOST_TEST(r.face_id == "f0");
    BOOST_TEST(review_status_name(r.status) == "accepted");
    for (Level level : kAllLevels) {
        BOOST_TEST(level_verdict_name(r.levels.of(level)) == "accepted");
        BOOST_TEST(provenance_name(r.provenance.of(level)) == "human");
    }
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(r.descriptions.expression == p.descriptions.expression);
    BOOST_TEST((r.reviewed_index == std::optional<std::size_t>(0)));
}

BOOST_AUTO_TEST_CASE(each_level_can_be_corrected_alone) {
    PredictedFace p = predicted("f0", Box{10, 10, 100, 100}, "r1");

    ReviewedFace h = unchanged(p);
    h.labels.expression = "sad";
    FaceReview r = single(p, h);
    BOOST_TEST(review_status_name(r.status) == "corrected");
    BOOST_TEST(level_verdict_name(r.levels.expression) == "corrected");
    BOOST_TEST(level_verdict_name(r.levels.va) == "accepted");
    BOOST_TEST(level_verdict_name(r.levels.au) == "accepted");
    BOOST_TEST(*r.labels.expression == "sad");

    h = unchanged(p);
    h.labels.valence = -0.4;
    r = single(p, h);
    BOOST_TEST(review_status_name(r.status) == "corrected");
    BOOST_TEST(level_verdict_name(r.levels.expression) == "accepted");
    BOOST_TEST(level_verdict_name(r.levels.va) == "corrected");
    BOOST_TEST(*r.labels.valence == -0.4);
    BOOST_TEST(*r.labels.arousal == 0.31);

    h = unchanged(p);
    h.labels.action_units = std::vector<std::string>{"AU4", "AU15", "AU4"};
    r = single(p, h);
    BOOST_TEST(level_verdict_name(r.levels.au) == "corrected");
    BOOST_TEST(level_verdict_name(r.levels.va) == "accepted");
    BOOST_TEST((*r.labels.action_units == std::vector<std::string>{"AU4", "AU15"}));
    for (Level level : kAllLevels) BOOST_TEST(provenance_name(r.provenance.of(level)) == "human");
}

BOOST_AUTO_TEST_CASE(va_edits_below_the_tolerance_count_as_unchanged) {
    PredictedFace p = predicted("f0", Box{10, 10, 100, 100});
    ReviewedFace h = unchanged(p);
    h.labels.valence = 0.65;
    h.labels.arousal = 0.28;
    FaceReview r = single(p, h);
    BOOST_TEST(level_verdict_name(r.levels.va) == "accepted");
    BOOST_TEST(*r.labels.valence == 0.62);  // accepted means the model's value stands
    BOOST_TEST(review_status_name(r.status) == "accepted");

    h.labels.arousal = 0.40;
    r = single(p, h);
    BOOST_TEST(level_verdict_name(r.levels.va) == "corrected");
    BOOST_TEST(*r.labels.valence == 0.65);
    BOOST_TEST(*r.labels.arousal == 0.40);

    r = single(p, h, ReviewOptions{0.2, 0.5});
    BOOST_TEST(level_verdict_name(r.levels.va) == "accepted");
}

BOOST_AUTO_TEST_CASE(au_sets_compare_without_order) {
    PredictedFace p = predicted("f0", Box{10, 10, 100, 100});
    ReviewedFace h = unchanged(p);
    h.labels.action_units = std::vector<std::string>{"AU12", "AU6"};
    FaceReview r = single(p, h);
    BOOST_TEST(level_verdict_name(r.levels.au) == "accepted");
    BOOST_TEST((*r.labels.action_units == std::vector<std::string>{"AU6", "AU12"}));

    h.labels.action_units = std::vector<std::string>{"AU12"};
    BOOST_TEST(level_verdict_name(single(p, h).levels.au) == "corrected");
    h.labels.action_units = std::vector<std::string>{};  // "no AU present" is a label too
    BOOST_TEST(level_verdict_name(single(p, h).levels.au) == "corrected");
}

BOOST_AUTO_TEST_CASE(absent_levels_keep_the_model_label_unreviewed) {
    PredictedFace p = predicted("f0", Box{10, 10, 100, 100});
    p.provenance.au = Provenance::source;
    ReviewedFace h{p.region_id, p.box, {}, {}};
    h.labels.expression = "happy";
    FaceReview r = single(p, h);
    BOOST_TEST(review_status_name(r.status) == "accepted");
    BOOST_TEST(level_verdict_name(r.levels.expression) == "accepted");
    BOOST_TEST(level_verdict_name(r.levels.va) == "absent");
    BOOST_TEST(level_verdict_name(r.levels.au) == "absent");
    BOOST_TEST(provenance_name(r.provenance.expression) == "human");
    BOOST_TEST(provenance_name(r.provenance.va) == "model");
    BOOST_TEST(provenance_name(r.provenance.au) == "source");
    BOOST_TEST(*r.labels.valence == 0.62);
    BOOST_TEST(r.labels.action_units->size() == 2u);
    BOOST_TEST(r.descriptions.va == p.descriptions.va);
}

BOOST_AUTO_TEST_CASE(descriptions_follow_the_reviewer) {
    PredictedFace p = predicted("f0", Box{10, 10, 100, 100});
    ReviewedFace h = unchanged(p);
    h.labels.expression = "sad";                  // corrected, description left as shown
    h.descriptions.va = "  Unpleasant, calm.\n";  // edited on an accepted level
    h.descriptions.au = "";                       // not given: the model's stays
    FaceReview r = single(p, h);
    BOOST_TEST(r.descriptions.expression.empty());
    BOOST_TEST(r.descriptions.va == "Unpleasant, calm.");
    BOOST_TEST(r.descriptions.au == p.descriptions.au);

    h.descriptions.expression = "Lip corners pulled down.";
    BOOST_TEST(single(p, h).descriptions.expression == "Lip corners pulled down.");
}

BOOST_AUTO_TEST_CASE(region_id_wins_over_geometry) {
    PredictedFace a = predicted("f0", Box{0, 0, 50, 50}, "ra");
    PredictedFace b = predicted("f1", Box{200, 0, 50, 50}, "rb");
    ReviewedFace ha = unchanged(a), hb = unchanged(b);
    ha.box = Box{400, 400, 80, 80};  // the reviewer moved the region far away
    hb.box = Box{0, 0, 50, 50};      // and b onto a's old place
    hb.labels.expression = "sad";
    ReviewOutcome outcome = diff_review({a, b}, {hb, ha});
    BOOST_TEST_REQUIRE(outcome.faces.size() == 2u);
    BOOST_TEST(outcome.added.empty());
    BOOST_TEST((outcome.faces[0].reviewed_index == std::optional<std::size_t>(1)));
    BOOST_TEST(review_status_name(outcome.faces[0].status) == "accepted");
    BOOST_TEST((outcome.faces[1].reviewed_index == std::optional<std::size_t>(0)));
    BOOST_TEST(review_status_name(outcome.faces[1].status) == "corrected");
}

BOOST_AUTO_TEST_CASE(boxes_match_by_best_iou) {
    BOOST_TEST(box_iou(Box{0, 0, 10, 10}, Box{0, 0, 10, 10}) == 1.0);
    BOOST_TEST(box_iou(Box{0, 0, 10, 10}, Box{5, 0, 10, 10}) == 50.0 / 150.0);
    BOOST_TEST(box_iou(Box{0, 0, 10, 10}, Box{10, 0, 10, 10}) == 0.0);
    BOOST_TEST(box_iou(Box{0, 0, 0, 10}, Box{0, 0, 10, 10}) == 0.0);

    PredictedFace a = predicted("f0", Box{0, 0, 100, 100});
    PredictedFace b = predicted("f1", Box{60, 0, 100, 100});
    // New region ids (redrawn), slightly moved; listed in the other order.
    ReviewedFace hb{"x2", Box{62, 2, 100, 100}, b.labels, {}};
    ReviewedFace ha{"x1", Box{2, 0, 100, 100}, a.labels, {}};
    hb.labels.expression = "surprise";
    ReviewOutcome outcome = diff_review({a, b}, {hb, ha});
    BOOST_TEST(outcome.added.empty());
    BOOST_TEST((outcome.faces[0].reviewed_index == std::optional<std::size_t>(1)));
    BOOST_TEST((outcome.faces[1].reviewed_index == std::optional<std::size_t>(0)));
    BOOST_TEST(*outcome.faces[1].labels.expression == "surprise");

    // Below iou_match: the prediction was deleted and a new face drawn.
    ReviewedFace far{std::nullopt, Box{40, 40, 100, 100}, a.labels, {}};  // IoU 0.22
    outcome = diff_review({a}, {far});
    BOOST_TEST(review_status_name(outcome.faces[0].status) == "rejected");
    BOOST_TEST(outcome.added.size() == 1u);
    outcome = diff_review({a}, {far}, ReviewOptions{0.05, 0.2});
    BOOST_TEST(review_status_name(outcome.faces[0].status) == "accepted");
}

BOOST_AUTO_TEST_CASE(deleted_regions_are_rejected_with_the_model_labels) {
    PredictedFace a = predicted("f0", Box{0, 0, 100, 100}, "ra");
    PredictedFace b = predicted("f1", Box{300, 0, 100, 100}, "rb");
    ReviewOutcome outcome = diff_review({a, b}, {unchanged(b)});
    BOOST_TEST_REQUIRE(outcome.faces.size() == 2u);
    const FaceReview& r = outcome.faces[0];
    BOOST_TEST(r.face_id == "f0");
    BOOST_TEST(review_status_name(r.status) == "rejected");
    BOOST_TEST(!r.reviewed_index);
    BOOST_TEST(*r.labels.expression == "happy");
    for (Level level : kAllLevels) {
        BOOST_TEST(level_verdict_name(r.levels.of(level)) == "absent");
        BOOST_TEST(provenance_name(r.provenance.of(level)) == "model");
    }
    BOOST_TEST(review_status_name(outcome.faces[1].status) == "accepted");
}

BOOST_AUTO_TEST_CASE(unmatched_reviewer_faces_are_returned_as_added) {
    PredictedFace a = predicted("f0", Box{0, 0, 100, 100}, "ra");
    ReviewedFace extra{"new1", Box{500, 500, 80, 80}, {}, {"Frowning.", "", ""}};
    extra.labels.expression = "angry";
    ReviewOutcome outcome = diff_review({a}, {unchanged(a), extra});
    BOOST_TEST(review_status_name(outcome.faces[0].status) == "accepted");
    BOOST_TEST_REQUIRE(outcome.added.size() == 1u);
    BOOST_TEST(*outcome.added[0].region_id == "new1");
    BOOST_TEST(*outcome.added[0].labels.expression == "angry");
    BOOST_TEST(outcome.added[0].descriptions.expression == "Frowning.");

    outcome = diff_review({}, {extra});
    BOOST_TEST(outcome.faces.empty());
    BOOST_TEST(outcome.added.size() == 1u);
}

BOOST_AUTO_TEST_CASE(whole_image_matches_whole_image_only) {
    PredictedFace whole = predicted("f0", std::nullopt);
    ReviewedFace h{std::nullopt, std::nullopt, whole.labels, {}};
    h.labels.expression = "fear";
    FaceReview r = single(whole, h);
    BOOST_TEST(review_status_name(r.status) == "corrected");
    BOOST_TEST(*r.labels.expression == "fear");

    ReviewedFace boxed{std::nullopt, Box{0, 0, 50, 50}, whole.labels, {}};
    ReviewOutcome outcome = diff_review({whole}, {boxed});
    BOOST_TEST(review_status_name(outcome.faces[0].status) == "rejected");
    BOOST_TEST(outcome.added.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(merge_writes_human_labels_and_provenance, RecordFixture) {
    PredictedFace p = predicted("img1_face0", Box{10, 20, 30, 40}, "r1");
    ReviewedFace h = unchanged(p);
    h.labels.expression = "sad";
    h.labels.valence = -0.5;
    h.labels.action_units = std::nullopt;
    FaceReview r = single(p, h);
    auto merged = merge_review_into_record(test::test_knowledge(), record, r, "alice", "2024-05-01").to_json();

    BOOST_TEST(merged["status"] == "corrected");
    BOOST_TEST(merged["labels"]["expression"] == "sad");
    BOOST_TEST(merged["labels"]["valence"] == -0.5);
    BOOST_TEST(merged["labels"]["arousal"] == 0.31);
    BOOST_TEST(merged["provenance"]["expression"] == "human");
    BOOST_TEST(merged["provenance"]["va"] == "human");
    BOOST_TEST(merged["provenance"]["au"] == "model");
    BOOST_TEST(merged["descriptions"]["expression"] == "");
    const auto& review = merged["review"];
    BOOST_TEST(review["status"] == "corrected");
    BOOST_TEST(review["levels"]["expression"] == "corrected");
    BOOST_TEST(review["levels"]["va"] == "corrected");
    BOOST_TEST(review["levels"]["au"] == "absent");
    BOOST_TEST(review["reviewer"] == "alice");
    BOOST_TEST(review["at"] == "2024-05-01");
    BOOST_TEST(review["model_labels"]["expression"] == "happy");
    BOOST_TEST(review["model_labels"]["valence"] == 0.62);
    // Untouched fields survive, in their place.
    BOOST_TEST(merged["uncertainty"] == record.to_json()["uncertainty"]);
    BOOST_TEST(merged.begin().key() == "id");
}

BOOST_FIXTURE_TEST_CASE(merge_regenerates_the_conversations, RecordFixture) {
    PredictedFace p = predicted("img1_face0", Box{10, 20, 30, 40}, "r1");
    ReviewedFace h = unchanged(p);
    h.labels.expression = "sad";
    h.descriptions.expression = "Inner brows raised, lip corners down.";
    h.labels.action_units = std::vector<std::string>{"AU1", "AU15"};
    FeidRecord typed = merge_review_into_record(test::test_knowledge(), record, single(p, h), "alice", "2024-05-01");
    auto merged = typed.to_json();
    std::string text = merged["conversations"].dump();
    BOOST_TEST(text.find("The facial expression is sad. Inner brows raised, lip corners down.") != std::string::npos);
    BOOST_TEST(text.find("happy") == std::string::npos);
    BOOST_TEST(text.find("AU15") != std::string::npos);
    BOOST_TEST(text.find("AU12") == std::string::npos);
    BOOST_TEST(text.find("0.62") != std::string::npos);  // VA accepted: still in the answer
    // Same as a fresh record with these labels would carry.
    FaceReview r = single(p, h);
    BOOST_TEST(
        (typed.conversations == feid_conversations(test::test_knowledge(), "img1_face0", r.labels, r.descriptions)));
}

BOOST_FIXTURE_TEST_CASE(merge_is_idempotent, RecordFixture) {
    PredictedFace p = predicted("img1_face0", Box{10, 20, 30, 40}, "r1");
    ReviewedFace h = unchanged(p);
    h.labels.expression = "sad";
    FaceReview r = single(p, h);
    auto once = merge_review_into_record(test::test_knowledge(), record, r, "alice", "2024-05-01T10:00:00Z");
    auto twice = merge_review_into_record(test::test_knowledge(), once, r, "alice", "2024-05-01T10:00:00Z");
    BOOST_TEST(once.to_json().dump() == twice.to_json().dump());
    BOOST_TEST(twice.to_json()["review"]["model_labels"]["expression"] == "happy");  // not the merged "sad"

    FaceReview accepted = single(p, unchanged(p));
    auto a1 = merge_review_into_record(test::test_knowledge(), record, accepted, "bob", "t");
    BOOST_TEST(a1.to_json()["status"] == "accepted");
    BOOST_TEST(a1.to_json()["labels"] == record.to_json()["labels"]);
    BOOST_TEST(a1.to_json()["conversations"] == record.to_json()["conversations"]);
    auto a2 = merge_review_into_record(test::test_knowledge(), a1, accepted, "bob", "t");
    BOOST_TEST(a2.to_json().dump() == a1.to_json().dump());
}

BOOST_FIXTURE_TEST_CASE(merge_of_a_rejection_keeps_the_model_labels, RecordFixture) {
    PredictedFace p = predicted("img1_face0", Box{10, 20, 30, 40}, "r1");
    ReviewOutcome outcome = diff_review({p}, std::vector<ReviewedFace>{});
    FeidRecord typed =
        merge_review_into_record(test::test_knowledge(), record, outcome.faces[0], "alice", "2024-05-01");
    auto merged = typed.to_json();
    auto stored = record.to_json();
    BOOST_TEST(merged["status"] == "rejected");
    BOOST_TEST(merged["review"]["status"] == "rejected");
    BOOST_TEST(merged["review"]["levels"]["au"] == "absent");
    BOOST_TEST(merged["labels"] == stored["labels"]);
    BOOST_TEST(merged["provenance"] == stored["provenance"]);
    BOOST_TEST(merged["conversations"] == stored["conversations"]);
}

BOOST_FIXTURE_TEST_CASE(merge_refuses_another_faces_record, RecordFixture) {
    PredictedFace p = predicted("img1_face1", Box{10, 20, 30, 40});
    FaceReview r = single(p, unchanged(p));
    BOOST_CHECK_THROW(merge_review_into_record(test::test_knowledge(), record, r, "a", "t"), std::invalid_argument);
}

BOOST_FIXTURE_TEST_CASE(a_reviewed_face_is_shown_again_as_the_model_labeled_it, RecordFixture) {
    PredictedFace p = predicted("img1_face0", Box{10, 20, 30, 40}, "r1");
    ReviewedFace h = unchanged(p);
    h.labels.expression = "sad";
    FeidRecord merged = merge_review_into_record(test::test_knowledge(), record, single(p, h), "alice", "t");
    PredictedFace shown = predicted_face("img1_face0", std::string("r1"), merged);
    BOOST_TEST(shown.face_id == "img1_face0");
    BOOST_TEST(*shown.region_id == "r1");
    BOOST_TEST(shown.box->w == 30);
    BOOST_TEST(*shown.labels.expression == "happy");  // the model's, not the reviewer's "sad"
    BOOST_TEST(shown.descriptions.expression == happy_descriptions().expression);
    BOOST_TEST(provenance_name(shown.provenance.expression) == "human");  // the record's now
}

BOOST_AUTO_TEST_SUITE_END()
