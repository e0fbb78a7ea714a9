#include "plugin/labeling/model_setup.hpp"

#include <fstream>
#include <sstream>

#include "connectors/crypto.hpp"
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

FaceOptions face_options(const Config& config) {
    FaceOptions face = config.face;
    if (face.detector_model.empty())
        face.detector_model = data_dir() + "/models/face-api/tiny_face_detector_model-weights_manifest.json";
    return face;
}

std::string derive_model_version(const Config& config, const std::string& knowledge_text) {
    std::string mode = get_option(config, "engine.mode");
    std::string basis = config.vllm.model + "|" + mode + "|" + knowledge_text;
    for (const auto& info : option_table())
        if (info.key.rfind("engine.", 0) == 0) basis += "|" + info.key + "=" + get_option(config, info.key);
    return "seke-" SEKE_VERSION "/" + config.vllm.model + "/" + mode + "-" + sha256_hex(basis).substr(0, 8);
}

}  // namespace seke
