#pragma once
// A five-face benchmark small enough to score by hand (the figures are worked out in
// score_tests.cpp):
//   a  A  happy  AU6 AU12      V  .6 A  .2   predicted right everywhere            u .1 .1 .1 / overall .1
//   b  A  sad    AU1 AU4 AU15  V -.5 A -.3   AU1 missed (AU error)                 u .2 .2 .6 / overall .5
//   c  B  happy  AU6 AU12      V  .8 A  .4   surprise, AU6 missed, arousal .9      u .9 .8 .7 / overall .9
//   d  B  anger  AU4           V -.6 A  .5   right everywhere                      u .3 .3 .3 / overall .2
//   e  B  neutral, no AUs      V 0   A 0     no prediction
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "plugin/feab/input.hpp"
#include "tests/support/test_support.hpp"

namespace seke::test {

struct FeabSample {
    std::vector<std::string> classes;
    std::vector<std::string> action_units;
    std::vector<feab::TruthItem> truth;
    std::vector<std::optional<feab::Prediction>> predictions;
};

inline FeabSample feab_sample() {
    feab::Vocabulary vocabulary(test_knowledge());
    auto labels = [&](const std::string& expression, const std::vector<std::string>& units, double valence,
                      double arousal) {
        feab::FaceLabels out;
        out.expression = vocabulary.expression_index(expression);
        std::vector<int> indices;
        for (const auto& code : units) indices.push_back(*vocabulary.action_unit_index(code));
        std::sort(indices.begin(), indices.end());
        out.action_units = indices;
        out.valence = valence;
        out.arousal = arousal;
        return out;
    };
    auto truth = [&](const std::string& id, const std::string& source, feab::FaceLabels l, int line) {
        feab::TruthItem item;
        item.id = id;
        item.source = source;
        item.line = line;
        item.labels = std::move(l);
        return item;
    };
    auto prediction = [&](const std::string& id, feab::FaceLabels l, double expression_u, double va_u, double au_u,
                          double overall_u) {
        feab::Prediction p;
        p.id = id;
        p.labels = std::move(l);
        p.uncertainty = {expression_u, va_u, au_u, overall_u};
        return std::optional<feab::Prediction>(std::move(p));
    };
    FeabSample sample;
    sample.classes = vocabulary.classes();
    sample.action_units = vocabulary.action_units();
    sample.truth = {truth("a", "A", labels("happy", {"AU6", "AU12"}, 0.6, 0.2), 1),
                    truth("b", "A", labels("sad", {"AU1", "AU4", "AU15"}, -0.5, -0.3), 2),
                    truth("c", "B", labels("happy", {"AU6", "AU12"}, 0.8, 0.4), 3),
                    truth("d", "B", labels("anger", {"AU4"}, -0.6, 0.5), 4),
                    truth("e", "B", labels("neutral", {}, 0, 0), 5)};
    sample.predictions = {prediction("a", labels("happy", {"AU6", "AU12"}, 0.5, 0.2), 0.1, 0.1, 0.1, 0.1),
                          prediction("b", labels("sad", {"AU4", "AU15"}, -0.4, -0.3), 0.2, 0.2, 0.6, 0.5),
                          prediction("c", labels("surprise", {"AU12"}, 0.8, 0.9), 0.9, 0.8, 0.7, 0.9),
                          prediction("d", labels("anger", {"AU4"}, -0.6, 0.5), 0.3, 0.3, 0.3, 0.2), std::nullopt};
    return sample;
}

}  // namespace seke::test
