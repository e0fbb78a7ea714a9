#pragma once
// The built-in face expert, as numbers and as labels. connectors/face_expert runs the networks on
// a face and fills an ExpertReading; interpret_expert() turns that reading into the project's
// labels, saying what the expert cannot see. Pure: no pixels, no files.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke {

// The classes of the two expression networks, each in its own output order.
inline constexpr std::array<std::string_view, 7> kFaceApiExpressionClasses{"neutral", "happy",     "sad",      "angry",
                                                                           "fearful", "disgusted", "surprised"};
inline constexpr std::array<std::string_view, 7> kHumanEmotionClasses{"angry", "disgust",  "fear",   "happy",
                                                                      "sad",   "surprise", "neutral"};
// The one vocabulary both map into (the default knowledge file's names). A knowledge expression
// is covered when its name, or one of its `expert_classes`, is in this list.
inline constexpr std::array<std::string_view, 7> kExpertClasses{"neutral", "happy",   "sad",  "surprise",
                                                                "fear",    "disgust", "anger"};

struct Point3 {
    double x = 0, y = 0, z = 0;  // pixels of the image the expert was given; z in the same scale
};

// What the networks read off one face.
struct ExpertReading {
    std::array<double, 7> face_api_expression{};  // softmax, kFaceApiExpressionClasses order
    std::array<double, 7> human_emotion{};        // softmax, kHumanEmotionClasses order
    std::vector<Point3> landmarks68;              // face-api's 68 points, iBUG order (z = 0)
    std::vector<Point3> mesh;                     // facemesh's 468 points (empty: not run)
    double face_score = 0;                        // facemesh's face flag, in [0, 1]
};

struct ExpertSettings {
    double min_face_score = 0.5;  // below it the expert abstains: "no face" rather than a guess
};

// How one AU was judged from geometry.
struct AuJudgement {
    std::string code;       // "AU12"
    double score = 0;       // evidence in [0, 1]; present when ≥ 0.5
    double margin = 0;      // |score − 0.5| · 2: how far from the threshold, in [0, 1]
    bool reliable = false;  // one of the AUs geometry supports well (AU5, AU12, AU15, AU25, AU26)
};

struct ExpertOpinion {
    bool abstained = false;
    std::string abstain_reason;  // e.g. "face score 0.08 below 0.50: not a face"

    // Labels for the levels the expert gives: expression (never a class it does not cover),
    // valence/arousal (derived), action_units (the AUs judged present among those it can see).
    LabelSet labels;
    // Mean of the two classifiers over the knowledge's covered expressions, largest first.
    std::vector<std::pair<std::string, double>> expression_probabilities;
    // The same per classifier, for the record and the trace.
    std::vector<std::pair<std::string, double>> face_api_probabilities;
    std::vector<std::pair<std::string, double>> human_probabilities;
    double classifier_agreement = 0;        // 1 − Jensen-Shannon divergence (bits) of the two, in [0, 1]
    std::vector<std::string> not_covered;   // knowledge expressions no network has ("contempt")
    std::vector<AuJudgement> action_units;  // the AUs judged, knowledge order
    std::vector<std::string> au_unknown;    // knowledge AUs geometry cannot see: neither present nor absent
    bool va_derived = true;                 // VA comes from the probabilities + geometry, not a VA model
    Uncertainty uncertainty;                // per level, from the networks themselves
    Descriptions descriptions;              // made from the labels, and saying so
};

// `knowledge` names the classes and AUs and holds each expression's VA centroid.
ExpertOpinion interpret_expert(const ExpertReading& reading, const Knowledge& knowledge,
                               const ExpertSettings& settings = {});

// The opinion's AU uncertainty over the AUs it judged, those in `fixed` (coded by a source, so
// not the expert's to decide) left out: the mean of each AU's entropy with its floor. 1 when
// none is left. With `fixed` empty it is `uncertainty.au`.
double expert_au_uncertainty(const ExpertOpinion& opinion, const std::vector<std::string>& fixed = {});

}  // namespace seke
