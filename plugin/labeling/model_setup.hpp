#pragma once
// What decides labels, loaded once per command: the knowledge file, the model_version and the
// face options with the shipped detector model. Every front end (label, serve, cvat, feab, fit)
// takes these from here.
#include <memory>
#include <string>

#include "connectors/image.hpp"
#include "plugin/config/config.hpp"
#include "verify/errors.hpp"
#include "verify/expert.hpp"
#include "verify/knowledge.hpp"

namespace seke {

// The knowledge file (run.knowledge or the shipped one) and the model_version (run.model_version,
// or derived from the model, sampling and knowledge).
struct ModelSetup {
    Knowledge knowledge;
    std::string model_version;
};
Result<ModelSetup> load_model_setup(const Config& config);

// "seke-<version>/<model>/<mode>-<hash>": changes whenever what decides labels changes.
std::string derive_model_version(const Config& config, const std::string& knowledge_text);

// The built-in face expert when the provider is the expert, or when it reads every face beside a
// VLLM (model.expert); null otherwise. Errors: not_found when its weights are missing (the
// message says how to get them), config_error when a file is not the expected model.
Result<std::shared_ptr<const FaceExpert>> load_expert(const Config& config);

// config.face with the default detector model (models/face-api/ in seke's data) and `expert`
// (null: faces are not read by the expert) filled in.
FaceOptions face_options(const Config& config, std::shared_ptr<const FaceExpert> expert = nullptr);

// config.engine as the provider needs it: the expert provider labels from the expert alone.
EngineConfig engine_config(const Config& config);
ExpertSettings expert_settings(const Config& config);

// One line for the log: who labels, and why that provider was chosen.
std::string provider_summary(const Config& config);

}  // namespace seke
