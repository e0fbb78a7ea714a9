#pragma once
// The fake model's behaviours, named (`seke-fake-vllm serve --profile NAME`): real vision LLMs
// differ in how their answers spread, and a sampling policy tuned on one behaviour must be
// measured on the others (bench/cost_quality.sh runs every profile). Each profile changes the
// simulated model of fake_model.hpp in these ways only:
//   default                  the model fake_model.hpp describes.
//   overconfident            low sample diversity, and on hard faces often stuck on one wrong
//                            class: w.p. 0.6*d the item's answers put 0.85 of their mass on the
//                            confusable (0.1 on the truth); the rest keep 1 - 0.15*d on the
//                            truth. Temperature acts at half strength (T_eff = T/2). Verifying
//                            its own wrong answer, a stuck model agrees w.p. 0.8. Its verbal
//                            confidence is 0.9-0.99 whatever the answer.
//   temperature-insensitive  samples at T = 1 whatever the request asks, greedy (T = 0) too.
//   confusions               systematic confusions between fear and surprise, disgust and
//                            anger, contempt and neutral: those classes' items are confused with
//                            their partner, 0.25 harder, and a wrong answer brings the wrong
//                            class's AUs (w.p. 0.6 instead of 0.25) and its VA (pulled 0.8 of
//                            the way instead of 0.4).
//   calibrated               the default model, with a verbal confidence that means something:
//                            the answered class's probability under its distribution at T = 1,
//                            +- 0.05 noise.
//   noisy                    high diversity, mostly right by majority: p(truth) = 0.6 - 0.25*d,
//                            only 0.35 of the rest on the confusable (the truth stays the mode),
//                            AU and VA noise 1.8 times the default.
// A verbal confidence ("confidence", 0..1) is given only when the request asks for that key;
// profiles without a meaningful one answer 0.7-0.95 at random.
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace seke::fake {

enum class VerbalConfidence { uninformative, calibrated, overconfident };

struct ModelProfile {
    std::string_view name;
    std::string_view behaviour;  // one line, for --help
    // Expression: p(truth) = truth_base - error_mass * d; the rest, confusable_share of it on the
    // confusable and the remainder spread evenly.
    double truth_base = 1.0;
    double error_mass = 0.85;
    double confusable_share = 0.75;
    // Stuck on a wrong class: w.p. stuck_rate * d per item, the confusable gets stuck_mass and
    // the truth stuck_truth (the rest spread); a stuck model agrees with its own wrong answer
    // when verifying w.p. stuck_agree.
    double stuck_rate = 0.0, stuck_mass = 0.85, stuck_truth = 0.1, stuck_agree = 0.8;
    double temperature_scale = 1.0;     // T_eff = T * scale
    bool temperature_sensitive = true;  // false: every request is sampled at T = 1
    bool pair_confusions = false;       // fear<->surprise, disgust<->anger, contempt<->neutral
    double pair_extra_difficulty = 0.0;
    double confabulation = 0.25;  // P(AUs = the wrong class's prototype | wrong expression)
    double va_pull = 0.4;         // VA pulled this far towards a wrong class's centre
    double noise_gain = 1.0;      // AU log-odds and VA noise
    VerbalConfidence confidence = VerbalConfidence::uninformative;
};

// Every profile, default first.
std::span<const ModelProfile> model_profiles();
const ModelProfile& default_profile();
// nullptr for an unknown name.
const ModelProfile* find_profile(std::string_view name);
// "default, overconfident, ..." for messages.
std::string profile_names();

}  // namespace seke::fake
