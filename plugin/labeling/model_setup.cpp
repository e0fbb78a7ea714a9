#include "plugin/labeling/model_setup.hpp"

#include <fstream>
#include <sstream>

#include "connectors/crypto.hpp"
#include "connectors/face_expert.hpp"
#include "plugin/labeling/knowledge_json.hpp"

namespace seke {

Result<ModelSetup> load_model_setup(const Config& config) {
    std::string path =
        config.run.knowledge_path.empty() ? data_dir() + "/config/knowledge.json" : config.run.knowledge_path;
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::config_error, "cannot read the knowledge file " + path);
    std::ostringstream text;
    text << in.rdbuf();
    auto knowledge = parse_knowledge(text.str());
    if (!knowledge) return make_error(errc::config_error, knowledge.error().message + " (" + path + ")");
    std::string version =
        config.run.model_version.empty() ? derive_model_version(config, text.str()) : config.run.model_version;
    return ModelSetup{std::move(*knowledge), std::move(version)};
}

namespace {

std::string models_dir(const Config& config) {
    return config.model.expert_models_dir.empty() ? data_dir() + "/models" : config.model.expert_models_dir;
}

}  // namespace

Result<std::shared_ptr<const FaceExpert>> load_expert(const Config& config) {
    const bool wanted = config.model.provider == Provider::expert || config.model.expert;
    if (!wanted) return std::shared_ptr<const FaceExpert>{};
    const std::string root = models_dir(config);
    auto expert = FaceExpert::load({root + "/face-api", root + "/human"});
    if (!expert && config.model.provider != Provider::expert)
        return make_error(expert.error().code,
                          expert.error().message + " (or label with the VLLM alone: --expert off, SEKE_EXPERT=off)");
    return expert;
}

FaceOptions face_options(const Config& config, std::shared_ptr<const FaceExpert> expert) {
    FaceOptions face = config.face;
    if (face.detector_model.empty())
        face.detector_model = data_dir() + "/models/face-api/tiny_face_detector_model-weights_manifest.json";
    face.expert = std::move(expert);
    return face;
}

EngineConfig engine_config(const Config& config) {
    EngineConfig engine = config.engine;
    engine.expert_only = config.model.provider == Provider::expert;
    return engine;
}

ExpertSettings expert_settings(const Config& config) {
    ExpertSettings settings;
    settings.min_face_score = config.model.expert_min_face_score;
    return settings;
}

std::string provider_summary(const Config& config) {
    if (config.model.provider == Provider::expert)
        return "the built-in face expert (provider expert: no key, no network" +
               std::string(config.vllm.base_url.empty() && config.vllm.api_key.empty()
                               ? "; set OPENAI_BASE_URL or --provider openai for a vision LLM)"
                               : ")");
    std::string where;
    for (const auto& endpoint : config.vllm.endpoints)
        where += (where.empty() ? "" : ", ") + endpoint_label(endpoint.base_url);
    if (where.empty()) where = endpoint_label(config.vllm.base_url);
    return "the vision LLM " + config.vllm.model + " at " + where +
           (config.model.expert ? ", the built-in face expert as a second opinion" : ", without the built-in expert");
}

std::string derive_model_version(const Config& config, const std::string& knowledge_text) {
    // The expert provider asks no VLLM: its labels are the expert's whatever vllm.model says.
    const bool expert_only = config.model.provider == Provider::expert;
    const std::string model = expert_only ? std::string("expert") : config.vllm.model;
    const std::string mode = expert_only ? std::string("expert") : get_option(config, "engine.mode");
    std::string basis = model + "|" + mode + "|" + knowledge_text;
    for (const auto& info : option_table()) {
        const bool decides = info.key.rfind("model.", 0) == 0 || (!expert_only && info.key.rfind("engine.", 0) == 0);
        if (decides && info.key != "model.expert_models") basis += "|" + info.key + "=" + get_option(config, info.key);
    }
    return "seke-" SEKE_VERSION "/" + model + "/" + mode + "-" + sha256_hex(basis).substr(0, 8);
}

}  // namespace seke
