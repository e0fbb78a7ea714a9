#pragma once
// The Label Studio ML backend routes (protocol notes §1): /, /health, /setup, /predict,
// /webhook, /train, /versions, /metrics. Handlers parse the JSON at the edge, answer /health and
// /setup at once, and run /predict on the fetch and media threads and the engine with a
// deadline: tasks finished by then are answered, the rest go on, are stored, and are pushed to
// Label Studio when it is configured. Review merges (annotation webhooks) and fits
// (START_TRAINING, /train) run one at a time on the backend's own thread, which answers them
// when they are done.
#include <memory>
#include <string>

#include "connectors/image.hpp"
#include "connectors/label_studio.hpp"
#include "plugin/config/config.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "plugin/labeling/media_work.hpp"
#include "plugin/learning/fit.hpp"
#include "plugin/server/metrics.hpp"
#include "plugin/server/router.hpp"
#include "plugin/records/store.hpp"
#include "verify/knowledge.hpp"

namespace seke::label_studio {

struct BackendDeps {
    const Config& config;
    const Knowledge& knowledge;
    Store& store;
    EngineService& engine;
    LabelStudioClient& media;
    const FacePreparer& preparer;
    server::MetricsRegistry& metrics;
    LearnedState& learned;                   // model_version, calibration and exemplars; swapped by fit
    MediaWork& media_work;                   // fetch, media and deadline threads, shared with CVAT; outlive the backend
    const VllmStats* model_stats = nullptr;  // reported on /metrics when set
};

class Backend {
  public:
    explicit Backend(BackendDeps deps);
    ~Backend();  // shutdown()
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;

    // Registers the routes, wrapped in the configured auth.
    void add_routes(server::Router& router);
    // Waits up to `grace` for tasks still running after their /predict answered, then cancels
    // them; then lets the merges and fits already asked for finish and answer.
    void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace seke::label_studio
