#include "plugin/learning/calibration.hpp"

#include <algorithm>
#include <cmath>

namespace seke {
namespace {

using nlohmann::json;

double clamp01(double x) {
    return std::isfinite(x) ? std::clamp(x, 0.0, 1.0) : 1.0;
}

// Pool adjacent violators on points sorted by uncertainty: blocks whose error rates never
// decrease. Each block's rate is smoothed towards 1/2 by one pseudo-example, so a block of three
// accepted answers says "rarely wrong", not "never wrong".
void fit_isotonic(const std::vector<CalibrationPoint>& sorted, std::vector<double>& knot_x,
                  std::vector<double>& knot_p) {
    struct Block {
        double sum_x = 0, errors = 0, n = 0;
        [[nodiscard]] double rate() const { return (errors + 0.5) / (n + 1); }
    };
    std::vector<Block> blocks;
    for (const auto& p : sorted) {
        blocks.push_back({p.uncertainty, p.error ? 1.0 : 0.0, 1});
        while (blocks.size() > 1 && blocks[blocks.size() - 2].errors / blocks[blocks.size() - 2].n >=
                                        blocks.back().errors / blocks.back().n) {
            Block last = blocks.back();
            blocks.pop_back();
            blocks.back().sum_x += last.sum_x;
            blocks.back().errors += last.errors;
            blocks.back().n += last.n;
        }
    }
    knot_x.clear();
    knot_p.clear();
    for (const auto& b : blocks) {
        knot_x.push_back(b.sum_x / b.n);
        // Smoothing may not undo monotonicity: keep the running maximum.
        knot_p.push_back(knot_p.empty() ? b.rate() : std::max(knot_p.back(), b.rate()));
    }
}

// Platt scaling by Newton's method on the log-likelihood, with Platt's smoothed targets.
void fit_platt(const std::vector<CalibrationPoint>& points, double& a, double& b) {
    double positives = 0;
    for (const auto& p : points) positives += p.error ? 1 : 0;
    double negatives = static_cast<double>(points.size()) - positives;
    const double hi = (positives + 1) / (positives + 2), lo = 1 / (negatives + 2);
    a = 0;
    b = std::log((positives + 1) / (negatives + 1));
    for (int iteration = 0; iteration < 100; ++iteration) {
        double g_a = 0, g_b = 0, h_aa = 1e-9, h_ab = 0, h_bb = 1e-9;
        for (const auto& p : points) {
            double t = p.error ? hi : lo;
            double q = 1 / (1 + std::exp(-(a * p.uncertainty + b)));
            double d = q - t, w = q * (1 - q);
            g_a += d * p.uncertainty;
            g_b += d;
            h_aa += w * p.uncertainty * p.uncertainty;
            h_ab += w * p.uncertainty;
            h_bb += w;
        }
        double det = h_aa * h_bb - h_ab * h_ab;
        if (std::abs(det) < 1e-15) break;
        double step_a = (h_bb * g_a - h_ab * g_b) / det, step_b = (h_aa * g_b - h_ab * g_a) / det;
        a -= step_a;
        b -= step_b;
        if (std::abs(step_a) + std::abs(step_b) < 1e-10) break;
    }
    if (a < 0) {  // more uncertainty must never mean fewer errors: fall back to the base rate
        a = 0;
        b = std::log((positives + 1) / (negatives + 1));
    }
}

std::array<double, FaceErrorModel::kFeatures> features(const Uncertainty& u) {
    return {1.0,
            clamp01(u.expression),
            clamp01(u.va),
            clamp01(u.au),
            clamp01(u.consistency),
            clamp01(u.overall),
            clamp01(u.expert_disagreement)};
}

// Solves a x = b in place (Gaussian elimination with partial pivoting); false when singular.
template <std::size_t N>
bool solve(std::array<std::array<double, N>, N> a, std::array<double, N> b, std::array<double, N>& x) {
    for (std::size_t i = 0; i < N; ++i) {
        std::size_t pivot = i;
        for (std::size_t k = i + 1; k < N; ++k)
            if (std::abs(a[k][i]) > std::abs(a[pivot][i])) pivot = k;
        if (std::abs(a[pivot][i]) < 1e-12) return false;
        std::swap(a[i], a[pivot]);
        std::swap(b[i], b[pivot]);
        for (std::size_t k = i + 1; k < N; ++k) {
            double f = a[k][i] / a[i][i];
            for (std::size_t j = i; j < N; ++j) a[k][j] -= f * a[i][j];
            b[k] -= f * b[i];
        }
    }
    for (std::size_t i = N; i-- > 0;) {
        double sum = b[i];
        for (std::size_t j = i + 1; j < N; ++j) sum -= a[i][j] * x[j];
        x[i] = sum / a[i][i];
    }
    return true;
}

std::optional<double> number_at(const json& object, const char* key) {
    if (!object.is_object() || !object.contains(key) || !object[key].is_number()) return std::nullopt;
    return object[key].get<double>();
}

}  // namespace

Calibrator Calibrator::fit(std::vector<CalibrationPoint> points, CalibrationMethod method, std::size_t min_examples) {
    Calibrator c;
    c.method_ = method;
    c.examples_ = points.size();
    for (auto& p : points) {
        p.uncertainty = clamp01(p.uncertainty);
        c.errors_ += p.error ? 1 : 0;
    }
    c.trusted_ = !points.empty() && points.size() >= min_examples;
    if (!c.trusted_) return c;
    std::sort(points.begin(), points.end(), [](const auto& x, const auto& y) {
        return x.uncertainty < y.uncertainty || (x.uncertainty == y.uncertainty && !x.error && y.error);
    });
    if (method == CalibrationMethod::isotonic) fit_isotonic(points, c.knot_x, c.knot_p);
    else fit_platt(points, c.platt_a, c.platt_b);
    return c;
}

double Calibrator::operator()(double uncertainty) const {
    double u = clamp01(uncertainty);
    if (!trusted_) return u;
    if (method_ == CalibrationMethod::platt) return 1 / (1 + std::exp(-(platt_a * u + platt_b)));
    if (knot_x.empty()) return u;
    if (u <= knot_x.front()) return knot_p.front();
    if (u >= knot_x.back()) return knot_p.back();
    auto hi = static_cast<std::size_t>(std::upper_bound(knot_x.begin(), knot_x.end(), u) - knot_x.begin());
    std::size_t lo = hi - 1;
    double span = knot_x[hi] - knot_x[lo];
    double t = span > 0 ? (u - knot_x[lo]) / span : 1;
    return knot_p[lo] + t * (knot_p[hi] - knot_p[lo]);
}

json Calibrator::to_json() const {
    json out = {{"method", calibration_method_name(method_)},
                {"trusted", trusted_},
                {"examples", examples_},
                {"errors", errors_}};
    if (!trusted_) return out;
    auto rounded = [](const std::vector<double>& v) {
        json a = json::array();
        for (double x : v) a.push_back(std::round(x * 1e6) / 1e6);
        return a;
    };
    if (method_ == CalibrationMethod::platt) out["a"] = platt_a, out["b"] = platt_b;
    else out["x"] = rounded(knot_x), out["p"] = rounded(knot_p);
    return out;
}

Result<Calibrator> Calibrator::from_json(const json& j) {
    auto bad = [](const std::string& why) { return make_error(errc::bad_json, "calibration: " + why); };
    if (!j.is_object()) return bad("not an object");
    Calibrator c;
    auto method = parse_calibration_method(j.value("method", std::string("isotonic")));
    if (!method) return bad("unknown method");
    c.method_ = *method;
    c.trusted_ = j.value("trusted", false);
    c.examples_ = j.value("examples", std::size_t{0});
    c.errors_ = j.value("errors", std::size_t{0});
    if (!c.trusted_) return c;
    if (c.method_ == CalibrationMethod::platt) {
        if (!number_at(j, "a") || !number_at(j, "b")) return bad("platt needs a and b");
        c.platt_a = *number_at(j, "a");
        c.platt_b = *number_at(j, "b");
        return c;
    }
    if (!j.contains("x") || !j.contains("p") || !j["x"].is_array() || j["x"].size() != j["p"].size() || j["x"].empty())
        return bad("isotonic needs x and p of the same non-zero length");
    for (std::size_t i = 0; i < j["x"].size(); ++i) {
        if (!j["x"][i].is_number() || !j["p"][i].is_number()) return bad("x and p must be numbers");
        c.knot_x.push_back(j["x"][i].get<double>());
        c.knot_p.push_back(j["p"][i].get<double>());
    }
    return c;
}

FaceErrorModel FaceErrorModel::fit(const std::vector<FaceExample>& examples, std::size_t min_examples) {
    constexpr std::size_t N = kFeatures;
    constexpr double kRidge = 1.0;  // keeps weights sane with few errors; the bias is not shrunk
    FaceErrorModel m;
    m.examples_ = examples.size();
    for (const auto& e : examples) m.errors_ += e.error ? 1 : 0;
    if (examples.empty() || examples.size() < min_examples || m.errors_ == 0 || m.errors_ == examples.size()) return m;
    std::array<double, N> w{};
    for (int iteration = 0; iteration < 50; ++iteration) {  // Newton's method (IRLS)
        std::array<double, N> gradient{};
        std::array<std::array<double, N>, N> hessian{};
        for (std::size_t i = 1; i < N; ++i) {
            gradient[i] = kRidge * w[i];
            hessian[i][i] = kRidge;
        }
        hessian[0][0] = 1e-9;
        for (const auto& e : examples) {
            auto x = features(e.uncertainty);
            double z = 0;
            for (std::size_t i = 0; i < N; ++i) z += w[i] * x[i];
            double p = 1 / (1 + std::exp(-z)), weight = p * (1 - p);
            for (std::size_t i = 0; i < N; ++i) {
                gradient[i] += (p - (e.error ? 1 : 0)) * x[i];
                for (std::size_t j = 0; j < N; ++j) hessian[i][j] += weight * x[i] * x[j];
            }
        }
        std::array<double, N> step{};
        if (!solve(hessian, gradient, step)) return m;
        double size = 0;
        for (std::size_t i = 0; i < N; ++i) {
            w[i] -= step[i];
            size += std::abs(step[i]);
        }
        if (size < 1e-9) break;
    }
    if (!std::all_of(w.begin(), w.end(), [](double v) { return std::isfinite(v); })) return m;
    m.weights_ = w;
    m.trusted_ = true;
    return m;
}

double FaceErrorModel::operator()(const Uncertainty& u) const {
    if (!trusted_) return clamp01(u.overall);
    auto x = features(u);
    double z = 0;
    for (std::size_t i = 0; i < kFeatures; ++i) z += weights_[i] * x[i];
    return 1 / (1 + std::exp(-z));
}

json FaceErrorModel::to_json() const {
    json out = {{"method", "logistic"}, {"trusted", trusted_}, {"examples", examples_}, {"errors", errors_}};
    if (trusted_) {
        json w = json::array();
        for (double v : weights_) w.push_back(std::round(v * 1e6) / 1e6);
        out["weights"] = w;  // bias, expression, va, au, consistency, overall, expert disagreement
    }
    return out;
}

Result<FaceErrorModel> FaceErrorModel::from_json(const json& j) {
    if (!j.is_object()) return make_error(errc::bad_json, "calibration: face model is not an object");
    FaceErrorModel m;
    m.trusted_ = j.value("trusted", false);
    m.examples_ = j.value("examples", std::size_t{0});
    m.errors_ = j.value("errors", std::size_t{0});
    if (!m.trusted_) return m;
    // A fit stored before the expert disagreement was a feature has no weight for it: 0.
    const std::size_t stored = j.contains("weights") && j["weights"].is_array() ? j["weights"].size() : 0;
    if (stored != kFeatures && stored != kFeaturesBeforeExpert)
        return make_error(errc::bad_json, "calibration: face model needs " + std::to_string(kFeatures) + " weights");
    for (std::size_t i = 0; i < stored; ++i) {
        if (!j["weights"][i].is_number())
            return make_error(errc::bad_json, "calibration: face weights must be numbers");
        m.weights_[i] = j["weights"][i].get<double>();
    }
    return m;
}

void add_review_examples(const FeidRecord& record, ReviewExamples& into) {
    if (!record.review) return;
    const RecordReview& review = *record.review;
    const std::string& status = review.status;
    if (status != "accepted" && status != "corrected" && status != "rejected") return;
    Uncertainty u = record.uncertainty.values();
    LevelProvenance provenance = record.model_provenance();
    LevelVerdicts levels = review.levels.value_or(LevelVerdicts{});
    bool any = false, any_error = status == "rejected";
    for (Level level : kAllLevels) {
        if (is_fact(provenance.of(level))) continue;
        LevelVerdict verdict = levels.of(level);
        bool error = status == "rejected" || verdict == LevelVerdict::corrected;
        if (status != "rejected" && verdict == LevelVerdict::absent) continue;
        double uncertainty = level == Level::expression ? u.expression : level == Level::va ? u.va : u.au;
        into.levels[static_cast<std::size_t>(level)].push_back({uncertainty, error});
        any = true;
        any_error = any_error || error;
    }
    if (!any) return;
    into.overall.push_back({u.overall, any_error});
    into.faces_seen.push_back({u, any_error});
    ++into.faces;
}

CalibrationSet CalibrationSet::fit(const ReviewExamples& examples, CalibrationMethod method, std::size_t min_reviews) {
    CalibrationSet set;
    for (std::size_t i = 0; i < 3; ++i) set.levels[i] = Calibrator::fit(examples.levels[i], method, min_reviews);
    set.overall = Calibrator::fit(examples.overall, method, min_reviews);
    set.face = FaceErrorModel::fit(examples.faces_seen, min_reviews);
    return set;
}

std::array<double, 3> CalibrationSet::level_error(const Uncertainty& u, const LevelProvenance& provenance) const {
    std::array<double, 3> out{};
    for (Level level : kAllLevels) {
        auto i = static_cast<std::size_t>(level);
        double uncertainty = level == Level::expression ? u.expression : level == Level::va ? u.va : u.au;
        out[i] = is_fact(provenance.of(level)) ? 0.0 : levels[i](uncertainty);
    }
    return out;
}

bool CalibrationSet::any_trusted() const {
    return face.trusted() || overall.trusted() ||
           std::any_of(levels.begin(), levels.end(), [](const auto& c) { return c.trusted(); });
}

double CalibrationSet::face_error(const Uncertainty& u, const LevelProvenance& provenance) const {
    if (face.trusted()) return face(u);
    if (std::none_of(levels.begin(), levels.end(), [](const auto& c) { return c.trusted(); }))
        return overall(u.overall);
    std::array<double, 3> p = level_error(u, provenance);
    double none_wrong = 1;
    for (Level level : kAllLevels) {
        auto i = static_cast<std::size_t>(level);
        if (levels[i].trusted()) none_wrong *= 1 - p[i];
    }
    return 1 - none_wrong;
}

json CalibrationSet::to_json() const {
    json out = json::object();
    for (Level level : kAllLevels)
        out[std::string(level_name(level))] = levels[static_cast<std::size_t>(level)].to_json();
    out["overall"] = overall.to_json();
    out["face"] = face.to_json();
    return out;
}

Result<CalibrationSet> CalibrationSet::from_json(const json& j) {
    if (!j.is_object()) return make_error(errc::bad_json, "calibration: not an object");
    CalibrationSet set;
    for (Level level : kAllLevels) {
        std::string name(level_name(level));
        if (!j.contains(name)) continue;
        auto c = Calibrator::from_json(j[name]);
        if (!c) return c.error();
        set.levels[static_cast<std::size_t>(level)] = *c;
    }
    if (j.contains("overall")) {
        auto c = Calibrator::from_json(j["overall"]);
        if (!c) return c.error();
        set.overall = *c;
    }
    if (j.contains("face")) {
        auto f = FaceErrorModel::from_json(j["face"]);
        if (!f) return f.error();
        set.face = *f;
    }
    return set;
}

}  // namespace seke
