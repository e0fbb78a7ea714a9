// What the built-in face expert's numbers mean, as labels.
//
// - Expression: each network's softmax is mapped to kExpertClasses, then to the knowledge's
//   expressions through their `expert_classes`, renormalised over the covered expressions; the
//   two networks are averaged. An expression no network covers is never the label.
// - AUs from geometry: the 468-point mesh when usable, else the 68 landmarks, in a face frame
//   (origin between the eyes, x along the eye line, y towards the chin, unit = inter-ocular
//   distance), so that scale and roll do not change a measurement.
// - VA: derived, never measured: the probabilities' mean of each class's VA centroid, nudged
//   by the geometry AUs that go with valence and arousal.
//
// A single image has no neutral baseline of the same person, so every geometry threshold is a
// population prior: about the measurement on an average neutral face (OpenFace's mean 68-point
// template, github.com/cmusatyalab/openface, align_dlib.py, with the lips closed) plus a step a
// clear action makes. They are uncalibrated starting values; the margins say how far a face is
// from them.
#include "verify/expert.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "verify/uamc.hpp"

namespace seke {

namespace {

constexpr std::size_t kClasses = kExpertClasses.size();
using ClassProbabilities = std::array<double, kClasses>;

// A softmax sums to 1 up to float rounding; a vector that does not is not a probability vector.
constexpr double kSoftmaxSumTolerance = 0.01;
// Below this much probability on the knowledge's expressions there is nothing to renormalise.
constexpr double kMinCoveredMass = 1e-9;
// Eyes closer than this (pixels) give no scale to measure anything in.
constexpr double kMinInterocularPixels = 1.0;
// Eye line to chin of a face, in inter-ocular distances: the mean face has 1.9; outside this
// range the points are not a face (a failed regression, a swapped buffer).
constexpr double kMinFaceHeight = 1.0;
constexpr double kMaxFaceHeight = 3.5;
// The 68 points average two lid chords at a third and two thirds of the eye; the mesh gives the
// middle chord, which on an elliptical eye is longer by 1/sqrt(1 - 1/9) (about 6 %).
constexpr double kMeshMiddleChordToMeanChord = 0.943;

constexpr std::string_view kPrefix = "Built-in face expert (no vision LLM): ";

double clamp01(double v) {
    return std::clamp(v, 0.0, 1.0);
}

std::string fixed2(double v) {
    std::array<char, 32> buffer{};
    std::snprintf(buffer.data(), buffer.size(), "%.2f", v);
    return buffer.data();
}

// ---- expression -------------------------------------------------------------------------------

std::size_t expert_class_index(std::string_view name) {
    auto it = std::find(kExpertClasses.begin(), kExpertClasses.end(), name);
    return static_cast<std::size_t>(it - kExpertClasses.begin());
}

// A network's class name in kExpertClasses: face-api and Human spell some differently.
std::string_view expert_class_of(std::string_view net_class) {
    if (net_class == "angry") return "anger";
    if (net_class == "fearful") return "fear";
    if (net_class == "disgusted") return "disgust";
    if (net_class == "surprised") return "surprise";
    return net_class;
}

// The network's softmax in kExpertClasses order, or why it cannot be used.
std::optional<std::string> to_expert_classes(const std::array<double, 7>& softmax,
                                             const std::array<std::string_view, 7>& net_classes,
                                             std::string_view network, ClassProbabilities& out) {
    out.fill(0);
    double sum = 0;
    for (std::size_t i = 0; i < softmax.size(); ++i) {
        const double p = softmax[i];
        if (!std::isfinite(p) || p < 0)
            return std::string(network) + " probabilities are not finite non-negative numbers";
        const std::size_t c = expert_class_index(expert_class_of(net_classes[i]));
        if (c < kClasses) out[c] += p;
        sum += p;
    }
    if (std::abs(sum - 1) > kSoftmaxSumTolerance)
        return std::string(network) + " probabilities sum to " + fixed2(sum) + ", not 1";
    for (double& p : out) p /= sum;
    return std::nullopt;
}

// Which knowledge expressions take which expert classes. An expert class claimed twice feeds
// the first expression only (knowledge order), so no probability counts twice.
struct Coverage {
    std::vector<const ExpressionKnowledge*> expressions;  // covered, knowledge order
    std::vector<std::vector<std::size_t>> classes;        // their kExpertClasses indices
    std::vector<std::string> not_covered;
};

Coverage coverage_of(const Knowledge& knowledge) {
    Coverage out;
    std::array<bool, kClasses> taken{};
    for (const auto& e : knowledge.expressions) {
        std::vector<std::size_t> mine;
        for (const auto& name : e.expert_classes) {
            const std::size_t c = expert_class_index(name);
            if (c >= kClasses || taken[c]) continue;
            taken[c] = true;
            mine.push_back(c);
        }
        if (mine.empty()) {
            out.not_covered.push_back(e.name);
            continue;
        }
        out.expressions.push_back(&e);
        out.classes.push_back(std::move(mine));
    }
    return out;
}

// One network over the covered expressions (coverage order), renormalised; also the mass it
// put outside them. Empty when it put (almost) nothing on them.
struct Covered {
    std::vector<double> p;
    double outside = 0;
};

Covered cover(const ClassProbabilities& classes, const Coverage& coverage) {
    Covered out;
    double mass = 0;
    for (const auto& mine : coverage.classes) {
        double p = 0;
        for (std::size_t c : mine) p += classes[c];
        out.p.push_back(p);
        mass += p;
    }
    out.outside = clamp01(1 - mass);
    if (mass < kMinCoveredMass) {
        out.p.clear();
        return out;
    }
    for (double& p : out.p) p /= mass;
    return out;
}

// Named probabilities, largest first, ties in knowledge order.
std::vector<std::pair<std::string, double>> ranked(const std::vector<double>& p, const Coverage& coverage) {
    std::vector<std::pair<std::string, double>> out;
    for (std::size_t i = 0; i < p.size(); ++i) out.emplace_back(coverage.expressions[i]->name, p[i]);
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    return out;
}

double kl_bits(const std::vector<double>& p, const std::vector<double>& m) {
    double sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i)
        if (p[i] > 0 && m[i] > 0) sum += p[i] * std::log2(p[i] / m[i]);
    return sum;
}

// Jensen-Shannon divergence in bits: 0 for equal distributions, 1 for disjoint ones.
double js_divergence_bits(const std::vector<double>& p, const std::vector<double>& q) {
    std::vector<double> m(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) m[i] = 0.5 * (p[i] + q[i]);
    return clamp01(0.5 * kl_bits(p, m) + 0.5 * kl_bits(q, m));
}

// ---- geometry ---------------------------------------------------------------------------------

struct Vec2 {
    double x = 0, y = 0;
};

Vec2 operator-(Vec2 a, Vec2 b) {
    return {a.x - b.x, a.y - b.y};
}

Vec2 midpoint(Vec2 a, Vec2 b) {
    return {(a.x + b.x) / 2, (a.y + b.y) / 2};
}

double distance(Vec2 a, Vec2 b) {
    return std::hypot(a.x - b.x, a.y - b.y);
}

// Where the points the AU rules read sit in one layout. The subject's right eye is the one the
// 68-point scheme numbers first (36–41); a lid opening is the mean of two chords (upper, lower).
struct Layout {
    const char* name;
    std::size_t min_points;
    std::size_t max_points;
    std::size_t right_eye_outer, right_eye_inner, left_eye_inner, left_eye_outer;
    std::array<std::array<std::size_t, 2>, 2> right_lid_chords, left_lid_chords;
    double lid_chord_scale;
    std::size_t right_brow_inner, right_brow_outer, left_brow_inner, left_brow_outer;
    std::size_t nose_base;
    std::size_t upper_lip_top, lower_lip_bottom, upper_lip_inner, lower_lip_inner;
    std::size_t mouth_right, mouth_left, chin;
};

// iBUG 300-W order: brows 17–26, eyes 36–47, nose base 33, outer lips 48–59, inner 60–67, chin 8.
constexpr Layout kLandmarks68{.name = "the 68 landmarks",
                              .min_points = 68,
                              .max_points = 68,
                              .right_eye_outer = 36,
                              .right_eye_inner = 39,
                              .left_eye_inner = 42,
                              .left_eye_outer = 45,
                              .right_lid_chords = {{{37, 41}, {38, 40}}},
                              .left_lid_chords = {{{43, 47}, {44, 46}}},
                              .lid_chord_scale = 1.0,
                              .right_brow_inner = 21,
                              .right_brow_outer = 17,
                              .left_brow_inner = 22,
                              .left_brow_outer = 26,
                              .nose_base = 33,
                              .upper_lip_top = 51,
                              .lower_lip_bottom = 57,
                              .upper_lip_inner = 62,
                              .lower_lip_inner = 66,
                              .mouth_right = 48,
                              .mouth_left = 54,
                              .chin = 8};
// MediaPipe face mesh (tfjs facemesh's MESH_ANNOTATIONS): eye corners 33/133 and 362/263, lids
// 159–145 and 386–374, brows 107/70 and 336/300, nose bottom 2, lips 0/17 outer and 13/14 inner,
// corners 61/291, chin 152. 478 points: the same mesh with 10 iris points appended.
constexpr Layout kMesh468{.name = "the 468-point mesh",
                          .min_points = 468,
                          .max_points = 478,
                          .right_eye_outer = 33,
                          .right_eye_inner = 133,
                          .left_eye_inner = 362,
                          .left_eye_outer = 263,
                          .right_lid_chords = {{{159, 145}, {159, 145}}},
                          .left_lid_chords = {{{386, 374}, {386, 374}}},
                          .lid_chord_scale = kMeshMiddleChordToMeanChord,
                          .right_brow_inner = 107,
                          .right_brow_outer = 70,
                          .left_brow_inner = 336,
                          .left_brow_outer = 300,
                          .nose_base = 2,
                          .upper_lip_top = 0,
                          .lower_lip_bottom = 17,
                          .upper_lip_inner = 13,
                          .lower_lip_inner = 14,
                          .mouth_right = 61,
                          .mouth_left = 291,
                          .chin = 152};

// The measurements the AU rules score, in inter-ocular distances (y grows towards the chin).
struct Measures {
    double lip_gap = 0;             // inner lips apart
    double lower_to_mid_face = 0;   // nose base to chin over eye line to nose base
    double mouth_width = 0;         // corner to corner
    double corner_elevation = 0;    // corners above the upper inner lip
    double corner_depression = 0;   // corners below the inner lips' mid-line
    double eye_opening = 0;         // lid opening over eye width, both eyes' mean
    double inner_brow_height = 0;   // inner brow above the inner eye corner
    double outer_brow_height = 0;   // outer brow above the outer eye corner
    double inner_brow_spacing = 0;  // inner brow to inner brow
    double nose_to_upper_lip = 0;   // nose base to the upper lip's top
    double lower_lip_to_chin = 0;   // lower lip's bottom to the chin
    double red_lip = 0;             // upper plus lower red-lip thickness
};

bool finite_points(const std::vector<Point3>& points) {
    return std::all_of(points.begin(), points.end(),
                       [](const Point3& p) { return std::isfinite(p.x) && std::isfinite(p.y); });
}

// The measures of one layout, or nothing when its points are missing, not finite or not a face.
std::optional<Measures> measure(const std::vector<Point3>& points, const Layout& layout) {
    if (points.size() < layout.min_points || points.size() > layout.max_points || !finite_points(points))
        return std::nullopt;
    auto at = [&](std::size_t i) { return Vec2{points[i].x, points[i].y}; };
    const Vec2 right_eye = midpoint(at(layout.right_eye_outer), at(layout.right_eye_inner));
    const Vec2 left_eye = midpoint(at(layout.left_eye_outer), at(layout.left_eye_inner));
    const double iod = distance(right_eye, left_eye);
    if (!(iod >= kMinInterocularPixels)) return std::nullopt;
    const Vec2 origin = midpoint(right_eye, left_eye);
    const Vec2 along{(left_eye.x - right_eye.x) / iod, (left_eye.y - right_eye.y) / iod};
    Vec2 down{-along.y, along.x};
    // Down is towards the chin whichever way the eyes are ordered (a mirrored image).
    const Vec2 chin_offset = at(layout.chin) - origin;
    if (chin_offset.x * down.x + chin_offset.y * down.y < 0) down = {-down.x, -down.y};
    auto frame = [&](std::size_t i) {
        const Vec2 d = at(i) - origin;
        return Vec2{(d.x * along.x + d.y * along.y) / iod, (d.x * down.x + d.y * down.y) / iod};
    };

    const Vec2 chin = frame(layout.chin);
    const Vec2 nose = frame(layout.nose_base);
    const Vec2 upper_top = frame(layout.upper_lip_top);
    const Vec2 lower_bottom = frame(layout.lower_lip_bottom);
    const Vec2 upper_inner = frame(layout.upper_lip_inner);
    const Vec2 lower_inner = frame(layout.lower_lip_inner);
    const Vec2 mouth_right = frame(layout.mouth_right);
    const Vec2 mouth_left = frame(layout.mouth_left);
    // A face has its nose below the eyes, its mouth below the nose and its chin below the mouth.
    if (chin.y < kMinFaceHeight || chin.y > kMaxFaceHeight || !(nose.y > 0) || !(upper_top.y > nose.y) ||
        !(chin.y > lower_bottom.y))
        return std::nullopt;

    auto opening = [&](const std::array<std::array<std::size_t, 2>, 2>& chords, std::size_t outer, std::size_t inner) {
        const double width = distance(frame(outer), frame(inner));
        if (!(width > 0)) return 0.0;
        const double chord =
            (distance(frame(chords[0][0]), frame(chords[0][1])) + distance(frame(chords[1][0]), frame(chords[1][1]))) /
            2;
        return chord * layout.lid_chord_scale / width;
    };
    const Vec2 right_inner_corner = frame(layout.right_eye_inner);
    const Vec2 left_inner_corner = frame(layout.left_eye_inner);
    const Vec2 right_outer_corner = frame(layout.right_eye_outer);
    const Vec2 left_outer_corner = frame(layout.left_eye_outer);
    const Vec2 right_brow_inner = frame(layout.right_brow_inner);
    const Vec2 left_brow_inner = frame(layout.left_brow_inner);

    Measures m;
    m.lip_gap = std::max(0.0, lower_inner.y - upper_inner.y);
    m.lower_to_mid_face = (chin.y - nose.y) / nose.y;
    m.mouth_width = distance(mouth_right, mouth_left);
    const double corners = (mouth_right.y + mouth_left.y) / 2;
    m.corner_elevation = upper_inner.y - corners;
    m.corner_depression = corners - (upper_inner.y + lower_inner.y) / 2;
    m.eye_opening = (opening(layout.right_lid_chords, layout.right_eye_outer, layout.right_eye_inner) +
                     opening(layout.left_lid_chords, layout.left_eye_outer, layout.left_eye_inner)) /
                    2;
    m.inner_brow_height = ((right_inner_corner.y - right_brow_inner.y) + (left_inner_corner.y - left_brow_inner.y)) / 2;
    m.outer_brow_height = ((right_outer_corner.y - frame(layout.right_brow_outer).y) +
                           (left_outer_corner.y - frame(layout.left_brow_outer).y)) /
                          2;
    m.inner_brow_spacing = distance(right_brow_inner, left_brow_inner);
    m.nose_to_upper_lip = upper_top.y - nose.y;
    m.lower_lip_to_chin = chin.y - lower_bottom.y;
    m.red_lip = (upper_inner.y - upper_top.y) + (lower_bottom.y - lower_inner.y);
    return m;
}

// ---- AU rules ---------------------------------------------------------------------------------
// Thresholds in inter-ocular distances (eye opening: a ratio). "Mean face" is the template's value.

// AU25: the mean face's lips, closed, touch (gap ≈ 0); a visible parting is a few percent of the IOD.
constexpr double kLipsPartedGap = 0.08;
constexpr double kLipsPartedWidth = 0.06;
// AU26: a dropped jaw opens the lips by a fifth of the IOD or more, and lengthens the lower face
// (mean face, lips closed: 1.3 times the eye-to-nose height).
constexpr double kJawDropGap = 0.2;
constexpr double kJawDropGapWidth = 0.1;
constexpr double kJawDropLowerFace = 1.7;
constexpr double kJawDropLowerFaceWidth = 0.2;
// AU12: the mean face's corners sit about 0.06 above the closed lip line; a smile lifts them
// further, and widens the mouth (mean face 0.91), which counts a quarter as much.
constexpr double kSmileElevation = 0.10;
constexpr double kSmileElevationWidth = 0.05;
constexpr double kNeutralMouthWidth = 0.91;
constexpr double kSmileWidthWeight = 0.25;
// AU15: the mean face's corners are 0.06 above the lips' mid-line; pulled down, they go below it.
constexpr double kFrownDepression = 0.03;
constexpr double kFrownDepressionWidth = 0.04;
// AU5 / AU7: the mean face's eye opening is 0.31 of its width; wide eyes reach 0.4, tightened
// lids 0.2 or less; under 0.1 the eye is closed and the lids' tension cannot be seen.
constexpr double kWideEyeOpening = 0.40;
constexpr double kWideEyeWidth = 0.06;
constexpr double kNarrowedEyeOpening = 0.22;
constexpr double kNarrowedEyeWidth = 0.05;
constexpr double kClosedEyeOpening = 0.10;
// AU1 / AU2: the mean face's inner brow is 0.28 and its outer brow 0.22 above the eye corner.
constexpr double kInnerBrowRaised = 0.36;
constexpr double kOuterBrowRaised = 0.30;
constexpr double kBrowRaiseWidth = 0.06;
// AU4: lowered brows come down (mean 0.28) and together (mean spacing 0.39); both count half.
constexpr double kBrowLowered = 0.22;
constexpr double kBrowsTogether = 0.32;
constexpr double kBrowLowerWidth = 0.05;
// AU10: the upper lip rises towards the nose base (mean face 0.22 below it).
constexpr double kUpperLipRaised = 0.15;
constexpr double kUpperLipRaisedWidth = 0.04;
// AU17: the chin boss pushes the lower lip up: lower lip to chin shrinks (mean face 0.58).
constexpr double kChinRaised = 0.48;
constexpr double kChinRaisedWidth = 0.06;
// AU20: the mouth stretches sideways (mean 0.91) without the corners rising (that is AU12).
constexpr double kLipStretchWidth = 1.05;
constexpr double kLipStretchWidthWidth = 0.08;
// AU23 / AU24: tightened or pressed lips thin the red lip (mean face, closed: 0.33); geometry
// cannot tell tightening from pressing, so both get this evidence, and only with lips closed.
constexpr double kThinLips = 0.14;
constexpr double kThinLipsWidth = 0.04;

// AUs whose geometry the reference calls reliable; the others judged here are weaker.
constexpr std::array<std::string_view, 5> kReliableAus{"AU5", "AU12", "AU15", "AU25", "AU26"};
// A judged AU's uncertainty never drops below these: the thresholds are uncalibrated priors.
constexpr double kReliableAuUncertaintyFloor = 0.1;
constexpr double kWeakAuUncertaintyFloor = 0.3;

double judgement_uncertainty(const AuJudgement& j) {
    return std::max(binary_entropy(j.score), j.reliable ? kReliableAuUncertaintyFloor : kWeakAuUncertaintyFloor);
}

// Evidence in [0, 1] that `value` is above `threshold`: 0.5 at it, 0 and 1 at ± `width`.
double above(double value, double threshold, double width) {
    return clamp01(0.5 + (value - threshold) / (2 * width));
}

double below(double value, double threshold, double width) {
    return above(-value, -threshold, width);
}

// Evidence per AU code, for the AUs this face's geometry can show; the rest are not in it.
std::vector<std::pair<std::string_view, double>> score_aus(const Measures& m) {
    std::vector<std::pair<std::string_view, double>> out;
    const bool lips_closed = m.lip_gap < kLipsPartedGap;
    const double smile = above(m.corner_elevation + kSmileWidthWeight * (m.mouth_width - kNeutralMouthWidth),
                               kSmileElevation, kSmileElevationWidth);
    out.emplace_back("AU1", above(m.inner_brow_height, kInnerBrowRaised, kBrowRaiseWidth));
    out.emplace_back("AU2", above(m.outer_brow_height, kOuterBrowRaised, kBrowRaiseWidth));
    out.emplace_back("AU4", 0.5 * below(m.inner_brow_height, kBrowLowered, kBrowLowerWidth) +
                                0.5 * below(m.inner_brow_spacing, kBrowsTogether, kBrowLowerWidth));
    out.emplace_back("AU5", above(m.eye_opening, kWideEyeOpening, kWideEyeWidth));
    if (m.eye_opening >= kClosedEyeOpening)
        out.emplace_back("AU7", below(m.eye_opening, kNarrowedEyeOpening, kNarrowedEyeWidth));
    out.emplace_back("AU10", below(m.nose_to_upper_lip, kUpperLipRaised, kUpperLipRaisedWidth));
    out.emplace_back("AU12", smile);
    out.emplace_back("AU15", above(m.corner_depression, kFrownDepression, kFrownDepressionWidth));
    out.emplace_back("AU17", below(m.lower_lip_to_chin, kChinRaised, kChinRaisedWidth));
    out.emplace_back("AU20", std::min(above(m.mouth_width, kLipStretchWidth, kLipStretchWidthWidth), 1 - smile));
    if (lips_closed) {
        out.emplace_back("AU23", below(m.red_lip, kThinLips, kThinLipsWidth));
        out.emplace_back("AU24", below(m.red_lip, kThinLips, kThinLipsWidth));
    }
    out.emplace_back("AU25", above(m.lip_gap, kLipsPartedGap, kLipsPartedWidth));
    out.emplace_back("AU26", 0.5 * above(m.lip_gap, kJawDropGap, kJawDropGapWidth) +
                                 0.5 * above(m.lower_to_mid_face, kJawDropLowerFace, kJawDropLowerFaceWidth));
    return out;
}

std::optional<double> score_of(const std::vector<std::pair<std::string_view, double>>& scores, std::string_view au) {
    for (const auto& [code, score] : scores)
        if (code == au) return score;
    return std::nullopt;
}

// How far past its threshold an AU is, in [0, 1]: 0 at or below it.
double strength(const std::vector<std::pair<std::string_view, double>>& scores, std::string_view au) {
    return std::max(0.0, 2 * (score_of(scores, au).value_or(0) - 0.5));
}

// ---- VA ---------------------------------------------------------------------------------------

// Geometry's nudges to the derived VA at an AU's full strength: small, because the expression's
// centroid already carries most of it (happy's valence, surprise's arousal).
constexpr double kSmileValence = 0.15;
constexpr double kFrownValence = 0.10;
constexpr double kWideEyeArousal = 0.10;
constexpr double kLipsPartedArousal = 0.05;
constexpr double kJawDropArousal = 0.10;
// The spread at which VA uncertainty reaches 1: the scale the sampled VA's uncertainty uses.
constexpr double kVaFullScale = 0.5;

std::pair<double, double> centroid_of(const ExpressionKnowledge& e) {
    if (e.va_centroid) return *e.va_centroid;
    return {(e.va.valence_min + e.va.valence_max) / 2, (e.va.arousal_min + e.va.arousal_max) / 2};
}

struct DerivedVa {
    double valence = 0, arousal = 0;
    double valence_sd = 0, arousal_sd = 0;  // of the mixture: between and within the classes
};

// VA under a distribution over the covered expressions. Within a class, VA is taken as uniform
// over its prior region (variance width² / 12): a centroid is a typical face, not this face.
DerivedVa derive_va(const std::vector<double>& p, const Coverage& coverage) {
    DerivedVa out;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const auto [v, a] = centroid_of(*coverage.expressions[i]);
        out.valence += p[i] * v;
        out.arousal += p[i] * a;
    }
    double var_v = 0, var_a = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const ExpressionKnowledge& e = *coverage.expressions[i];
        const auto [v, a] = centroid_of(e);
        const double wv = e.va.valence_max - e.va.valence_min;
        const double wa = e.va.arousal_max - e.va.arousal_min;
        var_v += p[i] * (wv * wv / 12 + (v - out.valence) * (v - out.valence));
        var_a += p[i] * (wa * wa / 12 + (a - out.arousal) * (a - out.arousal));
    }
    out.valence_sd = std::sqrt(var_v);
    out.arousal_sd = std::sqrt(var_a);
    return out;
}

// ---- descriptions -----------------------------------------------------------------------------

std::string expression_description(const ExpertOpinion& o) {
    const auto& [label, p] = o.expression_probabilities.front();
    const std::string& face_api = o.face_api_probabilities.front().first;
    const std::string& human = o.human_probabilities.front().first;
    std::string text = std::string(kPrefix) + label + " (" + fixed2(p) + "; ";
    if (face_api == label && human == label) {
        text += "both classifiers agree";
    } else {
        text += "the classifiers differ: face-api " + face_api + " " + fixed2(o.face_api_probabilities.front().second) +
                ", Human " + human + " " + fixed2(o.human_probabilities.front().second);
    }
    return text + ").";
}

std::string va_description(double valence, double arousal, const std::vector<std::string>& nudges) {
    std::string text = std::string(kPrefix) + "valence " + fixed2(valence) + ", arousal " + fixed2(arousal) +
                       ", derived from the expression probabilities and each expression's typical VA";
    if (!nudges.empty()) {
        text += ", adjusted by ";
        for (std::size_t i = 0; i < nudges.size(); ++i) text += (i ? ", " : "") + nudges[i];
    }
    return text + ".";
}

std::string au_description(const ExpertOpinion& o, const Knowledge& knowledge, const char* source) {
    std::string text(kPrefix);
    const auto& present = *o.labels.action_units;
    if (present.empty()) {
        text += "no action unit present among the " + std::to_string(o.action_units.size()) + " judged";
    } else {
        for (std::size_t i = 0; i < present.size(); ++i) {
            const ActionUnit* unit = knowledge.find_action_unit(present[i]);
            text += (i ? ", " : "") + present[i];
            if (unit && !unit->name.empty()) text += " (" + unit->name + ")";
        }
        text += " present";
    }
    text += ", from " + std::string(source);
    if (!o.au_unknown.empty()) {
        text += "; not judged from geometry: ";
        for (std::size_t i = 0; i < o.au_unknown.size(); ++i) text += (i ? ", " : "") + o.au_unknown[i];
    }
    return text + ".";
}

ExpertOpinion abstain(std::string reason) {
    ExpertOpinion out;
    out.abstained = true;
    out.abstain_reason = std::move(reason);
    return out;
}

}  // namespace

ExpertOpinion interpret_expert(const ExpertReading& reading, const Knowledge& knowledge,
                               const ExpertSettings& settings) {
    if (!(reading.face_score >= settings.min_face_score))
        return abstain("face score " + fixed2(reading.face_score) + " below " + fixed2(settings.min_face_score) +
                       ": not a face");

    ClassProbabilities face_api{};
    ClassProbabilities human{};
    if (auto why = to_expert_classes(reading.face_api_expression, kFaceApiExpressionClasses, "face-api", face_api))
        return abstain(*why);
    if (auto why = to_expert_classes(reading.human_emotion, kHumanEmotionClasses, "Human", human)) return abstain(*why);

    const Layout* layout = &kMesh468;
    std::optional<Measures> measures = measure(reading.mesh, kMesh468);
    if (!measures) {
        layout = &kLandmarks68;
        measures = measure(reading.landmarks68, kLandmarks68);
    }
    if (!measures)
        return abstain("no usable face geometry (" + std::to_string(reading.mesh.size()) + " mesh points, " +
                       std::to_string(reading.landmarks68.size()) +
                       " landmarks; need 468 or 68 finite points of a face)");

    const Coverage coverage = coverage_of(knowledge);
    if (coverage.expressions.empty()) return abstain("no expression of the knowledge is one the networks have");
    const Covered by_face_api = cover(face_api, coverage);
    const Covered by_human = cover(human, coverage);
    if (by_face_api.p.empty() || by_human.p.empty())
        return abstain("the networks put no probability on the knowledge's expressions");

    ExpertOpinion out;
    out.not_covered = coverage.not_covered;
    std::vector<double> mean(by_face_api.p.size());
    for (std::size_t i = 0; i < mean.size(); ++i) mean[i] = 0.5 * (by_face_api.p[i] + by_human.p[i]);
    out.expression_probabilities = ranked(mean, coverage);
    out.face_api_probabilities = ranked(by_face_api.p, coverage);
    out.human_probabilities = ranked(by_human.p, coverage);
    out.classifier_agreement = 1 - js_divergence_bits(by_face_api.p, by_human.p);
    out.labels.expression = out.expression_probabilities.front().first;

    // AUs: those of the knowledge this geometry judges, knowledge order; the rest are unknown.
    const auto scores = score_aus(*measures);
    std::vector<std::string> present;
    for (const auto& unit : knowledge.action_units) {
        auto score = score_of(scores, unit.code);
        if (!score) {
            out.au_unknown.push_back(unit.code);
            continue;
        }
        AuJudgement j;
        j.code = unit.code;
        j.score = *score;
        j.margin = clamp01(std::abs(*score - 0.5) * 2);
        j.reliable = std::find(kReliableAus.begin(), kReliableAus.end(), unit.code) != kReliableAus.end();
        if (j.score >= 0.5) present.push_back(unit.code);
        out.action_units.push_back(std::move(j));
    }
    out.labels.action_units = present;

    // VA: derived from the mean distribution, then nudged by geometry.
    const DerivedVa va = derive_va(mean, coverage);
    const DerivedVa va_face_api = derive_va(by_face_api.p, coverage);
    const DerivedVa va_human = derive_va(by_human.p, coverage);
    std::vector<std::string> nudges;
    double valence = va.valence;
    double arousal = va.arousal;
    auto nudge = [&](std::string_view au, double full, double& value, const char* what) {
        const double shift = full * strength(scores, au);
        if (shift == 0) return;
        value += shift;
        nudges.push_back(std::string(au) + " (" + what + (shift > 0 ? " +" : " ") + fixed2(shift) + ")");
    };
    nudge("AU12", kSmileValence, valence, "valence");
    nudge("AU15", -kFrownValence, valence, "valence");
    nudge("AU5", kWideEyeArousal, arousal, "arousal");
    nudge("AU25", kLipsPartedArousal, arousal, "arousal");
    nudge("AU26", kJawDropArousal, arousal, "arousal");
    out.labels.valence = std::clamp(valence, -1.0, 1.0);
    out.labels.arousal = std::clamp(arousal, -1.0, 1.0);
    out.va_derived = true;

    // Uncertainty per level, from the networks themselves.
    const double margin = out.expression_probabilities.size() > 1
                              ? out.expression_probabilities[0].second - out.expression_probabilities[1].second
                              : 1;
    // Mass the networks put on classes this knowledge lacks is doubt the renormalisation hides.
    const double outside = 0.5 * (by_face_api.outside + by_human.outside);
    out.uncertainty.expression = clamp01(std::max(0.5 * (1 - margin) + 0.5 * (1 - out.classifier_agreement), outside));
    out.uncertainty.au = expert_au_uncertainty(out);
    const double classifiers_apart =
        std::hypot(va_face_api.valence - va_human.valence, va_face_api.arousal - va_human.arousal);
    out.uncertainty.va = std::min(1.0, std::max({va.valence_sd, va.arousal_sd, classifiers_apart}) / kVaFullScale);
    out.uncertainty.consistency = cross_level_inconsistency(knowledge, out.labels);
    out.uncertainty.overall =
        overall_uncertainty(out.uncertainty, UncertaintyWeights{}, AnsweredLevels{true, true, true});

    out.descriptions.expression = expression_description(out);
    out.descriptions.va = va_description(*out.labels.valence, *out.labels.arousal, nudges);
    out.descriptions.au = au_description(out, knowledge, layout->name);
    return out;
}

double expert_au_uncertainty(const ExpertOpinion& opinion, const std::vector<std::string>& fixed) {
    double sum = 0;
    std::size_t counted = 0;
    for (const auto& j : opinion.action_units) {
        if (std::find(fixed.begin(), fixed.end(), j.code) != fixed.end()) continue;
        sum += judgement_uncertainty(j);
        ++counted;
    }
    return counted == 0 ? 1 : clamp01(sum / static_cast<double>(counted));
}

}  // namespace seke
