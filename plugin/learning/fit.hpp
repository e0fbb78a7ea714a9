#pragma once
// Learning from reviews: `fit` turns every accepted, corrected or rejected face into calibration
// examples and few-shot exemplars, and names the result with a new model_version only when it
// changed something. The current fit is one immutable LearnedModel behind a LearnedState, which
// the servers read per request; older fits stay in the store by version.
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/learning/calibration.hpp"
#include "plugin/config/fit_settings.hpp"
#include "plugin/records/store.hpp"
#include "plugin/sql/listener.hpp"
#include "verify/few_shot.hpp"
#include "verify/knowledge.hpp"

namespace seke {

// What one fit produced; immutable once published.
struct LearnedModel {
    std::string base_version;   // the model setup's own version (model, sampling, knowledge)
    std::string model_version;  // base_version, or base_version+fit-<hash> once a fit changed something
    CalibrationSet calibration;
    std::shared_ptr<const FewShotExamples> exemplars = std::make_shared<FewShotExamples>();
    std::size_t reviews = 0;  // reviewed faces the fit saw
    std::string fitted_at;    // "" before any fit
};

// The current LearnedModel, swapped whole by a fit; readers keep the one they took.
class LearnedState {
  public:
    explicit LearnedState(std::shared_ptr<const LearnedModel> model) : model_(std::move(model)) {}
    // The last fit stored for `base_version`, or an unfitted model.
    static Result<std::shared_ptr<LearnedState>> load(Store& store, const std::string& base_version);

    [[nodiscard]] std::shared_ptr<const LearnedModel> current() const;
    void publish(std::shared_ptr<const LearnedModel> model);

  private:
    mutable std::mutex mutex_;
    std::shared_ptr<const LearnedModel> model_;
};

// Picks up a fit stored by another process (`seke fit`, another replica) without a restart: reads
// the current fit's version on its own thread and, when it differs from the one published, loads
// it, publishes it and calls `changed` (the engine's exemplars follow). It looks every `interval`
// (one indexed row read), and on PostgreSQL also at once when a fit is stored: the storing
// transaction notifies, and the watcher listens on a session of its own (renewed with backoff
// when lost, reported through `log`; the interval's look stays the fallback).
class FitWatcher {
  public:
    FitWatcher(Store& store, LearnedState& learned,
               std::function<void(const std::shared_ptr<const LearnedModel>&)> changed,
               std::chrono::milliseconds interval = std::chrono::seconds(2),
               std::function<void(const std::string&)> log = {});
    ~FitWatcher();
    FitWatcher(const FitWatcher&) = delete;
    FitWatcher& operator=(const FitWatcher&) = delete;

    // One look now (the thread's work; tests call it): true when a new fit was published.
    bool check();

  private:
    Store& store_;
    LearnedState& learned_;
    std::function<void(const std::shared_ptr<const LearnedModel>&)> changed_;
    std::chrono::milliseconds interval_;
    std::unique_ptr<sql::Listener> listener_;  // on PostgreSQL
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

struct FitOutcome {  // NOLINT(bugprone-exception-escape): its implicit constructor only allocates
    bool changed = false;
    std::shared_ptr<const LearnedModel> model;  // the new model when changed, else the current one
    nlohmann::json summary;                     // reviews, examples per level, trusted levels, exemplars
};

// Reads every reviewed face, fits, and when the result differs from `current` stores it (as a
// "fit" document) and returns it with its new version. Does not publish: the caller does.
// `knowledge` orders the classes exemplars are chosen to cover (null: by name).
Result<FitOutcome> fit_from_reviews(Store& store, const LearnedModel& current, const FitSettings& settings,
                                    const Knowledge* knowledge);

// The uncertainty a platform is shown: each level replaced by its calibrated probability of
// error and `overall` by the face's, so a score of 1 − overall ranks like the review queue.
Uncertainty calibrated_uncertainty(const CalibrationSet& calibration, const Uncertainty& u,
                                   const LevelProvenance& provenance);

// --- the review queue -----------------------------------------------------------------------

struct QueueOptions {
    std::string item_prefix;  // "" = every item
    std::size_t limit = 50;
    std::optional<Level> level;  // rank by this level's probability of error only
    int diversity_bits = 0;      // > 0: skip faces whose phash is within this many bits of one already taken
};

struct QueueEntry {
    std::string face_id;
    std::string item_id;
    double error_probability = 0;         // what ranks
    std::array<double, 3> level_error{};  // per level, calibrated
    Uncertainty uncertainty;
};

// limit (1..10000, default 50), level (expression | va | au) and diversity (0..32 bits) from a
// query string's parameters, read through `param`; errors name the parameter.
Result<QueueOptions> parse_queue_options(const std::function<std::optional<std::string>(const std::string&)>& param);

// Unreviewed faces, most likely wrong first, by the model's calibration (identity before any fit).
Result<std::vector<QueueEntry>> review_queue(Store& store, const LearnedModel& model, const QueueOptions& options);

// Number of differing bits of two 16-hex-digit hashes; 64 when either is unreadable.
int phash_distance(const std::string& a, const std::string& b);

}  // namespace seke
