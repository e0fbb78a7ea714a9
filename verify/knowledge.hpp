#pragma once
// Prior emotion knowledge as data (loaded from config/knowledge.json by plugin/). Used twice:
// in the prompt (knowledge enhancement) and in cross-level consistency scoring.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace seke {

struct ActionUnit {
    std::string code;  // "AU12"
    std::string name;  // "Lip corner puller"
};

// Circumplex prior region of an expression; a point outside it is inconsistent with the label.
struct VaRegion {
    double valence_min = -1, valence_max = 1;
    double arousal_min = -1, arousal_max = 1;
};

struct ExpressionKnowledge {
    std::string name;                                // "happy"
    std::vector<std::string> prototype;              // EMFACS prototype AUs within the AU set
    std::vector<std::vector<std::string>> variants;  // other typical combinations
    VaRegion va;                                     // prior VA region
    std::string cue;                                 // one line of what the face shows
    // The built-in face expert's classes (names in kExpertClasses, verify/expert.hpp) whose
    // probabilities this expression takes; empty: no network covers it ("contempt").
    std::vector<std::string> expert_classes;
    // (valence, arousal) of a typical face of this expression: the expert derives VA from its
    // probabilities over these. Absent: the centre of `va`.
    std::optional<std::pair<double, double>> va_centroid;
};

struct Knowledge {
    std::vector<ExpressionKnowledge> expressions;  // order = the schema's class order
    std::vector<ActionUnit> action_units;          // the AU set asked for
    std::vector<std::string> relations;            // free-text facts for the prompt (AU→VA hints)
    std::string va_centroid_source;                // where the expressions' va_centroid values come from

    [[nodiscard]] const ExpressionKnowledge* find_expression(const std::string& name) const;
    [[nodiscard]] const ActionUnit* find_action_unit(const std::string& code) const;
    // Canonical spelling of a label the model wrote ("Happiness"? no; "HAPPY" → "happy";
    // "au12"/"12"/"AU 12" → "AU12"); nullopt when it is not in the schema.
    [[nodiscard]] std::optional<std::string> canonical_expression(const std::string& text) const;
    [[nodiscard]] std::optional<std::string> canonical_action_unit(const std::string& text) const;
};

}  // namespace seke
