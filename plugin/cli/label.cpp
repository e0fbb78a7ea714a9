#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "plugin/cli/commands.hpp"
#include "plugin/cli/label.hpp"
#include "plugin/cli/progress.hpp"
#include "plugin/cli/runtime.hpp"
#include "plugin/config/config.hpp"
#include "plugin/labeling/knowledge_json.hpp"
#include "plugin/labeling/label_run.hpp"
#include "plugin/labeling/manifest.hpp"
#include "plugin/labeling/model_setup.hpp"
#include "plugin/labeling/plan.hpp"
#include "plugin/learning/fit.hpp"
#include "plugin/records/pictures.hpp"
#include "plugin/records/store.hpp"

namespace seke {
namespace {

nlohmann::ordered_json plan_figures_json(const PlanFigures& f, const std::optional<Price>& price) {
    auto tokens = [](double t) { return static_cast<std::int64_t>(std::llround(t)); };
    nlohmann::ordered_json out = {
        {"requests", std::round(f.requests * 10) / 10},     {"samples", std::round(f.samples * 10) / 10},
        {"prompt_tokens", tokens(f.prompt_tokens)},         {"cached_prompt_tokens", tokens(f.cached_prompt_tokens)},
        {"completion_tokens", tokens(f.completion_tokens)}, {"image_tokens", tokens(f.image_tokens)}};
    out["usd"] =
        price ? nlohmann::ordered_json(cost_usd(
                    *price, {tokens(f.prompt_tokens), tokens(f.cached_prompt_tokens), tokens(f.completion_tokens)}))
              : nlohmann::ordered_json(nullptr);
    return out;
}

// The plan for a person: the counts, then one row per figure (expected, low, high).
std::string plan_table(const nlohmann::ordered_json& plan) {
    std::string out;
    char line[256];
    auto add = [&](const char* format, auto... values) {
        std::snprintf(line, sizeof line, format, values...);
        out += line;
    };
    add("seke label --plan: %lld items, %lld already done, %lld to label; %lld faces (%lld unreadable, %lld "
        "without a face)\n",
        plan["items"].get<long long>(), plan["already_done"].get<long long>(), plan["planned"].get<long long>(),
        plan["faces"].get<long long>(), plan["unreadable"].get<long long>(), plan["faceless"].get<long long>());
    add("model %s, version %s; expected from %s\n\n", plan["model"].get<std::string>().c_str(),
        plan["model_version"].get<std::string>().c_str(), plan["basis"].get<std::string>().c_str());
    add("%-22s %14s %14s %14s\n", "", "expected", "low", "high");
    const auto& e = plan["expected"];
    const auto& lo = plan["low"];
    const auto& hi = plan["high"];
    for (const char* key :
         {"requests", "samples", "prompt_tokens", "cached_prompt_tokens", "completion_tokens", "image_tokens"})
        add("%-22s %14.0f %14.0f %14.0f\n", key, e[key].get<double>(), lo[key].get<double>(), hi[key].get<double>());
    if (e["usd"].is_null()) {
        add("%-22s %14s\n", "usd", "no price");
        out += plan["price_note"].get<std::string>() + "\n";
    } else {
        add("%-22s %14s %14s %14s\n", "usd", format_usd(e["usd"].get<double>()).c_str(),
            format_usd(lo["usd"].get<double>()).c_str(), format_usd(hi["usd"].get<double>()).c_str());
    }
    out += "range: " + plan["range"].get<std::string>() + "\n";
    return out;
}

// `seke label --plan`: what the run would find and spend, with no model request and no store write.
int plan_label_jobs(Config& config, const ModelSetup& setup, const LabelInput& input) {
    auto expert = load_expert(config);
    if (!expert) return report_error(expert.error(), kExitFatal);
    const FaceOptions face = face_options(config, *expert);
    const EngineConfig engine = engine_config(config);
    std::unique_ptr<Store> store;
    if (store_may_exist(config.run.db_path)) {
        auto opened = Store::open_read_only(config.run.db_path, config.run.db_wait_ms);
        if (!opened) return report_error(opened.error(), kExitFatal);
        store = std::move(*opened);
    }
    // The examples and model_version the run would label with: the last fit's, unless --use-fit=false.
    std::shared_ptr<const FewShotExamples> examples;
    std::string model_version = setup.model_version;
    if (store && fitted_state_for_batch(config) == FittedState::last_fit) {
        auto learned = LearnedState::load(*store, setup.model_version);
        if (!learned) return report_error(learned.error(), kExitFatal);
        examples = (*learned)->current()->exemplars;
        model_version = (*learned)->current()->model_version;
    }
    PlanDeps deps{config, setup.knowledge, face, engine, expert_settings(config), examples, store.get(), model_version};
    auto plan = plan_run(deps, input.jobs, stop_on_interrupt());
    if (!plan) return report_error(plan.error(), kExitFatal);
    for (const auto& [id, reason] : plan->failures)
        std::fprintf(stderr, "%s\n",
                     nlohmann::json({{"unreadable_item", {{"id", id}, {"reason", reason}}}}).dump().c_str());

    const std::optional<Price> price = model_price(config);
    nlohmann::ordered_json out;
    out["plan"] = true;
    out["db"] = describe_store(config.run.db_path);
    out["store_exists"] = store != nullptr;
    out["model"] = config.vllm.model;
    out["model_version"] = model_version;
    out["items"] = plan->items;
    out["already_done"] = plan->already_done;
    out["planned"] = plan->planned;
    out["unreadable"] = plan->unreadable;
    out["faceless"] = plan->faceless;
    out["rejected_input_lines"] = input.problems.size();
    out["faces"] = plan->faces;
    out["basis"] = plan_basis_name(plan->basis);
    out["history_faces"] = plan->history_faces;
    out["expected"] = plan_figures_json(plan->expected, price);
    out["low"] = plan_figures_json(plan->low, price);
    out["high"] = plan_figures_json(plan->high, price);
    out["range"] = plan->range;
    out["price"] = price_json(config);
    if (!price) out["price_note"] = no_price_note(config);
    if (isatty(STDOUT_FILENO) != 0) std::fputs(plan_table(out).c_str(), stdout);
    else std::printf("%s\n", out.dump().c_str());
    return input.problems.empty() ? kExitOk : kExitPartial;
}

// Batch mode: how many batches (or request files), and in file mode what to run next.
void batch_summary(nlohmann::ordered_json& result, const Config& config, const VllmClient& client) {
    const auto& batch = config.vllm.batch;
    if (batch.mode == BatchMode::off) return;
    const VllmStats& stats = client.stats();
    nlohmann::ordered_json shown;
    shown["mode"] = batch.mode == BatchMode::api ? "api" : "files";
    shown["batches"] = batch.mode == BatchMode::api ? stats.batches.load() : stats.batch_files.load();
    shown["failed_lines"] = stats.batch_lines_failed.load();
    if (batch.mode == BatchMode::files) {
        shown["dir"] = std::filesystem::absolute(batch.dir).string();
        shown["answers_read"] = client.batch_answers_read();
        const std::string written = client.batch_file_written();
        if (!written.empty()) {
            std::string output = written;
            output.replace(output.rfind(".requests.jsonl"), std::string(".requests.jsonl").size(), ".output.jsonl");
            shown["requests_file"] = written;
            shown["run"] = "python -m vllm.entrypoints.openai.run_batch -i " + written + " -o " + output + " --model " +
                           config.vllm.model;
            shown["then"] = "the same seke label command with --batch-in " + batch.dir;
        }
    }
    result["batch"] = std::move(shown);
}

}  // namespace

LabelOutcome label_jobs(Config& config, ModelSetup setup, const LabelInput& input, const std::string& input_name,
                        const std::string& boxes_dir) {
    LabelOutcome outcome;
    // After a `seke fit`, the new items are labeled as `seke serve` labels them: with the fit's
    // few-shot examples, under its model_version (unless --use-fit=false).
    auto runtime = open_runtime(config, std::move(setup), fitted_state_for_batch(config), true);
    if (!runtime) {
        outcome.exit_code = report_error(runtime.error(), kExitFatal);
        return outcome;
    }
    Runtime& rt = **runtime;
    const std::string model_version = rt.model_version();
    const std::atomic<bool>& stop = stop_on_interrupt();

    std::fprintf(stderr, "seke: labeling %zu items from %s (store %s)\n", input.jobs.size(), input_name.c_str(),
                 describe_store(config.run.db_path).c_str());
    ProgressPrinter printer(stderr, isatty(STDERR_FILENO) != 0, config.run.progress_interval_s);
    LabelRun run({config, rt.setup.knowledge, rt.face, *rt.store, *rt.engine, rt.client->stats(), model_version});
    auto summary = run.run(input.jobs, stop, [&](const RunProgress& p) { printer.update(p); });
    if (!summary) {
        outcome.exit_code = report_error(summary.error(), kExitFatal);
        return outcome;
    }
    printer.finish(summary->progress);
    for (const auto& [id, reason] : summary->failures) {
        nlohmann::json line = {{"failed_item", {{"id", id}, {"reason", reason}}}};
        std::fprintf(stderr, "%s\n", line.dump().c_str());
    }

    const RunProgress& p = summary->progress;
    auto counts = rt.store->counts();
    nlohmann::ordered_json result;
    result["db"] = describe_store(config.run.db_path);
    result["model_version"] = model_version;
    result["items"] = p.total + summary->already_done;
    result["labeled_now"] = p.finished - p.failed - p.skipped;
    result["already_done"] = summary->already_done;
    result["failed"] = p.failed;
    result["skipped"] = p.skipped;
    result["rejected_input_lines"] = input.problems.size();
    result["faces"] = p.faces;
    result["model_requests"] = p.cost.requests;
    result["cached_requests"] = p.cost.cached_requests;
    result["http_requests"] = summary->http_requests;
    result["retries"] = summary->retries;
    result["samples"] = p.cost.samples;
    result["malformed_answers"] = p.cost.malformed;
    result["prompt_tokens"] = p.cost.prompt_tokens;
    result["cached_prompt_tokens"] = p.cost.cached_prompt_tokens;
    result["completion_tokens"] = p.cost.completion_tokens;
    result["seconds"] = p.elapsed_s;
    if (counts) result["store_faces_total"] = counts->faces;
    result["interrupted"] = summary->interrupted;
    if (!summary->stopped.empty()) result["stopped"] = summary->stopped;
    // Batched requests are paid at the batch discount.
    add_money(result, config, p.spent, p.cost, config.vllm.batch.mode != BatchMode::off);
    batch_summary(result, config, *rt.client);
    if (!summary->job.empty()) {
        // This worker's part is above; the whole job, by every worker, is here.
        result["job"] = {
            {"name", summary->job}, {"worker", summary->worker}, {"items", p.job_items}, {"finished", p.job_finished}};
    }
    if (!boxes_dir.empty()) {
        std::set<std::string> ids;
        for (const auto& job : input.jobs) ids.insert(job.id);
        auto pictures = write_pictures(*rt.store, boxes_dir, config.image, ids);
        if (!pictures) {
            outcome.exit_code = report_error(pictures.error(), kExitFatal);
            return outcome;
        }
        for (const auto& problem : pictures->problems)
            std::fprintf(stderr, "seke: no picture for %s\n", problem.c_str());
        result["pictures"] = pictures->pictures;
        result["pictures_dir"] = std::filesystem::absolute(boxes_dir).string();
    }
    if (summary->interrupted) outcome.exit_code = kExitInterrupted;
    else if (summary->stopped == "batch_out") outcome.exit_code = kExitBatchWritten;
    else if (!summary->stopped.empty()) outcome.exit_code = kExitCapped;
    else if (p.failed > 0 || !input.problems.empty()) outcome.exit_code = kExitPartial;
    else outcome.exit_code = kExitOk;
    outcome.summary = std::move(result);
    return outcome;
}

int run_label_command(const std::vector<std::string>& args) {
    auto loaded = load_config(args, process_environment());
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    Config& config = loaded->config;
    std::string input_path;
    std::string boxes_dir;  // --boxes: a picture per labeled image, for a person to look at
    bool plan = false;      // --plan: say what the run would find and spend, and run nothing
    for (std::size_t i = 0; i < loaded->rest.size(); ++i) {
        const std::string& arg = loaded->rest[i];
        if (arg == "--input" && i + 1 < loaded->rest.size()) {
            input_path = loaded->rest[++i];
        } else if (arg.rfind("--input=", 0) == 0) {
            input_path = arg.substr(8);
        } else if (arg == "--boxes" && i + 1 < loaded->rest.size()) {
            boxes_dir = loaded->rest[++i];
        } else if (arg.rfind("--boxes=", 0) == 0) {
            boxes_dir = arg.substr(8);
        } else if (arg == "--plan") {
            plan = true;
        } else {
            return report_error(
                make_error(errc::invalid_argument, "seke label: unknown argument \"" + arg + "\" (see seke help)"),
                kExitUsage);
        }
    }
    if (input_path.empty())
        return report_error(make_error(errc::invalid_argument, "seke label: --input DIR|manifest.jsonl is required"),
                            kExitUsage);

    auto setup = load_model_setup(config);
    if (!setup) return report_error(setup.error(), kExitUsage);

    auto input = read_label_input(input_path, setup->knowledge);
    if (!input) return report_error(input.error(), kExitUsage);
    for (const auto& problem : input->problems) {
        nlohmann::json line = {{"rejected_input", {{"line", problem.line}, {"reason", problem.reason}}}};
        if (!problem.id.empty()) line["rejected_input"]["id"] = problem.id;
        std::fprintf(stderr, "%s\n", line.dump().c_str());
    }

    if (plan) return plan_label_jobs(config, *setup, *input);
    auto outcome = label_jobs(config, std::move(*setup), *input, input_path, boxes_dir);
    if (outcome.summary.is_null()) return outcome.exit_code;
    const std::string db = outcome.summary["db"].get<std::string>();
    std::printf("%s\n", outcome.summary.dump().c_str());
    std::fprintf(stderr,
                 "seke: results in %s — export with: seke export --db %s --format feid-jsonl --out feid.jsonl\n",
                 db.c_str(), db.c_str());
    if (outcome.summary.contains("batch") && outcome.summary["batch"].contains("run"))
        std::fprintf(stderr, "seke: this round's requests are written; run\n  %s\nthen %s\n",
                     outcome.summary["batch"]["run"].get<std::string>().c_str(),
                     outcome.summary["batch"]["then"].get<std::string>().c_str());
    if (!boxes_dir.empty())
        std::fprintf(stderr, "seke: pictures of the labeled faces in %s\n",
                     outcome.summary["pictures_dir"].get<std::string>().c_str());
    return outcome.exit_code;
}

}  // namespace seke
