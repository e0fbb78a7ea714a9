// seke: face emotion pre-labeling with SEKE prompting and SV-UAMC, for Label Studio and CVAT.
#include <cstdio>
#include <string>
#include <vector>

#include "plugin/cli/commands.hpp"

namespace {

const char* kUsage = R"(seke )" SEKE_VERSION R"( — face emotion pre-labeling (expression, valence-arousal, action units)

usage:
  seke label  --input DIR|manifest.jsonl [--db FILE] [--face-detection auto|off|required] [--jobs N]
              [--use-fit=false] [--provider expert|openai] [--expert off] [--boxes DIR]
              [--max-cost USD] [--max-requests N] [--price IN,CACHED,OUT] [options]
  seke label  --plan [same arguments]             what that run would find, send and cost; no model, no write
  seke export --db FILE --format feid-jsonl|llava|sharegpt --out FILE [--status auto,accepted,corrected]
              [--images-out DIR]                 each face's crop as the model saw it; records point to it
  seke export --db FILE --boxes DIR              a picture per labeled image: boxes, expression, VA, AUs
  seke serve  [--host H] [--port P] [--db FILE] [options]   Label Studio ML backend (default 127.0.0.1:9090)
  seke label-config [--per-face|--whole-image]   print the recommended Label Studio labeling config
  seke label-config --check FILE [--control-valence NAME ...]   what seke fills of your own config, and why not
  seke fit    --db FILE [--fit-method isotonic|platt] [--fit-min-reviews N]   learn from reviews: calibration, few-shot examples
  seke cvat spec [--yaml|--labels]               print CVAT's function.yaml and project label definitions
  seke cvat annotate --url URL --task N [--job N] [--jobs K]   label a CVAT task and write shapes over REST
  seke cvat sync --job N [--url URL]             read a reviewed CVAT job back into the FEID records
  seke feab score --truth FILE.jsonl --pred FILE.jsonl|--db FILE [--out DIR]   score predictions (FEAB)
  seke feab run --truth FILE.jsonl --images DIR [--mode greedy|single|uamc] [--out DIR] [options]
                            ask the model the three tasks on a benchmark and score it
  seke feab build --from MANIFEST.jsonl... --size N --out truth.jsonl [--seed S]
              [--test-splits test,validation] [--exclude-subjects-of TRAIN.jsonl...]
                            a benchmark drawn from imported test splits, stratified, subject-exclusive
  seke import DATASET ROOT --out manifest.jsonl [--split NAME] [--every N] [--frames-out DIR]
              [--images aligned|original] [--disfa-trace absent|unknown]
                            a dataset as distributed (ckplus, rafdb, affectnet, disfa, bp4d,
                            affwild2) into a manifest, its labels as priors (docs/datasets.md)
  seke feid build CONFIG.json|CONFIG.yaml [options]
                            import, label and export every source CONFIG lists,
                            resumable (docs/datasets.md)
  seke config [options]     print the effective configuration (JSON, secrets blanked)
  seke config --markdown    print the table of every option
  seke version

Every option has a flag, an environment variable and a key in a config file (--config FILE or
SEKE_CONFIG); see `seke config --markdown`. The model endpoint: OPENAI_BASE_URL, OPENAI_API_KEY,
SEKE_MODEL.

After `seke fit`, `seke serve`, `seke label` and `seke cvat annotate` label new items with the
fit's few-shot examples and record its model_version; `--use-fit=false` makes a label or annotate
run use the model setup unfitted. `seke feab run` always measures the unfitted setup.

seke label exits 0 when every item is finished, 3 when some failed or an input line was rejected,
4 when it stopped at --max-cost or --max-requests (run it again to go on), 130 on Ctrl-C.
)";

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
        std::printf("%s", kUsage);
        return args.empty() ? seke::kExitUsage : seke::kExitOk;
    }
    std::string command = args[0];
    args.erase(args.begin());
    try {
        if (command == "label") return seke::run_label_command(args);
        if (command == "export") return seke::run_export_command(args);
        if (command == "config") return seke::run_config_command(args);
        if (command == "serve") return seke::run_serve_command(args);
        if (command == "label-config") return seke::run_label_config_command(args);
        if (command == "fit") return seke::run_fit_command(args);
        if (command == "cvat") return seke::run_cvat_command(args);
        if (command == "feab") return seke::run_feab_command(args);
        if (command == "import") return seke::run_import_command(args);
        if (command == "feid") return seke::run_feid_command(args);
        if (command == "version" || command == "--version") {
            std::printf("seke %s\n", SEKE_VERSION);
            return seke::kExitOk;
        }
    } catch (const std::exception& e) {
        return seke::report_error(seke::make_error(seke::errc::internal, e.what()), seke::kExitFatal);
    }
    return seke::report_error(
        seke::make_error(seke::errc::invalid_argument, "unknown command \"" + command + "\" (see seke help)"),
        seke::kExitUsage);
}
