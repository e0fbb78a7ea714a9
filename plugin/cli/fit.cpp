#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "plugin/cli/commands.hpp"
#include "plugin/labeling/model_setup.hpp"
#include "plugin/config/config.hpp"
#include "plugin/learning/fit.hpp"
#include "plugin/records/store.hpp"

namespace seke {

// seke fit --db FILE: what Label Studio's START_TRAINING does, by hand. Prints the fit summary;
// a running `seke serve` picks the new version up when it next starts or fits, `seke label` and
// `seke cvat annotate` on their next run.
int run_fit_command(const std::vector<std::string>& args) {
    auto loaded = load_config(args, process_environment());
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    for (const auto& arg : loaded->rest)
        return report_error(make_error(errc::invalid_argument, "seke fit: unknown argument \"" + arg + "\""),
                            kExitUsage);
    const Config& config = loaded->config;
    if (!store_may_exist(config.run.db_path))
        return report_error(make_error(errc::not_found, "seke fit: no store at " + describe_store(config.run.db_path)),
                            kExitUsage);
    auto setup = load_model_setup(config);
    if (!setup) return report_error(setup.error(), kExitUsage);
    auto store = Store::open(config.run.db_path, config.run.db_wait_ms);
    if (!store) return report_error(store.error(), kExitFatal);
    auto learned = LearnedState::load(**store, setup->model_version);
    if (!learned) return report_error(learned.error(), kExitFatal);
    auto outcome = fit_from_reviews(**store, *(*learned)->current(), config.fit, &setup->knowledge);
    if (!outcome) return report_error(outcome.error(), kExitFatal);
    std::printf("%s\n", outcome->summary.dump(2).c_str());
    return kExitOk;
}

}  // namespace seke
