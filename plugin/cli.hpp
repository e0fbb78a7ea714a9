#pragma once
// The `seke` command line: one function per subcommand, from arguments to an exit code.
#include <string>
#include <vector>

#include "connectors/image.hpp"
#include "verify/errors.hpp"
#include "verify/knowledge.hpp"

namespace seke {

// Exit codes every subcommand shares.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFatal = 1;        // store, knowledge or another resource unusable
inline constexpr int kExitUsage = 2;        // bad flags, config or input path
inline constexpr int kExitPartial = 3;      // finished, but some items failed or were rejected
inline constexpr int kExitInterrupted = 130;

int run_label_command(const std::vector<std::string>& args);
int run_export_command(const std::vector<std::string>& args);
int run_config_command(const std::vector<std::string>& args);
int run_serve_command(const std::vector<std::string>& args);
int run_label_config_command(const std::vector<std::string>& args);
int run_fit_command(const std::vector<std::string>& args);
int run_cvat_command(const std::vector<std::string>& args);
int run_feab_command(const std::vector<std::string>& args);

struct Config;

// What decides labels: the knowledge file (run.knowledge or the shipped one) and the
// model_version (run.model_version, or derived from the model, sampling and knowledge).
struct ModelSetup {
    Knowledge knowledge;
    std::string model_version;
};
Result<ModelSetup> load_model_setup(const Config& config);

// config.face with the default detector model (models/face-api/ in seke's data) filled in.
FaceOptions face_options(const Config& config);

// Prints {"error": {"code": ..., "message": ...}} on stderr; returns `exit_code`.
int report_error(const Error& error, int exit_code);

}  // namespace seke
