#include "plugin/cli/runtime.hpp"

#include <cstdio>

namespace seke {

FittedState fitted_state_for_batch(const Config& config) {
    return config.run.use_fit ? FittedState::last_fit : FittedState::none;
}

std::string Runtime::model_version() const {
    return learned->current()->model_version;
}

Result<std::unique_ptr<Runtime>> open_runtime(const Config& config, ModelSetup setup, FittedState fitted,
                                              bool batch_requests) {
    auto runtime = std::make_unique<Runtime>();
    runtime->setup = std::move(setup);
    auto expert = load_expert(config);
    if (!expert) return expert.error();
    runtime->expert = std::move(*expert);
    runtime->face = face_options(config, runtime->expert);
    runtime->engine_config = engine_config(config);
    std::fprintf(stderr, "seke: labeling with %s\n", provider_summary(config).c_str());
    auto store = Store::open(config.run.db_path, config.run.db_wait_ms);
    if (!store) return store.error();
    runtime->store = std::move(*store);
    runtime->cache = std::make_unique<StoreResponseCache>(*runtime->store);
    runtime->batches = std::make_unique<StoreBatchLedger>(*runtime->store);
    VllmSettings vllm = config.vllm;
    if (!batch_requests) vllm.batch.mode = BatchMode::off;
    runtime->client = std::make_unique<VllmClient>(std::move(vllm), runtime->cache.get(), runtime->batches.get());
    const std::string& base_version = runtime->setup.model_version;
    if (fitted == FittedState::last_fit) {
        auto learned = LearnedState::load(*runtime->store, base_version);
        if (!learned) return learned.error();
        runtime->learned = std::move(*learned);
    } else {
        auto unfitted = std::make_shared<LearnedModel>();
        unfitted->base_version = base_version;
        unfitted->model_version = base_version;
        runtime->learned = std::make_shared<LearnedState>(std::move(unfitted));
    }
    runtime->engine = std::make_unique<EngineService>(runtime->setup.knowledge, runtime->engine_config,
                                                      *runtime->client, expert_settings(config));
    runtime->engine->set_examples(runtime->learned->current()->exemplars);
    return runtime;
}

}  // namespace seke
