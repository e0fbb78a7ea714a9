#pragma once
// The FEAB report in three forms: a summary table for the terminal, report.json for machines and
// report.html for people (self-contained: inline CSS and SVG plots drawn here, no external
// asset, readable offline).
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "plugin/feab/input.hpp"
#include "plugin/feab/score.hpp"
#include "verify/errors.hpp"

namespace seke::feab {

struct InputSummary {
    std::string truth_path;
    std::string predictions;      // the predictions file, or "store <path>"
    int truth_lines = 0;          // non-blank lines of the truth file
    std::size_t truth_items = 0;  // truth items scored against (lines that were not skipped)
    std::size_t prediction_records = 0;
    std::size_t matched = 0;  // truth items with a prediction
};

// What `seke feab run` asked of the model, for the report.
struct BenchmarkRun {
    std::string mode;  // greedy | single | uamc
    std::string model;
    std::string model_version;
    std::string db;
    std::int64_t jobs = 0;  // benchmark items sent to the labeler
    std::int64_t labeled_now = 0;
    std::int64_t already_done = 0;  // finished by an earlier run into the same store
    std::int64_t failed = 0;
    std::int64_t skipped = 0;
    std::int64_t requests = 0;
    std::int64_t samples = 0;
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    double seconds = 0;
    bool interrupted = false;
};

struct Report {
    InputSummary inputs;
    std::optional<BenchmarkRun> run;
    Scores scores;
    ProblemLog problems;
    std::optional<LabelCost> cost;  // when the predictions carry their cost
};

// The terminal summary: every figure to 4 decimals, the problems counted and the first few shown.
std::string summary_text(const Report& report);
nlohmann::ordered_json report_json(const Report& report);
std::string report_html(const Report& report);
// Writes DIR/report.json and DIR/report.html (creating DIR).
Result<bool> write_report(const Report& report, const std::string& dir);

}  // namespace seke::feab
