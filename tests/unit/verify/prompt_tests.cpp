#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/test_support.hpp"
#include "tests/unit/verify/scripted.hpp"
#include "verify/prompt.hpp"

using namespace seke;
using seke::test::asked_keys;
using seke::test::test_knowledge;
using Keys = std::vector<std::string>;

namespace {

const Keys kDescriptions{"au_description", "expression_description", "va_description"};

Keys concat(Keys a, const Keys& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

Keys schema_keys(const Prompt& p, const char* field) {
    auto schema = nlohmann::ordered_json::parse(p.response_schema);  // keeps property order
    Keys keys;
    if (std::string(field) == "properties") {
        for (const auto& [k, v] : schema["properties"].items()) keys.push_back(k);
    } else {
        for (const auto& k : schema[field]) keys.push_back(k.get<std::string>());
    }
    return keys;
}

// The JSON on the line after `marker`.
nlohmann::json marker_json(const Prompt& p, const char* marker) {
    auto pos = p.user.find(marker);
    BOOST_REQUIRE(pos != std::string::npos);
    auto start = pos + std::string(marker).size();
    return nlohmann::json::parse(p.user.substr(start, p.user.find('\n', pos) - start));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_prompt)

BOOST_AUTO_TEST_CASE(sample_nothing_known_asks_every_level_in_correlation_order) {
    PromptSpec spec;
    auto p = build_prompt(test_knowledge(), spec);
    Keys expected = concat({"action_units", "expression", "valence", "arousal"}, kDescriptions);
    BOOST_TEST(answer_keys(spec) == expected, boost::test_tools::per_element());
    BOOST_TEST(asked_keys(p) == expected, boost::test_tools::per_element());
    BOOST_TEST(schema_keys(p, "required") == expected, boost::test_tools::per_element());
    BOOST_TEST(schema_keys(p, "properties") == expected, boost::test_tools::per_element());
    BOOST_TEST(p.user.find(kKnownLabelsMarker) == std::string::npos);
    BOOST_TEST(p.user.find(kCandidateLabelsMarker) == std::string::npos);
    BOOST_TEST(p.schema_name == "seke_sample");
    // Observable AUs are asked before the expression, the expression before VA.
    auto au = p.user.find("action_units:");
    auto ex = p.user.find("expression:");
    auto va = p.user.find("valence, arousal:");
    BOOST_TEST((au < ex && ex < va && va != std::string::npos));
}

BOOST_AUTO_TEST_CASE(system_message_carries_the_knowledge) {
    auto p = build_prompt(test_knowledge(), PromptSpec{});
    for (const char* needle : {"happy", "contempt", "AU6+AU12", "AU1+AU4+AU15", "Lip corner puller", "AU26: Jaw drop",
                               "cheeks raised", "AU5, AU26 and AU1+AU2", "valence [0, 1], arousal [-0.2, 0.7]"})
        BOOST_TEST(p.system.find(needle) != std::string::npos, needle);
}

BOOST_AUTO_TEST_CASE(known_levels_are_facts_not_asked) {
    PromptSpec spec;
    spec.known.expression = "happy";
    spec.known.action_units = std::vector<std::string>{"AU6", "AU12"};
    auto p = build_prompt(test_knowledge(), spec);
    Keys expected = concat({"valence", "arousal"}, kDescriptions);
    BOOST_TEST(asked_keys(p) == expected, boost::test_tools::per_element());
    BOOST_TEST(schema_keys(p, "required") == expected, boost::test_tools::per_element());
    auto known = marker_json(p, kKnownLabelsMarker);
    BOOST_TEST(known == nlohmann::json::parse(R"({"action_units":["AU6","AU12"],"expression":"happy"})"));

    PromptSpec va_known;
    va_known.known.valence = 0.5;
    va_known.known.arousal = -0.25;
    va_known.ask_descriptions = false;
    Keys va_expected{"action_units", "expression"};
    BOOST_TEST(answer_keys(va_known) == va_expected, boost::test_tools::per_element());
    BOOST_TEST(marker_json(build_prompt(test_knowledge(), va_known), kKnownLabelsMarker) ==
               nlohmann::json::parse(R"({"valence":0.5,"arousal":-0.25})"));

    PromptSpec half_va;  // only valence known: arousal is still asked on its own
    half_va.known.valence = 0.1;
    half_va.ask_descriptions = false;
    Keys half_expected{"action_units", "expression", "arousal"};
    BOOST_TEST(answer_keys(half_va) == half_expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(verify_prompt_shows_candidates_and_asks_verdict) {
    PromptSpec spec;
    spec.kind = RequestKind::verify;
    spec.known.expression = "sad";
    spec.candidates.action_units = std::vector<std::string>{"AU1", "AU4"};
    spec.candidates.valence = -0.5;
    spec.candidates.arousal = -0.2;
    auto p = build_prompt(test_knowledge(), spec);
    Keys expected = concat({"verdict", "action_units", "valence", "arousal"}, kDescriptions);
    BOOST_TEST(asked_keys(p) == expected, boost::test_tools::per_element());
    BOOST_TEST(p.schema_name == "seke_verify");
    BOOST_TEST(marker_json(p, kCandidateLabelsMarker) ==
               nlohmann::json::parse(R"({"action_units":["AU1","AU4"],"valence":-0.5,"arousal":-0.2})"));
    BOOST_TEST(marker_json(p, kKnownLabelsMarker) == nlohmann::json::parse(R"({"expression":"sad"})"));
    auto schema = nlohmann::json::parse(p.response_schema);
    BOOST_TEST(schema["properties"]["verdict"]["enum"] == nlohmann::json::parse(R"(["agree","disagree"])"));
    BOOST_TEST(p.user.find("\"agree\"") != std::string::npos);
    BOOST_TEST(p.user.find("\"disagree\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(describe_asks_descriptions_only) {
    PromptSpec spec;
    spec.kind = RequestKind::describe;
    spec.known.expression = "happy";
    spec.known.valence = 0.6;
    spec.known.arousal = 0.2;
    spec.known.action_units = std::vector<std::string>{};
    auto p = build_prompt(test_knowledge(), spec);
    BOOST_TEST(asked_keys(p) == kDescriptions, boost::test_tools::per_element());
    BOOST_TEST(p.schema_name == "seke_describe");
    BOOST_TEST(marker_json(p, kKnownLabelsMarker)["action_units"].empty());
    spec.ask_descriptions = false;
    BOOST_TEST(answer_keys(spec).empty());
}

BOOST_AUTO_TEST_CASE(schema_is_strict_and_typed) {
    auto p = build_prompt(test_knowledge(), PromptSpec{});
    auto schema = nlohmann::json::parse(p.response_schema);
    BOOST_TEST(schema["type"] == "object");
    BOOST_TEST(schema["additionalProperties"] == false);
    const auto& props = schema["properties"];
    BOOST_TEST(props["action_units"]["type"] == "array");
    BOOST_TEST(props["action_units"]["items"]["enum"].size() == 17u);
    BOOST_TEST(props["expression"]["enum"].size() == 8u);
    BOOST_TEST(props["expression"]["enum"][0] == "neutral");
    BOOST_TEST(props["valence"]["type"] == "number");
    BOOST_TEST(!props["valence"].contains("minimum"));
    BOOST_TEST(props["va_description"]["type"] == "string");
    BOOST_TEST(!props.contains("verdict"));
}

BOOST_AUTO_TEST_CASE(deterministic_bytes) {
    PromptSpec spec;
    spec.kind = RequestKind::verify;
    spec.known.valence = 0.123456789;
    spec.known.arousal = -0.3;
    spec.candidates.expression = "fear";
    spec.candidates.action_units = std::vector<std::string>{"AU1", "AU2", "AU20"};
    auto a = build_prompt(test_knowledge(), spec);
    auto b = build_prompt(test_knowledge(), spec);
    BOOST_TEST(a.system == b.system);
    BOOST_TEST(a.user == b.user);
    BOOST_TEST(a.response_schema == b.response_schema);
    BOOST_TEST(a.schema_name == b.schema_name);
    spec.candidates.expression = "sad";
    BOOST_TEST(build_prompt(test_knowledge(), spec).user != a.user);
}

BOOST_AUTO_TEST_CASE(the_knowledge_is_one_system_text_for_every_request) {
    // Providers bill a prefix they cached at a lower rate: everything that differs between
    // requests (the face's facts, the candidates, the kind) is in the user turn, and the system
    // text, which goes first, is the same bytes for all of them.
    PromptSpec sample;
    PromptSpec known;
    known.known.expression = "happy";
    known.known.valence = 0.5;
    known.known.arousal = 0.1;
    PromptSpec verify;
    verify.kind = RequestKind::verify;
    verify.candidates.expression = "fear";
    PromptSpec describe;
    describe.kind = RequestKind::describe;
    describe.known.expression = "sad";
    const std::string system = build_prompt(test_knowledge(), sample).system;
    BOOST_TEST(!system.empty());
    for (const PromptSpec* spec : {&known, &verify, &describe}) {
        const Prompt p = build_prompt(test_knowledge(), *spec);
        BOOST_TEST(p.system == system);
        BOOST_TEST(p.user != build_prompt(test_knowledge(), sample).user);
    }
    BOOST_TEST(system.find(kKnownLabelsMarker) == std::string::npos);
    BOOST_TEST(system.find(kCandidateLabelsMarker) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(kind_names) {
    BOOST_TEST(request_kind_name(RequestKind::sample) == "sample");
    BOOST_TEST(request_kind_name(RequestKind::verify) == "verify");
    BOOST_TEST(request_kind_name(RequestKind::describe) == "describe");
}

BOOST_AUTO_TEST_SUITE_END()
