// The fake model's named profiles (profile.hpp): each behaves as its header says, so a policy
// measured on them meets the behaviour it is meant to meet.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

#include "tests/unit/fake_vllm/test_util.hpp"
#include "tools/fake_vllm/fake_model.hpp"

using namespace seke::fake;

namespace {

constexpr auto item_with = testing::make_item;
using testing::sample_request;

const ModelProfile& profile(std::string_view name) {
    const ModelProfile* found = find_profile(name);
    BOOST_REQUIRE(found);
    return *found;
}

// The answered expressions of `samples` draws (request counters 0..samples-1).
std::map<std::string, int> votes(const TruthItem& item, const ChatRequest& request, const ModelProfile& p,
                                 int samples) {
    std::map<std::string, int> out;
    for (int i = 0; i < samples; ++i)
        ++out[simulate_answer(&item, request, 7, static_cast<std::uint64_t>(i), 0, p).at("expression")];
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fake_vllm_profiles)

BOOST_AUTO_TEST_CASE(every_profile_is_found_by_its_name_and_default_comes_first) {
    std::set<std::string_view> names;
    for (const auto& p : model_profiles()) {
        names.insert(p.name);
        BOOST_TEST(find_profile(p.name) == &p);
        BOOST_TEST(!p.behaviour.empty());
    }
    BOOST_TEST(names.size() == model_profiles().size());
    BOOST_TEST(names.size() >= 6u);
    BOOST_TEST(model_profiles().front().name == "default");
    BOOST_TEST(&default_profile() == &model_profiles().front());
    BOOST_TEST(!find_profile("Default"));
    BOOST_TEST(profile_names().find("temperature-insensitive") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_default_profile_answers_as_the_model_always_has) {
    // The default arguments are the default profile: benchmarks of earlier trees stay comparable.
    const auto item = item_with("d1", "fear", 0.6, "surprise");
    for (std::uint64_t i = 0; i < 50; ++i)
        BOOST_TEST(simulate_answer(&item, sample_request(0.7), 3, i, 0) ==
                   simulate_answer(&item, sample_request(0.7), 3, i, 0, default_profile()));
    BOOST_TEST(expression_distribution(item, 1.0)[4] == 1.0 - 0.85 * 0.6, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(an_overconfident_model_repeats_its_wrong_answer_on_the_faces_it_is_stuck_on) {
    const ModelProfile& p = profile("overconfident");
    // About 0.6 * d of the hard items are stuck on their confusable.
    int stuck = 0;
    const TruthItem* stuck_item = nullptr;
    std::vector<TruthItem> hard;
    for (int i = 0; i < 1000; ++i) hard.push_back(item_with("h" + std::to_string(i), "fear", 0.8, "surprise"));
    for (const auto& item : hard) {
        if (!stuck_class(item, p)) continue;
        ++stuck;
        if (!stuck_item) stuck_item = &item;
    }
    BOOST_TEST(stuck > 400);
    BOOST_TEST(stuck < 560);
    BOOST_REQUIRE(stuck_item);
    BOOST_TEST(*stuck_class(*stuck_item, p) == "surprise");
    BOOST_TEST(!stuck_class(*stuck_item, default_profile()));

    // Its samples agree with each other on the wrong class: agreement says nothing here.
    auto stuck_votes = votes(*stuck_item, sample_request(0.7), p, 200);
    BOOST_TEST(stuck_votes["surprise"] > 180);
    // The default model on the same item spreads: the truth is sampled often.
    auto default_votes = votes(*stuck_item, sample_request(0.7), default_profile(), 200);
    BOOST_TEST(default_votes["fear"] > 40);

    // An item it is not stuck on is answered right, and with little diversity.
    const auto free = std::find_if(hard.begin(), hard.end(), [&](const TruthItem& t) { return !stuck_class(t, p); });
    BOOST_REQUIRE(free != hard.end());
    BOOST_TEST(votes(*free, sample_request(0.7), p, 200)["fear"] > 185);

    // Checking its own wrong answer, it mostly agrees; its verbal confidence is high regardless.
    ChatRequest verify = sample_request(0.7, {"verdict", "expression", "confidence"});
    verify.kind = AskKind::verify;
    verify.candidates = {{"expression", "surprise"}};
    int agreed = 0;
    for (std::uint64_t i = 0; i < 200; ++i) {
        const auto answer = simulate_answer(stuck_item, verify, 7, i, 0, p);
        agreed += answer.at("verdict") == "agree";
        BOOST_TEST(answer.at("confidence").get<double>() >= 0.9);
    }
    BOOST_TEST(agreed > 140);
}

BOOST_AUTO_TEST_CASE(a_temperature_insensitive_model_spreads_alike_at_every_temperature_and_greedy_too) {
    const ModelProfile& p = profile("temperature-insensitive");
    const auto item = item_with("ti", "fear", 0.5, "surprise");
    const auto cold = expression_distribution(item, 0.2, p);
    const auto hot = expression_distribution(item, 1.5, p);
    for (std::size_t i = 0; i < cold.size(); ++i) BOOST_TEST(cold[i] == hot[i], boost::test_tools::tolerance(1e-12));
    // The default model sharpens at T = 0.2.
    BOOST_TEST(expression_distribution(item, 0.2)[4] > cold[4] + 0.2);

    // Greedy is not deterministic: T = 0 is sampled at T = 1.
    auto greedy = votes(item, sample_request(0.0), p, 300);
    BOOST_TEST(greedy.size() >= 3u);
    BOOST_TEST(greedy["fear"] > 120);
    BOOST_TEST(greedy["fear"] < 210);
    BOOST_TEST(votes(item, sample_request(0.0), default_profile(), 50).size() == 1u);
}

BOOST_AUTO_TEST_CASE(systematic_confusions_pair_the_classes_and_drag_the_aus_along) {
    const ModelProfile& p = profile("confusions");
    // The dataset's confusable for this fear item is happy; the profile's model confuses it with surprise.
    const auto item = item_with("c1", "fear", 0.4, "happy");
    const auto seen = as_perceived(item, p);
    BOOST_TEST(seen.confusable == "surprise");
    BOOST_TEST(seen.difficulty == 0.65, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(as_perceived(item_with("c2", "contempt", 0.2, "sad"), p).confusable == "neutral");
    BOOST_TEST(as_perceived(item_with("c3", "anger", 0.2, "sad"), p).confusable == "disgust");
    BOOST_TEST(as_perceived(item_with("c4", "happy", 0.2, "sad"), p).confusable == "sad");
    BOOST_TEST(as_perceived(item_with("c5", "neutral", 0.9, "sad"), p).difficulty == 0.95,
               boost::test_tools::tolerance(1e-12));

    int wrong = 0, wrong_with_surprise_aus = 0, surprise = 0;
    for (std::uint64_t i = 0; i < 1000; ++i) {
        const auto answer = simulate_answer(&item, sample_request(0.7), 7, i, 0, p);
        if (answer.at("expression") == "fear") continue;
        ++wrong;
        surprise += answer.at("expression") == "surprise";
        wrong_with_surprise_aus +=
            answer.at("expression") == "surprise" &&
            answer.at("action_units").get<std::vector<std::string>>() == find_expression("surprise")->prototype;
    }
    BOOST_TEST(wrong > 150);
    BOOST_TEST(surprise > 0.7 * wrong);
    BOOST_TEST(wrong_with_surprise_aus > 0.5 * surprise);
}

BOOST_AUTO_TEST_CASE(a_calibrated_models_verbal_confidence_tracks_its_accuracy) {
    const ModelProfile& p = profile("calibrated");
    const ChatRequest request = sample_request(1.0, {"expression", "confidence"});
    // Over items of every difficulty: confidence in bins of 0.2 matches the share right.
    std::map<int, std::pair<int, int>> bins;  // bin -> (right, all)
    double right_confidence = 0, wrong_confidence = 0;
    int right = 0, wrong = 0;
    for (int i = 0; i < 400; ++i) {
        const auto item = item_with("k" + std::to_string(i), "sad", (i % 20) / 20.0, "neutral");
        for (std::uint64_t s = 0; s < 5; ++s) {
            const auto answer = simulate_answer(&item, request, 7, s, 0, p);
            const double c = answer.at("confidence").get<double>();
            const bool ok = answer.at("expression") == "sad";
            (ok ? right_confidence : wrong_confidence) += c;
            (ok ? right : wrong) += 1;
            auto& bin = bins[std::min(4, static_cast<int>(c * 5))];
            bin.first += ok;
            ++bin.second;
        }
    }
    BOOST_REQUIRE(right > 0);
    BOOST_REQUIRE(wrong > 0);
    BOOST_TEST(right_confidence / right > wrong_confidence / wrong + 0.2);
    for (const auto& [bin, counts] : bins) {
        if (counts.second < 100) continue;
        const double observed = static_cast<double>(counts.first) / counts.second;
        BOOST_TEST(std::abs(observed - (bin + 0.5) / 5.0) < 0.15, "bin " << bin << " observed " << observed);
    }
    // Without the key, no confidence.
    const auto item = item_with("k-plain", "sad", 0.3, "neutral");
    BOOST_TEST(!simulate_answer(&item, sample_request(1.0), 7, 0, 0, p).contains("confidence"));
}

BOOST_AUTO_TEST_CASE(a_noisy_model_spreads_widely_but_the_majority_is_right) {
    const ModelProfile& p = profile("noisy");
    const auto hard = item_with("n1", "anger", 0.9, "disgust");
    auto hard_votes = votes(hard, sample_request(0.7), p, 2000);
    const auto mode = std::max_element(hard_votes.begin(), hard_votes.end(),
                                       [](const auto& a, const auto& b) { return a.second < b.second; });
    BOOST_TEST(mode->first == "anger");
    BOOST_TEST(hard_votes["anger"] < 0.6 * 2000);
    BOOST_TEST(hard_votes.size() >= 6u);
    // The default model on the same hard item has the confusable as its mode.
    auto default_votes = votes(hard, sample_request(0.7), default_profile(), 2000);
    BOOST_TEST(default_votes["disgust"] > default_votes["anger"]);
    // Even an easy item is not answered the same every time.
    const auto easy = item_with("n2", "happy", 0.05, "neutral");
    BOOST_TEST(votes(easy, sample_request(0.7), p, 200)["happy"] < 190);
}

BOOST_AUTO_TEST_SUITE_END()
