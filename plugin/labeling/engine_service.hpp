#pragma once
// Runs SV-UAMC state machines for many faces over one VLLM client, on one thread of its own.
// The batch driver and the HTTP server both hand faces to it; only its thread touches the
// machines, so they need no locks. Completions come back through the caller's callback.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "connectors/vllm_client.hpp"
#include "verify/cost.hpp"
#include "verify/engine_config.hpp"
#include "verify/expert.hpp"
#include "verify/face_labeler.hpp"
#include "verify/few_shot.hpp"
#include "verify/knowledge.hpp"

namespace seke {

struct FaceJob {
    std::string jpeg;       // the crop shown to the model
    std::string crop_hash;  // sha256 of jpeg: part of the response cache key
    LabelSet known;         // facts (source/human labels)
    LevelProvenance known_provenance;
    std::optional<ExpertReading> expert;  // what the built-in expert read off the face, when it ran
};

class EngineService {
  public:
    using Done = std::function<void(FaceResult)>;

    // `knowledge`, `config` and `client` must outlive the service. `expert` says how the faces'
    // expert readings are interpreted.
    EngineService(const Knowledge& knowledge, const EngineConfig& config, VllmClient& client,
                  ExpertSettings expert = {});
    // Cancels what is still running (its callbacks get a failed result) and joins.
    ~EngineService();
    EngineService(const EngineService&) = delete;
    EngineService& operator=(const EngineService&) = delete;

    // Thread-safe. `done` runs exactly once, on the service's thread; keep it short.
    void submit(FaceJob job, Done done);
    // Thread-safe. Faces submitted after the call show `examples` (null: none) as few-shot turns
    // before each sample request; faces submitted before keep the set they started with.
    void set_examples(std::shared_ptr<const FewShotExamples> examples);
    // Stops sending: every face still running finishes at once with errc::cancelled.
    void cancel_all();
    // Thread-safe. From now on every model request is first reserved against `limits` (SpendCap,
    // priced at `price`): one that would pass a cap waits for the requests in flight; when none
    // could make room it is refused, and from then on every face finishes with errc::cancelled when
    // it would send its next request. Requests in flight are not cancelled: their answers are
    // paid for, so they reach the response cache and a later run uses them for free.
    void limit_spending(SpendLimits limits, std::optional<Price> price);
    // Why sending stopped ("max_cost", "max_requests"); empty while it goes on.
    [[nodiscard]] std::string spending_stopped() const;
    [[nodiscard]] std::size_t active() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace seke
