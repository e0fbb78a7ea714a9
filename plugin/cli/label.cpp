#include <unistd.h>

#include <atomic>
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
#include "plugin/records/pictures.hpp"
#include "plugin/records/store.hpp"

namespace seke {
namespace {

// The run's cost in money: what it paid the model (`spent`, unfinished faces included) and what
// the labels finished cost (`cost_usd`: every answer they used, response-cache hits included),
// at the price of vllm.model; without a price, the tokens alone and a note saying so.
void money_summary(nlohmann::ordered_json& result, const Config& config, const RunProgress& p) {
    const std::optional<Price> price = model_price(config);
    nlohmann::ordered_json spent = {{"prompt_tokens", p.spent.prompt},
                                    {"cached_prompt_tokens", p.spent.cached_prompt},
                                    {"completion_tokens", p.spent.completion}};
    if (!price) {
        spent["usd"] = nullptr;
        result["spent"] = std::move(spent);
        result["cost_usd"] = nullptr;
        result["price"] = nullptr;
        result["price_note"] =
            "no price for model \"" + config.vllm.model + "\": tokens only (give cost.price or a cost.prices entry)";
        return;
    }
    // Batched requests are paid at the batch discount.
    const bool batched = config.vllm.batch.mode != BatchMode::off;
    spent["usd"] = cost_usd(*price, p.spent, batched);
    result["spent"] = std::move(spent);
    result["cost_usd"] =
        cost_usd(*price, {p.cost.prompt_tokens, p.cost.cached_prompt_tokens, p.cost.completion_tokens}, batched);
    nlohmann::ordered_json shown = {{"model", config.vllm.model},
                                    {"input", price->input},
                                    {"cached_input", price->cached_input},
                                    {"output", price->output},
                                    {"batch_discount", price->batch_discount}};
    shown["as_of"] = price->as_of.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(price->as_of);
    result["price"] = std::move(shown);
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
    money_summary(result, config, p);
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
