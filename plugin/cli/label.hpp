#pragma once
// The labeling step of `seke label`, shared with `seke feid build`: label the jobs into the
// store at config.run.db_path with one progress display, and say what happened.
#include <string>

#include <nlohmann/json.hpp>

#include "plugin/config/config.hpp"
#include "plugin/labeling/manifest.hpp"
#include "plugin/labeling/model_setup.hpp"

namespace seke {

struct LabelOutcome {                // NOLINT(bugprone-exception-escape): its implicit constructor only allocates
    nlohmann::ordered_json summary;  // the JSON `seke label` prints; null when the run could not start or finish
    int exit_code = 0;               // kExitOk, kExitPartial, kExitInterrupted, or kExitFatal (already reported)
};

// Runs the jobs of `input` (its problems are counted as rejected input lines). `boxes_dir`:
// also write a picture per labeled image there ("" none).
LabelOutcome label_jobs(Config& config, ModelSetup setup, const LabelInput& input, const std::string& input_name,
                        const std::string& boxes_dir);

}  // namespace seke
