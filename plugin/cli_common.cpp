#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "plugin/cli.hpp"
#include "plugin/config.hpp"
#include "plugin/knowledge_json.hpp"
#include "plugin/label_run.hpp"

namespace seke {

Result<ModelSetup> load_model_setup(const Config& config) {
    std::string path = config.run.knowledge_path.empty() ? data_dir() + "/config/knowledge.json" : config.run.knowledge_path;
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

int report_error(const Error& error, int exit_code) {
    nlohmann::json body = {{"error", {{"code", errc_name(error.code)}, {"message", error.message}}}};
    std::fprintf(stderr, "%s\n", body.dump().c_str());
    return exit_code;
}

}  // namespace seke
