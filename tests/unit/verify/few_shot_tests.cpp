#include "verify/few_shot.hpp"

#include <algorithm>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/test_support.hpp"
#include "tests/unit/verify/scripted.hpp"
#include "verify/answer.hpp"
#include "verify/face_labeler.hpp"
#include "verify/prompt.hpp"

using namespace seke;
using namespace seke::test;
namespace tt = boost::test_tools;
using Keys = std::vector<std::string>;

namespace {

LabelSet complete_labels(std::string expression, std::vector<std::string> aus, double valence, double arousal) {
    LabelSet labels;
    labels.expression = std::move(expression);
    labels.action_units = std::move(aus);
    labels.valence = valence;
    labels.arousal = arousal;
    return labels;
}

const LabelSet kSadExample = complete_labels("sad", {"AU1", "AU4", "AU15"}, -0.55, -0.25);

Keys json_keys(const std::string& text) {
    Keys keys;
    const auto object = nlohmann::ordered_json::parse(text);  // items() must not outlive it
    for (const auto& [key, value] : object.items()) keys.push_back(key);
    return keys;
}

// Every prompt shape an example can answer: sample with nothing / some / each level known, with
// and without descriptions, and the verify and describe kinds.
std::vector<std::pair<std::string, PromptSpec>> specs() {
    std::vector<std::pair<std::string, PromptSpec>> out;
    PromptSpec sample;
    out.emplace_back("sample", sample);
    PromptSpec labels_only;
    labels_only.ask_descriptions = false;
    out.emplace_back("sample without descriptions", labels_only);
    PromptSpec known_expression;
    known_expression.known.expression = "happy";
    out.emplace_back("sample, expression known", known_expression);
    PromptSpec known_valence;
    known_valence.known.valence = 0.5;
    out.emplace_back("sample, valence known", known_valence);
    PromptSpec known_aus;
    known_aus.known.action_units = std::vector<std::string>{"AU12"};
    out.emplace_back("sample, AUs known", known_aus);
    PromptSpec verify;
    verify.kind = RequestKind::verify;
    verify.candidates = complete_labels("happy", {"AU6", "AU12"}, 0.6, 0.3);
    out.emplace_back("verify", verify);
    PromptSpec describe;
    describe.kind = RequestKind::describe;
    describe.known = complete_labels("happy", {"AU6", "AU12"}, 0.6, 0.3);
    out.emplace_back("describe", describe);
    return out;
}

std::shared_ptr<const FewShotExamples> examples_of(std::vector<LabelSet> labels) {
    auto out = std::make_shared<FewShotExamples>();
    for (std::size_t i = 0; i < labels.size(); ++i) {
        FewShotExample example;
        example.id = "feid-" + std::to_string(i);
        example.labels = std::move(labels[i]);
        example.descriptions.expression = "example " + std::to_string(i) + " expression";
        example.descriptions.va = "example " + std::to_string(i) + " va";
        example.descriptions.au = "example " + std::to_string(i) + " au";
        example.image_jpeg = "jpeg-" + std::to_string(i);
        example.image_hash = "hash-" + std::to_string(i);
        out->push_back(std::move(example));
    }
    return out;
}

const Fake kHappy = fake("happy", {"AU6", "AU12"}, 0.6, 0.3);
const Fake kHappySadAus = fake("happy", {"AU4", "AU15"}, 0.6, 0.3);  // triggers verification

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_few_shot_answer)

BOOST_AUTO_TEST_CASE(answers_round_trip_through_the_parser_for_every_prompt_kind) {
    Descriptions given{"Brows drawn together.", "Negative and calm.", "AU1, AU4 and AU15."};
    for (const auto& [name, spec] : specs()) {
        BOOST_TEST_CONTEXT(name) {
            auto question = example_spec(spec, kSadExample);
            BOOST_REQUIRE(question.has_value());
            BOOST_TEST(answer_keys(*question) == answer_keys(spec), tt::per_element());
            for (const Descriptions& descriptions : {given, Descriptions{}}) {
                auto answer = example_answer(test_knowledge(), *question, kSadExample, descriptions);
                BOOST_REQUIRE(answer.has_value());
                // Exactly the asked keys, in the asked order.
                BOOST_TEST(json_keys(*answer) == answer_keys(spec), tt::per_element());
                auto parsed = parse_answer(*answer, test_knowledge(), *question);
                BOOST_REQUIRE_MESSAGE(parsed.ok(), *answer);
                const Keys keys = answer_keys(spec);
                auto asked = [&](const char* key) { return std::find(keys.begin(), keys.end(), key) != keys.end(); };
                BOOST_TEST(
                    (parsed->labels.expression == (asked("expression") ? kSadExample.expression : std::nullopt)));
                BOOST_TEST((parsed->labels.valence == (asked("valence") ? kSadExample.valence : std::nullopt)));
                BOOST_TEST((parsed->labels.arousal == (asked("arousal") ? kSadExample.arousal : std::nullopt)));
                BOOST_TEST(
                    (parsed->labels.action_units == (asked("action_units") ? kSadExample.action_units : std::nullopt)));
                if (spec.kind == RequestKind::verify) BOOST_TEST((parsed->verdict == Verdict::agree));
                if (asked("expression_description")) {
                    // Given descriptions are used as they are; missing ones are never blank.
                    if (!descriptions.expression.empty()) {
                        BOOST_TEST(parsed->descriptions.expression == given.expression);
                        BOOST_TEST(parsed->descriptions.va == given.va);
                        BOOST_TEST(parsed->descriptions.au == given.au);
                    } else {
                        BOOST_TEST(!parsed->descriptions.expression.empty());
                        BOOST_TEST(!parsed->descriptions.va.empty());
                        BOOST_TEST(!parsed->descriptions.au.empty());
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(stand_in_descriptions_state_the_labels) {
    auto answer = example_answer(test_knowledge(), PromptSpec{}, kSadExample, Descriptions{});
    BOOST_REQUIRE(answer.has_value());
    auto j = nlohmann::json::parse(*answer);
    BOOST_TEST(j["expression_description"].get<std::string>() ==
               "The expression is sad: inner brows raised and drawn together, lip corners down.");
    BOOST_TEST(j["va_description"].get<std::string>() == "Valence is negative (-0.55) and arousal is low (-0.25).");
    const auto au = j["au_description"].get<std::string>();
    BOOST_TEST(au.rfind("Active action units: AU1 (", 0) == 0u, au);

    auto neutral = complete_labels("neutral", {}, 0, 0);
    auto plain = example_answer(test_knowledge(), PromptSpec{}, neutral, Descriptions{});
    BOOST_REQUIRE(plain.has_value());
    BOOST_TEST(nlohmann::json::parse(*plain)["au_description"].get<std::string>() ==
               "No action units are clearly active.");
}

BOOST_AUTO_TEST_CASE(labels_are_written_canonically_in_schema_order) {
    auto messy = complete_labels("HAPPY", {"au12", "6"}, 0.6, 0.3);
    auto answer = example_answer(test_knowledge(), PromptSpec{}, messy, Descriptions{});
    BOOST_REQUIRE(answer.has_value());
    auto j = nlohmann::json::parse(*answer);
    BOOST_TEST(j["expression"] == "happy");
    BOOST_TEST((j["action_units"] == nlohmann::json::array({"AU6", "AU12"})));
}

BOOST_AUTO_TEST_CASE(examples_that_cannot_answer_are_refused) {
    const PromptSpec sample;
    auto unknown = kSadExample;
    unknown.expression = "smug";
    BOOST_TEST(!example_answer(test_knowledge(), sample, unknown, {}).has_value());
    PromptSpec expression_known;  // shown as a fact, an unknown label misleads just as much
    expression_known.known.expression = "happy";
    BOOST_TEST(!example_answer(test_knowledge(), expression_known, unknown, {}).has_value());
    auto bad_au = kSadExample;
    bad_au.action_units = std::vector<std::string>{"AU99"};
    BOOST_TEST(!example_answer(test_knowledge(), sample, bad_au, {}).has_value());
    auto far = kSadExample;
    far.valence = 1.5;
    BOOST_TEST(!example_answer(test_knowledge(), sample, far, {}).has_value());
    auto partial = kSadExample;
    partial.action_units.reset();
    BOOST_TEST(!example_answer(test_knowledge(), sample, partial, {}).has_value());
    // A level the face has as a fact needs the example's own value for the question...
    PromptSpec au_known;
    au_known.known.action_units = std::vector<std::string>{};
    BOOST_TEST(!example_spec(au_known, partial).has_value());
    // ...but the answer itself may do without a level that is not asked.
    PromptSpec labels_only;
    labels_only.ask_descriptions = false;
    labels_only.known.action_units = std::vector<std::string>{};
    BOOST_TEST(example_answer(test_knowledge(), labels_only, partial, {}).has_value());
}

BOOST_AUTO_TEST_CASE(example_question_shows_the_examples_own_facts) {
    PromptSpec spec;
    spec.known.expression = "happy";
    spec.known.valence = 0.7;
    auto question = example_spec(spec, kSadExample);
    BOOST_REQUIRE(question.has_value());
    BOOST_TEST(*question->known.expression == "sad");
    BOOST_TEST(*question->known.valence == -0.55);
    BOOST_TEST(!question->known.arousal.has_value());
    BOOST_TEST(!question->known.action_units.has_value());
    // Nothing known: the question is the face's own, word for word.
    auto same = example_spec(PromptSpec{}, kSadExample);
    BOOST_REQUIRE(same.has_value());
    BOOST_TEST(build_prompt(test_knowledge(), *same).user == build_prompt(test_knowledge(), PromptSpec{}).user);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_labeler_examples)

BOOST_AUTO_TEST_CASE(no_examples_no_turns) {
    FaceLabeler l(test_knowledge(), EngineConfig{}, {}, {});
    BOOST_TEST(as_request(l.start()).examples.empty());
    FaceLabeler empty(test_knowledge(), EngineConfig{}, {}, {}, std::make_shared<FewShotExamples>());
    BOOST_TEST(as_request(empty.start()).examples.empty());
}

BOOST_AUTO_TEST_CASE(sample_requests_carry_the_examples_in_order) {
    auto examples = examples_of({kSadExample, complete_labels("happy", {"AU6", "AU12"}, 0.6, 0.3)});
    FaceLabeler l(test_knowledge(), EngineConfig{}, {}, {}, examples);
    auto first = as_request(l.start());
    BOOST_REQUIRE(first.examples.size() == 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto& turn = first.examples[i];
        BOOST_TEST(turn.example == i);
        BOOST_TEST(turn.image_hash == (*examples)[i].image_hash);
        BOOST_TEST(turn.user == first.prompt.user);
        auto parsed = parse_answer(turn.assistant, test_knowledge(), PromptSpec{});
        BOOST_REQUIRE(parsed.ok());
        BOOST_TEST((parsed->labels.expression == (*examples)[i].labels.expression));
        BOOST_TEST(parsed->descriptions.va == (*examples)[i].descriptions.va);
    }
    // A retried round carries them too.
    auto retry = as_request(l.feed(error_reply()));
    BOOST_TEST((retry.kind == RequestKind::sample));
    BOOST_TEST(retry.examples.size() == 2u);
}

BOOST_AUTO_TEST_CASE(verify_and_describe_requests_carry_none) {
    EngineConfig config;
    config.verification_weight = 4;
    FaceLabeler l(test_knowledge(), config, {}, {}, examples_of({kSadExample}));
    auto first = as_request(l.start());
    BOOST_TEST(first.examples.size() == 1u);
    auto verify = as_request(l.feed(answers(first, {kHappySadAus})));
    BOOST_TEST((verify.kind == RequestKind::verify));
    BOOST_TEST(verify.examples.empty());
    Fake correction = fake("sad", {"AU1", "AU4", "AU15"}, -0.5, -0.3);
    correction.verdict = "disagree";
    correction.description = "";
    auto describe = as_request(l.feed(answers(verify, {correction})));
    BOOST_TEST((describe.kind == RequestKind::describe));
    BOOST_TEST(describe.examples.empty());
}

BOOST_AUTO_TEST_CASE(known_levels_show_the_examples_facts_and_unfit_examples_are_skipped) {
    auto unknown = kSadExample;
    unknown.expression = "smug";
    auto examples = examples_of({unknown, kSadExample});
    LabelSet known;
    known.expression = "happy";
    LevelProvenance provenance;
    provenance.expression = Provenance::human;
    FaceLabeler l(test_knowledge(), EngineConfig{}, known, provenance, examples);
    auto first = as_request(l.start());
    BOOST_REQUIRE(first.examples.size() == 1u);
    const auto& turn = first.examples[0];
    BOOST_TEST(turn.example == 1u);  // the index still names the example in the given set
    BOOST_TEST(turn.image_hash == "hash-1");
    BOOST_TEST(turn.user != first.prompt.user);
    BOOST_TEST(turn.user.find(std::string(kKnownLabelsMarker) + R"({"expression":"sad"})") != std::string::npos);
    BOOST_TEST(asked_keys(Prompt{"", turn.user, "", ""}) == asked_keys(first.prompt), tt::per_element());
    BOOST_TEST(json_keys(turn.assistant) == asked_keys(first.prompt), tt::per_element());
}

BOOST_AUTO_TEST_CASE(at_most_the_bound_of_turns) {
    std::vector<LabelSet> many(kMaxFewShotExamples + 3, kSadExample);
    FaceLabeler l(test_knowledge(), EngineConfig{}, {}, {}, examples_of(many));
    auto first = as_request(l.start());
    BOOST_TEST(first.examples.size() == kMaxFewShotExamples);
    BOOST_TEST(first.examples.back().example == kMaxFewShotExamples - 1);
}

BOOST_AUTO_TEST_CASE(examples_do_not_change_the_outcome_of_scripted_answers) {
    FaceLabeler l(test_knowledge(), EngineConfig{}, {}, {}, examples_of({kSadExample}));
    auto r = as_result(l.feed(answers(as_request(l.start()), {kHappy})));
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(r.trace.stop_reason == "settled");
}

BOOST_AUTO_TEST_SUITE_END()
