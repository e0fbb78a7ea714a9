#pragma once
// The batch driver: hands every face to the engine service (one SV-UAMC state machine per face),
// with images prepared on a small thread pool, everything bounded, results group-committed.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "connectors/image.hpp"
#include "connectors/vllm_client.hpp"
#include "plugin/config/config.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "plugin/labeling/manifest.hpp"
#include "plugin/records/store.hpp"
#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke {

struct RunProgress {
    std::int64_t total = 0;     // jobs in this run (already finished ones excluded)
    std::int64_t finished = 0;  // done + failed + skipped, by this process
    // A job shared with other workers (a PostgreSQL store): the whole job's items and how many of
    // them are finished, by any worker.
    bool shared = false;
    std::int64_t job_items = 0;
    std::int64_t job_finished = 0;
    std::int64_t failed = 0;
    std::int64_t skipped = 0;
    std::int64_t faces = 0;
    Cost cost;  // summed over finished faces
    // What this run paid the model for so far (the client's usage, unfinished faces included),
    // and its price; nullopt without a price for the model.
    TokenCounts spent;
    std::optional<double> spent_usd;
    double elapsed_s = 0;
};

struct RunSummary {
    RunProgress progress;
    std::int64_t already_done = 0;  // skipped because a previous run finished them
    std::int64_t http_requests = 0;
    std::int64_t retries = 0;
    bool interrupted = false;
    // Why the run ended before every item was finished: "interrupted" (stop), "max_cost" or
    // "max_requests" (a cap of cost.*: the next model request would have passed it), "batch_out"
    // (file mode: a round's requests were written for an offline runner). Empty: it did not.
    std::string stopped;
    std::vector<std::pair<std::string, std::string>> failures;  // id, reason (first 50)
    std::string job;                                            // the shared job's name ("" when not shared)
    std::string worker;                                         // this worker's name in it
};

using ProgressCallback = std::function<void(const RunProgress&)>;

// One job's image read and its faces found as a run finds them: a manifest's own face box is the
// image's one face (no detector runs), else the preparer's detector finds them.
Result<PreparedImage> prepare_job(const FacePreparer& preparer, const LabelJob& job, const ImageLimits& limits);

// What a run labels with; everything must outlive the run.
struct LabelRunDeps {
    const Config& config;
    const Knowledge& knowledge;
    const FaceOptions& face;  // the runtime's: the detector model and the expert filled in
    Store& store;
    EngineService& engine;          // its few-shot examples are the ones the faces are shown
    const VllmStats& client_stats;  // of the engine's client: the run reports its HTTP requests and retries
    std::string model_version;      // what the face records are labeled by
};

class LabelRun {
  public:
    explicit LabelRun(LabelRunDeps deps);

    // Labels every job not already finished in the store. On a shared store the jobs are one label
    // job that every worker given the same input shares: each item is claimed with a lease, and
    // the run ends when the whole job is finished. Stops early (keeping everything finished, giving
    // back what it holds) when `stop` becomes true. With a cap (config.cost), stops the same
    // way when the engine refuses the next request, but lets the requests in flight finish (and
    // keeps the items they finish). `progress` is called from this thread, at most about ten
    // times a second.
    Result<RunSummary> run(const std::vector<LabelJob>& jobs, const std::atomic<bool>& stop,
                           const ProgressCallback& progress);

  private:
    LabelRunDeps deps_;
};

}  // namespace seke
