#pragma once
// Turning seke's uncertainty into a probability that a human will change the answer, learned
// from reviews. Every accepted or corrected level is one labeled example (uncertainty, error);
// a calibrator per level is fitted by isotonic regression (pool adjacent violators) or Platt
// scaling, and trusted only from `min_reviews` examples on. Pure: no I/O.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/config/fit_settings.hpp"
#include "plugin/records/feid_record.hpp"
#include "verify/errors.hpp"
#include "verify/labels.hpp"

namespace seke {

struct CalibrationPoint {
    double uncertainty = 0;  // in [0, 1]
    bool error = false;      // the reviewer changed this level (or rejected the face)
};

// A non-decreasing map from uncertainty to probability of error. Untrusted (too few examples)
// it is the identity: the uncertainty itself ranks, as before any review.
class Calibrator {
  public:
    Calibrator() = default;
    static Calibrator fit(std::vector<CalibrationPoint> points, CalibrationMethod method, std::size_t min_examples);

    [[nodiscard]] double operator()(double uncertainty) const;
    [[nodiscard]] bool trusted() const noexcept { return trusted_; }
    [[nodiscard]] std::size_t examples() const noexcept { return examples_; }
    [[nodiscard]] std::size_t errors() const noexcept { return errors_; }

    [[nodiscard]] nlohmann::json to_json() const;
    static Result<Calibrator> from_json(const nlohmann::json& json);

  private:
    CalibrationMethod method_ = CalibrationMethod::isotonic;
    bool trusted_ = false;
    std::size_t examples_ = 0, errors_ = 0;
    std::vector<double> knot_x, knot_p;  // isotonic: block means, interpolated between
    double platt_a = 0, platt_b = 0;     // platt: p = 1 / (1 + exp(-(a u + b)))
};

// The face as a whole: were any of its levels changed, given all it said about itself.
struct FaceExample {
    Uncertainty uncertainty;
    bool error = false;
};

// P(a reviewer changes anything) by L2-regularised logistic regression on the face's
// uncertainties (expression, va, au, consistency, overall) and its disagreement with the
// built-in face expert. It learns how much each signal matters for this model and data, which
// the fixed weights of `overall` cannot (an expert that predicts nothing gets a weight near 0);
// it needs both outcomes among at least `min_examples` faces to be trusted.
class FaceErrorModel {
  public:
    static constexpr std::size_t kFeatures = 7;              // bias + five uncertainties + expert disagreement
    static constexpr std::size_t kFeaturesBeforeExpert = 6;  // fits stored before the expert existed
    static FaceErrorModel fit(const std::vector<FaceExample>& examples, std::size_t min_examples);
    [[nodiscard]] double operator()(const Uncertainty& u) const;  // untrusted: u.overall
    [[nodiscard]] bool trusted() const noexcept { return trusted_; }
    [[nodiscard]] nlohmann::json to_json() const;
    static Result<FaceErrorModel> from_json(const nlohmann::json& json);

  private:
    std::array<double, kFeatures> weights_{};
    bool trusted_ = false;
    std::size_t examples_ = 0, errors_ = 0;
};

// Review examples of every level, plus the face as a whole (overall vs "anything changed").
struct ReviewExamples {
    std::array<std::vector<CalibrationPoint>, 3> levels;  // indexed by Level
    std::vector<CalibrationPoint> overall;
    std::vector<FaceExample> faces_seen;
    std::size_t faces = 0;  // reviewed faces that gave at least one example
};
// Reads one stored FEID record: nothing unless it carries a review. A level the model did not
// label (a known fact) is no example; a rejected face is an error at every level it labeled.
void add_review_examples(const FeidRecord& record, ReviewExamples& into);

// The calibrators of one fit, and how a face's probability of error is computed from them.
struct CalibrationSet {
    std::array<Calibrator, 3> levels;  // indexed by Level
    Calibrator overall;
    FaceErrorModel face;

    static CalibrationSet fit(const ReviewExamples& examples, CalibrationMethod method, std::size_t min_reviews);
    // Per level: the calibrated probability; a level whose labels are facts (not the model's) is 0.
    [[nodiscard]] std::array<double, 3> level_error(const Uncertainty& u, const LevelProvenance& provenance) const;
    // The face: the face model when trusted; else 1 − Π(1 − p_level) over trusted levels; else
    // the overall calibrator (identity when untrusted, i.e. `overall` as before any review).
    [[nodiscard]] double face_error(const Uncertainty& u, const LevelProvenance& provenance) const;
    [[nodiscard]] bool any_trusted() const;

    [[nodiscard]] nlohmann::json to_json() const;
    static Result<CalibrationSet> from_json(const nlohmann::json& json);
};

}  // namespace seke
