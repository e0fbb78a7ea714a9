#pragma once
// What decides labels, loaded once per command: the knowledge file, the model_version and the
// face options with the shipped detector model. Every front end (label, serve, cvat, feab, fit)
// takes these from here.
#include <string>

#include "connectors/image.hpp"
#include "plugin/config/config.hpp"
#include "verify/errors.hpp"
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

// config.face with the default detector model (models/face-api/ in seke's data) filled in.
FaceOptions face_options(const Config& config);

}  // namespace seke
