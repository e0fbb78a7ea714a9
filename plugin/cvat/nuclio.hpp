#pragma once
// seke as a CVAT auto-annotation function, answering CVAT the way a Nuclio dashboard would
// (protocol notes §1, §2.3): GET /api/functions, GET /api/functions/{name},
// POST /api/function_invocations, and POST / for CVAT's direct invocation mode. CVAT sends no
// credentials on this channel, so these routes carry none: bind seke to CVAT's network only.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "connectors/image.hpp"
#include "plugin/config/config.hpp"
#include "plugin/cvat/spec.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "plugin/labeling/media_work.hpp"
#include "plugin/learning/fit.hpp"
#include "plugin/server/metrics.hpp"
#include "plugin/server/router.hpp"
#include "plugin/records/store.hpp"
#include "verify/knowledge.hpp"

namespace seke::cvat {

// What CVAT posts to a detector (§1.2), parsed at the edge: {"image": base64, "threshold"?}.
struct DetectorCall {
    std::string image_bytes;  // the frame, decoded from base64; never empty
    double threshold = 0;     // in [0, 1]; the default when the body has none
};
// Errors: bad_json (not JSON, not an object, nested deeper than kMaxJsonDepth); invalid_argument
// (no "image" base64 string, a threshold that is not a number from 0 to 1).
Result<DetectorCall> parse_detector_call(const std::string& text, double default_threshold);

struct NuclioDeps {
    const Config& config;
    const Knowledge& knowledge;
    Store& store;
    EngineService& engine;
    const FacePreparer& preparer;
    server::MetricsRegistry& metrics;
    FunctionSpec spec;
    LearnedState& learned;
    MediaWork& media_work;  // media and deadline threads, shared with Label Studio; outlive this
};

class NuclioFunction {
  public:
    explicit NuclioFunction(NuclioDeps deps);
    ~NuclioFunction();  // shutdown()
    NuclioFunction(const NuclioFunction&) = delete;
    NuclioFunction& operator=(const NuclioFunction&) = delete;

    void add_routes(server::Router& router);
    // The port seke listens on: reported as status.httpPort unless cvat.http_port is set.
    void set_listening_port(int port);
    // Waits up to `grace` for invocations still labeling, then lets the engine cancel them.
    void shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace seke::cvat
