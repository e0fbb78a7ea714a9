// A review of a face whose source coded some AUs: judging the AUs makes every AU the reviewer's
// (as a review always did for the level), and the per-AU provenance before it is kept.
#include <boost/test/unit_test.hpp>

#include "plugin/learning/review.hpp"
#include "plugin/records/feid.hpp"
#include "tests/support/test_support.hpp"
#include "verify/au_prior.hpp"

using namespace seke;

namespace {

struct Bp4dRecord {
    FaceResult result;
    FeidRecord record;
    Bp4dRecord() {
        result.ok = true;
        result.labels.expression = "happy";
        result.labels.valence = 0.6;
        result.labels.arousal = 0.3;
        result.labels.action_units = std::vector<std::string>{"AU6", "AU12", "AU25"};
        LabelSet known;
        known.action_units = std::vector<std::string>{"AU6", "AU12"};
        known.au_coded = std::vector<std::string>{"AU1", "AU2", "AU4", "AU6", "AU12"};
        result.au_provenance = au_provenance_of(test::test_knowledge(), known, Provenance::source, Provenance::model);
        FeidInput input{"bp4d-1", "f/1.jpg", std::nullopt, false, &result, "v1", "auto", {}, {}, {}, {}, {}};
        record = feid_record(test::test_knowledge(), input);
    }
};

FaceReview reviewed(const FeidRecord& record, const LabelSet& human) {
    const PredictedFace predicted = predicted_face(record.id, std::nullopt, record);
    ReviewOutcome outcome = diff_review({predicted}, {ReviewedFace{std::nullopt, std::nullopt, human, {}}}, {});
    BOOST_REQUIRE(outcome.faces.size() == 1u);
    return outcome.faces[0];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(review_au_provenance)

BOOST_AUTO_TEST_CASE(correcting_the_aus_makes_every_au_human_and_keeps_what_was_before) {
    Bp4dRecord f;
    BOOST_TEST_REQUIRE(!f.record.au_provenance.empty());
    LabelSet human;
    human.action_units = std::vector<std::string>{"AU6", "AU12"};  // AU25 was wrong
    const FaceReview review = reviewed(f.record, human);
    BOOST_TEST((review.levels.au == LevelVerdict::corrected));
    FeidRecord merged = merge_review_into_record(test::test_knowledge(), f.record, review, "alice", "2024-05-01");
    BOOST_TEST((merged.provenance.au == Provenance::human));
    BOOST_TEST(*merged.labels.action_units == (std::vector<std::string>{"AU6", "AU12"}),
               boost::test_tools::per_element());
    BOOST_TEST(merged.au_provenance.empty());
    BOOST_TEST_REQUIRE(merged.review->model_au_provenance.has_value());
    BOOST_TEST((*merged.review->model_au_provenance == f.result.au_provenance));
    // Written and read back; a second review keeps the first snapshot.
    auto again = FeidRecord::parse(merged.to_json().dump());
    BOOST_TEST_REQUIRE(again.ok(), (again.ok() ? "" : again.error().message));
    BOOST_TEST((*again->review->model_au_provenance == f.result.au_provenance));
    FeidRecord twice = merge_review_into_record(test::test_knowledge(), *again, reviewed(*again, human), "bob", "x");
    BOOST_TEST((*twice.review->model_au_provenance == f.result.au_provenance));
}

BOOST_AUTO_TEST_CASE(a_review_that_leaves_the_aus_keeps_the_per_au_provenance) {
    Bp4dRecord f;
    LabelSet human;
    human.expression = "surprise";
    FeidRecord merged =
        merge_review_into_record(test::test_knowledge(), f.record, reviewed(f.record, human), "alice", "2024-05-01");
    BOOST_TEST((merged.provenance.expression == Provenance::human));
    BOOST_TEST((merged.au_provenance == f.record.au_provenance));
    BOOST_TEST(!merged.review->model_au_provenance.has_value());
}

BOOST_AUTO_TEST_SUITE_END()
