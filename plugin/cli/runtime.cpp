#include "plugin/cli/runtime.hpp"

#include <cstdio>

namespace seke {

FittedState fitted_state_for_batch(const Config& config) {
    return config.run.use_fit ? FittedState::last_fit : FittedState::none;
}

std::string Runtime::model_version() const {
    return learned->current()->model_version;
}

Result<std::unique_ptr<Runtime>> open_runtime(const Config& config, ModelSetup setup, FittedState fitted) {
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
    runtime->client = std::make_unique<VllmClient>(config.vllm, runtime->cache.get());
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

nlohmann::ordered_json price_json(const Config& config) {
    const std::optional<Price> price = model_price(config);
    if (!price) return nullptr;
    nlohmann::ordered_json shown = {{"model", config.vllm.model},
                                    {"input", price->input},
                                    {"cached_input", price->cached_input},
                                    {"output", price->output},
                                    {"batch_discount", price->batch_discount}};
    shown["as_of"] = price->as_of.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(price->as_of);
    return shown;
}

std::string no_price_note(const Config& config) {
    return "no price for model \"" + config.vllm.model + "\": tokens only (give cost.price or a cost.prices entry)";
}

void add_money(nlohmann::ordered_json& summary, const Config& config, const TokenCounts& spent, const Cost& cost) {
    const std::optional<Price> price = model_price(config);
    nlohmann::ordered_json paid = {{"prompt_tokens", spent.prompt},
                                   {"cached_prompt_tokens", spent.cached_prompt},
                                   {"completion_tokens", spent.completion}};
    paid["usd"] = price ? nlohmann::ordered_json(cost_usd(*price, spent)) : nlohmann::ordered_json(nullptr);
    summary["spent"] = std::move(paid);
    summary["cost_usd"] = price ? nlohmann::ordered_json(cost_usd(
                                      *price, {cost.prompt_tokens, cost.cached_prompt_tokens, cost.completion_tokens}))
                                : nlohmann::ordered_json(nullptr);
    summary["price"] = price_json(config);
    if (!price) summary["price_note"] = no_price_note(config);
}

}  // namespace seke
