#include "verify/labels.hpp"

namespace seke {

std::string_view level_name(Level level) noexcept {
    switch (level) {
        case Level::expression: return "expression";
        case Level::va: return "va";
        case Level::au: return "au";
    }
    return "expression";
}

std::string_view provenance_name(Provenance p) noexcept {
    switch (p) {
        case Provenance::model: return "model";
        case Provenance::source: return "source";
        case Provenance::human: return "human";
        case Provenance::expert: return "expert";
    }
    return "model";
}

std::optional<Provenance> parse_provenance(std::string_view text) noexcept {
    if (text == "model") return Provenance::model;
    if (text == "source") return Provenance::source;
    if (text == "human") return Provenance::human;
    if (text == "expert") return Provenance::expert;
    return std::nullopt;
}

bool is_fact(Provenance p) noexcept {
    return p == Provenance::source || p == Provenance::human;
}

bool LabelSet::has(Level level) const noexcept {
    switch (level) {
        case Level::expression: return expression.has_value();
        case Level::va: return valence.has_value() && arousal.has_value();
        case Level::au: return action_units.has_value() && !au_coded.has_value();
    }
    return false;
}

bool LabelSet::judges_au(std::string_view code) const noexcept {
    if (!action_units) return false;
    if (!au_coded) return true;
    for (const auto& coded : *au_coded)
        if (coded == code) return true;
    return false;
}

bool LabelSet::empty() const noexcept {
    return !expression && !valence && !arousal && !action_units;
}

}  // namespace seke
