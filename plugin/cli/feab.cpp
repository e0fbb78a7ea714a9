// `seke feab score` and `seke feab run`: the facial emotion benchmark (FEAB) — score predictions
// against a truth file, or ask a model the three tasks on the benchmark and score its answers.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <memory>
#include <optional>
#include <stdlib.h>
#include <unistd.h>
#include <unordered_map>

#include "plugin/cli/commands.hpp"
#include "plugin/cli/runtime.hpp"
#include "plugin/labeling/model_setup.hpp"
#include "plugin/config/config.hpp"
#include "plugin/feab/build.hpp"
#include "plugin/feab/input.hpp"
#include "plugin/feab/report.hpp"
#include "plugin/feab/score.hpp"
#include "plugin/labeling/label_run.hpp"
#include "plugin/labeling/manifest.hpp"
#include "plugin/cli/progress.hpp"
#include "plugin/records/store.hpp"

namespace seke {
namespace {

namespace fs = std::filesystem;

Error usage_error(const std::string& message) {
    return make_error(errc::invalid_argument, "seke feab: " + message + " (see seke help)");
}

// True when `flag` is among the arguments (as `--flag value` or `--flag=value`) — for options the
// config chain consumes, to know whether the user chose them.
bool has_flag(const std::vector<std::string>& args, const std::string& flag) {
    return std::any_of(args.begin(), args.end(),
                       [&](const std::string& arg) { return arg == flag || arg.rfind(flag + "=", 0) == 0; });
}

// The arguments `seke feab` reads itself (the model and store options go through load_config).
struct FeabArgs {
    std::string truth;
    std::string predictions;
    std::string images;
    std::string out;
    std::optional<std::string> mode;
    feab::RecordLabels labels = feab::RecordLabels::current;
    feab::ScoreOptions options;
};

Result<FeabArgs> parse_feab_args(const std::vector<std::string>& rest, bool run) {
    FeabArgs parsed;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        auto value = [&](const std::string& flag) { return flag_value(rest, i, flag); };
        if (auto v = value("--truth")) {
            parsed.truth = *v;
        } else if (auto o = value("--out")) {
            parsed.out = *o;
        } else if (auto t = value("--va-tolerance")) {
            char* end = nullptr;
            double tolerance = std::strtod(t->c_str(), &end);
            if (t->empty() || *end != '\0' || !(tolerance >= 0 && tolerance <= 2))
                return usage_error("--va-tolerance \"" + *t + "\" is not a number in [0, 2]");
            parsed.options.va_tolerance = tolerance;
        } else if (auto l = value("--labels")) {
            if (*l == "current") parsed.labels = feab::RecordLabels::current;
            else if (*l == "model") parsed.labels = feab::RecordLabels::model;
            else return usage_error("--labels \"" + *l + "\" is not one of current, model");
        } else if (auto p = !run ? value("--pred") : std::nullopt) {
            parsed.predictions = *p;
        } else if (auto d = run ? value("--images") : std::nullopt) {
            parsed.images = *d;
        } else if (auto m = run ? value("--mode") : std::nullopt) {
            if (*m != "greedy" && *m != "single" && *m != "uamc")
                return usage_error("--mode \"" + *m + "\" is not one of greedy, single, uamc");
            parsed.mode = *m;
        } else {
            return usage_error("unknown argument \"" + rest[i] + "\"");
        }
    }
    if (parsed.truth.empty()) return usage_error("--truth FILE.jsonl is required");
    return parsed;
}

// Everything read and matched, ready to score.
struct ScoringInputs {
    feab::TruthSet truth;
    feab::MatchedPredictions matched;
    feab::ProblemLog problems;
};

int finish_report(const Config& config, const std::string& truth_path, const std::string& predictions,
                  ScoringInputs& inputs, const feab::Vocabulary& vocabulary, const FeabArgs& args,
                  std::optional<feab::BenchmarkRun> run, Store* keep_in = nullptr) {
    feab::Report report;
    report.inputs.truth_path = truth_path;
    report.inputs.predictions = predictions;
    report.inputs.truth_lines = inputs.truth.lines;
    report.inputs.truth_items = inputs.truth.items.size();
    report.inputs.prediction_records = inputs.matched.records;
    for (const auto& slot : inputs.matched.by_truth_item) report.inputs.matched += slot.has_value();
    report.run = std::move(run);
    report.scores = feab::score(vocabulary.classes(), vocabulary.action_units(), inputs.truth.items,
                                inputs.matched.by_truth_item, args.options);
    report.problems = std::move(inputs.problems);
    // Priced at the configured model's price: the predictions do not say which model made them.
    report.cost = feab::label_cost(inputs.matched.by_truth_item, report.scores, config.vllm.model, model_price(config));
    std::fputs(feab::summary_text(report).c_str(), stdout);
    std::fflush(stdout);
    if (!args.out.empty()) {
        if (auto written = feab::write_report(report, args.out); !written)
            return report_error(written.error(), kExitFatal);
        std::fprintf(stderr, "seke feab: report in %s/report.json and %s/report.html\n", args.out.c_str(),
                     args.out.c_str());
    }
    // Scored from a store: the report stays beside the labels, where the dashboard shows the latest.
    if (keep_in)
        if (auto kept = keep_in->save_document("feab_report", truth_path, feab::report_json(report).dump()); !kept)
            std::fprintf(stderr, "seke feab: report not kept in the store: %s\n", kept.error().message.c_str());
    if (report.run && report.run->interrupted) return kExitInterrupted;
    return report.problems.total() > 0 ? kExitPartial : kExitOk;
}

int run_score(const std::vector<std::string>& args) {
    const bool db_flag = has_flag(args, "--db");
    auto environment = process_environment();
    auto loaded = load_config(args, environment);
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    auto parsed = parse_feab_args(loaded->rest, false);
    if (!parsed) return report_error(parsed.error(), kExitUsage);
    const bool use_db = db_flag || (parsed->predictions.empty() && environment.count("SEKE_DB") > 0);
    if (parsed->predictions.empty() == !use_db)
        return report_error(usage_error("score needs exactly one of --pred FILE.jsonl and --db FILE"), kExitUsage);

    auto setup = load_model_setup(loaded->config);
    if (!setup) return report_error(setup.error(), kExitUsage);
    feab::Vocabulary vocabulary(setup->knowledge);
    ScoringInputs inputs;
    auto truth = feab::read_truth_file(parsed->truth, vocabulary, inputs.problems);
    if (!truth) return report_error(truth.error(), kExitUsage);
    inputs.truth = std::move(*truth);

    feab::PredictionMatcher matcher(inputs.truth);
    std::string predictions_name;
    std::unique_ptr<Store> kept_store;
    if (use_db) {
        const std::string& db = loaded->config.run.db_path;
        // Opening a store that is not there would create an empty one and score nothing.
        if (!store_may_exist(db))
            return report_error(make_error(errc::not_found, "no store at " + describe_store(db)), kExitUsage);
        auto store = Store::open(db, loaded->config.run.db_wait_ms);
        if (!store) return report_error(store.error(), kExitFatal);
        auto read =
            feab::read_store_predictions(**store, std::nullopt, parsed->labels, vocabulary, matcher, inputs.problems);
        if (!read) return report_error(read.error(), kExitFatal);
        predictions_name = "store " + db;
        kept_store = std::move(*store);
    } else {
        auto read =
            feab::read_prediction_file(parsed->predictions, parsed->labels, vocabulary, matcher, inputs.problems);
        if (!read) return report_error(read.error(), kExitUsage);
        predictions_name = parsed->predictions;
    }
    inputs.matched = std::move(matcher).finish(inputs.problems);
    return finish_report(loaded->config, parsed->truth, predictions_name, inputs, vocabulary, *parsed, std::nullopt,
                         kept_store.get());
}

bool is_image_file(const fs::path& path) {
    std::string extension = path.extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return extension == ".jpg" || extension == ".jpeg" || extension == ".png" || extension == ".bmp" ||
           extension == ".webp" || extension == ".tif" || extension == ".tiff";
}

// Image files under `dir` by file stem (the first in path order when two share a stem).
std::unordered_map<std::string, fs::path> images_by_stem(const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
        if (it->is_regular_file(ec) && is_image_file(it->path())) files.push_back(it->path());
    std::sort(files.begin(), files.end());
    std::unordered_map<std::string, fs::path> by_stem;
    for (const auto& file : files) by_stem.try_emplace(file.stem().string(), file);
    return by_stem;
}

// The benchmark image of a truth item: its "image" field (absolute, under --images, or beside the
// truth file), else the file under --images whose stem is the id.
std::optional<fs::path> find_image(const feab::TruthItem& item, const fs::path& images_dir, const fs::path& truth_dir,
                                   const std::unordered_map<std::string, fs::path>& by_stem) {
    std::error_code ec;
    if (!item.image.empty()) {
        fs::path given(item.image);
        std::vector<fs::path> candidates = given.is_absolute()
                                               ? std::vector<fs::path>{given}
                                               : std::vector<fs::path>{images_dir / given, truth_dir / given};
        for (const auto& candidate : candidates)
            if (fs::is_regular_file(candidate, ec)) return candidate;
    }
    if (auto found = by_stem.find(item.id); found != by_stem.end()) return found->second;
    return std::nullopt;
}

// `--mode` onto the engine settings; without it the configured engine decides.
std::string apply_mode(Config& config, const std::optional<std::string>& mode) {
    if (mode == "greedy") {
        config.engine.mode = SamplingMode::greedy;
    } else if (mode == "single") {
        // One sample at the configured temperature: fixed self-consistency with N = 1.
        config.engine.mode = SamplingMode::fixed;
        config.engine.fixed_samples = 1;
    } else if (mode == "uamc") {
        config.engine.mode = SamplingMode::uamc;
    }
    switch (config.engine.mode) {
        case SamplingMode::greedy: return "greedy";
        case SamplingMode::uamc: return "uamc";
        case SamplingMode::fixed:
            return config.engine.fixed_samples == 1 ? "single" : "fixed-" + std::to_string(config.engine.fixed_samples);
    }
    return "uamc";
}

// A directory removed at scope exit: the store of a run nobody asked to keep.
struct ScratchDir {
    fs::path path;
    ~ScratchDir() {
        std::error_code ec;
        if (!path.empty()) fs::remove_all(path, ec);
    }
};

int run_benchmark(const std::vector<std::string>& args) {
    auto environment = process_environment();
    const bool db_chosen = has_flag(args, "--db") || environment.count("SEKE_DB") > 0;
    const bool detection_chosen = has_flag(args, "--face-detection") || environment.count("SEKE_FACE_DETECTION") > 0;
    auto loaded = load_config(args, environment);
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    auto parsed = parse_feab_args(loaded->rest, true);
    if (!parsed) return report_error(parsed.error(), kExitUsage);
    if (parsed->images.empty()) return report_error(usage_error("run needs --images DIR"), kExitUsage);
    std::error_code ec;
    if (!fs::is_directory(parsed->images, ec))
        return report_error(make_error(errc::not_found, "no images directory at " + parsed->images), kExitUsage);

    Config& config = loaded->config;
    const std::string mode = apply_mode(config, parsed->mode);
    // Benchmark images are face crops; detection stays off unless asked for.
    if (!detection_chosen) config.face.mode = FaceMode::off;
    if (auto valid = validate(config); !valid) return report_error(valid.error(), kExitUsage);
    auto setup = load_model_setup(config);  // after the mode is set: the model version names it
    if (!setup) return report_error(setup.error(), kExitUsage);

    feab::Vocabulary vocabulary(setup->knowledge);
    ScoringInputs inputs;
    auto truth = feab::read_truth_file(parsed->truth, vocabulary, inputs.problems);
    if (!truth) return report_error(truth.error(), kExitUsage);
    inputs.truth = std::move(*truth);

    // One labeling job per truth item, with no prior labels: the model answers every level.
    const fs::path truth_dir = fs::absolute(parsed->truth).parent_path();
    const auto by_stem = images_by_stem(parsed->images);
    std::vector<LabelJob> jobs;
    std::unordered_map<std::string, std::string> missing_reasons;
    for (const auto& item : inputs.truth.items) {
        auto image = find_image(item, parsed->images, truth_dir, by_stem);
        if (!image) {
            missing_reasons[item.id] = "no image for it under " + parsed->images + ", not sent to the model";
            continue;
        }
        LabelJob job;
        job.id = item.id;
        job.image = image->string();
        job.source = image->string();
        job.known_json = "{}";
        jobs.push_back(std::move(job));
    }

    ScratchDir scratch;
    if (!parsed->out.empty()) {
        fs::create_directories(parsed->out, ec);
        if (ec) return report_error(make_error(errc::io_error, "cannot create " + parsed->out), kExitFatal);
    }
    if (!db_chosen) {
        // One store per mode, so runs of different modes never resume from each other.
        if (!parsed->out.empty()) {
            config.run.db_path = (fs::path(parsed->out) / ("feab-" + mode + ".db")).string();
        } else {
            std::string pattern = (fs::temp_directory_path() / "seke-feab-XXXXXX").string();
            if (!mkdtemp(pattern.data()))
                return report_error(make_error(errc::io_error, "cannot create a temporary store directory"),
                                    kExitFatal);
            scratch.path = pattern;
            config.run.db_path = (scratch.path / "feab.db").string();
        }
    }
    // A benchmark scores the model setup as configured: a fit's examples (drawn from reviews)
    // are never shown, and the answers are read back under the setup's own version. A copy of
    // the setup: `vocabulary` keeps reading this one.
    auto runtime = open_runtime(config, *setup, FittedState::none);
    if (!runtime) return report_error(runtime.error(), kExitFatal);
    Runtime& rt = **runtime;
    Store& store = *rt.store;

    feab::BenchmarkRun run;
    run.mode = mode;
    run.model = config.model.provider == Provider::expert ? std::string("expert") : config.vllm.model;
    run.model_version = rt.setup.model_version;
    run.db = scratch.path.empty() ? describe_store(config.run.db_path) : "(temporary)";
    run.jobs = static_cast<std::int64_t>(jobs.size());
    {
        const std::atomic<bool>& stop = stop_on_interrupt();
        std::fprintf(stderr, "seke feab: %zu benchmark items (%s)\n", jobs.size(), mode.c_str());
        ProgressPrinter printer(stderr, isatty(STDERR_FILENO) != 0, config.run.progress_interval_s);
        LabelRun labeler(
            {config, rt.setup.knowledge, rt.face, store, *rt.engine, rt.client->stats(), run.model_version});
        auto summary = labeler.run(jobs, stop, [&](const RunProgress& p) { printer.update(p); });
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        if (!summary) return report_error(summary.error(), kExitFatal);
        printer.finish(summary->progress);
        const RunProgress& p = summary->progress;
        run.labeled_now = p.finished - p.failed - p.skipped;
        run.already_done = summary->already_done;
        run.failed = p.failed;
        run.skipped = p.skipped;
        run.requests = p.cost.requests;
        run.samples = p.cost.samples;
        run.prompt_tokens = p.cost.prompt_tokens;
        run.completion_tokens = p.cost.completion_tokens;
        run.seconds = p.elapsed_s;
        run.interrupted = summary->interrupted;
    }
    // Why the model gave no label, for the items that got none (failed or skipped, this run or before).
    for (ItemStatus status : {ItemStatus::failed, ItemStatus::skipped}) {
        auto rows = store.items_with_status(status);
        if (!rows) return report_error(rows.error(), kExitFatal);
        for (const auto& row : *rows)
            missing_reasons.try_emplace(row.id, std::string(item_status_name(status)) + ": " + row.error);
    }

    feab::PredictionMatcher matcher(inputs.truth);
    auto read =
        feab::read_store_predictions(store, run.model_version, parsed->labels, vocabulary, matcher, inputs.problems);
    if (!read) return report_error(read.error(), kExitFatal);
    inputs.matched = std::move(matcher).finish(inputs.problems, missing_reasons);
    const std::string predictions_name = "store " + run.db + " (model version " + run.model_version + ")";
    return finish_report(config, parsed->truth, predictions_name, inputs, vocabulary, *parsed, std::move(run),
                         scratch.path.empty() ? &store : nullptr);
}

// The manifest lines of `path` (as `seke label` reads them); lines it rejects are named on stderr
// and counted.
Result<LabelInput> read_manifest(const std::string& path, const Knowledge& knowledge, std::size_t& rejected) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return make_error(errc::not_found, "seke feab build: no manifest at " + path);
    auto input = read_label_input(path, knowledge);
    if (!input) return input.error();
    for (const auto& problem : input->problems) {
        nlohmann::json line = {
            {"rejected_input", {{"file", path}, {"line", problem.line}, {"reason", problem.reason}}}};
        if (!problem.id.empty()) line["rejected_input"]["id"] = problem.id;
        std::fprintf(stderr, "%s\n", line.dump().c_str());
    }
    rejected += input->problems.size();
    return input;
}

// An image path as the truth line gives it: relative to the truth file's folder when under it
// (so the pair can be moved together), else absolute; URLs as they are.
std::string truth_image_path(const LabelJob& job, const fs::path& truth_folder) {
    if (job.source.rfind("http://", 0) == 0 || job.source.rfind("https://", 0) == 0 ||
        job.source.rfind("data:", 0) == 0 || job.source.rfind("file://", 0) == 0)
        return job.source;
    const fs::path image = fs::absolute(job.source).lexically_normal();
    const fs::path relative = image.lexically_relative(truth_folder);
    if (!relative.empty() && *relative.begin() != "..") return relative.generic_string();
    return image.generic_string();
}

int run_build(const std::vector<std::string>& args) {
    auto loaded = load_config(args, process_environment());
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    std::vector<std::string> from;
    std::vector<std::string> training;
    std::string out;
    std::optional<std::size_t> size;
    feab::BuildOptions options;
    const auto& rest = loaded->rest;
    std::vector<std::string>* list = nullptr;  // the flag whose values follow, one or more
    for (std::size_t i = 0; i < rest.size(); ++i) {
        const std::string& arg = rest[i];
        auto value = [&](const std::string& flag) { return flag_value(rest, i, flag); };
        auto whole_number = [](const std::string& text) -> std::optional<unsigned long long> {
            if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 19)
                return std::nullopt;
            return std::stoull(text);
        };
        if (arg == "--from" || arg == "--exclude-subjects-of") {
            list = arg == "--from" ? &from : &training;
        } else if (arg.rfind("--from=", 0) == 0) {
            from.push_back(arg.substr(7));
            list = &from;
        } else if (arg.rfind("--exclude-subjects-of=", 0) == 0) {
            training.push_back(arg.substr(22));
            list = &training;
        } else if (auto o = value("--out")) {
            out = *o;
            list = nullptr;
        } else if (auto n = value("--size")) {
            auto number = whole_number(*n);
            if (!number || *number == 0)
                return report_error(usage_error("--size takes a whole number > 0"), kExitUsage);
            size = static_cast<std::size_t>(*number);
            list = nullptr;
        } else if (auto seed = value("--seed")) {
            auto number = whole_number(*seed);
            if (!number) return report_error(usage_error("--seed takes a whole number"), kExitUsage);
            options.seed = *number;
            list = nullptr;
        } else if (auto splits = value("--test-splits")) {
            options.test_splits.clear();
            std::stringstream names(*splits);
            for (std::string name; std::getline(names, name, ',');)
                if (!name.empty()) options.test_splits.insert(name);
            if (options.test_splits.empty())
                return report_error(usage_error("--test-splits names no split"), kExitUsage);
            list = nullptr;
        } else if (list && arg.rfind("--", 0) != 0) {
            list->push_back(arg);
        } else {
            return report_error(usage_error("unknown argument \"" + arg + "\""), kExitUsage);
        }
    }
    if (from.empty()) return report_error(usage_error("build needs --from MANIFEST.jsonl..."), kExitUsage);
    if (!size) return report_error(usage_error("build needs --size N"), kExitUsage);
    if (out.empty()) return report_error(usage_error("build needs --out truth.jsonl"), kExitUsage);
    options.size = *size;

    auto setup = load_model_setup(loaded->config);
    if (!setup) return report_error(setup.error(), kExitUsage);
    std::size_t rejected = 0;
    std::size_t lines = 0;
    for (const auto& path : training) {
        auto input = read_manifest(path, setup->knowledge, rejected);
        if (!input) return report_error(input.error(), kExitUsage);
        for (const auto& job : input->jobs)
            if (!job.origin.subject.empty()) options.training_subjects.emplace(job.origin.source, job.origin.subject);
    }
    const fs::path truth_folder = fs::absolute(out).parent_path().lexically_normal();
    std::vector<feab::BuildCandidate> candidates;
    for (const auto& path : from) {
        auto input = read_manifest(path, setup->knowledge, rejected);
        if (!input) return report_error(input.error(), kExitUsage);
        lines += input->jobs.size();
        if (lines > feab::kMaxBuildLines)
            return report_error(
                make_error(errc::invalid_argument,
                           "seke feab build: more than " + std::to_string(feab::kMaxBuildLines) + " manifest lines"),
                kExitUsage);
        for (auto& job : input->jobs) {
            feab::BuildCandidate candidate;
            candidate.id = job.id;
            candidate.image = truth_image_path(job, truth_folder);
            candidate.source = job.origin.source;
            candidate.source_id = job.origin.source_id;
            candidate.subject = job.origin.subject;
            candidate.split = job.origin.split;
            candidate.known = std::move(job.known);
            candidates.push_back(std::move(candidate));
        }
    }
    auto result = feab::build_benchmark(std::move(candidates), options);

    // Written beside the target and renamed into place: a truth file is whole or absent.
    const std::string temp_path = out + ".partial";
    {
        std::ofstream file(temp_path, std::ios::binary | std::ios::trunc);
        if (!file)
            return report_error(make_error(errc::io_error, "seke feab build: cannot write " + temp_path), kExitFatal);
        for (const auto& item : result.selected) file << feab::truth_line(item).dump() << "\n";
        file.close();
        if (!file) {
            fs::remove(temp_path);
            return report_error(make_error(errc::io_error, "seke feab build: cannot write " + temp_path), kExitFatal);
        }
    }
    std::error_code ec;
    fs::rename(temp_path, out, ec);
    if (ec)
        return report_error(
            make_error(errc::io_error, "seke feab build: cannot rename to " + out + ": " + ec.message()), kExitFatal);
    if (isatty(STDOUT_FILENO) != 0) {
        std::printf("%s", feab::build_summary_table(result, options.size).c_str());
        std::printf("truth file %s (%zu manifest lines rejected)\n", fs::absolute(out).string().c_str(), rejected);
    } else {
        auto summary = feab::build_summary_json(result, options.size);
        summary["out"] = fs::absolute(out).string();
        summary["rejected_lines"] = rejected;
        std::printf("%s\n", summary.dump().c_str());
    }
    if (result.selected.size() < options.size)
        std::fprintf(stderr, "seke feab build: only %zu eligible items for --size %zu\n", result.selected.size(),
                     options.size);
    return rejected > 0 ? kExitPartial : kExitOk;
}

}  // namespace

int run_feab_command(const std::vector<std::string>& args) {
    if (args.empty()) return report_error(usage_error("a subcommand is required: score, run or build"), kExitUsage);
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (args[0] == "score") return run_score(rest);
    if (args[0] == "run") return run_benchmark(rest);
    if (args[0] == "build") return run_build(rest);
    return report_error(usage_error("unknown subcommand \"" + args[0] + "\": score, run or build"), kExitUsage);
}

}  // namespace seke
