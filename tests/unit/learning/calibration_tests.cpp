// Calibration of uncertainty into probability of error, learned from review examples.
#include <boost/test/unit_test.hpp>

#include <random>

#include "plugin/learning/calibration.hpp"
#include "plugin/feab/metrics.hpp"

using namespace seke;
using nlohmann::json;
namespace tt = boost::test_tools;

namespace {

// Reviews where the true error rate is err(u) = u², with `n` examples.
std::vector<CalibrationPoint> quadratic_reviews(std::size_t n, unsigned seed = 7) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> uniform(0, 1);
    std::vector<CalibrationPoint> points;
    for (std::size_t i = 0; i < n; ++i) {
        double u = uniform(rng);
        points.push_back({u, uniform(rng) < u * u});
    }
    return points;
}

FeidRecord typed(const json& record) {
    auto parsed = FeidRecord::from_json(record);
    BOOST_TEST_REQUIRE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    return *parsed;
}

json reviewed_record(const std::string& status, const std::string& expression_verdict, double u_expression,
                     const std::string& provenance_va = "model") {
    return {
        {"id", "f"},
        {"uncertainty",
         {{"expression", u_expression}, {"va", 0.2}, {"au", 0.3}, {"consistency", 0}, {"overall", 0.25}}},
        {"provenance",
         {{"expression", expression_verdict == "corrected" ? "human" : "model"},
          {"va", provenance_va},
          {"au", "model"}}},
        {"status", status},
        {"review",
         {{"status", status}, {"levels", {{"expression", expression_verdict}, {"va", "accepted"}, {"au", "absent"}}}}}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_calibration)

BOOST_AUTO_TEST_CASE(isotonic_by_hand) {
    // Sorted: (0.1,ok) (0.2,err) (0.3,ok) (0.4,err): PAV pools the middle pair → rates 0, 1/2, 1.
    std::vector<CalibrationPoint> points = {{0.4, true}, {0.1, false}, {0.3, false}, {0.2, true}};
    Calibrator c = Calibrator::fit(points, CalibrationMethod::isotonic, 4);
    BOOST_TEST(c.trusted());
    BOOST_TEST(c.examples() == 4u);
    BOOST_TEST(c.errors() == 2u);
    // Smoothed block rates: (0+.5)/2, (1+.5)/3, (1+.5)/2 at x = .1, .25, .4.
    BOOST_TEST(c(0.1) == 0.25, tt::tolerance(1e-12));
    BOOST_TEST(c(0.25) == 0.5, tt::tolerance(1e-12));
    BOOST_TEST(c(0.4) == 0.75, tt::tolerance(1e-12));
    BOOST_TEST(c(0.0) == 0.25, tt::tolerance(1e-12));  // flat beyond the ends
    BOOST_TEST(c(1.0) == 0.75, tt::tolerance(1e-12));
    BOOST_TEST(c(0.175) == 0.375, tt::tolerance(1e-12));  // interpolated
}

BOOST_AUTO_TEST_CASE(too_few_reviews_leave_the_uncertainty_as_it_is) {
    Calibrator c = Calibrator::fit({{0.2, true}, {0.9, false}}, CalibrationMethod::isotonic, 30);
    BOOST_TEST(!c.trusted());
    BOOST_TEST(c(0.37) == 0.37);
    BOOST_TEST(Calibrator::fit({}, CalibrationMethod::platt, 0).trusted() == false);
    BOOST_TEST(Calibrator{}(2.0) == 1.0);  // clamped
}

BOOST_AUTO_TEST_CASE(one_class_only_gives_a_low_flat_probability) {
    std::vector<CalibrationPoint> all_right(40, CalibrationPoint{0.5, false});
    Calibrator c = Calibrator::fit(all_right, CalibrationMethod::isotonic, 30);
    BOOST_TEST(c.trusted());
    BOOST_TEST(c(0.9) < 0.05);
    Calibrator p = Calibrator::fit(all_right, CalibrationMethod::platt, 30);
    BOOST_TEST(p(0.9) < 0.05);
}

BOOST_AUTO_TEST_CASE(both_methods_are_monotone_and_recover_the_error_rate) {
    auto points = quadratic_reviews(4000);
    for (auto method : {CalibrationMethod::isotonic, CalibrationMethod::platt}) {
        Calibrator c = Calibrator::fit(points, method, 30);
        double previous = -1;
        for (double u = 0; u <= 1.0; u += 0.01) {
            BOOST_TEST(c(u) >= previous - 1e-12);
            previous = c(u);
        }
        // Isotonic tracks u² closely; Platt's logistic shape only roughly.
        double tolerance = method == CalibrationMethod::isotonic ? 0.08 : 0.15;
        for (double u : {0.2, 0.5, 0.8}) BOOST_TEST(std::abs(c(u) - u * u) < tolerance, "u=" << u << " p=" << c(u));
    }
}

BOOST_AUTO_TEST_CASE(json_round_trip) {
    auto points = quadratic_reviews(500);
    for (auto method : {CalibrationMethod::isotonic, CalibrationMethod::platt}) {
        Calibrator c = Calibrator::fit(points, method, 30);
        auto back = Calibrator::from_json(c.to_json());
        BOOST_TEST_REQUIRE(static_cast<bool>(back));
        for (double u : {0.0, 0.13, 0.5, 0.77, 1.0}) BOOST_TEST(std::abs((*back)(u)-c(u)) < 1e-5);
    }
    BOOST_TEST(!Calibrator::from_json(json{{"method", "magic"}}));
    BOOST_TEST(
        !Calibrator::from_json(json{{"method", "isotonic"}, {"trusted", true}, {"x", {0.1}}, {"p", json::array()}}));
}

BOOST_AUTO_TEST_CASE(review_records_become_examples_per_level) {
    ReviewExamples examples;
    add_review_examples(typed(reviewed_record("corrected", "corrected", 0.6)), examples);
    add_review_examples(typed(reviewed_record("accepted", "accepted", 0.1)), examples);
    add_review_examples(typed(reviewed_record("rejected", "absent", 0.9)), examples);
    // Not reviewed; then one whose VA was a fact.
    add_review_examples(typed(json{{"status", "auto"}, {"uncertainty", {{"overall", 0.5}}}}), examples);
    add_review_examples(typed(reviewed_record("accepted", "accepted", 0.1, "source")), examples);
    BOOST_TEST(examples.faces == 4u);
    const auto& expression = examples.levels[static_cast<std::size_t>(Level::expression)];
    BOOST_TEST_REQUIRE(expression.size() == 4u);
    BOOST_TEST(expression[0].error);               // corrected
    BOOST_TEST(expression[0].uncertainty == 0.6);  // the model's uncertainty, though the level is human now
    BOOST_TEST(!expression[1].error);
    BOOST_TEST(expression[2].error);  // rejected: every level the model labeled was wrong
    BOOST_TEST(examples.levels[static_cast<std::size_t>(Level::va)].size() == 3u);  // the fact is no example
    BOOST_TEST(examples.levels[static_cast<std::size_t>(Level::au)].size() == 1u);  // only the rejected face
    BOOST_TEST(examples.overall.size() == 4u);
    BOOST_TEST(examples.overall[0].error);
    BOOST_TEST(!examples.overall[1].error);
}

BOOST_AUTO_TEST_CASE(face_error_combines_trusted_levels_and_skips_facts) {
    ReviewExamples examples;
    for (int i = 0; i < 50; ++i) {
        examples.levels[0].push_back({0.9, true});
        examples.levels[0].push_back({0.1, false});
    }
    CalibrationSet set = CalibrationSet::fit(examples, CalibrationMethod::isotonic, 30);
    BOOST_TEST(set.levels[0].trusted());
    BOOST_TEST(!set.levels[1].trusted());
    BOOST_TEST(set.any_trusted());
    Uncertainty u;
    u.expression = 0.9;
    u.va = 0.8;
    u.au = 0.7;
    u.overall = 0.5;
    LevelProvenance model;
    double p = set.face_error(u, model);
    BOOST_TEST(p == set.levels[0](0.9), tt::tolerance(1e-12));  // only the trusted level counts
    LevelProvenance fact = model;
    fact.expression = Provenance::source;
    BOOST_TEST(set.face_error(u, fact) == 0.0);
    auto levels = set.level_error(u, model);
    BOOST_TEST(levels[1] == 0.8);  // untrusted: identity
    auto back = CalibrationSet::from_json(set.to_json());
    BOOST_TEST_REQUIRE(static_cast<bool>(back));
    BOOST_TEST(back->face_error(u, model) == p, tt::tolerance(1e-6));
    CalibrationSet none;
    BOOST_TEST(none.face_error(u, model) == 0.5);  // no fit: overall as before
}

BOOST_AUTO_TEST_CASE(calibration_keeps_the_ranking_and_fixes_the_probabilities) {
    // Uncertainty that overstates errors by a factor of two: AUROC unchanged, ECE much lower.
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> uniform(0, 1);
    std::vector<CalibrationPoint> train, test;
    for (int i = 0; i < 6000; ++i) {
        double u = uniform(rng);
        (i % 2 ? train : test).push_back({u, uniform(rng) < u / 2});
    }
    Calibrator c = Calibrator::fit(train, CalibrationMethod::isotonic, 30);
    std::vector<double> raw, calibrated;
    std::vector<bool> errors;
    double raw_gap = 0, calibrated_gap = 0;
    for (const auto& p : test) {
        raw.push_back(p.uncertainty);
        calibrated.push_back(c(p.uncertainty));
        errors.push_back(p.error);
        raw_gap += p.uncertainty - (p.error ? 1 : 0);
        calibrated_gap += c(p.uncertainty) - (p.error ? 1 : 0);
    }
    BOOST_TEST(metrics::auroc(calibrated, errors) > metrics::auroc(raw, errors) - 0.02);
    BOOST_TEST(std::abs(calibrated_gap) / test.size() < 0.03);
    BOOST_TEST(std::abs(raw_gap) / test.size() > 0.2);
}

BOOST_AUTO_TEST_CASE(face_model_learns_which_signal_predicts_errors) {
    // Errors follow `consistency` alone; `overall` is noise. The face model must rank by consistency.
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> uniform(0, 1);
    std::vector<FaceExample> train;
    for (int i = 0; i < 2000; ++i) {
        Uncertainty u;
        u.consistency = uniform(rng);
        u.overall = uniform(rng);
        u.expression = uniform(rng) * 0.2;
        train.push_back({u, uniform(rng) < 0.05 + 0.8 * u.consistency * u.consistency});
    }
    FaceErrorModel model = FaceErrorModel::fit(train, 30);
    BOOST_TEST_REQUIRE(model.trusted());
    Uncertainty inconsistent, consistent;
    inconsistent.consistency = 0.9;
    inconsistent.overall = 0.1;
    consistent.consistency = 0.1;
    consistent.overall = 0.9;
    BOOST_TEST(model(inconsistent) > 0.5);
    BOOST_TEST(model(consistent) < 0.2);
    auto back = FaceErrorModel::from_json(model.to_json());
    BOOST_TEST_REQUIRE(static_cast<bool>(back));
    BOOST_TEST(std::abs((*back)(inconsistent)-model(inconsistent)) < 1e-5);
    // Untrusted: too few faces, or one outcome only; then `overall` itself.
    BOOST_TEST(!FaceErrorModel::fit(std::vector<FaceExample>(train.begin(), train.begin() + 10), 30).trusted());
    std::vector<FaceExample> all_right(100);
    BOOST_TEST(!FaceErrorModel::fit(all_right, 30).trusted());
    BOOST_TEST(FaceErrorModel{}(consistent) == 0.9);
    BOOST_TEST(!FaceErrorModel::from_json(nlohmann::json{{"trusted", true}, {"weights", {1, 2}}}));
}

// The built-in expert's disagreement is a feature of the face model: a project learns from its
// reviews how much the expert is worth, down to nothing.
BOOST_AUTO_TEST_CASE(face_model_learns_how_much_the_experts_disagreement_is_worth) {
    auto weights_after = [](bool expert_predicts_errors) {
        std::mt19937 rng(5);
        std::uniform_real_distribution<double> uniform(0, 1);
        std::vector<FaceExample> train;
        for (int i = 0; i < 3000; ++i) {
            Uncertainty u;
            u.consistency = uniform(rng);
            u.overall = uniform(rng) * 0.5;
            u.expert_disagreement = uniform(rng);
            const double signal = expert_predicts_errors ? u.expert_disagreement : u.consistency;
            train.push_back({u, uniform(rng) < 0.05 + 0.8 * signal * signal});
        }
        FaceErrorModel model = FaceErrorModel::fit(train, 30);
        BOOST_TEST_REQUIRE(model.trusted());
        return model.to_json()["weights"];  // bias, expression, va, au, consistency, overall, expert
    };
    auto worth_something = weights_after(true);
    BOOST_TEST(worth_something[6].get<double>() > 3.0, worth_something.dump());
    // Noise: its weight is near 0 beside the signal that does predict the errors.
    auto worth_nothing = weights_after(false);
    BOOST_TEST(worth_nothing[4].get<double>() > 3.0, worth_nothing.dump());
    BOOST_TEST(std::abs(worth_nothing[6].get<double>()) < 0.15 * worth_nothing[4].get<double>(), worth_nothing.dump());

    // A fit stored before the expert existed has six weights: it loads, the expert weighing 0.
    nlohmann::json old_fit = {{"trusted", true}, {"weights", {-2.0, 0.0, 0.0, 0.0, 4.0, 0.0}}};
    auto loaded = FaceErrorModel::from_json(old_fit);
    BOOST_TEST_REQUIRE(static_cast<bool>(loaded));
    Uncertainty agreeing, disagreeing;
    disagreeing.expert_disagreement = 1;
    BOOST_TEST((*loaded)(agreeing) == (*loaded)(disagreeing));
}

BOOST_AUTO_TEST_CASE(a_face_a_human_drew_is_no_example) {
    ReviewExamples examples;
    add_review_examples(typed(json{{"id", "cvat/1/0_cvat7"},
                                   {"status", "added"},
                                   {"provenance", {{"expression", "human"}}},
                                   {"review", {{"status", "added"}, {"reviewer", "cvat:a"}, {"cvat_shape_id", 7}}}}),
                        examples);
    BOOST_TEST(examples.faces == 0u);
    BOOST_TEST(examples.overall.empty());
}

BOOST_AUTO_TEST_SUITE_END()
