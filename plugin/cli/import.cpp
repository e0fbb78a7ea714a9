#include <unistd.h>

#include <cstdio>
#include <optional>

#include "plugin/cli/commands.hpp"
#include "plugin/config/config.hpp"
#include "plugin/datasets/import.hpp"
#include "plugin/labeling/model_setup.hpp"

namespace seke {

int run_import_command(const std::vector<std::string>& args) {
    auto loaded = load_config(args, process_environment());
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    auto usage = [](const std::string& why) {
        return report_error(make_error(errc::invalid_argument, "seke import: " + why + " (see seke help)"), kExitUsage);
    };
    datasets::ImportOptions options;
    std::vector<std::string> positional;
    const auto& rest = loaded->rest;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        auto value = [&](const std::string& flag) { return flag_value(rest, i, flag); };
        if (auto out = value("--out")) options.out = *out;
        else if (auto split = value("--split")) options.split = *split;
        else if (auto frames = value("--frames-out")) options.frames_out = *frames;
        else if (auto images = value("--images")) options.images = *images;
        else if (auto trace = value("--disfa-trace")) options.trace = *trace;
        else if (auto every = value("--every")) {
            try {
                std::size_t used = 0;
                options.every = std::stoi(*every, &used);
                if (used != every->size()) return usage("--every takes a whole number");
            } catch (const std::exception&) {
                return usage("--every takes a whole number");
            }
        } else if (rest[i].rfind("--", 0) == 0) {
            return usage("unknown argument \"" + rest[i] + "\"");
        } else {
            positional.push_back(rest[i]);
        }
    }
    if (positional.size() != 2) return usage("give DATASET ROOT, e.g. seke import bp4d /data/BP4D --out bp4d.jsonl");
    options.dataset = positional[0];
    options.root = positional[1];
    if (options.out.empty()) return usage("--out manifest.jsonl is required");

    auto setup = load_model_setup(loaded->config);
    if (!setup) return report_error(setup.error(), kExitUsage);
    auto summary = datasets::run_import(options, setup->knowledge);
    if (!summary) {
        const errc code = summary.error().code;
        return report_error(summary.error(),
                            code == errc::invalid_argument || code == errc::not_found ? kExitUsage : kExitFatal);
    }
    if (isatty(STDOUT_FILENO) != 0) std::printf("%s", datasets::summary_table(*summary).c_str());
    else std::printf("%s\n", datasets::summary_json(*summary).dump().c_str());
    return kExitOk;
}

}  // namespace seke
