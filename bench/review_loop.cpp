// seke-bench-review: the review half of the active-learning loop, simulated from ground truth.
//
//   seke-bench-review simulate --db FILE --truth truth.jsonl [--fraction 0.5]
//       reviews that share of the faces (chosen by a hash of the id) as an annotator would:
//       expression → the truth; valence/arousal → the truth when either is off by more than 0.25;
//       action units → the truth when two or more differ. Merged into FEID like a real review.
//   seke-bench-review caught --db FILE --truth truth.jsonl [--budget 0.2] [--model-version V]
//       on the faces still unreviewed: the share of faces the annotator would change that fall in
//       the top `budget` of the queue, ranked by raw `overall` and by the stored fit's calibration.
//
// Prints one JSON object. The simulation lives here, not in seke: seke only sees its reviews.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/crypto.hpp"
#include "plugin/config/config.hpp"
#include "plugin/labeling/knowledge_json.hpp"
#include "plugin/learning/fit.hpp"
#include "plugin/learning/review.hpp"
#include "plugin/records/store.hpp"

using namespace seke;
using nlohmann::json;

namespace {

std::map<std::string, json> read_truth(const std::string& path) {
    std::map<std::string, json> rows;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) {
            json row = json::parse(line);
            rows[row["id"].get<std::string>()] = row;
        }
    return rows;
}

// What the simulated annotator leaves on the face.
LabelSet annotated(const LabelSet& model, const json& truth) {
    LabelSet out = model;
    out.expression = truth["expression"].get<std::string>();
    double tv = truth["valence"].get<double>(), ta = truth["arousal"].get<double>();
    if (!model.valence || !model.arousal || std::abs(*model.valence - tv) > 0.25 ||
        std::abs(*model.arousal - ta) > 0.25) {
        out.valence = tv;
        out.arousal = ta;
    }
    std::set<std::string> m(
        model.action_units ? model.action_units->begin() : std::vector<std::string>::const_iterator{},
        model.action_units ? model.action_units->end() : std::vector<std::string>::const_iterator{});
    std::set<std::string> t;
    for (const auto& au : truth["action_units"]) t.insert(au.get<std::string>());
    std::vector<std::string> differ;
    std::set_symmetric_difference(m.begin(), m.end(), t.begin(), t.end(), std::back_inserter(differ));
    if (differ.size() >= 2) out.action_units = std::vector<std::string>(t.begin(), t.end());
    return out;
}

bool would_change(const LabelSet& model, const json& truth) {
    LabelSet a = annotated(model, truth);
    return a.expression != model.expression || a.valence != model.valence || a.arousal != model.arousal ||
           a.action_units != model.action_units;
}

bool chosen_for_review(const std::string& id, double fraction) {
    return static_cast<double>(std::stoul(sha256_hex(id).substr(0, 8), nullptr, 16)) < fraction * 4294967296.0;
}

std::string arg(const std::vector<std::string>& args, const std::string& flag, const std::string& fallback) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == flag) return args[i + 1];
    return fallback;
}

int fail(const std::string& message) {
    std::fprintf(stderr, "seke-bench-review: %s\n", message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) return fail("usage: simulate|caught --db FILE --truth FILE ...");
    auto store = Store::open(arg(args, "--db", "seke.db"));
    if (!store) return fail(store.error().message);
    auto truth = read_truth(arg(args, "--truth", "truth.jsonl"));
    auto knowledge = load_knowledge_file(data_dir() + "/config/knowledge.json");
    if (!knowledge) return fail(knowledge.error().message);

    struct Face {
        std::string id;
        std::string truth_id;
        FeidRecord record;
    };
    std::vector<Face> faces;
    std::string labeled_by;  // the model setup's version, as the faces record it
    (*store)->for_each_face([&](const FaceRow& row) {
        if (labeled_by.empty()) labeled_by = row.model_version;
        auto record = row.record();
        std::string truth_id = row.item_id;  // one face per synthetic item
        if (record && truth.count(truth_id)) faces.push_back({row.id, truth_id, std::move(*record)});
        return true;
    });

    if (args[0] == "simulate") {
        double fraction = std::stod(arg(args, "--fraction", "0.5"));
        json counts = {{"accepted", 0}, {"corrected", 0}, {"rejected", 0}};
        for (auto& f : faces) {
            if (f.record.status != "auto" || !chosen_for_review(f.id, fraction)) continue;
            PredictedFace predicted = predicted_face(f.id, std::nullopt, f.record);
            ReviewedFace reviewed{std::nullopt, predicted.box, annotated(predicted.labels, truth[f.truth_id]), {}};
            auto outcome = diff_review({predicted}, {reviewed});
            auto merged =
                merge_review_into_record(*knowledge, f.record, outcome.faces[0], "simulated", "2026-01-01T00:00:00Z");
            std::string status(review_status_name(outcome.faces[0].status));
            if (auto saved = (*store)->save_review(f.id, status, merged); !saved) return fail(saved.error().message);
            counts[status] = counts[status].get<int>() + 1;
        }
        std::printf("%s\n", counts.dump().c_str());
        return 0;
    }
    if (args[0] == "caught") {
        double budget = std::stod(arg(args, "--budget", "0.2"));
        auto learned = LearnedState::load(**store, arg(args, "--model-version", labeled_by));
        if (!learned) return fail(learned.error().message);
        auto model = (*learned)->current();
        struct Ranked {
            double raw, calibrated;
            bool error;
        };
        std::vector<Ranked> rows;
        for (const auto& f : faces) {
            if (f.record.status != "auto") continue;
            Uncertainty u = f.record.uncertainty.values();
            rows.push_back({u.overall, model->calibration.face_error(u, f.record.model_provenance()),
                            would_change(f.record.model_labels(), truth[f.truth_id])});
        }
        auto caught = [&](bool calibrated) {
            std::vector<Ranked> sorted = rows;
            std::stable_sort(sorted.begin(), sorted.end(), [&](const Ranked& a, const Ranked& b) {
                return calibrated ? a.calibrated > b.calibrated : a.raw > b.raw;
            });
            std::size_t take = static_cast<std::size_t>(std::ceil(budget * static_cast<double>(sorted.size())));
            double errors = 0, found = 0;
            for (std::size_t i = 0; i < sorted.size(); ++i) {
                errors += sorted[i].error;
                if (i < take) found += sorted[i].error;
            }
            return errors > 0 ? found / errors : 0.0;
        };
        std::size_t errors =
            static_cast<std::size_t>(std::count_if(rows.begin(), rows.end(), [](const Ranked& r) { return r.error; }));
        json out = {{"unreviewed", rows.size()},
                    {"errors", errors},
                    {"budget", budget},
                    {"model_version", model->model_version},
                    {"calibrated", model->calibration.any_trusted()},
                    {"caught_uncalibrated", caught(false)},
                    {"caught_calibrated", caught(true)}};
        std::printf("%s\n", out.dump().c_str());
        return 0;
    }
    return fail("unknown command " + args[0]);
}
