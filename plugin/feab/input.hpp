#pragma once
// What `seke feab` reads: the benchmark's truth file and the predictions to score, parsed at the
// edge into typed items in the knowledge file's terms (class and AU indices). Nothing bad is
// dropped silently: every skipped line, dropped level and ignored label becomes a Problem.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/records/store.hpp"
#include "verify/errors.hpp"
#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke::feab {

// The labels of one face as indices into the knowledge's classes and AU list.
struct FaceLabels {
    std::optional<int> expression;
    std::optional<std::vector<int>> action_units;  // sorted, unique AU indices judged present
    std::optional<double> valence;
    std::optional<double> arousal;
    // Predictions only: sorted AU indices the predictor did not judge (the built-in expert's
    // `au_unknown`), scored neither right nor wrong.
    std::vector<int> action_units_unknown;
};

struct TruthItem {
    std::string id;
    std::string source;  // dataset name; "" when the line has none
    std::string image;   // optional "image" field, used by `seke feab run`
    int line = 0;
    FaceLabels labels;
    // Sorted AU indices the source did not code (outside the line's `au_coded`), scored neither
    // right nor wrong. Empty: every AU coded.
    std::vector<int> action_units_uncoded;
};

// Uncertainty a prediction carries, per level and overall (FEID records carry all four).
struct PredictedUncertainty {
    std::optional<double> expression;
    std::optional<double> va;
    std::optional<double> au;
    std::optional<double> overall;
    [[nodiscard]] bool any() const noexcept { return expression || va || au || overall; }
};

struct Prediction {
    std::string id;
    int line = 0;  // line of the predictions file, or row number in the store
    FaceLabels labels;
    PredictedUncertainty uncertainty;
    int prior_levels = 0;  // levels whose provenance is not the model (FEID records only)
    // What labeling it cost, when the record says (a FEID record's "cost"): every answer used.
    std::optional<TokenCounts> tokens;
};

enum class InputFile { truth, predictions, store };
std::string_view input_file_name(InputFile file) noexcept;

enum class ProblemKind {
    not_json,             // the line is not a JSON object: skipped
    missing_id,           // no string "id": skipped
    duplicate_id,         // the id came before: this line is skipped, the first one is used
    no_labels,            // a truth line with no usable level: skipped
    unknown_expression,   // label not among the knowledge's classes: the expression level is dropped
    unknown_action_unit,  // code not in the knowledge's AU set: that code is ignored
    bad_value,            // a field of the wrong type: that field is dropped
    out_of_range,         // valence/arousal outside [-1, 1]: that value is dropped
    not_in_truth,         // a prediction for an id the truth file does not have: not scored
    no_prediction,        // a truth item with no prediction: left out of every metric
    other_model_version,  // a stored record from another model version: not scored
};
std::string_view problem_kind_name(ProblemKind kind) noexcept;
// True when the kind means the whole line or item is left out (rather than one field).
bool problem_skips_item(ProblemKind kind) noexcept;

struct Problem {
    InputFile file = InputFile::truth;
    int line = 0;  // 1-based line of the file; for the store, the record's row number
    std::string id;
    ProblemKind kind = ProblemKind::not_json;
    std::string reason;
};

// Every problem is counted; the first `kept_per_kind` of each (file, kind) are kept in full so a
// file with 100,000 bad lines still gives a bounded report.
class ProblemLog {
  public:
    explicit ProblemLog(std::size_t kept_per_kind = 200) : kept_per_kind_(kept_per_kind) {}
    void add(Problem problem);
    [[nodiscard]] std::size_t total() const noexcept { return total_; }
    [[nodiscard]] std::size_t count(InputFile file, ProblemKind kind) const;
    [[nodiscard]] const std::map<std::pair<InputFile, ProblemKind>, std::size_t>& counts() const noexcept {
        return counts_;
    }
    [[nodiscard]] const std::vector<Problem>& kept() const noexcept { return kept_; }
    [[nodiscard]] std::size_t kept_per_kind() const noexcept { return kept_per_kind_; }

  private:
    std::size_t kept_per_kind_;
    std::size_t total_ = 0;
    std::map<std::pair<InputFile, ProblemKind>, std::size_t> counts_;
    std::vector<Problem> kept_;
};

// The knowledge's classes and AU list, with memoised canonicalisation (labels repeat a lot).
class Vocabulary {
  public:
    explicit Vocabulary(const Knowledge& knowledge);
    [[nodiscard]] const std::vector<std::string>& classes() const noexcept { return classes_; }
    [[nodiscard]] const std::vector<std::string>& action_units() const noexcept { return action_units_; }
    std::optional<int> expression_index(const std::string& label);
    std::optional<int> action_unit_index(const std::string& code);

  private:
    const Knowledge& knowledge_;
    std::vector<std::string> classes_;
    std::vector<std::string> action_units_;
    std::unordered_map<std::string, std::optional<int>> expression_memo_;
    std::unordered_map<std::string, std::optional<int>> action_unit_memo_;
};

struct TruthSet {
    std::vector<TruthItem> items;  // file order
    std::unordered_map<std::string, std::size_t> index_of;
    int lines = 0;  // non-blank lines read
};

// One truth line. nullopt when the line is skipped (the reason is in `problems`).
std::optional<TruthItem> parse_truth_line(std::string_view line, int line_number, Vocabulary& vocabulary,
                                          ProblemLog& problems);
// A whole truth file. Errors only when it cannot be read (not_found / io_error).
Result<TruthSet> read_truth_file(const std::string& path, Vocabulary& vocabulary, ProblemLog& problems);
// The same from text (tests).
TruthSet read_truth_text(std::string_view text, Vocabulary& vocabulary, ProblemLog& problems);

// Which labels of a FEID record to score: what it says now (after any human review), or what
// the model answered before review.
enum class RecordLabels { current, model };

// One prediction: a FEID record (nested "labels", "uncertainty", "provenance") or a plain
// {id, expression, action_units, valence, arousal, uncertainty?}. nullopt when skipped.
std::optional<Prediction> parse_prediction(const nlohmann::ordered_json& value, InputFile file, int line_number,
                                           RecordLabels which, Vocabulary& vocabulary, ProblemLog& problems);
std::optional<Prediction> parse_prediction_line(std::string_view line, int line_number, RecordLabels which,
                                                Vocabulary& vocabulary, ProblemLog& problems);

// Predictions lined up with the truth items: slot i holds the prediction for truth item i.
struct MatchedPredictions {
    std::vector<std::optional<Prediction>> by_truth_item;
    std::size_t records = 0;  // predictions read (matched or not)
};

// Puts predictions in their truth item's slot; reports unknown and duplicate ids.
class PredictionMatcher {
  public:
    explicit PredictionMatcher(const TruthSet& truth);
    [[nodiscard]] bool knows(const std::string& id) const { return truth_.index_of.count(id) > 0; }
    void add(Prediction prediction, InputFile file, ProblemLog& problems);
    void count_record() noexcept { ++matched_.records; }
    // Reports every truth item left without a prediction (with the reason from `known_reasons`
    // when it has one, e.g. why the model failed on it), and hands the slots over.
    MatchedPredictions finish(ProblemLog& problems,
                              const std::unordered_map<std::string, std::string>& known_reasons = {}) &&;

  private:
    const TruthSet& truth_;
    MatchedPredictions matched_;
};

// A predictions file (JSONL) into `matcher`. Errors only when it cannot be read.
Result<bool> read_prediction_file(const std::string& path, RecordLabels which, Vocabulary& vocabulary,
                                  PredictionMatcher& matcher, ProblemLog& problems);

// The FEID records of a store into `matcher`. A record is matched by its face id, else by its
// item id (a face found inside a benchmark image). With `model_version`, records from any other
// version are reported and left out (a store shared between runs).
Result<bool> read_store_predictions(Store& store, const std::optional<std::string>& model_version, RecordLabels which,
                                    Vocabulary& vocabulary, PredictionMatcher& matcher, ProblemLog& problems);

}  // namespace seke::feab
