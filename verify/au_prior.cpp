#include "verify/au_prior.hpp"

#include <algorithm>

namespace seke {

namespace {

bool holds(const std::vector<std::string>& codes, const std::string& code) {
    return std::find(codes.begin(), codes.end(), code) != codes.end();
}

// Canonical codes of the knowledge's AUs named in `codes`, in the knowledge's order.
std::vector<std::string> canonical_in_order(const Knowledge& knowledge, const std::vector<std::string>& codes) {
    std::vector<std::string> canonical;
    for (const auto& code : codes)
        if (auto known = knowledge.canonical_action_unit(code)) canonical.push_back(*known);
    std::vector<std::string> out;
    for (const auto& au : knowledge.action_units)
        if (holds(canonical, au.code)) out.push_back(au.code);
    return out;
}

}  // namespace

LabelSet normalise_au_prior(const Knowledge& knowledge, LabelSet labels) {
    if (!labels.au_coded) return labels;  // the whole level or none: as given
    if (labels.action_units) labels.action_units = canonical_in_order(knowledge, *labels.action_units);
    std::vector<std::string> coded = canonical_in_order(knowledge, *labels.au_coded);
    if (!labels.action_units) labels.action_units.emplace();
    for (const auto& present : *labels.action_units)
        if (!holds(coded, present)) coded.push_back(present);
    coded = canonical_in_order(knowledge, coded);
    if (coded.empty()) {
        labels.action_units.reset();
        labels.au_coded.reset();
    } else if (coded.size() == knowledge.action_units.size()) {
        labels.au_coded.reset();
    } else {
        labels.au_coded = std::move(coded);
    }
    return labels;
}

std::vector<std::string> unjudged_action_units(const Knowledge& knowledge, const LabelSet& known) {
    std::vector<std::string> out;
    for (const auto& au : knowledge.action_units)
        if (!known.judges_au(au.code)) out.push_back(au.code);
    return out;
}

std::vector<std::string> without_judged_aus(const LabelSet& known, const std::vector<std::string>& codes) {
    std::vector<std::string> out;
    for (const auto& code : codes)
        if (!known.judges_au(code)) out.push_back(code);
    return out;
}

std::vector<std::string> with_known_aus(const Knowledge& knowledge, const LabelSet& known,
                                        const std::vector<std::string>& decided) {
    std::vector<std::string> out;
    for (const auto& au : knowledge.action_units) {
        const bool present = known.judges_au(au.code) ? holds(*known.action_units, au.code) : holds(decided, au.code);
        if (present) out.push_back(au.code);
    }
    return out;
}

AuProvenance au_provenance_of(const Knowledge& knowledge, const LabelSet& known, Provenance known_provenance,
                              Provenance decided_by) {
    AuProvenance out;
    out.reserve(knowledge.action_units.size());
    for (const auto& au : knowledge.action_units)
        out.emplace_back(au.code, known.judges_au(au.code) ? known_provenance : decided_by);
    return out;
}

}  // namespace seke
