// The plan's image tokens: OpenAI's high-detail rule, checked against the examples it publishes.
#include <boost/test/unit_test.hpp>

#include "plugin/labeling/plan.hpp"

using namespace seke;

BOOST_AUTO_TEST_SUITE(labeling_plan)

BOOST_AUTO_TEST_CASE(image_tokens_follow_the_tile_rule) {
    BOOST_TEST(image_tokens(512, 512) == 255);     // one tile
    BOOST_TEST(image_tokens(100, 60) == 255);      // small images are not scaled up
    BOOST_TEST(image_tokens(1024, 1024) == 765);   // scaled to 768 × 768: four tiles
    BOOST_TEST(image_tokens(2048, 4096) == 1105);  // fitted to 1024 × 2048, then 768 × 1536: six tiles
    BOOST_TEST(image_tokens(0, -3) == 255);        // a size that makes no sense counts as the smallest image
}

BOOST_AUTO_TEST_CASE(the_basis_is_named_as_the_json_says) {
    BOOST_TEST(plan_basis_name(PlanBasis::history) == "history");
    BOOST_TEST(plan_basis_name(PlanBasis::prompts) == "prompts");
}

BOOST_AUTO_TEST_SUITE_END()
