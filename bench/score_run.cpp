// Scores an export of FEID records against a ground-truth file: the figures of the cost and
// quality benchmark (docs/benchmarks.md). Prints one JSON object.
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "plugin/feab/metrics.hpp"
#include "plugin/records/feid_record.hpp"

using nlohmann::json;
using seke::FeidRecord;

namespace {

std::map<std::string, json> read_truth(const std::string& path) {
    std::map<std::string, json> rows;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        json row = json::parse(line, nullptr, false);
        if (row.is_object() && row.contains("id")) rows[row["id"].get<std::string>()] = row;
    }
    return rows;
}

// An exported line that is not a FEID record is left out, as if it were missing.
std::map<std::string, FeidRecord> read_records(const std::string& path) {
    std::map<std::string, FeidRecord> rows;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        if (auto record = FeidRecord::parse(line)) rows[record->id] = std::move(*record);
    }
    return rows;
}

}  // namespace

int main(int argc, char** argv) {
    std::string truth_path, pred_path, label;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string flag = argv[i];
        if (flag == "--truth") truth_path = argv[i + 1];
        else if (flag == "--pred") pred_path = argv[i + 1];
        else if (flag == "--label") label = argv[i + 1];
    }
    if (truth_path.empty() || pred_path.empty()) {
        std::fprintf(stderr, "usage: seke-bench-score --truth truth.jsonl --pred feid.jsonl [--label NAME]\n");
        return 2;
    }
    auto truth = read_truth(truth_path);
    auto pred = read_records(pred_path);
    std::vector<std::string> t_expr, p_expr;
    std::vector<double> t_val, p_val, t_aro, p_aro, overall;
    // Each level's own uncertainty, to see which part of `overall` ranks the errors.
    std::vector<double> by_expression, by_va, by_au, by_consistency;
    std::vector<bool> wrong;
    std::map<std::string, seke::metrics::BinaryCounts> au_counts;
    double samples = 0, requests = 0, tokens = 0;
    std::size_t missing = 0;
    for (const auto& [id, t] : truth) {
        auto found = pred.find(id);
        if (found == pred.end()) {
            ++missing;
            continue;
        }
        const FeidRecord& p = found->second;
        const seke::LabelSet& labels = p.labels;
        std::string predicted = labels.expression.value_or("");
        t_expr.push_back(t["expression"].get<std::string>());
        p_expr.push_back(predicted);
        wrong.push_back(predicted != t["expression"].get<std::string>());
        overall.push_back(p.uncertainty.overall.value_or(1.0));
        by_expression.push_back(p.uncertainty.expression.value_or(0.0));
        by_va.push_back(p.uncertainty.va.value_or(0.0));
        by_au.push_back(p.uncertainty.au.value_or(0.0));
        by_consistency.push_back(p.uncertainty.consistency.value_or(0.0));
        if (labels.valence && labels.arousal) {
            t_val.push_back(t["valence"].get<double>());
            p_val.push_back(*labels.valence);
            t_aro.push_back(t["arousal"].get<double>());
            p_aro.push_back(*labels.arousal);
        }
        std::set<std::string> t_aus, p_aus;
        for (const auto& au : t["action_units"]) t_aus.insert(au.get<std::string>());
        if (labels.action_units) p_aus.insert(labels.action_units->begin(), labels.action_units->end());
        std::set<std::string> all = t_aus;
        all.insert(p_aus.begin(), p_aus.end());
        for (const auto& au : all) au_counts[au];
        for (auto& [au, c] : au_counts) {
            bool in_t = t_aus.count(au) > 0, in_p = p_aus.count(au) > 0;
            c.tp += in_t && in_p;
            c.fp += !in_t && in_p;
            c.fn += in_t && !in_p;
        }
        samples += p.cost.samples;
        requests += p.cost.requests + p.cost.cached_requests;
        tokens += static_cast<double>(p.cost.prompt_tokens + p.cost.completion_tokens);
    }
    double au_f1 = 0;
    for (const auto& [au, c] : au_counts) au_f1 += seke::metrics::f1(c);
    if (!au_counts.empty()) au_f1 /= static_cast<double>(au_counts.size());
    double n = static_cast<double>(t_expr.size());
    json out = {
        {"label", label},
        {"items", t_expr.size()},
        {"missing", missing},
        {"expression_accuracy", seke::metrics::accuracy(t_expr, p_expr)},
        {"au_mean_f1", au_f1},
        {"valence_ccc", seke::metrics::ccc(t_val, p_val)},
        {"arousal_ccc", seke::metrics::ccc(t_aro, p_aro)},
        {"samples_per_item", n > 0 ? samples / n : 0},
        {"requests_per_item", n > 0 ? requests / n : 0},
        {"tokens_per_item", n > 0 ? tokens / n : 0},
        {"auroc_overall_for_expression_error", seke::metrics::auroc(overall, wrong)},
        {"auroc_by_level_for_expression_error",
         {{"expression", seke::metrics::auroc(by_expression, wrong)},
          {"va", seke::metrics::auroc(by_va, wrong)},
          {"au", seke::metrics::auroc(by_au, wrong)},
          {"consistency", seke::metrics::auroc(by_consistency, wrong)}}},
        {"expression_errors_in_top20_uncertain", seke::metrics::positives_caught_at_budget(overall, wrong, 0.2)}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
}
