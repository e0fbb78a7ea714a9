#pragma once
// What the labeling commands (label, serve, cvat annotate, feab run) run on, built one way from
// the Config: the model setup, the store, the response cache in it, the VLLM client, the learned
// state and the engine service showing the learned few-shot examples.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "connectors/vllm_client.hpp"
#include "plugin/config/config.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "plugin/labeling/model_setup.hpp"
#include "plugin/learning/fit.hpp"
#include "plugin/records/store.hpp"
#include "verify/errors.hpp"

namespace seke {

// Whether the last fit of the model setup decides the labels: its few-shot examples are shown to
// the model and its model_version names the records. `none` labels with the setup as configured.
enum class FittedState { last_fit, none };

// `seke label` and `seke cvat annotate`: the last fit unless run.use_fit is off.
FittedState fitted_state_for_batch(const Config& config);

// The members refer to one another (and to the Config): built in place, never moved.
struct Runtime {
    ModelSetup setup;
    std::shared_ptr<const FaceExpert> expert;  // null when the provider and model.expert need none
    FaceOptions face;                          // what the command's face preparers take: the expert included
    EngineConfig engine_config;                // config.engine as the provider needs it
    std::unique_ptr<Store> store;
    std::unique_ptr<StoreResponseCache> cache;
    std::unique_ptr<StoreBatchLedger> batches;  // the batches a --batch run submitted
    std::unique_ptr<VllmClient> client;
    std::shared_ptr<LearnedState> learned;  // the last fit, or the unfitted setup (FittedState::none)
    std::unique_ptr<EngineService> engine;  // last, so destroyed first: it calls into the client

    Runtime() = default;
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    // What the labels are recorded under: the learned model's version (the setup's before any fit).
    [[nodiscard]] std::string model_version() const;
};

// Opens the store at config.run.db_path and builds the rest on it, and logs one line saying who
// labels. `config` must outlive the runtime. Fails when the expert's weights, the store or its
// last fit cannot be read: the command exits kExitFatal. The client batches its requests
// (vllm.batch*) only with `batch_requests` (seke label): a server answers while it is asked.
Result<std::unique_ptr<Runtime>> open_runtime(const Config& config, ModelSetup setup, FittedState fitted,
                                              bool batch_requests = false);

// vllm.model's price as the summaries show it ({model, input, cached_input, output,
// batch_discount, as_of}); null without one.
nlohmann::ordered_json price_json(const Config& config);
// The price_note of a summary for a model without a price.
std::string no_price_note(const Config& config);

// A labeling summary's cost in money: what the run paid the model (`spent`, unfinished faces
// included) and what the labels finished cost (`cost`: every answer they used, response-cache
// hits included), at vllm.model's price (its batch rates when `batched`); without a price, the
// tokens alone and a note saying so.
void add_money(nlohmann::ordered_json& summary, const Config& config, const TokenCounts& spent, const Cost& cost,
               bool batched = false);

}  // namespace seke
