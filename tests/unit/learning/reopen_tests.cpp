// A review undone (its annotation deleted, its CVAT frame deleted): the record goes back to what
// the model said, byte for byte, whatever the reviews in between changed.
#include <boost/test/unit_test.hpp>

#include "plugin/learning/review.hpp"
#include "plugin/records/feid.hpp"
#include "tests/support/test_support.hpp"
#include "verify/au_prior.hpp"

using namespace seke;

namespace {

FeidRecord labeled(FaceResult& result, const std::string& id) {
    result.ok = true;
    result.labels.expression = "happy";
    result.labels.valence = 0.6;
    result.labels.arousal = 0.3;
    result.labels.action_units = std::vector<std::string>{"AU6", "AU12"};
    result.descriptions = {"Cheeks raised.", "Pleasant.", "AU6 and AU12."};
    result.uncertainty = {0.1, 0.2, 0.3, 0.05, 0.15};
    FeidInput input{id, "images/a.jpg", Box{10, 20, 30, 40}, false, &result, "v1", "auto", {}, {}, {}, {}, {}};
    return feid_record(test::test_knowledge(), input);
}

FeidRecord reviewed(const FeidRecord& record, const LabelSet& human, const std::string& reviewer = "alice") {
    const PredictedFace predicted = predicted_face(record.id, std::string("r1"), record);
    ReviewOutcome outcome = diff_review({predicted}, {ReviewedFace{std::string("r1"), record.face, human, {}}});
    BOOST_REQUIRE(outcome.faces.size() == 1u);
    return merge_review_into_record(test::test_knowledge(), record, outcome.faces[0], reviewer, "2026-01-01");
}

FeidRecord rejected(const FeidRecord& record) {
    ReviewOutcome outcome = diff_review({predicted_face(record.id, std::string("r1"), record)}, {});
    return merge_review_into_record(test::test_knowledge(), record, outcome.faces[0], "bob", "2026-01-02");
}

std::string text(const FeidRecord& record) {
    return record.to_json().dump();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(review_reopen)

BOOST_AUTO_TEST_CASE(a_corrected_face_reopens_to_the_models_record) {
    FaceResult result;
    const FeidRecord model = labeled(result, "ls/9/41");
    LabelSet human;
    human.expression = "sad";
    human.valence = -0.5;
    human.arousal = 0.3;
    human.action_units = std::vector<std::string>{"AU1"};
    const FeidRecord corrected = reviewed(model, human);
    BOOST_TEST_REQUIRE(corrected.status == "corrected");
    const FeidRecord reopened = reopened_record(test::test_knowledge(), corrected);
    BOOST_TEST(reopened.status == "auto");
    BOOST_TEST(!reopened.review.has_value());
    BOOST_TEST(*reopened.labels.expression == "happy");
    BOOST_TEST((reopened.provenance.expression == Provenance::model));
    BOOST_TEST(text(reopened) == text(model));  // conversations and descriptions included
    // Reopening again, or a face never reviewed, changes nothing.
    BOOST_TEST(text(reopened_record(test::test_knowledge(), reopened)) == text(model));
    BOOST_TEST(text(reopened_record(test::test_knowledge(), model)) == text(model));
}

BOOST_AUTO_TEST_CASE(several_reviews_in_a_row_still_reopen_to_the_first_answer) {
    FaceResult result;
    const FeidRecord model = labeled(result, "ls/9/42");
    LabelSet human;
    human.expression = "anger";
    const FeidRecord twice = rejected(reviewed(model, human));
    BOOST_TEST_REQUIRE(twice.status == "rejected");
    BOOST_TEST(text(reopened_record(test::test_knowledge(), twice)) == text(model));
}

BOOST_AUTO_TEST_CASE(levels_that_were_facts_or_the_experts_get_their_provenance_back) {
    FaceResult result;
    result.provenance.expression = Provenance::source;  // a prior label
    result.provenance.au = Provenance::expert;
    const FeidRecord model = labeled(result, "ls/9/43");
    LabelSet human;
    human.expression = "surprise";
    human.action_units = std::vector<std::string>{"AU1", "AU2"};
    const FeidRecord corrected = reviewed(model, human);
    BOOST_TEST((corrected.provenance.expression == Provenance::human));
    BOOST_TEST_REQUIRE(corrected.review->model_provenance.has_value());
    const FeidRecord reopened = reopened_record(test::test_knowledge(), corrected);
    BOOST_TEST((reopened.provenance.expression == Provenance::source));
    BOOST_TEST((reopened.provenance.au == Provenance::expert));
    BOOST_TEST((reopened.provenance.va == Provenance::model));
    BOOST_TEST(text(reopened) == text(model));
}

BOOST_AUTO_TEST_CASE(per_au_provenance_comes_back_after_a_review_of_the_aus) {
    FaceResult result;
    LabelSet known;
    known.action_units = std::vector<std::string>{"AU6"};
    known.au_coded = std::vector<std::string>{"AU1", "AU6"};
    result.au_provenance = au_provenance_of(test::test_knowledge(), known, Provenance::source, Provenance::model);
    const FeidRecord model = labeled(result, "bp4d-7");
    BOOST_TEST_REQUIRE(!model.au_provenance.empty());
    LabelSet human;
    human.action_units = std::vector<std::string>{"AU6"};
    const FeidRecord corrected = reviewed(model, human);
    BOOST_TEST(corrected.au_provenance.empty());
    const FeidRecord reopened = reopened_record(test::test_knowledge(), corrected);
    BOOST_TEST((reopened.au_provenance == model.au_provenance));
    BOOST_TEST(text(reopened) == text(model));
}

BOOST_AUTO_TEST_SUITE_END()
