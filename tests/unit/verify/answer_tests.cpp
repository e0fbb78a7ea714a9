#include <boost/test/unit_test.hpp>

#include "tests/support/test_support.hpp"
#include "verify/answer.hpp"

using namespace seke;
using seke::test::test_knowledge;

namespace {

PromptSpec labels_only() {
    PromptSpec spec;
    spec.ask_descriptions = false;
    return spec;
}

Result<Answer> parse(const std::string& text, const PromptSpec& spec = labels_only()) {
    return parse_answer(text, test_knowledge(), spec);
}

const char* kGood = R"({"action_units":["AU6","AU12"],"expression":"happy","valence":0.6,"arousal":0.3})";

void expect_malformed(const std::string& text, const PromptSpec& spec = labels_only()) {
    auto r = parse(text, spec);
    BOOST_TEST(!r.ok(), text);
    if (!r.ok()) BOOST_TEST((r.error().code == errc::malformed_answer));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_answer)

BOOST_AUTO_TEST_CASE(plain_object) {
    auto r = parse(kGood);
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(*r->labels.expression == "happy");
    BOOST_TEST(*r->labels.valence == 0.6);
    BOOST_TEST(*r->labels.arousal == 0.3);
    BOOST_TEST(*r->labels.action_units == (std::vector<std::string>{"AU6", "AU12"}), boost::test_tools::per_element());
    BOOST_TEST(!r->verdict);
}

BOOST_AUTO_TEST_CASE(fences_and_prose) {
    BOOST_TEST(parse(std::string("```json\n") + kGood + "\n```").ok());
    BOOST_TEST(
        parse(std::string("Sure! Here is my analysis {of the face}:\n") + kGood + "\nHope this helps {really}.").ok());
    // Braces inside strings do not confuse the scanner.
    auto r = parse(R"(x {"action_units":[],"expression":"Neutral","valence":0,"arousal":0,"note":"a } b"})");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(*r->labels.expression == "neutral");
    BOOST_TEST(r->labels.action_units->empty());
}

BOOST_AUTO_TEST_CASE(strings_as_numbers_and_spellings) {
    auto r = parse(
        R"({"action_units":["au12","AU 6", 25, "AU12"],"expression":" Happiness ","valence":"0.7","arousal":" -0.1 "})");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(*r->labels.expression == "happy");
    BOOST_TEST(*r->labels.valence == 0.7);
    BOOST_TEST(*r->labels.arousal == -0.1);
    // Canonical codes, schema order, no duplicates.
    BOOST_TEST(*r->labels.action_units == (std::vector<std::string>{"AU6", "AU12", "AU25"}),
               boost::test_tools::per_element());
    expect_malformed(R"({"action_units":[],"expression":"happy","valence":"high","arousal":0})");
}

BOOST_AUTO_TEST_CASE(va_range) {
    auto r = parse(R"({"action_units":[],"expression":"happy","valence":1.04,"arousal":-1.05})");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(*r->labels.valence == 1.0);
    BOOST_TEST(*r->labels.arousal == -1.0);
    expect_malformed(R"({"action_units":[],"expression":"happy","valence":1.2,"arousal":0})");
    expect_malformed(R"({"action_units":[],"expression":"happy","valence":0,"arousal":-7})");
    expect_malformed(R"({"action_units":[],"expression":"happy","valence":null,"arousal":0})");
}

BOOST_AUTO_TEST_CASE(unknown_labels_are_malformed) {
    expect_malformed(R"({"action_units":[],"expression":"bored","valence":0,"arousal":0})");
    expect_malformed(R"({"action_units":["AU6","AU27"],"expression":"happy","valence":0,"arousal":0})");
    expect_malformed(R"({"action_units":["smile"],"expression":"happy","valence":0,"arousal":0})");
    expect_malformed(R"({"action_units":"AU6","expression":"happy","valence":0,"arousal":0})");
    expect_malformed(R"({"action_units":[],"expression":3,"valence":0,"arousal":0})");
}

BOOST_AUTO_TEST_CASE(au_object_form) {
    auto r = parse(
        R"({"action_units":{"AU12":true,"au6":1,"AU4":0,"AU25":0.8,"AU26":false,"AU1":0.2},"expression":"happy","valence":0.5,"arousal":0.2})");
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(*r->labels.action_units == (std::vector<std::string>{"AU6", "AU12", "AU25"}),
               boost::test_tools::per_element());
    expect_malformed(R"({"action_units":{"AU99":true},"expression":"happy","valence":0,"arousal":0})");
    expect_malformed(R"({"action_units":{"AU6":"maybe"},"expression":"happy","valence":0,"arousal":0})");
}

BOOST_AUTO_TEST_CASE(missing_key_truncated_and_garbage) {
    expect_malformed(R"({"action_units":[],"expression":"happy","valence":0.2})");
    expect_malformed(R"({"action_units":["AU6"],"expression":"happy","valence":0.2,"arou)");
    expect_malformed("I cannot help with that.");
    expect_malformed("");
    expect_malformed("[1, 2, 3]");
    expect_malformed(R"({"expression": happy})");
}

BOOST_AUTO_TEST_CASE(descriptions_and_extra_keys) {
    PromptSpec spec;  // descriptions asked
    auto r = parse(R"({"action_units":[],"expression":"neutral","valence":0,"arousal":0,
        "au_description":" none active ","expression_description":"calm","va_description":"flat","confidence":0.9})",
                   spec);
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->descriptions.au == "none active");
    BOOST_TEST(r->descriptions.expression == "calm");
    BOOST_TEST(r->descriptions.va == "flat");
    expect_malformed(R"({"action_units":[],"expression":"neutral","valence":0,"arousal":0,
        "au_description":"x","expression_description":"y"})",
                     spec);
    expect_malformed(R"({"action_units":[],"expression":"neutral","valence":0,"arousal":0,
        "au_description":"x","expression_description":"y","va_description":7})",
                     spec);
}

BOOST_AUTO_TEST_CASE(known_levels_in_the_answer_are_ignored) {
    PromptSpec spec = labels_only();
    spec.known.expression = "sad";
    // The model answers the known expression anyway, even with a label outside the schema.
    auto r = parse(R"({"action_units":["AU1"],"expression":"bored","valence":-0.4,"arousal":-0.2})", spec);
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(!r->labels.expression);
    BOOST_TEST(r->labels.action_units->size() == 1u);
}

BOOST_AUTO_TEST_CASE(verdicts) {
    PromptSpec spec = labels_only();
    spec.kind = RequestKind::verify;
    auto agree = parse(std::string(R"({"verdict":"Agree",)") + std::string(kGood).substr(1), spec);
    BOOST_REQUIRE(agree.ok());
    BOOST_TEST((*agree->verdict == Verdict::agree));
    auto disagree = parse(std::string(R"({"verdict":"disagree",)") + std::string(kGood).substr(1), spec);
    BOOST_REQUIRE(disagree.ok());
    BOOST_TEST((*disagree->verdict == Verdict::disagree));
    expect_malformed(std::string(R"({"verdict":"maybe",)") + std::string(kGood).substr(1), spec);
    expect_malformed(kGood, spec);  // verdict missing
}

BOOST_AUTO_TEST_SUITE_END()
