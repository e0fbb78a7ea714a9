// Writes a FEAB scoring benchmark: DIR/truth.jsonl and DIR/pred.jsonl with N items each. The
// predictions are full FEID records (built by seke's own feid_record, conversations included),
// wrong more often where their uncertainty is high, spread over the six FEID source datasets.
// Usage: seke-bench-feab-records --count N --out DIR [--seed S]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "plugin/config/config.hpp"
#include "plugin/records/feid.hpp"
#include "plugin/labeling/knowledge_json.hpp"

namespace {

using nlohmann::ordered_json;

const char* kSources[] = {"CK+", "RAF-DB", "AffectNet", "DISFA", "BP4D", "Aff-Wild2"};

double clamp_unit(double value, double lo) {
    return std::clamp(value, lo, 1.0);
}

}  // namespace

int main(int argc, char** argv) {
    long count = 100000;
    unsigned seed = 1;
    std::string out_dir;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string flag = argv[i];
        if (flag == "--count") count = std::strtol(argv[i + 1], nullptr, 10);
        else if (flag == "--out") out_dir = argv[i + 1];
        else if (flag == "--seed") seed = static_cast<unsigned>(std::strtoul(argv[i + 1], nullptr, 10));
    }
    if (out_dir.empty() || count < 0) {
        std::fprintf(stderr, "usage: seke-bench-feab-records --count N --out DIR [--seed S]\n");
        return 2;
    }
    auto knowledge = seke::load_knowledge_file(seke::data_dir() + "/config/knowledge.json");
    if (!knowledge) {
        std::fprintf(stderr, "%s\n", knowledge.error().message.c_str());
        return 1;
    }
    std::filesystem::create_directories(out_dir);
    std::ofstream truth_out(std::filesystem::path(out_dir) / "truth.jsonl", std::ios::binary);
    std::ofstream pred_out(std::filesystem::path(out_dir) / "pred.jsonl", std::ios::binary);

    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> unit(0, 1);
    std::normal_distribution<double> normal(0, 1);
    const auto& expressions = knowledge->expressions;
    const auto& units = knowledge->action_units;
    for (long n = 0; n < count; ++n) {
        char id[32];
        std::snprintf(id, sizeof id, "f%07ld", n + 1);
        const auto& truth_class =
            expressions[static_cast<std::size_t>(unit(rng) * static_cast<double>(expressions.size())) %
                        expressions.size()];
        double difficulty = unit(rng);

        std::vector<std::string> truth_units = truth_class.prototype;
        double valence =
            std::clamp((truth_class.va.valence_min + truth_class.va.valence_max) / 2 + 0.15 * normal(rng), -1.0, 1.0);
        double arousal =
            std::clamp((truth_class.va.arousal_min + truth_class.va.arousal_max) / 2 + 0.15 * normal(rng), -1.0, 1.0);
        ordered_json truth{{"id", id},
                           {"source", kSources[static_cast<std::size_t>(n) % 6]},
                           {"expression", truth_class.name},
                           {"action_units", truth_units},
                           {"valence", valence},
                           {"arousal", arousal}};
        truth_out << truth.dump() << '\n';

        // The harder the item, the likelier each level is wrong and the higher its uncertainty.
        seke::FaceResult result;
        result.ok = true;
        bool expression_wrong = unit(rng) < 0.6 * difficulty;
        std::size_t shift = 1 + static_cast<std::size_t>(unit(rng) * static_cast<double>(expressions.size() - 1));
        std::size_t truth_index = static_cast<std::size_t>(&truth_class - expressions.data());
        result.labels.expression =
            expression_wrong ? expressions[(truth_index + shift) % expressions.size()].name : truth_class.name;
        std::vector<std::string> predicted_units;
        for (const auto& unit_info : units) {
            bool present = std::find(truth_units.begin(), truth_units.end(), unit_info.code) != truth_units.end();
            if (unit(rng) < 0.08 * difficulty) present = !present;
            if (present) predicted_units.push_back(unit_info.code);
        }
        result.labels.action_units = predicted_units;
        double spread = 0.05 + 0.3 * difficulty;
        result.labels.valence = std::clamp(valence + spread * normal(rng), -1.0, 1.0);
        result.labels.arousal = std::clamp(arousal + spread * normal(rng), -1.0, 1.0);
        result.descriptions = {"The face shows " + *result.labels.expression + ".",
                               "Valence and arousal follow the expression and the active action units.",
                               "The listed action units are visible around the brows, eyes and mouth."};
        result.uncertainty.expression = clamp_unit(difficulty * 0.8 + 0.1 * normal(rng), 0);
        result.uncertainty.va = clamp_unit(spread + 0.05 * normal(rng), 0);
        result.uncertainty.au = clamp_unit(difficulty * 0.5 + 0.1 * normal(rng), 0);
        result.uncertainty.consistency = clamp_unit(0.2 * difficulty + 0.05 * normal(rng), 0);
        result.uncertainty.overall = clamp_unit(0.45 * result.uncertainty.expression + 0.1 * result.uncertainty.va +
                                                    0.1 * result.uncertainty.au + 0.35 * result.uncertainty.consistency,
                                                0);
        result.cost = {1, 0, 3, 0, 1800, 260, 0, {}};
        seke::FeidInput input;
        input.id = id;
        input.image = std::string("images/") + id + ".jpg";
        input.result = &result;
        input.model_version = "seke-bench/fake/uamc";
        pred_out << seke::feid_record(*knowledge, input).to_json().dump() << '\n';
    }
    if (!truth_out.flush() || !pred_out.flush()) {
        std::fprintf(stderr, "cannot write to %s\n", out_dir.c_str());
        return 1;
    }
    std::printf("{\"items\": %ld, \"out\": \"%s\"}\n", count, out_dir.c_str());
    return 0;
}
