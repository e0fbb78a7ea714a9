// Label Studio's annotated faces in review terms: the adapter between the platform and the diff.
#include <boost/test/unit_test.hpp>

#include "plugin/label_studio/review_adapter.hpp"

using namespace seke;

BOOST_AUTO_TEST_SUITE(label_studio_review_adapter)

BOOST_AUTO_TEST_CASE(label_studio_faces_convert) {
    label_studio::AnnotatedFace face;
    face.region_id = "r1";
    face.box = Box{1, 2, 3, 4};
    face.labels.expression = "happy";
    face.descriptions.au = "AU12.";
    face.problems = {"unknown choice"};
    ReviewedFace converted = label_studio::reviewed_face(face);
    BOOST_TEST(*converted.region_id == "r1");
    BOOST_TEST(converted.box->h == 4);
    BOOST_TEST(*converted.labels.expression == "happy");
    BOOST_TEST(converted.descriptions.au == "AU12.");

    LabelSet shown;  // what seke predicted: all three levels; the reviewer touched only one
    shown.expression = "happy";
    shown.valence = 0.62;
    shown.arousal = 0.31;
    shown.action_units = std::vector<std::string>{"AU6", "AU12"};
    PredictedFace p{"f0", std::string("r1"), Box{1, 2, 3, 4}, shown, Descriptions{}, LevelProvenance{}};
    ReviewOutcome outcome = diff_review({p}, label_studio::reviewed_faces({face}));
    BOOST_TEST(review_status_name(outcome.faces[0].status) == "accepted");
    BOOST_TEST(level_verdict_name(outcome.faces[0].levels.va) == "absent");
}

BOOST_AUTO_TEST_SUITE_END()
