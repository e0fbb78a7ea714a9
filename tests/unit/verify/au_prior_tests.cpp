// Per-AU priors: a source that coded only some AUs (LabelSet::au_coded). The coded AUs are facts
// shown in the prompt and never overwritten; only the others are asked, voted on and doubted.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/verify/scripted.hpp"
#include "verify/answer.hpp"
#include "verify/au_prior.hpp"
#include "verify/face_labeler.hpp"
#include "verify/uamc.hpp"

using namespace seke;
using namespace seke::test;
namespace tt = boost::test_tools;
using Aus = std::vector<std::string>;

namespace {

// BP4D codes 12 of the knowledge's 17 AUs; these five are left.
const Aus kBp4dCoded{"AU1", "AU2", "AU4", "AU6", "AU7", "AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"};
const Aus kUncoded{"AU5", "AU9", "AU20", "AU25", "AU26"};

Aus all_aus() {
    Aus out;
    for (const auto& au : test_knowledge().action_units) out.push_back(au.code);
    return out;
}

// A BP4D-like prior: AU6 and AU12 present, the ten other coded AUs absent, five unknown.
LabelSet bp4d_known(Aus present = {"AU6", "AU12"}) {
    LabelSet known;
    known.action_units = std::move(present);
    known.au_coded = kBp4dCoded;
    return known;
}

LevelProvenance source_au() {
    LevelProvenance p;
    p.au = Provenance::source;
    return p;
}

FaceLabeler labeler(LabelSet known, const EngineConfig& config = {}, LevelProvenance provenance = source_au(),
                    std::optional<ExpertOpinion> expert = std::nullopt) {
    return FaceLabeler(test_knowledge(), config, std::move(known), provenance, nullptr, std::move(expert));
}

nlohmann::json marker_json(const Prompt& p, const char* marker) {
    auto pos = p.user.find(marker);
    BOOST_REQUIRE(pos != std::string::npos);
    auto start = pos + std::string(marker).size();
    return nlohmann::json::parse(p.user.substr(start, p.user.find('\n', pos) - start));
}

Aus schema_au_enum(const Prompt& p) {
    auto schema = nlohmann::json::parse(p.response_schema);
    Aus out;
    for (const auto& code : schema["properties"]["action_units"]["items"]["enum"])
        out.push_back(code.get<std::string>());
    return out;
}

// Runs a labeler to its result, every request answered with `fakes` (cycled).
FaceResult run(FaceLabeler& l, const std::vector<Fake>& fakes, std::vector<ModelRequest>* requests = nullptr) {
    LabelerStep step = l.start();
    for (int guard = 0; guard < 20 && std::holds_alternative<ModelRequest>(step); ++guard) {
        const ModelRequest request = std::get<ModelRequest>(step);
        if (requests) requests->push_back(request);
        step = l.feed(answers(request, fakes));
    }
    return as_result(step);
}

void same_result(const FaceResult& a, const FaceResult& b) {
    BOOST_TEST(a.ok == b.ok);
    BOOST_TEST((a.labels.expression == b.labels.expression));
    BOOST_TEST((a.labels.valence == b.labels.valence));
    BOOST_TEST((a.labels.arousal == b.labels.arousal));
    BOOST_TEST((a.labels.action_units == b.labels.action_units));
    BOOST_TEST((a.labels.au_coded == b.labels.au_coded));
    BOOST_TEST(a.descriptions.expression == b.descriptions.expression);
    BOOST_TEST(a.descriptions.va == b.descriptions.va);
    BOOST_TEST(a.descriptions.au == b.descriptions.au);
    for (Level level : kAllLevels) BOOST_TEST((a.provenance.of(level) == b.provenance.of(level)));
    BOOST_TEST((a.au_provenance == b.au_provenance));
    BOOST_TEST(a.uncertainty.expression == b.uncertainty.expression);
    BOOST_TEST(a.uncertainty.va == b.uncertainty.va);
    BOOST_TEST(a.uncertainty.au == b.uncertainty.au);
    BOOST_TEST(a.uncertainty.consistency == b.uncertainty.consistency);
    BOOST_TEST(a.uncertainty.overall == b.uncertainty.overall);
    BOOST_TEST(a.cost.requests == b.cost.requests);
    BOOST_TEST(a.trace.stop_reason == b.trace.stop_reason);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_au_prior)

BOOST_AUTO_TEST_CASE(normalised_prior_forms) {
    const Knowledge& k = test_knowledge();
    // Canonical, in the knowledge's order; a present AU counts as coded.
    LabelSet given;
    given.action_units = Aus{"au12", "AU5"};
    given.au_coded = Aus{"AU12", "6", "AU1"};
    LabelSet n = normalise_au_prior(k, given);
    BOOST_TEST(*n.action_units == (Aus{"AU5", "AU12"}), tt::per_element());
    BOOST_TEST(*n.au_coded == (Aus{"AU1", "AU5", "AU6", "AU12"}), tt::per_element());
    BOOST_TEST(n.au_partly_known());
    BOOST_TEST(unjudged_action_units(k, n).size() == 13u);

    // Every AU coded: the whole level, as without au_coded.
    LabelSet every;
    every.action_units = Aus{"AU6"};
    every.au_coded = all_aus();
    LabelSet e = normalise_au_prior(k, every);
    BOOST_TEST(!e.au_coded.has_value());
    BOOST_TEST(e.has(Level::au));
    BOOST_TEST(unjudged_action_units(k, e).empty());

    // None coded: no AU level at all.
    LabelSet none;
    none.au_coded = Aus{};
    LabelSet z = normalise_au_prior(k, none);
    BOOST_TEST(!z.action_units.has_value());
    BOOST_TEST(!z.au_coded.has_value());
    BOOST_TEST(unjudged_action_units(k, z) == all_aus(), tt::per_element());

    // au_coded alone: every coded AU absent.
    LabelSet absent;
    absent.au_coded = Aus{"AU1"};
    LabelSet a = normalise_au_prior(k, absent);
    BOOST_TEST(a.action_units->empty());
    BOOST_TEST(a.judges_au("AU1"));
    BOOST_TEST(!a.judges_au("AU2"));

    // Without au_coded nothing is touched (existing priors keep their order).
    LabelSet plain;
    plain.action_units = Aus{"AU12", "AU6"};
    BOOST_TEST(*normalise_au_prior(k, plain).action_units == (Aus{"AU12", "AU6"}), tt::per_element());

    // The merged set: coded facts win over decided AUs.
    BOOST_TEST(with_known_aus(k, bp4d_known(), {"AU1", "AU25", "AU6"}) == (Aus{"AU6", "AU12", "AU25"}),
               tt::per_element());
}

BOOST_AUTO_TEST_CASE(prompt_states_the_twelve_coded_and_asks_only_the_other_five) {
    PromptSpec spec;
    spec.known = bp4d_known();
    auto p = build_prompt(test_knowledge(), spec);
    auto keys = answer_keys(spec);
    BOOST_TEST(keys.front() == "action_units");
    BOOST_TEST(asked_keys(p) == keys, tt::per_element());
    // The schema allows only the five uncoded AUs.
    BOOST_TEST(schema_au_enum(p) == kUncoded, tt::per_element());
    // The facts: the present and the coded AUs, on the machine-readable line.
    auto known = marker_json(p, kKnownLabelsMarker);
    BOOST_TEST(known["action_units"].get<Aus>() == (Aus{"AU6", "AU12"}), tt::per_element());
    BOOST_TEST(known["au_coded"].get<Aus>() == kBp4dCoded, tt::per_element());
    // ... and in words: which coded AUs are absent, which are unknown, what to judge.
    BOOST_TEST(p.user.find("present (AU6, AU12)") != std::string::npos);
    BOOST_TEST(p.user.find("absent (AU1, AU2, AU4, AU7, AU10, AU14, AU15, AU17, AU23, AU24)") != std::string::npos);
    BOOST_TEST(p.user.find("(AU5, AU9, AU20, AU25, AU26) are unknown") != std::string::npos);
    BOOST_TEST(p.user.find("present in the face among AU5, AU9, AU20, AU25, AU26 only") != std::string::npos);

    // Nothing coded: all 17 asked, no facts; everything coded: AUs not asked (both as before).
    PromptSpec open;
    BOOST_TEST(schema_au_enum(build_prompt(test_knowledge(), open)) == all_aus(), tt::per_element());
    PromptSpec whole;
    whole.known.action_units = Aus{"AU6", "AU12"};
    auto whole_keys = answer_keys(whole);
    BOOST_TEST((std::find(whole_keys.begin(), whole_keys.end(), "action_units") == whole_keys.end()));
    BOOST_TEST(build_prompt(test_knowledge(), whole).user.find("au_coded") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_answer_never_decides_a_coded_au) {
    PromptSpec spec;
    spec.known = bp4d_known();
    // AU1 and AU4 are coded absent, AU12 coded present: only AU25 is the model's to say.
    auto parsed = parse_answer(
        answer_for(build_prompt(test_knowledge(), spec), fake("happy", {"AU1", "AU4", "AU12", "AU25"}, 0.6, 0.3)),
        test_knowledge(), spec);
    BOOST_TEST_REQUIRE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    BOOST_TEST(*parsed->labels.action_units == (Aus{"AU25"}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(coded_aus_stay_the_sources_and_the_rest_are_voted) {
    // Every answer claims the coded-absent AU1 present and leaves out the coded-present AU6.
    auto l = labeler(bp4d_known());
    std::vector<ModelRequest> requests;
    const auto r = run(l, {fake("happy", {"AU1", "AU12", "AU25"}, 0.6, 0.3)}, &requests);
    BOOST_TEST(r.ok);
    BOOST_TEST(*r.labels.action_units == (Aus{"AU6", "AU12", "AU25"}), tt::per_element());
    BOOST_TEST(!r.labels.au_coded.has_value());  // the level is whole now
    // The AU level as a whole was decided with the model; per AU, the coded ones are the source's.
    BOOST_TEST((r.provenance.au == Provenance::model));
    BOOST_TEST_REQUIRE(r.au_provenance.size() == test_knowledge().action_units.size());
    for (const auto& [code, by] : r.au_provenance) {
        const bool coded = std::find(kBp4dCoded.begin(), kBp4dCoded.end(), code) != kBp4dCoded.end();
        BOOST_TEST((by == (coded ? Provenance::source : Provenance::model)), code);
    }
    // Every sample request asked only the five.
    BOOST_TEST_REQUIRE(!requests.empty());
    for (const auto& request : requests)
        if (request.kind == RequestKind::sample)
            BOOST_TEST(schema_au_enum(request.prompt) == kUncoded, tt::per_element());
}

BOOST_AUTO_TEST_CASE(au_uncertainty_is_over_the_aus_the_model_decided) {
    // AU1 (coded absent) claimed by all three, AU25 by two: only AU25 is the model's question.
    auto l = labeler(bp4d_known());
    LabelerStep step = l.start();
    const auto first = as_request(step);
    BOOST_TEST(first.n == 3);
    step = l.feed(reply_of({answer_for(first.prompt, fake("happy", {"AU1", "AU25"}, 0.6, 0.3)),
                            answer_for(first.prompt, fake("happy", {"AU1", "AU25"}, 0.6, 0.3)),
                            answer_for(first.prompt, fake("happy", {"AU1"}, 0.6, 0.3))}));
    while (std::holds_alternative<ModelRequest>(step)) {
        const auto request = std::get<ModelRequest>(step);
        // Later rounds agree with the first two, so the final tally is known.
        step = l.feed(answers(request, {fake("happy", {"AU1", "AU25"}, 0.6, 0.3)}));
    }
    const auto r = as_result(step);
    BOOST_TEST_REQUIRE(r.ok);
    // Rebuild the decided samples from the trace: AU25 only, never AU1.
    std::vector<Aus> decided, as_claimed;
    for (const auto& request : r.trace.requests)
        for (const auto& sample : request.samples)
            if (sample.answer && sample.answer->labels.action_units) {
                decided.push_back(*sample.answer->labels.action_units);
                Aus claimed = *sample.answer->labels.action_units;
                claimed.insert(claimed.begin(), "AU1");
                as_claimed.push_back(claimed);
            }
    BOOST_TEST_REQUIRE(decided.size() >= 3u);
    for (const auto& d : decided) BOOST_TEST((std::find(d.begin(), d.end(), "AU1") == d.end()));
    const double expected = tally_action_units(decided, test_knowledge(), 0.5).uncertainty;
    BOOST_TEST(r.uncertainty.au == expected);
    // Counting the coded AU1 (unanimous) would have lowered it.
    BOOST_TEST(r.uncertainty.au != tally_action_units(as_claimed, test_knowledge(), 0.5).uncertainty);
    BOOST_TEST(*r.labels.action_units == (Aus{"AU6", "AU12", "AU25"}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(known_aus_count_in_the_consistency_check) {
    // The source says AU6 + AU12 (happy's prototype); the model sees nothing among the five.
    auto happy = labeler(bp4d_known());
    const auto consistent = run(happy, {fake("happy", {}, 0.6, 0.3)});
    BOOST_TEST(*consistent.labels.action_units == (Aus{"AU6", "AU12"}), tt::per_element());
    BOOST_TEST(consistent.uncertainty.consistency == cross_level_inconsistency(test_knowledge(), consistent.labels));
    BOOST_TEST(consistent.uncertainty.consistency < 0.2);

    // The source says AU1 + AU4 + AU15 (sad's prototype) against a happy vote: inconsistent,
    // although no answer mentioned those AUs.
    auto sad = labeler(bp4d_known({"AU1", "AU4", "AU15"}));
    const auto inconsistent = run(sad, {fake("happy", {}, 0.6, 0.3)});
    BOOST_TEST(*inconsistent.labels.action_units == (Aus{"AU1", "AU4", "AU15"}), tt::per_element());
    BOOST_TEST(inconsistent.uncertainty.consistency ==
               cross_level_inconsistency(test_knowledge(), inconsistent.labels));
    BOOST_TEST(inconsistent.uncertainty.consistency > 0.4);
    BOOST_TEST(inconsistent.trace.verifications >= 1);  // and that asks for a verification
}

BOOST_AUTO_TEST_CASE(verification_shows_only_the_decided_aus_as_candidates) {
    auto l = labeler(bp4d_known({"AU1", "AU4", "AU15"}));
    std::vector<ModelRequest> requests;
    const auto r = run(l, {fake("happy", {"AU1", "AU25"}, 0.6, 0.3)}, &requests);
    bool verified = false;
    for (const auto& request : requests) {
        if (request.kind != RequestKind::verify) continue;
        verified = true;
        auto candidates = marker_json(request.prompt, kCandidateLabelsMarker);
        BOOST_TEST(candidates["action_units"].get<Aus>() == (Aus{"AU25"}), tt::per_element());
        BOOST_TEST(schema_au_enum(request.prompt) == kUncoded, tt::per_element());
    }
    BOOST_TEST(verified);
    BOOST_TEST(*r.labels.action_units == (Aus{"AU1", "AU4", "AU15", "AU25"}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(every_au_coded_behaves_as_a_whole_known_level) {
    LabelSet whole;
    whole.action_units = Aus{"AU6", "AU12"};
    LabelSet coded_all = whole;
    coded_all.au_coded = all_aus();
    auto a = labeler(whole);
    auto b = labeler(coded_all);
    std::vector<ModelRequest> ra, rb;
    const auto x = run(a, {fake("happy", {"AU1"}, 0.6, 0.3)}, &ra);
    const auto y = run(b, {fake("happy", {"AU1"}, 0.6, 0.3)}, &rb);
    same_result(x, y);
    BOOST_TEST_REQUIRE(ra.size() == rb.size());
    for (std::size_t i = 0; i < ra.size(); ++i) {
        BOOST_TEST(ra[i].prompt.user == rb[i].prompt.user);
        BOOST_TEST(ra[i].prompt.response_schema == rb[i].prompt.response_schema);
    }
    BOOST_TEST(*y.labels.action_units == (Aus{"AU6", "AU12"}), tt::per_element());
    for (const auto& [code, by] : y.au_provenance) BOOST_TEST((by == Provenance::source), code);
}

BOOST_AUTO_TEST_CASE(no_au_coded_behaves_as_no_au_prior) {
    LabelSet none;
    none.au_coded = Aus{};
    auto a = labeler({}, {}, {});
    auto b = labeler(none, {}, {});
    std::vector<ModelRequest> ra, rb;
    const auto x = run(a, {fake("happy", {"AU6", "AU12"}, 0.6, 0.3), fake("happy", {"AU12"}, 0.5, 0.3)}, &ra);
    const auto y = run(b, {fake("happy", {"AU6", "AU12"}, 0.6, 0.3), fake("happy", {"AU12"}, 0.5, 0.3)}, &rb);
    same_result(x, y);
    BOOST_TEST_REQUIRE(ra.size() == rb.size());
    for (std::size_t i = 0; i < ra.size(); ++i) BOOST_TEST(ra[i].prompt.user == rb[i].prompt.user);
    for (const auto& [code, by] : y.au_provenance) BOOST_TEST((by == Provenance::model), code);
}

BOOST_AUTO_TEST_CASE(few_shot_examples_ask_the_same_aus) {
    PromptSpec spec;
    spec.known = bp4d_known();
    LabelSet example;
    example.expression = "surprise";
    example.valence = 0.2;
    example.arousal = 0.7;
    example.action_units = Aus{"AU1", "AU2", "AU5", "AU26"};
    auto question = example_spec(spec, example);
    BOOST_TEST_REQUIRE(question.has_value());
    BOOST_TEST(answer_keys(*question) == answer_keys(spec), tt::per_element());
    // The example's own values for the coded AUs are its facts.
    BOOST_TEST(*question->known.action_units == (Aus{"AU1", "AU2"}), tt::per_element());
    BOOST_TEST(*question->known.au_coded == kBp4dCoded, tt::per_element());
    auto answer = example_answer(test_knowledge(), *question, example, {});
    BOOST_TEST_REQUIRE(answer.has_value());
    auto parsed = nlohmann::json::parse(*answer);
    BOOST_TEST(parsed["action_units"].get<Aus>() == (Aus{"AU5", "AU26"}), tt::per_element());
}

BOOST_AUTO_TEST_CASE(expert_provider_fills_only_the_uncoded_aus) {
    ExpertOpinion o;
    o.expression_probabilities = {{"happy", 0.9}, {"neutral", 0.1}};
    o.labels.expression = "happy";
    o.labels.valence = 0.5;
    o.labels.arousal = 0.2;
    o.labels.action_units = Aus{"AU4", "AU25"};  // AU4 is coded absent by the source
    AuJudgement au4{"AU4", 0.9, 0.8, false};
    AuJudgement au25{"AU25", 0.7, 0.4, true};
    o.action_units = {au4, au25};
    o.uncertainty.au = 0.9;
    EngineConfig config;
    config.expert_only = true;
    auto l = labeler(bp4d_known(), config, source_au(), o);
    const auto r = as_result(l.start());
    BOOST_TEST_REQUIRE(r.ok);
    BOOST_TEST(*r.labels.action_units == (Aus{"AU6", "AU12", "AU25"}), tt::per_element());
    BOOST_TEST((r.provenance.au == Provenance::expert));
    for (const auto& [code, by] : r.au_provenance) {
        const bool coded = std::find(kBp4dCoded.begin(), kBp4dCoded.end(), code) != kBp4dCoded.end();
        BOOST_TEST((by == (coded ? Provenance::source : Provenance::expert)), code);
    }
    // Its AU uncertainty is over AU25 alone, the one it decided.
    BOOST_TEST(r.uncertainty.au == expert_au_uncertainty(o, kBp4dCoded));
    BOOST_TEST(r.uncertainty.au != expert_au_uncertainty(o));
    BOOST_TEST(r.descriptions.au.empty());
}

BOOST_AUTO_TEST_SUITE_END()
