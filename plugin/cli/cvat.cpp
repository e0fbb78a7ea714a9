// `seke cvat spec|annotate|sync`: CVAT's function spec and labels, the REST worker, the review sync.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "connectors/cvat_client.hpp"
#include "plugin/cli/commands.hpp"
#include "plugin/cli/runtime.hpp"
#include "plugin/labeling/model_setup.hpp"
#include "plugin/config/config.hpp"
#include "plugin/cvat/ids.hpp"
#include "plugin/cvat/spec.hpp"
#include "plugin/cvat/sync.hpp"
#include "plugin/cvat/worker.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "plugin/cli/progress.hpp"
#include "plugin/records/store.hpp"

namespace seke {
namespace {

constexpr const char* kCvatUsage = R"(usage:
  seke cvat spec [--yaml|--labels]        function.yaml and the project label definitions (JSON)
  seke cvat annotate --url URL --task N [--job N] [--jobs K] [--db FILE] [--use-fit=false] [options]
                                          label a task's frames and write them to CVAT as shapes,
                                          with the last `seke fit` unless --use-fit=false
  seke cvat sync --job N [--url URL] [--db FILE]
                                          read a job's reviewed shapes back into the FEID records
CVAT credentials: CVAT_ACCESS_TOKEN (personal access token), CVAT_TOKEN (legacy), or
CVAT_USERNAME and CVAT_PASSWORD; CVAT_ORG for an organization. See docs/cvat-rest.md.
)";

Error usage_error(const std::string& message) {
    return make_error(errc::invalid_argument, "seke cvat " + message + " (see seke cvat help)");
}

// The flags of the cvat commands that are not options of the table.
struct CvatArgs {
    std::optional<long long> task, job;
    bool yaml = false, labels = false;
};

Result<long long> parse_id(const std::string& flag, const std::string& text) {
    try {
        std::size_t used = 0;
        long long value = std::stoll(text, &used);
        if (used == text.size() && value >= 0) return value;
    } catch (...) {
    }
    return usage_error(flag + " needs a number, not \"" + text + "\"");
}

// `--url` is a short form of --cvat-url here, where no other URL is meant.
Result<CvatArgs> parse_cvat_args(const std::string& command, const std::vector<std::string>& rest, Config& config) {
    CvatArgs out;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        std::string arg = rest[i];
        std::optional<std::string> value;
        if (auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        }
        auto take = [&]() -> Result<std::string> {
            if (value) return *value;
            if (i + 1 < rest.size()) return rest[++i];
            return usage_error(command + ": " + arg + " needs a value");
        };
        if (arg == "--yaml" && command == "spec") {
            out.yaml = true;
        } else if (arg == "--labels" && command == "spec") {
            out.labels = true;
        } else if (arg == "--url" && command != "spec") {
            auto v = take();
            if (!v) return v.error();
            config.cvat.url = *v;
        } else if ((arg == "--task" && command == "annotate") || arg == "--job") {
            auto v = take();
            if (!v) return v.error();
            auto id = parse_id(arg, *v);
            if (!id) return id.error();
            (arg == "--task" ? out.task : out.job) = *id;
        } else {
            return usage_error(command + ": unknown argument \"" + rest[i] + "\"");
        }
    }
    return out;
}

void print_json_line(std::FILE* out, const nlohmann::ordered_json& value) {
    std::fprintf(out, "%s\n", value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    std::fflush(out);
}

int run_spec(const Config& config, const CvatArgs& args) {
    auto setup = load_model_setup(config);
    if (!setup) return report_error(setup.error(), kExitUsage);
    auto spec = cvat::make_function_spec(config.cvat, setup->knowledge);
    if (!spec) return report_error(spec.error(), kExitUsage);
    std::string yaml = cvat::function_yaml(*spec, setup->model_version);
    std::string labels = cvat::project_labels_json(*spec).dump(2) + "\n";
    if (args.yaml && !args.labels) {
        std::fputs(yaml.c_str(), stdout);
    } else if (args.labels && !args.yaml) {
        std::fputs(labels.c_str(), stdout);
    } else {
        std::printf("# ---- function.yaml (for a Nuclio deployment; seke serve needs none) ----\n%s", yaml.c_str());
        std::printf("# ---- project labels (CVAT project → Raw label editor, or POST with the project) ----\n%s",
                    labels.c_str());
    }
    return kExitOk;
}

int run_annotate(Config& config, const CvatArgs& args) {
    if (!args.task && !args.job)
        return report_error(usage_error("annotate: --task N (or --job N) is required"), kExitUsage);
    if (config.cvat.url.empty())
        return report_error(usage_error("annotate: --url URL (or CVAT_URL) is required"), kExitUsage);
    auto setup = load_model_setup(config);
    if (!setup) return report_error(setup.error(), kExitUsage);
    auto spec = cvat::make_function_spec(config.cvat, setup->knowledge);
    if (!spec) return report_error(spec.error(), kExitUsage);
    // Labeled as `seke serve` labels: with the last fit's examples, under its model_version.
    auto runtime = open_runtime(config, std::move(*setup), fitted_state_for_batch(config));
    if (!runtime) return report_error(runtime.error(), kExitFatal);
    Runtime& rt = **runtime;
    const std::string model_version = rt.model_version();
    FacePreparer preparer(rt.face, config.image);
    if (auto ready = preparer.ready(); !ready) return report_error(ready.error(), kExitUsage);
    CvatClient client(config.cvat);
    const std::atomic<bool>& stop = stop_on_interrupt();

    cvat::AnnotateRequest request;
    request.task_id = args.task.value_or(-1);
    request.job_id = args.job;
    // --jobs bounds the model requests in flight; as many frames in flight keep them busy.
    request.frames_in_flight = std::clamp(config.vllm.max_concurrency, 1, 32);
    std::fprintf(stderr, "seke: annotating CVAT %s %lld at %s with %s (store %s)\n", args.job ? "job" : "task",
                 args.job ? *args.job : *args.task, cvat::store_url(config.cvat.url).c_str(), config.vllm.model.c_str(),
                 describe_store(config.run.db_path).c_str());
    ProgressPrinter printer(stderr, isatty(STDERR_FILENO) != 0, config.run.progress_interval_s);
    const VllmStats& usage = rt.client->stats();
    const TokenCounts usage_before{usage.prompt_tokens.load(), usage.cached_prompt_tokens.load(),
                                   usage.completion_tokens.load()};
    cvat::AnnotateDeps deps{rt.setup.knowledge, *spec, *rt.store, *rt.engine, preparer, client, model_version};
    RunProgress last;
    auto summary = cvat::annotate(
        deps, request, stop,
        [&](const RunProgress& p) {
            last = p;
            printer.update(p);
        },
        [&](const cvat::FrameFailure& f) {
            if (isatty(STDERR_FILENO)) std::fputs("\n", stderr);
            print_json_line(stderr, {{"failed_frame", {{"frame", f.frame}, {"code", f.code}, {"reason", f.reason}}}});
        });
    if (!summary)
        return report_error(summary.error(), summary.error().code == errc::unauthorized ||
                                                     summary.error().code == errc::forbidden ||
                                                     summary.error().code == errc::config_error
                                                 ? kExitUsage
                                                 : kExitFatal);
    printer.finish(last);
    for (const auto& problem : summary->label_problems) print_json_line(stderr, {{"label_problem", problem}});
    auto out = cvat::annotate_summary_json(*summary);
    out["db"] = describe_store(config.run.db_path);
    out["model_version"] = model_version;
    // What this run paid the model, as `seke label` says it.
    add_money(out, config,
              {usage.prompt_tokens.load() - usage_before.prompt,
               usage.cached_prompt_tokens.load() - usage_before.cached_prompt,
               usage.completion_tokens.load() - usage_before.completion},
              summary->cost);
    print_json_line(stdout, out);
    if (summary->interrupted) return kExitInterrupted;
    return summary->failed > 0 ? kExitPartial : kExitOk;
}

int run_sync(Config& config, const CvatArgs& args) {
    if (!args.job) return report_error(usage_error("sync: --job N is required"), kExitUsage);
    if (config.cvat.url.empty())
        return report_error(usage_error("sync: --url URL (or CVAT_URL) is required"), kExitUsage);
    auto setup = load_model_setup(config);
    if (!setup) return report_error(setup.error(), kExitUsage);
    auto spec = cvat::make_function_spec(config.cvat, setup->knowledge);
    if (!spec) return report_error(spec.error(), kExitUsage);
    auto store = Store::open(config.run.db_path, config.run.db_wait_ms);
    if (!store) return report_error(store.error(), kExitFatal);
    CvatClient client(config.cvat);
    cvat::SyncDeps deps{setup->knowledge, *spec, **store, client};
    auto summary = cvat::sync_job(deps, *args.job);
    if (!summary)
        return report_error(summary.error(),
                            summary.error().code == errc::unauthorized || summary.error().code == errc::forbidden
                                ? kExitUsage
                                : kExitFatal);
    print_json_line(stdout, cvat::sync_summary_json(*summary));
    return kExitOk;
}

}  // namespace

int run_cvat_command(const std::vector<std::string>& all_args) {
    if (all_args.empty() || all_args[0] == "help" || all_args[0] == "--help" || all_args[0] == "-h") {
        std::fputs(kCvatUsage, all_args.empty() ? stderr : stdout);
        return all_args.empty() ? kExitUsage : kExitOk;
    }
    const std::string& command = all_args[0];
    if (command != "spec" && command != "annotate" && command != "sync")
        return report_error(usage_error("has no command \"" + command + "\""), kExitUsage);
    auto loaded = load_config({all_args.begin() + 1, all_args.end()}, process_environment());
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    Config& config = loaded->config;
    auto args = parse_cvat_args(command, loaded->rest, config);
    if (!args) return report_error(args.error(), kExitUsage);
    if (command == "spec") return run_spec(config, *args);
    if (command == "annotate") return run_annotate(config, *args);
    return run_sync(config, *args);
}

}  // namespace seke
