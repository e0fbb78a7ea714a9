#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/verify/scripted.hpp"
#include "verify/face_labeler.hpp"
#include "verify/uamc.hpp"

using namespace seke;
using namespace seke::test;
namespace tt = boost::test_tools;
using Aus = std::vector<std::string>;
using Keys = std::vector<std::string>;

namespace {

const Fake kHappy = fake("happy", {"AU6", "AU12"}, 0.6, 0.3);
const Fake kSad = fake("sad", {"AU1", "AU4", "AU15"}, -0.5, -0.3);
// A happy label whose AUs say sad: cross-level inconsistency 0.6.
const Fake kHappySadAus = fake("happy", {"AU4", "AU15"}, 0.6, 0.3);

FaceLabeler labeler(const EngineConfig& config = {}, LabelSet known = {}, LevelProvenance provenance = {}) {
    return FaceLabeler(test_knowledge(), config, std::move(known), provenance);
}

// Feeds one reply per listed round; each round's answers cycle through its fakes.
LabelerStep run_rounds(FaceLabeler& l, LabelerStep step, const std::vector<std::vector<Fake>>& rounds) {
    for (const auto& round : rounds) step = l.feed(answers(as_request(step), round));
    return step;
}

nlohmann::json marker_json(const Prompt& p, const char* marker) {
    auto pos = p.user.find(marker);
    BOOST_REQUIRE(pos != std::string::npos);
    auto start = pos + std::string(marker).size();
    return nlohmann::json::parse(p.user.substr(start, p.user.find('\n', pos) - start));
}

const Keys kDescriptionKeys{"au_description", "expression_description", "va_description"};

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_labeler_sampling)

BOOST_AUTO_TEST_CASE(unanimous_first_round_stops_at_k_min) {
    auto l = labeler();
    auto first = as_request(l.start());
    BOOST_TEST(first.ordinal == 0);
    BOOST_TEST((first.kind == RequestKind::sample));
    BOOST_TEST(first.n == 3);
    BOOST_TEST(first.temperature == EngineConfig{}.temperature);
    BOOST_TEST(asked_keys(first.prompt) == (Keys{"action_units", "expression", "valence", "arousal", "au_description",
                                                 "expression_description", "va_description"}),
               tt::per_element());

    auto r = as_result(l.feed(answers(first, {kHappy})));
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(*r.labels.action_units == (Aus{"AU6", "AU12"}), tt::per_element());
    BOOST_TEST(*r.labels.valence == 0.6);
    BOOST_TEST(*r.labels.arousal == 0.3);
    BOOST_TEST(r.descriptions.expression == "desc expression");
    BOOST_TEST(r.trace.stop_reason == "settled");
    BOOST_TEST(r.trace.rounds == 1);
    BOOST_TEST(r.trace.verifications == 0);
    BOOST_REQUIRE(r.trace.expression_votes.size() == 1u);
    BOOST_TEST(r.trace.expression_votes[0].second == 1.0);
    BOOST_TEST((r.provenance.expression == Provenance::model));
    BOOST_TEST(r.cost.requests == 1);
    BOOST_TEST(r.cost.samples == 3);
    BOOST_TEST(r.uncertainty.expression == 1.0 / 16, tt::tolerance(1e-12));
    BOOST_TEST(r.uncertainty.va == 0.0);
    BOOST_TEST(r.uncertainty.au == 0.3712323266408755, tt::tolerance(1e-9));
    BOOST_TEST(r.uncertainty.consistency == 0.0);
    BOOST_TEST(r.uncertainty.overall == 0.45 / 16 + 0.1 * 0.3712323266408755, tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(split_votes_sample_up_to_k_max) {
    EngineConfig config;
    config.self_verify = false;
    config.k_max = 10;
    auto l = labeler(config);
    auto step = l.start();
    std::vector<int> ns;
    const std::vector<std::vector<Fake>> rounds{
        {kHappy, kHappy, kSad}, {kHappy, kSad}, {kHappy, kSad}, {kHappy, kSad}, {kHappy}};
    for (const auto& round : rounds) {
        auto request = as_request(step);
        ns.push_back(request.n);
        BOOST_TEST(request.ordinal == static_cast<int>(ns.size()) - 1);
        step = l.feed(answers(request, round));
    }
    BOOST_TEST(ns == (std::vector<int>{3, 2, 2, 2, 1}), tt::per_element());
    auto r = as_result(step);
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(r.trace.stop_reason == "k_max");
    BOOST_TEST(r.cost.samples == 10);
    BOOST_TEST(r.trace.rounds == 5);
    BOOST_REQUIRE(r.trace.expression_votes.size() == 2u);
    BOOST_TEST(r.trace.expression_votes[0].second == 0.6, tt::tolerance(1e-12));
    BOOST_TEST(r.trace.expression_votes[1].first == "sad");
}

BOOST_AUTO_TEST_CASE(stops_once_the_posterior_clears) {
    EngineConfig config;
    config.k_max = 10;
    config.stop_confidence = 0.9;
    auto l = labeler(config);
    // 2–1 (P 0.69) → 4–1 (P 0.89) → 6–1 (P 0.96): settled after 7 samples.
    auto step = run_rounds(l, l.start(), {{kHappy, kHappy, kSad}, {kHappy}});
    auto third = as_request(step);
    BOOST_TEST(third.n == 2);
    auto r = as_result(l.feed(answers(third, {kHappy})));
    BOOST_TEST(r.trace.stop_reason == "settled");
    BOOST_TEST(r.cost.samples == 7);
    BOOST_TEST(*r.labels.valence == 0.6);  // the sad outlier does not move the median
    BOOST_TEST(r.uncertainty.va == 0.0);
}

BOOST_AUTO_TEST_CASE(greedy_mode) {
    EngineConfig config;
    config.mode = SamplingMode::greedy;
    auto l = labeler(config);
    auto request = as_request(l.start());
    BOOST_TEST(request.n == 1);
    BOOST_TEST(request.temperature == 0.0);
    // Inconsistent, but the greedy baseline never verifies.
    auto r = as_result(l.feed(answers(request, {kHappySadAus})));
    BOOST_TEST(r.ok);
    BOOST_TEST(r.trace.stop_reason == "greedy");
    BOOST_TEST(r.cost.requests == 1);
    BOOST_TEST(r.uncertainty.consistency == 0.6, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(fixed_mode_majority_vote) {
    EngineConfig config;
    config.mode = SamplingMode::fixed;
    auto l = labeler(config);
    auto request = as_request(l.start());
    BOOST_TEST(request.n == 10);
    BOOST_TEST(request.temperature == config.temperature);
    std::vector<std::string> contents;
    for (int i = 0; i < 10; ++i) contents.push_back(answer_for(request.prompt, i < 4 ? kSad : kHappy));
    auto r = as_result(l.feed(reply_of(contents)));
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(r.trace.stop_reason == "fixed");
    BOOST_TEST(r.cost.requests == 1);
    BOOST_TEST(r.trace.expression_votes[0].second == 0.6, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_labeler_verification)

BOOST_AUTO_TEST_CASE(inconsistency_triggers_verification_with_weight) {
    auto l = labeler();
    auto step = run_rounds(l, l.start(), {{kHappySadAus}});
    auto verify = as_request(step);
    BOOST_TEST((verify.kind == RequestKind::verify));
    BOOST_TEST(verify.ordinal == 1);
    BOOST_TEST(verify.n == 1);
    BOOST_TEST(verify.temperature == 0.0);
    BOOST_TEST(
        marker_json(verify.prompt, kCandidateLabelsMarker) ==
        nlohmann::json::parse(R"({"action_units":["AU4","AU15"],"expression":"happy","valence":0.6,"arousal":0.3})"));
    BOOST_TEST(asked_keys(verify.prompt).front() == "verdict");

    Fake correction = kSad;
    correction.verdict = "disagree";
    auto r = as_result(l.feed(answers(verify, {correction})));
    BOOST_TEST(r.ok);
    // 3 samples for happy against one verification worth 2.
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_REQUIRE(r.trace.expression_votes.size() == 2u);
    BOOST_TEST(r.trace.expression_votes[0].second == 0.6, tt::tolerance(1e-12));
    BOOST_TEST(r.trace.expression_votes[1].second == 0.4, tt::tolerance(1e-12));
    BOOST_TEST(r.trace.verifications == 1);
    BOOST_TEST(r.trace.verifier_disagreed);
    // For AU the verification is one more sample: AU1 at 1/4 stays out.
    BOOST_TEST(*r.labels.action_units == (Aus{"AU4", "AU15"}), tt::per_element());
    // Tally uncertainty 0.5·H(.6,.4)/ln 8 + 0.5·0.8, plus the disagreement.
    BOOST_TEST(r.uncertainty.expression == 0.5 * 0.6730116670092565 / std::log(8.0) + 0.4 + 0.25, tt::tolerance(1e-9));
    BOOST_TEST(r.descriptions.expression == "desc expression");
    BOOST_TEST(r.cost.requests == 2);
    BOOST_TEST(r.trace.stop_reason == "settled");
}

BOOST_AUTO_TEST_CASE(heavier_verification_flips_and_describe_fills_descriptions) {
    EngineConfig config;
    config.verification_weight = 4;
    auto l = labeler(config);
    auto verify = as_request(run_rounds(l, l.start(), {{kHappySadAus}}));
    Fake correction = kSad;
    correction.verdict = "disagree";
    correction.description = "";  // the verifier gave labels only
    auto describe = as_request(l.feed(answers(verify, {correction})));
    BOOST_TEST((describe.kind == RequestKind::describe));
    BOOST_TEST(describe.ordinal == 2);
    BOOST_TEST(describe.temperature == 0.0);
    BOOST_TEST(asked_keys(describe.prompt) == kDescriptionKeys, tt::per_element());
    BOOST_TEST(
        marker_json(describe.prompt, kKnownLabelsMarker) ==
        nlohmann::json::parse(R"({"action_units":["AU4","AU15"],"expression":"sad","valence":0.6,"arousal":0.3})"));

    Fake words;
    words.description = "final";
    auto r = as_result(l.feed(answers(describe, {words})));
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.expression == "sad");
    BOOST_TEST(r.descriptions.expression == "final expression");
    BOOST_TEST(r.descriptions.au == "final au");
    BOOST_TEST(r.cost.requests == 3);
}

BOOST_AUTO_TEST_CASE(thin_margin_triggers_verification) {
    EngineConfig config;
    config.k_min = 2;
    config.k_max = 2;
    auto l = labeler(config);
    auto verify = as_request(run_rounds(l, l.start(), {{kHappy, kSad}}));
    BOOST_TEST((verify.kind == RequestKind::verify));
    auto r = as_result(l.feed(answers(verify, {kHappy})));
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(r.trace.stop_reason == "k_max");
    BOOST_TEST(!r.trace.verifier_disagreed);
    BOOST_TEST(r.trace.expression_votes[0].second == 0.75, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(no_verification_when_disabled) {
    EngineConfig config;
    config.self_verify = false;
    auto l = labeler(config);
    auto r = as_result(run_rounds(l, l.start(), {{kHappySadAus}}));
    BOOST_TEST(r.trace.verifications == 0);
    BOOST_TEST(r.uncertainty.consistency == 0.6, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_labeler_known)

BOOST_AUTO_TEST_CASE(known_levels_never_asked_nor_overwritten) {
    LabelSet known;
    known.expression = "happy";
    known.action_units = Aus{"AU6", "AU12"};
    LevelProvenance provenance;
    provenance.expression = Provenance::source;
    provenance.au = Provenance::human;
    auto l = labeler({}, known, provenance);
    auto request = as_request(l.start());
    BOOST_TEST(asked_keys(request.prompt) ==
                   (Keys{"valence", "arousal", "au_description", "expression_description", "va_description"}),
               tt::per_element());
    BOOST_TEST(marker_json(request.prompt, kKnownLabelsMarker) ==
               nlohmann::json::parse(R"({"action_units":["AU6","AU12"],"expression":"happy"})"));
    // The model answers every key anyway, contradicting the facts.
    Fake contrary = fake("sad", {"AU4", "AU15"}, 0.5, 0.2);
    std::vector<std::string> contents(3, full_answer(contrary));
    auto r = as_result(l.feed(reply_of(contents)));
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(*r.labels.action_units == (Aus{"AU6", "AU12"}), tt::per_element());
    BOOST_TEST(*r.labels.valence == 0.5);
    BOOST_TEST((r.provenance.expression == Provenance::source));
    BOOST_TEST((r.provenance.au == Provenance::human));
    BOOST_TEST((r.provenance.va == Provenance::model));
    BOOST_TEST(r.uncertainty.expression == 0.0);
    BOOST_TEST(r.uncertainty.au == 0.0);
    BOOST_TEST(r.trace.expression_votes.empty());
    BOOST_TEST(r.trace.stop_reason == "settled");
    // Known levels drop out of overall: only VA (0) and consistency (0) remain.
    BOOST_TEST(r.uncertainty.overall == 0.0);
}

BOOST_AUTO_TEST_CASE(known_expression_checked_against_model_aus) {
    LabelSet known;
    known.expression = "happy";
    auto l = labeler({}, known, {Provenance::human, Provenance::model, Provenance::model});
    auto verify = as_request(run_rounds(l, l.start(), {{kHappySadAus}}));
    BOOST_TEST((verify.kind == RequestKind::verify));
    auto candidates = marker_json(verify.prompt, kCandidateLabelsMarker);
    BOOST_TEST(!candidates.contains("expression"));
    const Keys keys = asked_keys(verify.prompt);
    BOOST_TEST((std::find(keys.begin(), keys.end(), "expression") == keys.end()));
    Fake correction = fake("sad", {"AU6", "AU12"}, 0.6, 0.3);
    correction.verdict = "disagree";
    auto r = as_result(l.feed(reply_of({full_answer(correction)})));
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST((r.provenance.expression == Provenance::human));
    BOOST_TEST(!r.trace.verifier_disagreed);  // it could not disagree on a fact
}

BOOST_AUTO_TEST_CASE(all_known_asks_one_describe) {
    LabelSet known;
    known.expression = "happy";
    known.action_units = Aus{"AU6", "AU12"};
    known.valence = 0.7;
    known.arousal = 0.2;
    LevelProvenance human{Provenance::human, Provenance::human, Provenance::human};
    auto l = labeler({}, known, human);
    auto request = as_request(l.start());
    BOOST_TEST((request.kind == RequestKind::describe));
    BOOST_TEST(request.ordinal == 0);
    BOOST_TEST(asked_keys(request.prompt) == kDescriptionKeys, tt::per_element());
    auto r = as_result(l.feed(reply_of({full_answer(fake("sad", {}, -1, -1))})));
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(*r.labels.valence == 0.7);
    BOOST_TEST(r.descriptions.va == "desc va");
    BOOST_TEST((r.provenance.va == Provenance::human));
    BOOST_TEST(r.trace.stop_reason == "known");
    BOOST_TEST(r.uncertainty.overall == 0.0);
    BOOST_TEST(r.cost.requests == 1);
}

BOOST_AUTO_TEST_CASE(all_known_inconsistent_still_ranked_by_consistency) {
    LabelSet known;
    known.expression = "happy";
    known.action_units = Aus{"AU4", "AU15"};
    known.valence = 0.6;
    known.arousal = 0.3;
    auto l = labeler({}, known, {Provenance::source, Provenance::source, Provenance::source});
    as_request(l.start());
    auto r = as_result(l.feed(reply_of({full_answer(kHappy)})));
    BOOST_TEST(r.uncertainty.consistency == 0.6, tt::tolerance(1e-12));
    BOOST_TEST(r.uncertainty.overall == 0.6, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(describe_failure_keeps_labels) {
    LabelSet known;
    known.expression = "neutral";
    known.action_units = Aus{};
    known.valence = 0;
    known.arousal = 0;
    auto l = labeler({}, known, {Provenance::source, Provenance::source, Provenance::source});
    as_request(l.start());
    auto r = as_result(l.feed(error_reply()));
    BOOST_TEST(r.ok);
    BOOST_TEST(r.descriptions.expression.empty());
    BOOST_TEST(r.trace.stop_reason == "describe_failed");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_labeler_failures)

BOOST_AUTO_TEST_CASE(feed_before_start_is_an_internal_failure) {
    auto l = labeler();
    auto r = as_result(l.feed(reply_of({full_answer(kHappy)})));
    BOOST_TEST(!r.ok);
    BOOST_TEST((r.failure->code == errc::internal));
}

BOOST_AUTO_TEST_CASE(error_replies_fail_after_the_limit) {
    auto l = labeler();
    auto first = as_request(l.start());
    auto retry = as_request(l.feed(error_reply(errc::upstream_timeout)));
    BOOST_TEST(retry.ordinal == 1);
    BOOST_TEST(retry.n == first.n);
    BOOST_TEST(retry.prompt.user == first.prompt.user);
    auto r = as_result(l.feed(error_reply(errc::upstream_error)));
    BOOST_TEST(!r.ok);
    BOOST_REQUIRE(r.failure);
    BOOST_TEST((r.failure->code == errc::upstream_error));
    BOOST_TEST(r.trace.stop_reason == "failed");
    BOOST_TEST(r.cost.requests == 2);
    BOOST_TEST(r.trace.requests.size() == 2u);
    BOOST_TEST(r.trace.requests[0].error.has_value());
    // Fed again, it stays done.
    BOOST_TEST(!as_result(l.feed(error_reply())).ok);
}

BOOST_AUTO_TEST_CASE(all_malformed_fails_with_reason) {
    auto l = labeler();
    auto first = as_request(l.start());
    auto retry = as_request(l.feed(reply_of({"not json", "{\"expression\":", "```json\n{}\n```"})));
    auto r = as_result(l.feed(reply_of({"no", "nope", "{\"expression\":\"bored\"}"})));
    BOOST_TEST(!r.ok);
    BOOST_TEST((r.failure->code == errc::malformed_answer));
    BOOST_TEST(r.cost.malformed == 6);
    BOOST_TEST(r.cost.samples == 6);
    BOOST_TEST(r.trace.requests[0].samples[0].error.has_value());
    BOOST_TEST(!r.trace.requests[0].samples[0].answer.has_value());
    (void)first;
    (void)retry;
}

BOOST_AUTO_TEST_CASE(error_then_success) {
    auto l = labeler();
    as_request(l.start());
    auto step = l.feed(error_reply());
    auto r = as_result(run_rounds(l, step, {{kHappy}}));
    BOOST_TEST(r.ok);
    BOOST_TEST(r.trace.stop_reason == "settled");
    BOOST_TEST(r.cost.requests == 2);
}

BOOST_AUTO_TEST_CASE(later_failure_finishes_with_what_there_is) {
    auto l = labeler();
    auto step = run_rounds(l, l.start(), {{kHappy, kHappy, kSad}});
    as_request(step);
    auto r = as_result(l.feed(error_reply()));
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(r.trace.stop_reason == "request_failed");
    BOOST_TEST(r.descriptions.expression == "desc expression");
}

BOOST_AUTO_TEST_CASE(malformed_answers_dropped_never_half_used) {
    auto l = labeler();
    auto first = as_request(l.start());
    // The third answer has a good expression but an unknown AU: dropped whole.
    auto bad = R"({"action_units":["AU99"],"expression":"sad","valence":-0.5,"arousal":-0.3,
        "au_description":"x","expression_description":"y","va_description":"z"})";
    auto step = l.feed(reply_of({answer_for(first.prompt, kHappy), answer_for(first.prompt, kHappy), bad}));
    auto second = as_request(step);  // 2–0 is P 0.875: not yet settled
    BOOST_TEST(second.n == 2);
    auto r = as_result(l.feed(answers(second, {kHappy})));
    BOOST_TEST(r.ok);
    BOOST_TEST(r.cost.malformed == 1);
    BOOST_TEST(r.cost.samples == 5);
    BOOST_REQUIRE(r.trace.expression_votes.size() == 1u);
    BOOST_TEST(r.trace.expression_votes[0].first == "happy");
}

BOOST_AUTO_TEST_CASE(failed_verification_keeps_the_samples) {
    auto l = labeler();
    auto verify = as_request(run_rounds(l, l.start(), {{kHappySadAus}}));
    BOOST_TEST((verify.kind == RequestKind::verify));
    auto r = as_result(l.feed(reply_of({"I think it is fine"})));
    BOOST_TEST(r.ok);
    BOOST_TEST(r.trace.stop_reason == "verify_failed");
    BOOST_TEST(r.trace.verifications == 0);
    BOOST_TEST(r.cost.malformed == 1);
    BOOST_TEST(*r.labels.expression == "happy");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_labeler_cost)

BOOST_AUTO_TEST_CASE(cost_and_trace_accounting) {
    auto l = labeler();
    auto first = as_request(l.start());
    // A long preamble: the answer is still found, the trace keeps at most 4 KB.
    std::string padded = std::string(5000, 'x') + "\n" + answer_for(first.prompt, kHappy);
    ModelReply reply =
        reply_of({padded, answer_for(first.prompt, kHappy), answer_for(first.prompt, kHappy)}, 1000, 300);
    reply.cached = true;
    reply.cached_prompt_tokens = 768;
    auto r = as_result(l.feed(reply));
    BOOST_TEST(r.ok);
    BOOST_TEST(r.cost.requests == 0);
    BOOST_TEST(r.cost.cached_requests == 1);
    BOOST_TEST(r.cost.samples == 3);
    BOOST_TEST(r.cost.prompt_tokens == 1000);
    BOOST_TEST(r.cost.completion_tokens == 300);
    BOOST_TEST(r.cost.cached_prompt_tokens == 768);
    // From the response cache: counted, but paid for by the run that asked first.
    BOOST_TEST(r.cost.reused.prompt == 1000);
    BOOST_TEST(r.cost.reused.cached_prompt == 768);
    BOOST_TEST(r.cost.paid().prompt == 0);
    BOOST_TEST(r.cost.paid().completion == 0);
    BOOST_TEST(r.trace.requests.at(0).cached_prompt_tokens == 768);
    BOOST_REQUIRE(r.trace.requests.size() == 1u);
    const auto& traced = r.trace.requests[0];
    BOOST_TEST(traced.cached);
    BOOST_TEST(traced.n == 3);
    BOOST_TEST(traced.samples.size() == 3u);
    BOOST_TEST(traced.samples[0].raw.size() <= 4096u);
    BOOST_TEST(traced.samples[0].answer.has_value());

    // Tokens add up over requests, including failed ones.
    auto l2 = labeler();
    as_request(l2.start());
    ModelReply failed = error_reply();
    failed.prompt_tokens = 50;
    auto step = l2.feed(failed);
    auto request = as_request(step);
    auto r2 = as_result(l2.feed(reply_of(
        {answer_for(request.prompt, kHappy), answer_for(request.prompt, kHappy), answer_for(request.prompt, kHappy)},
        70, 30)));
    BOOST_TEST(r2.cost.requests == 2);
    BOOST_TEST(r2.cost.prompt_tokens == 120);
    BOOST_TEST(r2.cost.completion_tokens == 30);
    BOOST_TEST(r2.cost.paid().prompt == 120);  // sent, not reused: all paid
}

BOOST_AUTO_TEST_SUITE_END()

// Every exported description must agree with the exported label of its level.
BOOST_AUTO_TEST_SUITE(verify_labeler_descriptions)

namespace {

Fake described(Fake f, std::string prefix) {
    f.description = std::move(prefix);
    return f;
}

// Samples "a", "b", "c" vote AU6 3/3, AU12 2/3, AU25 1/3, AU26 1/3: the final AU6+AU12 is a set
// no sample gave, so the labeler asks for one describe request, returned here.
ModelRequest until_describe(FaceLabeler& l) {
    const Fake a = described(fake("happy", {"AU6", "AU12", "AU25"}, 0.6, 0.3), "a");
    const Fake b = described(fake("happy", {"AU6", "AU12", "AU26"}, 0.6, 0.3), "b");
    const Fake c = described(fake("happy", {"AU6"}, 0.6, 0.3), "c");
    auto describe = as_request(run_rounds(l, l.start(), {{a, b, c}}));
    BOOST_TEST((describe.kind == RequestKind::describe));
    return describe;
}

}  // namespace

BOOST_AUTO_TEST_CASE(au_description_from_a_sample_with_the_final_au_set) {
    auto l = labeler();
    // The nearest sample saw AU26, which the vote (1 of 3) drops: its AU description would
    // name a unit that is not exported.
    const Fake with_au26 = described(fake("happy", {"AU6", "AU12", "AU26"}, 0.6, 0.3), "s1");
    const Fake lower = described(fake("happy", {"AU6", "AU12"}, 0.5, 0.3), "s2");
    const Fake higher = described(fake("happy", {"AU6", "AU12"}, 0.7, 0.3), "s3");
    auto r = as_result(run_rounds(l, l.start(), {{with_au26, lower, higher}}));
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.action_units == (Aus{"AU6", "AU12"}), tt::per_element());
    BOOST_TEST(*r.labels.valence == 0.6);
    BOOST_TEST(r.descriptions.au == "s2 au");  // the first of the two with exactly AU6+AU12
    BOOST_TEST(r.descriptions.expression == "s1 expression");
    BOOST_TEST(r.descriptions.va == "s1 va");
    // Consistent answers were at hand: no describe request.
    BOOST_TEST(r.cost.requests == 1);
    BOOST_REQUIRE(r.trace.requests.size() == 1u);
    BOOST_TEST((r.trace.requests[0].kind == RequestKind::sample));
}

BOOST_AUTO_TEST_CASE(no_sample_with_the_final_au_set_asks_one_describe) {
    auto l = labeler();
    auto describe = until_describe(l);
    BOOST_TEST(describe.ordinal == 1);
    BOOST_TEST(describe.n == 1);
    BOOST_TEST(describe.temperature == 0.0);
    BOOST_TEST(describe.examples.empty());
    BOOST_TEST(asked_keys(describe.prompt) == kDescriptionKeys, tt::per_element());
    BOOST_TEST(
        marker_json(describe.prompt, kKnownLabelsMarker) ==
        nlohmann::json::parse(R"({"action_units":["AU6","AU12"],"expression":"happy","valence":0.6,"arousal":0.3})"));

    auto r = as_result(l.feed(reply_of({answer_for(describe.prompt, described(kHappy, "final"))}, 40, 15)));
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.action_units == (Aus{"AU6", "AU12"}), tt::per_element());
    // The describe answer knew every final label: it describes all three levels.
    BOOST_TEST(r.descriptions.au == "final au");
    BOOST_TEST(r.descriptions.expression == "final expression");
    BOOST_TEST(r.descriptions.va == "final va");
    BOOST_TEST(r.trace.stop_reason == "settled");
    // It is one more request in the cost and the trace, like any other.
    BOOST_TEST(r.cost.requests == 2);
    BOOST_TEST(r.cost.samples == 4);
    BOOST_TEST(r.cost.prompt_tokens == 100 + 40);
    BOOST_TEST(r.cost.completion_tokens == 20 + 15);
    BOOST_REQUIRE(r.trace.requests.size() == 2u);
    BOOST_TEST((r.trace.requests[1].kind == RequestKind::describe));
    BOOST_TEST(r.trace.requests[1].ordinal == 1);
    BOOST_TEST(r.trace.requests[1].samples.size() == 1u);
    BOOST_TEST(r.trace.requests[1].samples[0].answer.has_value());
}

BOOST_AUTO_TEST_CASE(blank_describe_level_keeps_its_sample_match) {
    auto l = labeler();
    auto describe = until_describe(l);
    auto words = R"({"au_description":"AU6 and AU12 raise the cheeks and the lip corners.",
        "expression_description":"","va_description":"  "})";
    auto r = as_result(l.feed(reply_of({words})));
    BOOST_TEST(r.descriptions.au == "AU6 and AU12 raise the cheeks and the lip corners.");
    BOOST_TEST(r.descriptions.expression == "a expression");
    BOOST_TEST(r.descriptions.va == "a va");
}

BOOST_AUTO_TEST_CASE(va_description_within_tolerance_and_of_the_same_sign) {
    EngineConfig config;
    config.mode = SamplingMode::fixed;
    config.fixed_samples = 3;
    auto l = labeler(config);
    // Medians: valence 0.1 (s2), arousal 0.3 (s1, s3). s1 is within 0.15 on both but on the
    // negative side of a clearly positive valence; s2's arousal is 0.3 off; s3's valence 0.2.
    const Fake s1 = described(fake("happy", {"AU6", "AU12"}, -0.02, 0.3), "s1");
    const Fake s2 = described(fake("happy", {"AU6", "AU12"}, 0.1, 0.6), "s2");
    const Fake s3 = described(fake("happy", {"AU6", "AU12"}, 0.3, 0.3), "s3");
    auto describe = as_request(run_rounds(l, l.start(), {{s1, s2, s3}}));
    BOOST_TEST((describe.kind == RequestKind::describe));
    BOOST_TEST(
        marker_json(describe.prompt, kKnownLabelsMarker) ==
        nlohmann::json::parse(R"({"action_units":["AU6","AU12"],"expression":"happy","valence":0.1,"arousal":0.3})"));
    auto r = as_result(l.feed(answers(describe, {described(kHappy, "final")})));
    BOOST_TEST(r.descriptions.va == "final va");
    BOOST_TEST(r.trace.stop_reason == "fixed");
    BOOST_TEST(r.cost.requests == 2);
}

BOOST_AUTO_TEST_CASE(nearest_va_within_tolerance_describes_va) {
    EngineConfig config;
    config.mode = SamplingMode::fixed;
    config.fixed_samples = 3;
    auto l = labeler(config);
    // Medians: valence 0.5, arousal 0.3. s1 is out on valence; s2 (0.1 off) and s3 (0.05 off)
    // both qualify and s3 is nearer, though s2 comes first.
    const Fake s1 = described(fake("happy", {"AU6", "AU12"}, 0.9, 0.3), "s1");
    const Fake s2 = described(fake("happy", {"AU6", "AU12"}, 0.4, 0.4), "s2");
    const Fake s3 = described(fake("happy", {"AU6", "AU12"}, 0.5, 0.25), "s3");
    auto r = as_result(run_rounds(l, l.start(), {{s1, s2, s3}}));
    BOOST_TEST(r.descriptions.va == "s3 va");
    BOOST_TEST(r.cost.requests == 1);
}

BOOST_AUTO_TEST_CASE(failed_describe_keeps_labels_and_consistent_descriptions) {
    auto l = labeler();
    auto describe = until_describe(l);
    auto r = as_result(l.feed(error_reply()));
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(*r.labels.action_units == (Aus{"AU6", "AU12"}), tt::per_element());
    BOOST_TEST(*r.labels.valence == 0.6);
    BOOST_TEST(r.trace.stop_reason == "describe_failed");
    // No sample gave AU6+AU12: blank, not "a au" (which has AU25).
    BOOST_TEST(r.descriptions.au.empty());
    BOOST_TEST(r.descriptions.expression == "a expression");
    BOOST_TEST(r.descriptions.va == "a va");
    BOOST_TEST(r.cost.requests == 2);
    BOOST_REQUIRE(r.trace.requests.size() == 2u);
    BOOST_TEST((r.trace.requests[1].kind == RequestKind::describe));
    BOOST_TEST(r.trace.requests[1].error.has_value());
}

BOOST_AUTO_TEST_CASE(malformed_describe_answer_is_dropped_whole) {
    auto l = labeler();
    auto describe = until_describe(l);
    // A good AU description, but va_description is missing: the answer is not used at all.
    auto half = R"({"au_description":"AU6 and AU12 are active.","expression_description":"A smile."})";
    auto r = as_result(l.feed(reply_of({half})));
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.action_units == (Aus{"AU6", "AU12"}), tt::per_element());
    BOOST_TEST(r.trace.stop_reason == "describe_failed");
    BOOST_TEST(r.cost.malformed == 1);
    BOOST_TEST(r.cost.samples == 4);
    BOOST_TEST(r.descriptions.au.empty());
    BOOST_TEST(r.descriptions.expression == "a expression");
    BOOST_REQUIRE(r.trace.requests.size() == 2u);
    BOOST_REQUIRE(r.trace.requests[1].samples.size() == 1u);
    BOOST_TEST(r.trace.requests[1].samples[0].error.has_value());
    BOOST_TEST(!r.trace.requests[1].samples[0].answer.has_value());
}

BOOST_AUTO_TEST_CASE(failed_verification_never_returns_a_contradicting_description) {
    auto l = labeler();
    // AU4 3/3, AU15 2/3, AU1 1/3, AU2 1/3 → AU4+AU15, which no sample gave. Happy with those
    // AUs is inconsistent, so a verification is asked; it fails.
    const Fake x = described(fake("happy", {"AU1", "AU4", "AU15"}, 0.6, 0.3), "x");
    const Fake y = described(fake("happy", {"AU2", "AU4", "AU15"}, 0.6, 0.3), "y");
    const Fake z = described(fake("happy", {"AU4"}, 0.6, 0.3), "z");
    auto verify = as_request(run_rounds(l, l.start(), {{x, y, z}}));
    BOOST_TEST((verify.kind == RequestKind::verify));
    auto r = as_result(l.feed(error_reply()));
    BOOST_TEST(r.ok);
    BOOST_TEST(r.trace.stop_reason == "verify_failed");
    BOOST_TEST(*r.labels.action_units == (Aus{"AU4", "AU15"}), tt::per_element());
    BOOST_TEST(r.descriptions.au.empty());
    BOOST_TEST(r.descriptions.expression == "x expression");
    BOOST_TEST(r.descriptions.va == "x va");
    // After a failure no describe request is spent.
    BOOST_TEST(r.cost.requests == 2);
}

BOOST_AUTO_TEST_CASE(known_level_described_by_an_answer_with_the_final_expression) {
    LabelSet known;
    known.action_units = Aus{"AU6", "AU12"};
    auto l = labeler({}, known, {Provenance::model, Provenance::model, Provenance::source});
    // 4 happy to 1 sad, all at the same VA; the sad answer comes first, but it may describe
    // neither the known AUs nor (the tie broken by expression) the VA.
    const Fake sad = described(fake("sad", {}, 0.7, 0.3), "sad");
    const Fake happy = described(fake("happy", {}, 0.7, 0.3), "happy");
    auto r = as_result(run_rounds(l, l.start(), {{sad, happy, happy}, {happy, happy}}));
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(r.descriptions.au == "happy au");
    BOOST_TEST(r.descriptions.expression == "happy expression");
    BOOST_TEST(r.descriptions.va == "happy va");
    BOOST_TEST(r.cost.requests == 2);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// An opinion as interpret_expert gives one, written out: `expression` with probability `p` and
// `other` with the rest; AU12 judged present (reliable), AU4 absent (weak); AU6, AU9, AU14 unseen.
ExpertOpinion expert_says(const std::string& expression, double p, const std::string& other, double valence,
                          double arousal, double au12_score = 0.95, double au4_score = 0.1) {
    ExpertOpinion o;
    o.expression_probabilities = {{expression, p}, {other, 1 - p}};
    o.labels.expression = expression;
    o.labels.valence = valence;
    o.labels.arousal = arousal;
    o.labels.action_units = Aus{"AU12"};
    AuJudgement au4;
    au4.code = "AU4";
    au4.score = au4_score;
    AuJudgement au12;
    au12.code = "AU12";
    au12.score = au12_score;
    au12.reliable = true;
    o.action_units = {au4, au12};
    o.au_unknown = {"AU6", "AU9", "AU14"};
    o.uncertainty.expression = 0.1;
    o.uncertainty.va = 0.3;
    o.uncertainty.au = 0.2;
    o.descriptions = {"expert expression", "expert va", "expert au"};
    return o;
}

ExpertOpinion abstained_expert() {
    ExpertOpinion o;
    o.abstained = true;
    o.abstain_reason = "face score 0.08 below 0.50: not a face";
    return o;
}

FaceLabeler labeler_with(std::optional<ExpertOpinion> expert, const EngineConfig& config = {}, LabelSet known = {},
                         LevelProvenance provenance = {}) {
    return FaceLabeler(test_knowledge(), config, std::move(known), provenance, nullptr, std::move(expert));
}

EngineConfig expert_only() {
    EngineConfig config;
    config.expert_only = true;
    return config;
}

// Three unanimous happy answers: settled after one round, no verification without an expert.
FaceResult unanimous_happy(std::optional<ExpertOpinion> expert, const EngineConfig& config = {}) {
    auto l = labeler_with(std::move(expert), config);
    return as_result(run_rounds(l, l.start(), {{kHappy}}));
}

void same_uncertainty(const Uncertainty& a, const Uncertainty& b) {
    BOOST_TEST(a.expression == b.expression);
    BOOST_TEST(a.va == b.va);
    BOOST_TEST(a.au == b.au);
    BOOST_TEST(a.consistency == b.consistency);
    BOOST_TEST(a.overall == b.overall);
    BOOST_TEST(a.expert_disagreement == b.expert_disagreement);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_labeler_expert_only)

BOOST_AUTO_TEST_CASE(expert_only_answers_at_once_with_provenance_expert) {
    const ExpertOpinion said = expert_says("happy", 0.9, "neutral", 0.55, 0.25);
    auto l = labeler_with(said, expert_only());
    auto r = as_result(l.start());
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.expression == "happy");
    BOOST_TEST(*r.labels.action_units == (Aus{"AU12"}), tt::per_element());
    BOOST_TEST(*r.labels.valence == 0.55);
    BOOST_TEST(*r.labels.arousal == 0.25);
    for (Level level : kAllLevels) BOOST_TEST((r.provenance.of(level) == Provenance::expert));
    BOOST_TEST(r.descriptions.expression == "expert expression");
    BOOST_TEST(r.descriptions.va == "expert va");
    BOOST_TEST(r.descriptions.au == "expert au");
    BOOST_TEST(r.cost.requests == 0);
    BOOST_TEST(r.cost.samples == 0);
    BOOST_TEST(r.trace.requests.empty());
    BOOST_TEST(r.trace.stop_reason == "expert");
    BOOST_REQUIRE(r.trace.expert.has_value());
    BOOST_TEST(r.trace.expert->used);
    BOOST_TEST(r.trace.expert->expression == "happy");
    BOOST_TEST(r.trace.expert->probability == 0.9);
    BOOST_TEST(r.uncertainty.expression == 0.1);
    BOOST_TEST(r.uncertainty.va == 0.3);
    BOOST_TEST(r.uncertainty.au == 0.2);
    BOOST_TEST(r.uncertainty.consistency == cross_level_inconsistency(test_knowledge(), r.labels));
    BOOST_TEST(r.uncertainty.overall == overall_uncertainty(r.uncertainty, EngineConfig{}.weights, {true, true, true}));
    // The face is done: a stray feed gets the same result.
    BOOST_TEST(*as_result(l.feed(reply_of({}))).labels.expression == "happy");
}

BOOST_AUTO_TEST_CASE(expert_only_abstention_fails_the_face_with_no_face) {
    LabelSet known;
    known.action_units = Aus{"AU4"};
    LevelProvenance provenance;
    provenance.au = Provenance::human;
    auto l = labeler_with(abstained_expert(), expert_only(), known, provenance);
    auto r = as_result(l.start());
    BOOST_TEST(!r.ok);
    BOOST_REQUIRE(r.failure.has_value());
    BOOST_TEST((r.failure->code == errc::no_face));
    BOOST_TEST(r.failure->message == "face score 0.08 below 0.50: not a face");
    BOOST_TEST(*r.labels.action_units == (Aus{"AU4"}), tt::per_element());
    BOOST_TEST((r.provenance.au == Provenance::human));
    BOOST_TEST(!r.labels.expression.has_value());
    BOOST_TEST(r.cost.requests == 0);
    BOOST_REQUIRE(r.trace.expert.has_value());
    BOOST_TEST(!r.trace.expert->used);
    BOOST_TEST(r.trace.expert->abstain_reason == "face score 0.08 below 0.50: not a face");
}

BOOST_AUTO_TEST_CASE(expert_only_keeps_known_facts) {
    LabelSet known;
    known.expression = "sad";
    known.valence = -0.4;
    LevelProvenance provenance;
    provenance.expression = Provenance::human;
    provenance.va = Provenance::source;
    auto r = as_result(
        labeler_with(expert_says("happy", 0.9, "neutral", 0.55, 0.25), expert_only(), known, provenance).start());
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.expression == "sad");
    BOOST_TEST((r.provenance.expression == Provenance::human));
    BOOST_TEST(*r.labels.valence == -0.4);
    BOOST_TEST(*r.labels.arousal == 0.25);  // the missing half of VA is the expert's
    BOOST_TEST((r.provenance.va == Provenance::expert));
    BOOST_TEST((r.provenance.au == Provenance::expert));
    // Its words about happy, or about its own valence, would contradict the facts.
    BOOST_TEST(r.descriptions.expression.empty());
    BOOST_TEST(r.descriptions.va.empty());
    BOOST_TEST(r.descriptions.au == "expert au");
    BOOST_TEST(r.uncertainty.expression == 0.0);
    // The expert's AU12 against the human's sad is checked like any other pair of levels.
    BOOST_TEST(r.uncertainty.consistency == cross_level_inconsistency(test_knowledge(), r.labels));
    BOOST_TEST(r.uncertainty.consistency > 0.0);
    BOOST_TEST(r.uncertainty.overall ==
               overall_uncertainty(r.uncertainty, EngineConfig{}.weights, {false, true, true}));
}

BOOST_AUTO_TEST_CASE(expert_only_without_an_opinion_or_with_nothing_to_ask) {
    auto r = as_result(labeler_with(std::nullopt, expert_only()).start());
    BOOST_TEST(!r.ok);
    BOOST_TEST((r.failure->code == errc::invalid_argument));

    LabelSet known;
    known.expression = "happy";
    known.action_units = Aus{"AU12"};
    known.valence = 0.5;
    known.arousal = 0.2;
    LevelProvenance human{Provenance::human, Provenance::human, Provenance::human};
    auto all_known = as_result(labeler_with(std::nullopt, expert_only(), known, human).start());
    BOOST_TEST(all_known.ok);
    BOOST_TEST(all_known.trace.stop_reason == "known");
    BOOST_TEST(all_known.cost.requests == 0);
    BOOST_TEST((all_known.provenance.va == Provenance::human));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(verify_labeler_expert_evidence)

BOOST_AUTO_TEST_CASE(without_an_opinion_nothing_changes) {
    const FaceResult r = unanimous_happy(std::nullopt);
    BOOST_TEST(!r.trace.expert.has_value());
    BOOST_TEST(r.trace.verifications == 0);
    BOOST_TEST(r.uncertainty.expert_disagreement == 0.0);
    // The values unanimous_first_round_stops_at_k_min pins.
    BOOST_TEST(r.uncertainty.expression == 1.0 / 16, tt::tolerance(1e-12));
    BOOST_TEST(r.uncertainty.au == 0.3712323266408755, tt::tolerance(1e-9));
    BOOST_TEST(r.uncertainty.overall == 0.45 / 16 + 0.1 * 0.3712323266408755, tt::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(confident_disagreement_verifies_and_raises_uncertainty) {
    const ExpertOpinion sad = expert_says("sad", 0.9, "happy", -0.5, -0.3);
    auto run = [&](double weight) {
        EngineConfig config;
        config.expert_weight = weight;
        auto l = labeler_with(sad, config);
        auto verify = as_request(l.feed(answers(as_request(l.start()), {kHappy})));
        BOOST_TEST((verify.kind == RequestKind::verify));  // unanimous, consistent: only the expert doubts it
        return as_result(l.feed(answers(verify, {kHappy})));
    };
    const FaceResult recorded_only = run(0);
    const FaceResult r = run(0.5);
    BOOST_TEST(*r.labels.expression == "happy");  // evidence, not a vote
    BOOST_TEST(r.trace.verifications == 1);
    BOOST_REQUIRE(r.trace.expert.has_value());
    const ExpertTrace& t = *r.trace.expert;
    BOOST_TEST(t.used);
    BOOST_TEST(t.triggered_verification);
    BOOST_TEST(t.expression == "sad");
    BOOST_TEST(t.probability == 0.9);
    const double d_expression = 1 - 0.1 / 0.9;
    BOOST_TEST(t.disagreement_expression == d_expression, tt::tolerance(1e-12));
    BOOST_TEST(t.disagreement_va == 1.0);  // (0.6, 0.3) against (−0.5, −0.3): beyond the full scale
    // AU12 seen in all 4 answers against 0.95 (reliable, ×2), AU4 in none against 0.1; AU6 unseen by it.
    const double d_au = (2 * 0.05 + 0.1) / 3;
    BOOST_TEST(t.disagreement_au == d_au, tt::tolerance(1e-12));
    BOOST_TEST(r.uncertainty.expert_disagreement == (d_expression + 1 + d_au) / 3, tt::tolerance(1e-12));

    const Uncertainty& before = recorded_only.uncertainty;
    BOOST_TEST(r.uncertainty.expression == std::min(1.0, before.expression + 0.5 * d_expression), tt::tolerance(1e-12));
    BOOST_TEST(r.uncertainty.va == std::min(1.0, before.va + 0.5), tt::tolerance(1e-12));
    BOOST_TEST(r.uncertainty.au == std::min(1.0, before.au + 0.5 * d_au), tt::tolerance(1e-12));
    BOOST_TEST(r.uncertainty.overall > before.overall);
    BOOST_TEST(r.uncertainty.consistency == before.consistency);
}

BOOST_AUTO_TEST_CASE(an_unsure_expert_raises_uncertainty_without_verifying) {
    const FaceResult plain = unanimous_happy(std::nullopt);
    const FaceResult r = unanimous_happy(expert_says("sad", 0.6, "happy", 0.6, 0.3));
    BOOST_TEST(r.trace.verifications == 0);
    BOOST_TEST(r.cost.requests == plain.cost.requests);
    BOOST_TEST(!r.trace.expert->triggered_verification);
    BOOST_TEST(r.trace.expert->disagreement_expression == 1 - 0.4 / 0.6, tt::tolerance(1e-12));
    BOOST_TEST(r.uncertainty.expression > plain.uncertainty.expression);
    BOOST_TEST(r.uncertainty.overall > plain.uncertainty.overall);

    EngineConfig never;
    never.expert_verify_confidence = 1.01;
    BOOST_TEST(unanimous_happy(expert_says("sad", 1.0, "happy", 0.6, 0.3), never).trace.verifications == 0);
}

BOOST_AUTO_TEST_CASE(an_agreeing_expert_changes_nothing) {
    const FaceResult plain = unanimous_happy(std::nullopt);
    // Its AU6 would disagree with the vote, but geometry cannot see AU6: it is not counted.
    const FaceResult r = unanimous_happy(expert_says("happy", 0.95, "neutral", 0.6, 0.3, 1.0, 0.0));
    BOOST_REQUIRE(r.trace.expert.has_value());
    BOOST_TEST(r.trace.expert->used);
    BOOST_TEST(!r.trace.expert->triggered_verification);
    BOOST_TEST(r.trace.expert->disagreement_expression == 0.0);
    BOOST_TEST(r.trace.expert->disagreement_va == 0.0);
    BOOST_TEST(r.trace.expert->disagreement_au == 0.0);
    same_uncertainty(r.uncertainty, plain.uncertainty);
    BOOST_TEST(r.cost.requests == plain.cost.requests);
    BOOST_TEST(*r.labels.expression == *plain.labels.expression);
}

BOOST_AUTO_TEST_CASE(an_abstained_expert_is_ignored_but_traced) {
    const FaceResult plain = unanimous_happy(std::nullopt);
    const FaceResult r = unanimous_happy(abstained_expert());
    BOOST_TEST(r.ok);
    BOOST_REQUIRE(r.trace.expert.has_value());
    BOOST_TEST(!r.trace.expert->used);
    BOOST_TEST(r.trace.expert->abstain_reason == "face score 0.08 below 0.50: not a face");
    same_uncertainty(r.uncertainty, plain.uncertainty);
    BOOST_TEST((r.provenance.expression == Provenance::model));
}

BOOST_AUTO_TEST_CASE(known_levels_are_not_compared_with_the_expert) {
    LabelSet known;
    known.expression = "happy";
    LevelProvenance provenance;
    provenance.expression = Provenance::human;
    // A confident expert against a human's expression: a fact, so no verification and no doubt.
    auto l = labeler_with(expert_says("sad", 0.95, "happy", 0.6, 0.3, 1.0, 0.0), {}, known, provenance);
    auto r = as_result(run_rounds(l, l.start(), {{kHappy}}));
    BOOST_TEST(r.trace.verifications == 0);
    BOOST_TEST(r.uncertainty.expression == 0.0);
    BOOST_TEST(r.trace.expert->disagreement_expression == 0.0);
    BOOST_TEST(r.uncertainty.expert_disagreement == 0.0);  // VA and AU agree
}

BOOST_AUTO_TEST_SUITE_END()
