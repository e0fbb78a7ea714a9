#pragma once
// Per-AU priors: a source that coded only some AUs (LabelSet::au_coded). The AUs it coded are
// facts, present or absent; the others are unknown and asked. These helpers keep the two apart
// for the prompt, the answer parser and the aggregation.
#include <string>
#include <vector>

#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke {

// `labels` with its AU prior in the one form the engine reads. Without `au_coded` nothing
// changes. With it: codes canonical, unique and in the knowledge's order, codes outside the
// knowledge left out; `au_coded` without `action_units`
// means every coded AU absent; a present AU missing from `au_coded` counts as coded. An
// `au_coded` covering every AU is dropped (the level is known whole, as without it), and one
// covering none drops the level (nothing is known of it).
LabelSet normalise_au_prior(const Knowledge& knowledge, LabelSet labels);

// The knowledge's AUs that `known` does not judge, in its order: what the model is asked about.
// Every AU when `known` has no AU level, none when it has the whole level.
std::vector<std::string> unjudged_action_units(const Knowledge& knowledge, const LabelSet& known);

// `codes` without the AUs `known` judges: the part of an answer that may decide anything.
std::vector<std::string> without_judged_aus(const LabelSet& known, const std::vector<std::string>& codes);

// A face's whole present set: the AUs `known` judges present, plus those of `decided` that it
// does not judge, in the knowledge's order. A decided AU never overrides a judged one.
std::vector<std::string> with_known_aus(const Knowledge& knowledge, const LabelSet& known,
                                        const std::vector<std::string>& decided);

// Per AU of the knowledge: `known_provenance` where `known` judges it, `decided_by` elsewhere.
AuProvenance au_provenance_of(const Knowledge& knowledge, const LabelSet& known, Provenance known_provenance,
                              Provenance decided_by);

}  // namespace seke
