#include "plugin/label_studio/backend.hpp"

#include <atomic>
#include <cmath>
#include <set>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "plugin/records/feid.hpp"
#include "plugin/labeling/image_labeling.hpp"
#include "plugin/learning/review.hpp"
#include "plugin/label_studio/label_config.hpp"
#include "plugin/label_studio/predictions.hpp"
#include "plugin/label_studio/review_adapter.hpp"
#include "plugin/server/auth.hpp"
#include "plugin/server/http_types.hpp"
#include "plugin/server/log.hpp"

namespace seke::label_studio {
namespace {

using nlohmann::json;
using server::HttpRequest;
using server::Responder;

// "62053.1712586036" → "62053"; a missing project is "None", as the Python backend has it.
std::string project_id(const json& body) {
    if (!body.is_object() || !body.contains("project") || body["project"].is_null()) return "None";
    const json& p = body["project"];
    std::string text = p.is_string() ? p.get<std::string>() : p.is_number_integer() ? std::to_string(p.get<long long>()) : "";
    if (p.is_object() && p.contains("id")) text = p["id"].is_number_integer() ? std::to_string(p["id"].get<long long>()) : "";
    if (text.empty()) return "None";
    return text.substr(0, text.find('.'));
}

Result<json> parse_body(const HttpRequest& request, bool empty_is_object) {
    if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
        if (empty_is_object) return json::object();
        return make_error(errc::bad_json, "the request body is empty; a JSON object is expected");
    }
    json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded()) return make_error(errc::bad_json, "the request body is not valid JSON");
    if (!body.is_object()) return make_error(errc::bad_json, "the request body must be a JSON object");
    return body;
}

std::vector<std::string> split_keys(const std::string& list) {
    std::vector<std::string> keys;
    std::stringstream in(list);
    for (std::string key; std::getline(in, key, ',');) keys.push_back(key);
    while (keys.size() < 4) keys.emplace_back();
    return keys;
}

// Labels already on the task (from the source dataset): facts for the engine, never overwritten.
void read_prior_labels(const json& data, const std::vector<std::string>& keys, const Knowledge& knowledge,
                       LabelSet& known, LevelProvenance& provenance) {
    auto number = [&](const std::string& key) -> std::optional<double> {
        if (key.empty() || !data.contains(key)) return std::nullopt;
        const json& v = data[key];
        double x = v.is_number() ? v.get<double>() : NAN;
        if (v.is_string()) {
            try {
                x = std::stod(v.get<std::string>());
            } catch (...) {
                return std::nullopt;
            }
        }
        if (!std::isfinite(x) || x < -1 || x > 1) return std::nullopt;
        return x;
    };
    if (!keys[0].empty() && data.contains(keys[0]) && data[keys[0]].is_string())
        if (auto name = knowledge.canonical_expression(data[keys[0]].get<std::string>())) {
            known.expression = *name;
            provenance.expression = Provenance::source;
        }
    known.valence = number(keys[1]);
    known.arousal = number(keys[2]);
    if (known.valence || known.arousal) provenance.va = Provenance::source;
    if (!keys[3].empty() && data.contains(keys[3]) && data[keys[3]].is_array()) {
        std::vector<std::string> units;
        for (const auto& code : data[keys[3]])
            if (code.is_string())
                if (auto canonical = knowledge.canonical_action_unit(code.get<std::string>())) units.push_back(*canonical);
        known.action_units = std::move(units);
        provenance.au = Provenance::source;
    }
}

// A face's region id in Label Studio, derived from its FEID id: an annotation that keeps the
// region keeps the id, which is how a review finds the face it is about.
std::string region_id_for(const std::string& face_id) { return "s" + sha256_hex(face_id).substr(0, 9); }

// Tasks are identified by id; a task without one (only seen in tests) by its image.
std::string item_id_for(const std::string& project, long long task_id, const std::string& image = {}) {
    return "ls/" + project + "/" + (task_id >= 0 ? std::to_string(task_id) : "image-" + sha256_hex(image).substr(0, 12));
}

long long json_id(const json& value) {
    if (value.is_number_integer()) return value.get<long long>();
    if (value.is_object() && value.contains("id") && value["id"].is_number_integer()) return value["id"].get<long long>();
    return -1;
}

// Interactive pre-annotation: the face rectangles an annotator just drew (params.context.result),
// each labeled alone; the answer reuses their ids.
struct DrawnRegion {
    std::string id;
    RegionFraction region;
};

std::vector<DrawnRegion> drawn_regions(const json& body) {
    std::vector<DrawnRegion> out;
    if (!body.contains("params") || !body["params"].is_object()) return out;
    const json& context = body["params"].value("context", json());
    if (!context.is_object() || !context.contains("result") || !context["result"].is_array()) return out;
    for (const auto& r : context["result"]) {
        if (!r.is_object() || !r.contains("value") || !r["value"].is_object() || !r.contains("id") || !r["id"].is_string())
            continue;
        std::string type = r.value("type", "");
        if (type != "rectanglelabels" && type != "rectangle") continue;
        const json& v = r["value"];
        auto percent = [&](const char* key) { return v.contains(key) && v[key].is_number() ? v[key].get<double>() / 100.0 : -1.0; };
        RegionFraction region{percent("x"), percent("y"), percent("width"), percent("height")};
        if (region.x < 0 || region.y < 0 || region.w <= 0 || region.h <= 0) continue;
        out.push_back({r["id"].get<std::string>(), region});
    }
    return out;
}

// One /predict call: one slot per task, answered when all are done or at the deadline.
struct PredictBatch {
    std::mutex mutex;
    std::vector<std::optional<json>> results;
    std::size_t remaining = 0;
    bool answered = false;
    Responder responder;
    std::unique_ptr<boost::asio::steady_timer> deadline;
};

json results_body(PredictBatch& batch) {
    json results = json::array();
    for (auto& slot : batch.results) results.push_back(slot ? *slot : json::array());
    return json{{"results", std::move(results)}};
}

}  // namespace

struct Backend::Impl : std::enable_shared_from_this<Backend::Impl> {
    BackendDeps deps;
    LabelConfigCache configs;
    boost::asio::thread_pool pool;
    std::vector<std::string> prior_keys;
    std::mutex tasks_mutex;
    std::condition_variable tasks_idle;
    std::size_t tasks_running = 0;
    std::atomic<bool> stopping{false};

    explicit Impl(BackendDeps d)
        : deps(std::move(d)), configs(deps.knowledge),
          pool(static_cast<std::size_t>(deps.config.serve.media_threads > 0
                                            ? deps.config.serve.media_threads
                                            : 2 * std::max(1u, std::thread::hardware_concurrency()))),
          prior_keys(split_keys(deps.config.serve.prior_label_keys)) {}

    void log(server::LogLevel level, const std::string& msg, const json& fields, const std::string& request_id = {}) {
        server::logger().log(level, "label_studio", msg, fields, request_id);
    }

    std::string model_version() const { return deps.learned.current()->model_version; }

    // Learns from every review so far (START_TRAINING, /train); a changed fit is published at
    // once: new predictions use its version, exemplars and calibrated scores.
    json fit(const std::string& request_id) {
        auto current = deps.learned.current();
        auto outcome = fit_from_reviews(deps.store, *current, deps.config.fit, &deps.knowledge);
        if (!outcome) {
            log(server::LogLevel::error, "fit failed", {{"reason", outcome.error().message}}, request_id);
            return {{"error", outcome.error().message}};
        }
        if (outcome->changed) {
            deps.learned.publish(outcome->model);
            deps.engine.set_examples(outcome->model->exemplars);
        }
        log(server::LogLevel::info, outcome->changed ? "fit: new model version" : "fit: nothing changed", outcome->summary,
            request_id);
        return outcome->summary;
    }

    // --- /health, /setup, /versions, /metrics, /webhook, /train ------------------------------

    void health(const HttpRequest&, Responder responder) {
        responder.send_json(200, {{"status", "UP"}, {"model_class", deps.config.serve.model_class}});
    }

    void setup(const HttpRequest& request, Responder responder) {
        auto body = parse_body(request, true);
        if (!body) return void(responder.send_error(body.error()));
        std::string project = project_id(*body);
        std::string config = body->contains("schema") && (*body)["schema"].is_string() ? (*body)["schema"].get<std::string>() : "";
        if (!config.empty()) {
            ProjectRow row{project, config, body->value("extra_params", json()).dump()};
            if (auto saved = deps.store.save_project(row); !saved)
                log(server::LogLevel::warn, "project not stored", {{"project", project}, {"reason", saved.error().message}},
                    request.request_id);
        }
        responder.send_json(200, {{"model_version", model_version()}});
    }

    void versions(const HttpRequest&, Responder responder) {
        responder.send_json(200, {{"versions", json::array({model_version()})}});
    }

    void metrics(const HttpRequest&, Responder responder) {
        // Model-side figures are read from their owners when scraped, not copied on every call.
        if (const VllmStats* stats = deps.model_stats) {
            auto gauge = [&](const char* name, const char* help, double value) { deps.metrics.gauge(name, help).set(value); };
            gauge("seke_model_http_requests", "HTTP requests sent to the model, retries included", static_cast<double>(stats->http_requests.load()));
            gauge("seke_model_retries", "model requests retried", static_cast<double>(stats->retries.load()));
            gauge("seke_model_cache_hits", "model requests answered from the response cache", static_cast<double>(stats->cache_hits.load()));
            gauge("seke_model_failures", "model requests that failed for good", static_cast<double>(stats->failures.load()));
            gauge("seke_model_prompt_tokens", "prompt tokens reported by the model", static_cast<double>(stats->prompt_tokens.load()));
            gauge("seke_model_completion_tokens", "completion tokens reported by the model", static_cast<double>(stats->completion_tokens.load()));
            gauge("seke_model_requests_in_flight", "model requests on the wire", static_cast<double>(stats->in_flight.load()));
            gauge("seke_model_requests_queued", "model requests waiting for a concurrency slot", static_cast<double>(stats->queued.load()));
        }
        deps.metrics.gauge("seke_engine_faces_active", "faces being labeled").set(static_cast<double>(deps.engine.active()));
        {
            std::lock_guard lock(tasks_mutex);
            deps.metrics.gauge("seke_predict_tasks_running", "tasks of /predict calls not finished yet")
                .set(static_cast<double>(tasks_running));
        }
        responder.send(server::text_response(200, deps.metrics.render(), "text/plain; version=0.0.4; charset=utf-8"));
    }

    void webhook(const HttpRequest& request, Responder responder) {
        auto body = parse_body(request, false);
        if (!body) return void(responder.send_error(body.error()));
        std::string action = body->contains("action") && (*body)["action"].is_string() ? (*body)["action"].get<std::string>() : "";
        static const std::set<std::string> kTrainEvents = {"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED",
                                                           "ANNOTATION_DELETED", "ANNOTATIONS_DELETED", "START_TRAINING"};
        if (!kTrainEvents.count(action)) return void(responder.send_json(200, {{"status", "Unknown event"}}));
        // Stored before the reply: an event Label Studio was told we have is never lost.
        auto id = deps.store.save_event("label_studio", action, request.body);
        if (!id) return void(responder.send_error(id.error()));
        deps.metrics.counter("seke_webhook_events_total", "Label Studio webhook events stored").inc({{"action", action}});
        json result = {{"event_id", *id}, {"action", action}};
        if (action == "ANNOTATION_CREATED" || action == "ANNOTATION_UPDATED" || action == "ANNOTATIONS_CREATED")
            result["review"] = apply_reviews(*body, request.request_id);
        if (action == "START_TRAINING") result["fit"] = fit(request.request_id);
        responder.send_json(201, {{"status", "ok"}, {"result", result}});
    }

    // Diffs each annotation against seke's faces of its task and merges the human labels into
    // FEID. Idempotent: a redelivered event produces the same records.
    json apply_reviews(const json& body, const std::string& request_id) {
        json summary = {{"accepted", 0}, {"corrected", 0}, {"rejected", 0}, {"unmatched_faces", 0}, {"skipped", json::array()}};
        std::string project = project_id(body);
        std::string xml = body.contains("project") && body["project"].is_object() && body["project"].contains("label_config") &&
                                  body["project"]["label_config"].is_string()
                              ? body["project"]["label_config"].get<std::string>() : "";
        if (xml.empty())
            if (auto stored = deps.store.project(project); stored && stored->has_value()) xml = (*stored)->label_config;
        auto config = configs.get(xml);
        if (!config || !(*config)->applicable()) {
            summary["skipped"].push_back("the project's label config has no face emotion controls");
            return summary;
        }
        json annotations = body.value("annotation", json());
        if (!annotations.is_array()) annotations = json::array({annotations});
        json tasks = body.value("task", json());
        if (!tasks.is_array()) tasks = json::array({tasks});
        for (std::size_t i = 0; i < annotations.size(); ++i) {
            const json& annotation = annotations[i];
            if (!annotation.is_object() || !annotation.contains("result")) continue;
            if (annotation.value("was_cancelled", false)) continue;
            long long task_id = json_id(annotation.value("task", json()));
            if (task_id < 0 && i < tasks.size()) task_id = json_id(tasks[i]);
            std::string item = item_id_for(project, task_id);
            auto faces = deps.store.faces_of_item(item);
            if (!faces || faces->empty()) {
                summary["skipped"].push_back("task " + std::to_string(task_id) + ": seke has no prediction for it");
                continue;
            }
            std::vector<PredictedFace> predicted;
            std::vector<FeidRecord> records;
            for (const auto& row : *faces) {
                auto record = row.record();
                if (!record) continue;
                predicted.push_back(predicted_face(row.id, region_id_for(row.id), *record));
                records.push_back(std::move(*record));
            }
            auto annotated = parse_annotation_result(annotation["result"], **config);
            for (const auto& face : annotated)
                for (const auto& problem : face.problems)
                    log(server::LogLevel::warn, "annotation value not understood", {{"task", task_id}, {"problem", problem}},
                        request_id);
            ReviewOutcome outcome = diff_review(predicted, label_studio::reviewed_faces(annotated));
            std::string reviewer = annotation.contains("completed_by") ? std::to_string(json_id(annotation["completed_by"])) : "";
            std::string at = annotation.value("updated_at", annotation.value("created_at", std::string()));
            for (std::size_t f = 0; f < outcome.faces.size(); ++f) {
                const FaceReview& review = outcome.faces[f];
                auto merged = merge_review_into_record(deps.knowledge, records[f], review, reviewer, at);
                std::string status(review_status_name(review.status));
                if (auto saved = deps.store.save_review(review.face_id, status, merged); !saved)
                    log(server::LogLevel::error, "review not stored", {{"face", review.face_id}, {"reason", saved.error().message}},
                        request_id);
                else
                    summary[status] = summary[status].get<int>() + 1;
            }
            summary["unmatched_faces"] = summary["unmatched_faces"].get<int>() + static_cast<int>(outcome.added.size());
        }
        return summary;
    }

    // GET /queue?project=ID&limit=N&level=expression|va|au&diversity=BITS: unreviewed faces, most
    // likely wrong first by the current calibration, with the per-level breakdown.
    void queue(const HttpRequest& request, Responder responder) {
        auto project = request.query_param("project");
        if (!project || project->empty())
            return void(responder.send_error(make_error(errc::invalid_argument, "query parameter project=ID is required")));
        std::string prefix = "ls/" + project->substr(0, project->find('.')) + "/";
        auto options = parse_queue_options([&](const std::string& name) { return request.query_param(name); });
        if (!options) return void(responder.send_error(options.error()));
        options->item_prefix = prefix;
        auto learned = deps.learned.current();
        auto entries = review_queue(deps.store, *learned, *options);
        if (!entries) return void(responder.send_error(entries.error()));
        json items = json::array();
        for (const auto& entry : *entries) {
            auto row = deps.store.face(entry.face_id);
            if (!row || !row->has_value()) continue;
            auto record = (*row)->record();
            if (!record) continue;
            nlohmann::ordered_json stored = record->to_json();
            std::string task = entry.item_id.substr(prefix.size());
            items.push_back({{"task", task.find_first_not_of("0123456789") == std::string::npos ? json(std::stoll(task)) : json(task)},
                             {"face_id", entry.face_id},
                             {"region_id", region_id_for(entry.face_id)},
                             {"image", record->image},
                             {"error_probability", entry.error_probability},
                             {"level_error", {{"expression", entry.level_error[0]}, {"va", entry.level_error[1]}, {"au", entry.level_error[2]}}},
                             {"overall", entry.uncertainty.overall},
                             {"uncertainty", json(stored["uncertainty"])},
                             {"labels", json(stored["labels"])},
                             {"model_version", (*row)->model_version}});
        }
        responder.send_json(200, {{"project", *project},
                                  {"model_version", learned->model_version},
                                  {"calibrated", learned->calibration.any_trusted()},
                                  {"count", items.size()},
                                  {"items", items}});
    }

    // GET /predictions?project=P&task=T[&model_version=V]: what each model version predicted for
    // a task; a fit's new version never hides the older answers.
    void predictions(const HttpRequest& request, Responder responder) {
        auto project = request.query_param("project");
        auto task = request.query_param("task");
        long long task_id = -1;
        try {
            if (task) task_id = std::stoll(*task);
        } catch (...) {
        }
        if (!project || project->empty() || task_id < 0)
            return void(responder.send_error(make_error(errc::invalid_argument, "query parameters project=ID and task=ID are required")));
        auto rows = deps.store.task_predictions(project->substr(0, project->find('.')), task_id,
                                                request.query_param("model_version").value_or(""));
        if (!rows) return void(responder.send_error(rows.error()));
        json out = json::array();
        for (const auto& row : *rows) {
            json prediction = row.prediction_json.empty() ? json() : json::parse(row.prediction_json, nullptr, false);
            out.push_back({{"model_version", row.model_version},
                           {"status", row.status},
                           {"prediction", prediction.is_discarded() ? json() : prediction},
                           {"error", row.error},
                           {"updated_at", row.updated_at}});
        }
        responder.send_json(200, {{"project", *project}, {"task", task_id}, {"current_version", model_version()}, {"predictions", out}});
    }

    void train(const HttpRequest& request, Responder responder) {
        auto body = parse_body(request, true);
        if (!body) return void(responder.send_error(body.error()));
        auto id = deps.store.save_event("label_studio", "START_TRAINING", request.body.empty() ? "{}" : request.body);
        if (!id) return void(responder.send_error(id.error()));
        responder.send_json(200, {{"fit", fit(request.request_id)}});
    }

    // --- /predict ------------------------------------------------------------------------

    void predict(const HttpRequest& request, Responder responder) {
        auto parsed = parse_body(request, false);
        if (!parsed) return void(responder.send_error(parsed.error()));
        json& body = *parsed;
        json tasks = body.contains("tasks") ? body["tasks"] : json::array();
        if (tasks.is_object()) tasks = json::array({tasks});  // the upstream tests send one dict
        if (!tasks.is_array())
            return void(responder.send_error(make_error(errc::invalid_argument, "\"tasks\" must be a list or an object")));
        std::string project = project_id(body);
        std::string xml = body.contains("label_config") && body["label_config"].is_string()
                              ? body["label_config"].get<std::string>() : "";
        if (xml.empty())
            if (auto stored = deps.store.project(project); stored && stored->has_value()) xml = (*stored)->label_config;
        auto config = configs.get(xml);
        if (!config) return void(responder.send_error(config.error()));
        if (!(*config)->applicable()) {
            // An empty or unrelated config: nothing to predict, and that is not an error.
            return void(responder.send_json(200, {{"results", json::array()}}));
        }
        std::vector<DrawnRegion> drawn = drawn_regions(body);
        // "Retrieve predictions" again: when the store has every task, answer on this thread with
        // the stored JSON spliced in as it is — no parse, no thread hop.
        if (auto stored = drawn.empty() ? stored_predictions(project, tasks) : std::nullopt) {
            std::string out = "{\"results\":[";
            for (std::size_t i = 0; i < stored->size(); ++i) out += (i ? "," : "") + (*stored)[i];
            out += "]}";
            deps.metrics.counter("seke_predict_store_hits_total", "tasks answered from the store")
                .inc({}, static_cast<double>(stored->size()));
            return void(responder.send(server::text_response(200, std::move(out), "application/json")));
        }
        auto batch = std::make_shared<PredictBatch>();
        batch->results.resize(tasks.size());
        batch->remaining = tasks.size();
        batch->responder = std::move(responder);
        if (tasks.empty()) return finish_batch(batch);
        batch->deadline = std::make_unique<boost::asio::steady_timer>(
            pool.get_executor(), std::chrono::milliseconds(deps.config.serve.predict_deadline_ms));
        std::weak_ptr<PredictBatch> weak = batch;
        auto self = shared_from_this();
        batch->deadline->async_wait([self, weak](const boost::system::error_code& ec) {
            if (ec) return;
            if (auto b = weak.lock()) self->answer_at_deadline(b);
        });
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            begin_task();
            boost::asio::post(pool, [self, batch, i, task = tasks[i], project, cfg = *config, rid = request.request_id, drawn] {
                self->run_task(batch, i, task, project, cfg, rid, drawn);
            });
        }
    }

    // The stored predictions of every task, in order, or nullopt when any one is missing.
    std::optional<std::vector<std::string>> stored_predictions(const std::string& project, const json& tasks) {
        std::vector<std::string> out;
        out.reserve(tasks.size());
        for (const auto& task : tasks) {
            long long task_id = task.is_object() && task.contains("id") && task["id"].is_number_integer()
                                    ? task["id"].get<long long>() : -1;
            if (task_id < 0) return std::nullopt;
            auto row = deps.store.task_prediction(project, task_id, model_version());
            if (!row || !row->has_value() || (*row)->status != "done") return std::nullopt;
            out.push_back(std::move((*row)->prediction_json));
        }
        return out;
    }

    void begin_task() {
        std::lock_guard lock(tasks_mutex);
        ++tasks_running;
    }
    void end_task() {
        std::lock_guard lock(tasks_mutex);
        if (--tasks_running == 0) tasks_idle.notify_all();
    }

    void finish_batch(const std::shared_ptr<PredictBatch>& batch) {
        json body;
        {
            std::lock_guard lock(batch->mutex);
            if (batch->answered) return;
            batch->answered = true;
            body = results_body(*batch);
            if (batch->deadline) batch->deadline->cancel();
        }
        batch->responder.send_json(200, body);
    }

    void answer_at_deadline(const std::shared_ptr<PredictBatch>& batch) {
        std::size_t late = 0;
        {
            std::lock_guard lock(batch->mutex);
            late = batch->remaining;
        }
        log(server::LogLevel::info, "predict deadline: answering with finished tasks", {{"unfinished", late}},
            batch->responder.request_id());
        finish_batch(batch);
    }

    // Records one task's outcome in its slot; a task that finishes after the answer went out is
    // pushed to Label Studio (the store has it either way).
    void complete(const std::shared_ptr<PredictBatch>& batch, std::size_t index, json prediction, long long task_id) {
        bool all_done = false;
        bool late = false;
        {
            std::lock_guard lock(batch->mutex);
            late = batch->answered;
            batch->results[index] = prediction;
            all_done = --batch->remaining == 0;
        }
        if (late && task_id >= 0 && prediction.is_object() && !deps.config.label_studio.url.empty() &&
            !deps.config.label_studio.api_key.empty()) {
            auto pushed = deps.media.create_prediction(task_id, prediction);
            log(pushed ? server::LogLevel::info : server::LogLevel::warn,
                pushed ? "late prediction pushed to Label Studio" : "late prediction not pushed",
                {{"task", task_id}, {"reason", pushed ? "" : pushed.error().message}});
        }
        if (all_done) finish_batch(batch);
        end_task();
    }

    void fail_task(const std::shared_ptr<PredictBatch>& batch, std::size_t index, const std::string& project,
                   long long task_id, const Error& error, const std::string& request_id) {
        log(server::LogLevel::warn, "task not predicted",
            {{"project", project}, {"task", task_id}, {"code", errc_name(error.code)}, {"reason", error.message}}, request_id);
        deps.metrics.counter("seke_predict_task_failures_total", "tasks answered with [] because they failed")
            .inc({{"code", std::string(errc_name(error.code))}});
        if (task_id >= 0)
            deps.store.save_task_prediction({project, task_id, model_version(), "failed", "",
                                             std::string(errc_name(error.code)) + ": " + error.message, {}});
        complete(batch, index, json::array(), task_id);
    }

    void run_task(const std::shared_ptr<PredictBatch>& batch, std::size_t index, const json& task,
                  const std::string& project, const std::shared_ptr<const LabelingConfig>& config,
                  const std::string& request_id, const std::vector<DrawnRegion>& drawn) {
        long long task_id = task.is_object() && task.contains("id") && task["id"].is_number_integer()
                                ? task["id"].get<long long>() : -1;
        if (stopping) return fail_task(batch, index, project, task_id, make_error(errc::cancelled, "server stopping"), request_id);
        if (!task.is_object() || !task.contains("data") || !task["data"].is_object())
            return fail_task(batch, index, project, task_id, make_error(errc::invalid_argument, "task has no \"data\" object"), request_id);
        const json& data = task["data"];
        const std::string& key = config->image_value_key;
        if (!data.contains(key) || !data[key].is_string())
            return fail_task(batch, index, project, task_id,
                             make_error(errc::invalid_argument, "task.data has no string \"" + key + "\" for the image"),
                             request_id);
        // Served from the store when this model version already answered this task.
        if (task_id >= 0 && drawn.empty()) {
            auto stored = deps.store.task_prediction(project, task_id, model_version());
            if (stored && stored->has_value() && (*stored)->status == "done") {
                json prediction = json::parse((*stored)->prediction_json, nullptr, false);
                if (!prediction.is_discarded()) {
                    deps.metrics.counter("seke_predict_store_hits_total", "tasks answered from the store").inc();
                    return complete(batch, index, std::move(prediction), task_id);
                }
            }
        }
        std::string image = data[key].get<std::string>();
        auto bytes = deps.media.fetch_task_media(image, task_id >= 0 ? std::optional<long long>(task_id) : std::nullopt);
        if (!bytes) return fail_task(batch, index, project, task_id, bytes.error(), request_id);
        std::vector<RegionFraction> regions;
        for (const auto& d : drawn) regions.push_back(d.region);
        auto prepared = regions.empty() ? deps.preparer.prepare(*bytes) : deps.preparer.prepare_regions(*bytes, regions);
        if (!prepared) return fail_task(batch, index, project, task_id, prepared.error(), request_id);

        LabelSet known;
        LevelProvenance provenance;
        read_prior_labels(data, prior_keys, deps.knowledge, known, provenance);

        if (prepared->faces.empty())
            return fail_task(batch, index, project, task_id, make_error(errc::no_face, "no face to label"), request_id);
        auto image_ptr = std::make_shared<PreparedImage>(std::move(*prepared));
        auto self = shared_from_this();
        label_faces(deps.engine, *image_ptr, known, provenance,
                    [self, image_ptr, batch, index, project, task_id, config, image, request_id, drawn](std::vector<FaceResult> results) {
                        // Store writes stay off the engine's thread.
                        boost::asio::post(self->pool, [=, results = std::move(results)] {
                            self->finish_task(batch, index, project, task_id, *config, image, drawn, *image_ptr, results,
                                              request_id);
                        });
                    });
    }

    void finish_task(const std::shared_ptr<PredictBatch>& batch, std::size_t index, const std::string& project,
                     long long task_id, const LabelingConfig& config, const std::string& image,
                     const std::vector<DrawnRegion>& drawn, const PreparedImage& prepared,
                     const std::vector<FaceResult>& results, const std::string& request_id) {
        std::string item_id = item_id_for(project, task_id, image);
        auto learned = deps.learned.current();
        // A drawn region is its own FEID record, beside the faces seke found, and keeps its id.
        std::vector<std::string> face_ids;
        for (const auto& d : drawn) face_ids.push_back(item_id + "_region_" + d.id);
        LabeledImage labeled = labeled_image(deps.knowledge, item_id, image, prepared, results, learned->model_version, face_ids);
        if (labeled.labeled.empty()) {
            deps.store.save_outcomes({labeled.outcome});
            return fail_task(batch, index, project, task_id, make_error(errc::upstream_error, labeled.errors), request_id);
        }
        std::vector<FacePrediction> faces;
        for (std::size_t f : labeled.labeled) {
            const FaceResult& r = results[f];
            const std::string& face_id = labeled.outcome.faces[faces.size()].id;
            faces.push_back(FacePrediction{prepared.faces[f].box, drawn.empty() ? region_id_for(face_id) : drawn[f].id,
                                           r.labels, r.descriptions,
                                           calibrated_uncertainty(learned->calibration, r.uncertainty, r.provenance)});
        }
        const ItemOutcome& outcome = labeled.outcome;
        json prediction = build_prediction(config, ImageSize{prepared.width, prepared.height}, faces, learned->model_version);
        if (auto saved = deps.store.save_outcomes({outcome}); !saved)
            log(server::LogLevel::error, "prediction not stored", {{"task", task_id}, {"reason", saved.error().message}}, request_id);
        // An interactive answer is not the task's prediction: the next batch call still labels it whole.
        if (task_id >= 0 && drawn.empty())
            deps.store.save_task_prediction({project, task_id, learned->model_version, "done", prediction.dump(), "", {}});
        deps.metrics.counter("seke_predict_tasks_total", "tasks predicted by the model").inc();
        for (const auto& r : results)
            deps.metrics.counter("seke_model_samples_total", "model answers received for faces")
                .inc({}, static_cast<double>(r.cost.samples));
        complete(batch, index, std::move(prediction), task_id);
    }
};

Backend::Backend(BackendDeps deps) : impl_(std::make_shared<Impl>(std::move(deps))) {}

Backend::~Backend() { shutdown(std::chrono::milliseconds(0)); }

void Backend::add_routes(server::Router& router) {
    server::AuthSettings auth{impl_->deps.config.serve.basic_auth_user, impl_->deps.config.serve.basic_auth_pass,
                              impl_->deps.config.serve.webhook_secret, "X-Seke-Webhook-Secret"};
    auto wrap = [&](auto method) -> server::Handler {
        std::weak_ptr<Impl> weak = impl_;
        server::Handler handler = [weak, method](const HttpRequest& request, Responder responder) {
            auto self = weak.lock();
            if (!self) return void(responder.send_error(make_error(errc::cancelled, "server stopping")));
            ((*self).*method)(request, std::move(responder));
        };
        return auth.basic_enabled() ? server::require_basic_auth(auth, std::move(handler)) : handler;
    };
    router.get("/", wrap(&Impl::health));
    router.get("/health", wrap(&Impl::health));
    router.post("/setup", wrap(&Impl::setup));
    router.post("/predict", wrap(&Impl::predict));
    router.post("/train", wrap(&Impl::train));
    router.get("/versions", wrap(&Impl::versions));
    router.get("/metrics", wrap(&Impl::metrics));
    router.get("/queue", wrap(&Impl::queue));
    router.get("/predictions", wrap(&Impl::predictions));
    // The webhook Label Studio creates carries no Authorization: a shared secret may stand in.
    std::weak_ptr<Impl> weak = impl_;
    server::Handler webhook = [weak](const HttpRequest& request, Responder responder) {
        auto self = weak.lock();
        if (!self) return void(responder.send_error(make_error(errc::cancelled, "server stopping")));
        self->webhook(request, std::move(responder));
    };
    router.post("/webhook", auth.basic_enabled() || auth.secret_enabled()
                                ? server::require_webhook_auth(auth, std::move(webhook)) : webhook);
}

void Backend::shutdown(std::chrono::milliseconds grace) {
    if (!impl_) return;
    {
        std::unique_lock lock(impl_->tasks_mutex);
        impl_->tasks_idle.wait_for(lock, grace, [&] { return impl_->tasks_running == 0; });
    }
    impl_->stopping = true;
    impl_->deps.engine.cancel_all();
    {
        std::unique_lock lock(impl_->tasks_mutex);
        impl_->tasks_idle.wait_for(lock, std::chrono::seconds(30), [&] { return impl_->tasks_running == 0; });
    }
    impl_->pool.join();
}

}  // namespace seke::label_studio
