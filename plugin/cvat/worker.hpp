#pragma once
// The REST worker (protocol notes §4): labels every face of a CVAT task (or one job of it) and
// writes the faces as shapes with PATCH …/annotations?action=create, recording the ids CVAT
// gives them so a review can be diffed later. Frames that already carry seke's shapes are
// skipped, so a re-run adds nothing twice; a frame whose image bytes another path already
// labeled (CVAT's function call, Label Studio) reuses those labels instead of paying again.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/cvat_client.hpp"
#include "connectors/image.hpp"
#include "plugin/cvat/spec.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "plugin/labeling/label_run.hpp"
#include "plugin/records/store.hpp"
#include "verify/knowledge.hpp"

namespace seke::cvat {

struct AnnotateRequest {
    long long task_id = -1;           // -1: the job's task
    std::optional<long long> job_id;  // only this job's frames
    int frames_in_flight = 4;         // frames being fetched, labeled or written at once
};

struct AnnotateDeps {
    const Knowledge& knowledge;
    const FunctionSpec& spec;
    Store& store;
    EngineService& engine;
    const FacePreparer& preparer;
    CvatClient& client;
    std::string model_version;
};

struct FrameFailure {
    long long frame = 0;
    std::string code;  // errc name
    std::string reason;
};

struct AnnotateSummary {
    long long task_id = -1;
    long long job_id = -1;
    std::int64_t frames = 0;             // in range, deleted ones excluded
    std::int64_t deleted = 0;            // deleted in CVAT, not touched
    std::int64_t already_annotated = 0;  // carried seke's shapes before this run
    std::int64_t labeled = 0;            // labeled by the model in this run
    std::int64_t reused = 0;             // labels found in the store by image content
    std::int64_t failed = 0;
    std::int64_t faces = 0;
    std::int64_t shapes_created = 0;
    std::int64_t tags_created = 0;  // frame tags, with a tag label (one per frame written)
    Cost cost;
    bool interrupted = false;
    double seconds = 0;
    std::vector<std::string> label_problems;  // attributes that will not be written, and why
    std::vector<FrameFailure> failures;       // the first 100
};

// Labels and writes every frame. Errors only for what stops the whole run (labels, frame
// metadata, the job); a frame that fails is reported through `on_failure` and in the summary,
// and the run goes on. `progress` and `on_failure` are called one at a time.
Result<AnnotateSummary> annotate(const AnnotateDeps& deps, const AnnotateRequest& request,
                                 const std::atomic<bool>& stop, const std::function<void(const RunProgress&)>& progress,
                                 const std::function<void(const FrameFailure&)>& on_failure);

nlohmann::ordered_json annotate_summary_json(const AnnotateSummary& summary);

}  // namespace seke::cvat
