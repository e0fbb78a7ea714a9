#include "tools/fake_vllm/profile.hpp"

#include <array>

namespace seke::fake {
namespace {

ModelProfile make_overconfident() {
    ModelProfile p{"overconfident", "low diversity; stuck on one wrong class on hard faces"};
    p.error_mass = 0.15;
    p.stuck_rate = 0.6;
    p.temperature_scale = 0.5;
    p.confidence = VerbalConfidence::overconfident;
    return p;
}

ModelProfile make_temperature_insensitive() {
    ModelProfile p{"temperature-insensitive", "samples at T = 1 whatever is asked, greedy too"};
    p.temperature_sensitive = false;
    return p;
}

ModelProfile make_confusions() {
    ModelProfile p{"confusions", "fear/surprise, disgust/anger, contempt/neutral confused, AUs and VA with them"};
    p.pair_confusions = true;
    p.pair_extra_difficulty = 0.25;
    p.confabulation = 0.6;
    p.va_pull = 0.8;
    return p;
}

ModelProfile make_calibrated() {
    ModelProfile p{"calibrated", "the default model with a verbal confidence that means something"};
    p.confidence = VerbalConfidence::calibrated;
    return p;
}

ModelProfile make_noisy() {
    ModelProfile p{"noisy", "high diversity, mostly right by majority"};
    p.truth_base = 0.6;
    p.error_mass = 0.25;
    p.confusable_share = 0.35;
    p.noise_gain = 1.8;
    return p;
}

const std::array<ModelProfile, 6>& all() {
    static const std::array<ModelProfile, 6> profiles{
        ModelProfile{"default", "the model fake_model.hpp describes"},
        make_overconfident(),
        make_temperature_insensitive(),
        make_confusions(),
        make_calibrated(),
        make_noisy(),
    };
    return profiles;
}

}  // namespace

std::span<const ModelProfile> model_profiles() {
    return all();
}

const ModelProfile& default_profile() {
    return all().front();
}

const ModelProfile* find_profile(std::string_view name) {
    for (const auto& profile : all())
        if (profile.name == name) return &profile;
    return nullptr;
}

std::string profile_names() {
    std::string out;
    for (const auto& profile : all()) {
        if (!out.empty()) out += ", ";
        out += profile.name;
    }
    return out;
}

}  // namespace seke::fake
