#include <boost/test/unit_test.hpp>

#include "tests/support/test_support.hpp"
#include "verify/knowledge.hpp"

using seke::test::test_knowledge;

BOOST_AUTO_TEST_SUITE(verify_knowledge)

BOOST_AUTO_TEST_CASE(knowledge_file_has_eight_expressions_and_17_aus) {
    const auto& k = test_knowledge();
    BOOST_TEST(k.expressions.size() == 8u);
    BOOST_TEST(k.action_units.size() == 17u);
    BOOST_TEST(k.find_expression("happy") != nullptr);
    BOOST_TEST(k.find_expression("Happy") == nullptr);  // exact lookup
    BOOST_TEST(k.find_action_unit("AU12")->name == "Lip corner puller");
    BOOST_TEST(k.find_action_unit("AU27") == nullptr);
}

BOOST_AUTO_TEST_CASE(expression_canonical_forms) {
    const auto& k = test_knowledge();
    BOOST_TEST(*k.canonical_expression("HAPPY") == "happy");
    BOOST_TEST(*k.canonical_expression("  Sad \n") == "sad");
    BOOST_TEST(*k.canonical_expression("Happiness") == "happy");
    BOOST_TEST(*k.canonical_expression("sadness") == "sad");
    BOOST_TEST(*k.canonical_expression("Surprised") == "surprise");
    BOOST_TEST(*k.canonical_expression("fearful") == "fear");
    BOOST_TEST(*k.canonical_expression("scared") == "fear");
    BOOST_TEST(*k.canonical_expression("disgusted") == "disgust");
    BOOST_TEST(*k.canonical_expression("Angry") == "anger");
    BOOST_TEST(*k.canonical_expression("contemptuous") == "contempt");
    BOOST_TEST(!k.canonical_expression("bored"));
    BOOST_TEST(!k.canonical_expression(""));
    BOOST_TEST(!k.canonical_expression("   "));
}

BOOST_AUTO_TEST_CASE(synonym_only_when_target_in_schema) {
    seke::Knowledge k = test_knowledge();
    // A 7-class project without contempt, and one that spells classes as nouns.
    k.expressions.pop_back();
    BOOST_TEST(!k.canonical_expression("contemptuous"));
    BOOST_TEST(!k.canonical_expression("contempt"));
    k.expressions[1].name = "Happiness";
    BOOST_TEST(*k.canonical_expression("happy") == "Happiness");
    BOOST_TEST(*k.canonical_expression("HAPPINESS") == "Happiness");
}

BOOST_AUTO_TEST_CASE(action_unit_canonical_forms) {
    const auto& k = test_knowledge();
    for (const char* text : {"au12", "AU 12", "12", "AU12", " Au_12 ", "AU012"})
        BOOST_TEST(*k.canonical_action_unit(text) == "AU12", text);
    BOOST_TEST(*k.canonical_action_unit("au1") == "AU1");
    BOOST_TEST(!k.canonical_action_unit("AU27"));  // not in the 17-AU set
    BOOST_TEST(!k.canonical_action_unit("AU"));
    BOOST_TEST(!k.canonical_action_unit("AU12L"));
    BOOST_TEST(!k.canonical_action_unit("smile"));
    BOOST_TEST(!k.canonical_action_unit(""));
}

BOOST_AUTO_TEST_SUITE_END()
