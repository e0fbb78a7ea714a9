#include "plugin/label_studio/backend.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "connectors/claim_renewer.hpp"
#include "plugin/records/feid.hpp"
#include "plugin/labeling/image_labeling.hpp"
#include "plugin/labeling/shared_job.hpp"
#include "plugin/learning/review.hpp"
#include "plugin/label_studio/label_config.hpp"
#include "plugin/label_studio/predict_request.hpp"
#include "plugin/label_studio/predictions.hpp"
#include "plugin/label_studio/review_adapter.hpp"
#include "plugin/label_studio/webhook_body.hpp"
#include "plugin/server/auth.hpp"
#include "plugin/server/http_types.hpp"
#include "plugin/server/log.hpp"

namespace seke::label_studio {
namespace {

using nlohmann::json;
using server::HttpRequest;
using server::Responder;

// A face's region id in Label Studio, derived from its FEID id: an annotation that keeps the
// region keeps the id, which is how a review finds the face it is about.
std::string region_id_for(const std::string& face_id) {
    return "s" + sha256_hex(face_id).substr(0, 9);
}

// The operator's control mapping; load_config has checked it, so an error here is not expected.
ControlOverrides configured_overrides(const Config& config) {
    auto overrides = control_overrides(config.label_studio_controls);
    return overrides ? *overrides : ControlOverrides{};
}

// Where Label Studio's events and review links are filed in the store.
constexpr const char* kLabelStudioSource = "label_studio";

// Tasks are identified by id; a task without one (only seen in tests) by its image.
std::string item_id_for(const std::string& project, long long task_id, const std::string& image = {}) {
    return "ls/" + project + "/" +
           (task_id >= 0 ? std::to_string(task_id) : "image-" + sha256_hex(image).substr(0, 12));
}

// A task's prediction in the store for the current model version, read once per request: on
// the HTTP thread while every task so far had one, else by the task's own run.
struct StoredLookup {
    bool read = false;
    std::optional<std::string> prediction;  // the JSON of a "done" row
};

// One /predict call: the parsed request and what its tasks share while they run.
struct PredictCall {
    PredictRequest request;
    std::string request_id;
    WorkKey work_key;                   // its turn among the calls and projects waiting for media work
    std::vector<StoredLookup> stored;   // one per task
    std::shared_ptr<SlotBatch> answer;  // one slot per task
};

// One task of a /predict call, as it goes from the fetch threads to the media threads, the
// engine and back.
struct TaskRef {
    std::shared_ptr<const PredictCall> call;
    std::size_t index = 0;
    // On a shared store, the key of this replica's claim on the task: renewed while the task is
    // worked, released when it is done ("" when none is held).
    std::string claim;

    [[nodiscard]] const PredictRequest& request() const { return call->request; }
    [[nodiscard]] const PredictTask& task() const { return call->request.tasks[index]; }
    [[nodiscard]] const std::string& request_id() const { return call->request_id; }
};

}  // namespace

struct Backend::Impl : std::enable_shared_from_this<Backend::Impl> {
    BackendDeps deps;
    LabelConfigCache configs;
    PredictBodyCache predict_bodies;
    PriorLabelKeys prior_keys;
    RunningCount tasks_running;  // tasks of /predict calls not finished yet
    std::atomic<bool> stopping{false};
    // This replica's name in claims on tasks in flight (a shared store), and the claims it holds,
    // renewed while their tasks are worked: a replica that dies frees its tasks within kClaimLength.
    const std::string replica = claim_owner_name();
    ClaimRenewer task_claims{[this](const std::string& key) {
                                 auto renewed = deps.store.claim(key, replica, claim_ms());
                                 if (!renewed) throw std::runtime_error(renewed.error().message);
                             },
                             [this](const std::string& line) { log(server::LogLevel::warn, line, json::object()); }};
    // Review merges and fits run here, one at a time (two fits, or two merges of one task, never
    // race) and off the HTTP threads; each answers its request when it is done.
    boost::asio::thread_pool learning{1};
    std::mutex learning_mutex;
    bool learning_closed = false;  // shutdown: nothing more is queued
    // Label Studio polls /health: its answer never changes, so it is written once.
    const std::string health_body;
    // The projects whose controls were reported, each with the parsed config it was reported for:
    // once per project and config, not on every /setup or /predict. Held weakly, so a config the
    // cache dropped is reported again rather than mistaken for another at the same address.
    std::mutex reported_mutex;
    std::mutex spent_mutex;  // one scrape at a time brings the USD counter up to date
    std::map<std::pair<std::string, const LabelingConfig*>, std::weak_ptr<const LabelingConfig>> reported_configs;

    explicit Impl(BackendDeps d)
        : deps(d), configs(deps.knowledge, configured_overrides(deps.config)),
          prior_keys(parse_prior_label_keys(deps.config.serve.prior_label_keys)),
          health_body(json{{"status", "UP"}, {"model_class", deps.config.serve.model_class}}.dump(
              -1, ' ', false, json::error_handler_t::replace)) {}

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
        log(server::LogLevel::info, outcome->changed ? "fit: new model version" : "fit: nothing changed",
            outcome->summary, request_id);
        return outcome->summary;
    }

    // --- /health, /setup, /versions, /metrics, /webhook, /train ------------------------------

    void health(const HttpRequest&, Responder responder) {
        responder.send(server::text_response(200, health_body, "application/json"));
    }

    // Whether this project's controls under this config are still to be reported (from now on
    // they count as reported).
    bool first_report(const std::string& project, const std::shared_ptr<const LabelingConfig>& config) {
        std::lock_guard lock(reported_mutex);
        auto key = std::make_pair(project, config.get());
        auto found = reported_configs.find(key);
        if (found != reported_configs.end() && !found->second.expired()) return false;
        constexpr std::size_t kMaxReported = 4096;
        if (found == reported_configs.end() && reported_configs.size() >= kMaxReported) reported_configs.clear();
        reported_configs[std::move(key)] = config;
        return true;
    }

    // What seke fills of a project's config: a warning naming each control left unfilled and the
    // option that would map it, and the report kept in the store for the dashboard.
    void publish_control_report(const std::string& project, json report, const std::string& request_id) {
        if (!report["unfilled"].empty() || !report["problems"].empty())
            log(server::LogLevel::warn, "label config: controls seke leaves unfilled",
                {{"project", project},
                 {"unfilled", report["unfilled"]},
                 {"problems", report["problems"]},
                 {"usable", report["usable"]}},
                request_id);
        report["project"] = project;
        if (auto saved = deps.store.save_document(std::string(kControlReportDocument), project, report.dump()); !saved)
            log(server::LogLevel::warn, "control report not stored",
                {{"project", project}, {"reason", saved.error().message}}, request_id);
    }

    // /setup answers what seke fills of the project's config ("controls", which Label Studio
    // ignores); a config seke can fill nothing of is a 400 that says why, shown by Label Studio
    // when the model is connected.
    void setup(const HttpRequest& request, Responder responder) {
        auto body = parse_json_body(request.body, true);
        if (!body) return void(responder.send_error(body.error()));
        std::string project = project_id(*body);
        std::string xml =
            body->contains("schema") && (*body)["schema"].is_string() ? (*body)["schema"].get<std::string>() : "";
        json answer = {{"model_version", model_version()}};
        if (xml.empty()) return void(responder.send_json(200, answer));
        auto config = configs.get(xml);
        if (!config) return void(responder.send_error(config.error()));
        json report = control_report_json(**config);
        if (first_report(project, *config)) publish_control_report(project, report, request.request_id);
        if (!(*config)->unusable.empty())
            return void(responder.send_error(make_error(errc::invalid_argument, unusable_message(**config))));
        ProjectRow row{project, xml, body->value("extra_params", json()).dump()};
        if (auto saved = deps.store.save_project(row); !saved)
            log(server::LogLevel::warn, "project not stored", {{"project", project}, {"reason", saved.error().message}},
                request.request_id);
        answer["controls"] = std::move(report);
        responder.send_json(200, answer);
    }

    void versions(const HttpRequest&, Responder responder) {
        responder.send_json(200, {{"versions", json::array({model_version()})}});
    }

    void metrics(const HttpRequest&, Responder responder) {
        // Model-side figures are read from their owners when scraped, not copied on every call.
        if (const VllmStats* stats = deps.model_stats) {
            auto gauge = [&](const char* name, const char* help, double value, const server::Labels& labels = {}) {
                deps.metrics.gauge(name, help).set(value, labels);
            };
            gauge("seke_model_http_requests", "HTTP requests sent to the model, retries included",
                  static_cast<double>(stats->http_requests.load()));
            gauge("seke_model_retries", "model requests retried", static_cast<double>(stats->retries.load()));
            gauge("seke_model_cache_hits", "model requests answered from the response cache",
                  static_cast<double>(stats->cache_hits.load()));
            gauge("seke_model_failures", "model requests that failed for good",
                  static_cast<double>(stats->failures.load()));
            gauge("seke_model_prompt_tokens", "prompt tokens reported by the model",
                  static_cast<double>(stats->prompt_tokens.load()));
            gauge("seke_model_completion_tokens", "completion tokens reported by the model",
                  static_cast<double>(stats->completion_tokens.load()));
            gauge("seke_model_cached_prompt_tokens",
                  "of the prompt tokens, those the model's provider read from its prefix cache",
                  static_cast<double>(stats->cached_prompt_tokens.load()));
            // Money from the tokens, at vllm.model's price: a counter brought up to the bill so far.
            if (const auto price = model_price(deps.config)) {
                const TokenCounts paid{stats->prompt_tokens.load(), stats->cached_prompt_tokens.load(),
                                       stats->completion_tokens.load()};
                std::lock_guard lock(spent_mutex);
                auto& series = deps.metrics
                                   .counter("seke_model_cost_usd_total",
                                            "USD paid for model tokens at the configured price, per model")
                                   .series({{"model", deps.config.vllm.model}});
                series.inc(std::max(0.0, cost_usd(*price, paid) - series.value()));
            }
            gauge("seke_model_requests_in_flight", "model requests on the wire",
                  static_cast<double>(stats->in_flight.load()));
            gauge("seke_model_requests_queued", "model requests waiting for a concurrency slot",
                  static_cast<double>(stats->queued.load()));
            for (const auto& endpoint : stats->endpoints) {
                const server::Labels labels{{"endpoint", endpoint->endpoint}};
                gauge("seke_model_endpoint_requests", "HTTP requests sent to one model endpoint, retries included",
                      static_cast<double>(endpoint->requests.load()), labels);
                gauge("seke_model_endpoint_failures",
                      "requests to one model endpoint that failed: network errors, timeouts, 429 and 5xx",
                      static_cast<double>(endpoint->failures.load()), labels);
                gauge("seke_model_endpoint_in_flight", "model requests on the wire to one endpoint",
                      static_cast<double>(endpoint->in_flight.load()), labels);
                gauge("seke_model_endpoint_out", "1 while a model endpoint rests after failing: no request goes there",
                      endpoint->out() ? 1.0 : 0.0, labels);
            }
        }
        deps.metrics.gauge("seke_engine_faces_active", "faces being labeled")
            .set(static_cast<double>(deps.engine.active()));
        deps.metrics.gauge("seke_predict_tasks_running", "tasks of /predict calls not finished yet")
            .set(static_cast<double>(tasks_running.value()));
        responder.send(server::text_response(200, deps.metrics.render(), "text/plain; version=0.0.4; charset=utf-8"));
    }

    void webhook(const HttpRequest& request, Responder responder) {
        auto body = parse_webhook_body(request.body);
        if (!body) return void(responder.send_error(body.error()));
        const std::string action = body->action;
        static const std::set<std::string> kTrainEvents = {"ANNOTATION_CREATED",  "ANNOTATION_UPDATED",
                                                           "ANNOTATIONS_CREATED", "ANNOTATION_DELETED",
                                                           "ANNOTATIONS_DELETED", "START_TRAINING"};
        if (!kTrainEvents.count(action)) return void(responder.send_json(200, {{"status", "Unknown event"}}));
        const bool train = action == "START_TRAINING";
        // Stored before the reply: an event Label Studio was told we have is never lost. An
        // annotation event (a review or a deletion) is kept once, whichever replica it reaches: a
        // redelivery of one merged is not merged again.
        StoredEvent event;
        if (!train) {
            auto stored = deps.store.save_review_event(kLabelStudioSource, action, request.body);
            if (!stored) return void(responder.send_error(stored.error()));
            event = *stored;
        } else {
            auto id = deps.store.save_event(kLabelStudioSource, action, request.body);
            if (!id) return void(responder.send_error(id.error()));
            event.id = *id;
        }
        deps.metrics.counter("seke_webhook_events_total", "Label Studio webhook events stored")
            .inc({{"action", action}});
        json result = {{"event_id", event.id}, {"action", action}};
        if (event.merged) {
            deps.metrics.counter("seke_webhook_duplicates_total", "review events delivered again after their merge")
                .inc();
            result["duplicate"] = true;
            return void(responder.send_json(200, {{"status", "ok"}, {"result", result}}));
        }
        on_learning_thread(request, std::move(responder),
                           [self = shared_from_this(), body = std::move(*body), result = std::move(result), train,
                            event_id = event.id, request_id = request.request_id](Responder& answer) mutable {
                               if (train) {
                                   result["fit"] = self->fit(request_id);
                               } else {
                                   auto applied = self->apply_reviews(body, event_id, request_id);
                                   if (!applied) return void(answer.send_error(applied.error()));
                                   result["review"] = std::move(*applied);
                               }
                               answer.send_json(201, {{"status", "ok"}, {"result", result}});
                           });
    }

    // The faces whose current review came from an annotation the event withdraws (deleted, or
    // cancelled), each with its record as the model left it.
    Result<std::vector<ReopenRow>> reopen_rows(const WebhookBody& body, json& summary) {
        std::vector<ReopenRow> rows;
        if (body.withdrawn.empty()) return rows;
        auto linked = deps.store.faces_reviewed_by(kLabelStudioSource, body.project, body.withdrawn);
        if (!linked) return linked.error();
        for (const LinkedFace& face : *linked) {
            auto record = face.face.record();
            if (!record) {
                summary["skipped"].push_back(record.error().message);
                continue;
            }
            rows.push_back({face.face.id, reopened_record(deps.knowledge, *record), face.from});
        }
        return rows;
    }

    // Diffs each annotation against seke's faces of its task and merges the human labels into
    // FEID, and reopens the faces whose review came from an annotation withdrawn (deleted or
    // cancelled): back to the model's labels, unreviewed. Idempotent: a redelivered event
    // produces the same records. The event's writes are made in one transaction: a failed
    // write stores none of them and answers the error, so Label Studio delivers the event again.
    Result<json> apply_reviews(const WebhookBody& body, long long event_id, const std::string& request_id) {
        json summary = {{"accepted", 0},        {"corrected", 0}, {"rejected", 0},
                        {"unmatched_faces", 0}, {"reopened", 0},  {"skipped", json(body.unread)}};
        if (!body.withdrawn.empty()) summary["withdrawn_annotations"] = body.withdrawn.size();
        const std::string& project = body.project;
        ReviewWrites writes;
        auto reopens = reopen_rows(body, summary);
        if (!reopens) return reopens.error();
        writes.reopens = std::move(*reopens);
        if (!is_deletion(body.action)) {
            std::string xml = body.label_config;
            if (xml.empty())
                if (auto stored = deps.store.project(project); stored && stored->has_value())
                    xml = (*stored)->label_config;
            auto config = configs.get(xml);
            if (!config || !(*config)->applicable()) {
                summary["skipped"].push_back("the project's label config has no face emotion controls");
                if (body.withdrawn.empty()) return summary;
            } else {
                add_reviews(body, **config, summary, writes.reviews, request_id);
            }
        }
        auto saved = deps.store.save_review_writes(writes, event_id);
        if (!saved) {
            log(server::LogLevel::error, "reviews not stored", {{"reason", saved.error().message}}, request_id);
            return saved.error();
        }
        if (!saved->first) return json{{"duplicate", true}};  // another replica merged it meanwhile
        summary["reopened"] = saved->reopened;
        if (saved->reopened > 0)
            deps.metrics
                .counter("seke_reviews_reopened_total", "faces reopened: the annotation that reviewed them went")
                .inc({}, static_cast<double>(saved->reopened));
        return summary;
    }

    // Each annotation's faces diffed against seke's faces of its task, as reviews to write.
    void add_reviews(const WebhookBody& body, const LabelingConfig& config, json& summary,
                     std::vector<ReviewRow>& reviews, const std::string& request_id) {
        const std::string& project = body.project;
        for (const WebhookAnnotation& annotation : body.annotations) {
            const long long task_id = annotation.task_id;
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
            auto annotated = parse_annotation_result(annotation.result, config);
            for (const auto& face : annotated)
                for (const auto& problem : face.problems)
                    log(server::LogLevel::warn, "annotation value not understood",
                        {{"task", task_id}, {"problem", problem}}, request_id);
            ReviewOutcome outcome = diff_review(predicted, label_studio::reviewed_faces(annotated));
            // Linked to its annotation, so deleting that annotation undoes it.
            std::optional<ReviewSource> from;
            if (annotation.id >= 0) from = ReviewSource{kLabelStudioSource, project, annotation.id};
            for (std::size_t f = 0; f < outcome.faces.size(); ++f) {
                const FaceReview& review = outcome.faces[f];
                std::string status(review_status_name(review.status));
                reviews.push_back(
                    {review.face_id, status,
                     merge_review_into_record(deps.knowledge, records[f], review, annotation.reviewer, annotation.at),
                     from});
                summary[status] = summary[status].get<int>() + 1;
            }
            summary["unmatched_faces"] = summary["unmatched_faces"].get<int>() + static_cast<int>(outcome.added.size());
        }
    }

    // GET /queue?project=ID&limit=N&level=expression|va|au&diversity=BITS: unreviewed faces, most
    // likely wrong first by the current calibration, with the per-level breakdown.
    void queue(const HttpRequest& request, Responder responder) {
        auto project = request.query_param("project");
        if (!project || project->empty())
            return void(
                responder.send_error(make_error(errc::invalid_argument, "query parameter project=ID is required")));
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
            items.push_back(
                {{"task",
                  task.find_first_not_of("0123456789") == std::string::npos ? json(std::stoll(task)) : json(task)},
                 {"face_id", entry.face_id},
                 {"region_id", region_id_for(entry.face_id)},
                 {"image", record->image},
                 {"error_probability", entry.error_probability},
                 {"level_error",
                  {{"expression", entry.level_error[0]}, {"va", entry.level_error[1]}, {"au", entry.level_error[2]}}},
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
            return void(responder.send_error(
                make_error(errc::invalid_argument, "query parameters project=ID and task=ID are required")));
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
        responder.send_json(
            200,
            {{"project", *project}, {"task", task_id}, {"current_version", model_version()}, {"predictions", out}});
    }

    void train(const HttpRequest& request, Responder responder) {
        auto body = parse_json_body(request.body, true);
        if (!body) return void(responder.send_error(body.error()));
        auto id = deps.store.save_event("label_studio", "START_TRAINING", request.body.empty() ? "{}" : request.body);
        if (!id) return void(responder.send_error(id.error()));
        on_learning_thread(request, std::move(responder),
                           [self = shared_from_this(), request_id = request.request_id](Responder& answer) {
                               answer.send_json(200, {{"fit", self->fit(request_id)}});
                           });
    }

    // Runs `work(responder)` on the learning thread. A throw is answered 500, as the router
    // answers a handler that throws; after shutdown the request is refused as the server stopping.
    template <class Work>
    void on_learning_thread(const HttpRequest& request, Responder responder, Work work) {
        {
            std::lock_guard lock(learning_mutex);
            if (!learning_closed) {
                boost::asio::post(learning, [self = shared_from_this(), route = request.route,
                                             responder = std::move(responder), work = std::move(work)]() mutable {
                    std::string failure;
                    try {
                        work(responder);
                    } catch (const std::exception& e) {
                        failure = e.what();
                    } catch (...) {
                        failure = "unknown exception";
                    }
                    if (failure.empty()) return;
                    self->log(server::LogLevel::error, "handler threw", {{"route", route}, {"error", failure}},
                              responder.request_id());
                    responder.send_error(make_error(errc::internal, "the handler failed: " + failure));
                });
                return;
            }
        }
        responder.send_error(make_error(errc::cancelled, "server stopping"));
    }

    // Lets the merges and fits asked for so far finish and answer; none is taken after this.
    void close_learning() {
        {
            std::lock_guard lock(learning_mutex);
            learning_closed = true;
        }
        learning.join();
    }

    // --- /predict ------------------------------------------------------------------------

    PredictParsing predict_parsing() {
        return PredictParsing{configs,
                              [this](const std::string& project) {
                                  auto stored = deps.store.project(project);
                                  return stored && stored->has_value() ? (*stored)->label_config : std::string();
                              },
                              prior_keys, deps.knowledge};
    }

    void predict(const HttpRequest& request, Responder responder) {
        auto parsed = predict_bodies.parse(request.body, predict_parsing());
        if (!parsed) return void(responder.send_error(parsed.error()));
        if (!parsed->label_config.empty() && first_report(parsed->project, parsed->config))
            publish_control_report(parsed->project, control_report_json(*parsed->config), request.request_id);
        if (!parsed->config->applicable()) {
            // An empty or unrelated config: nothing to predict, and that is not an error.
            return void(responder.send_json(200, {{"results", json::array()}}));
        }
        auto call = std::make_shared<PredictCall>();
        call->request = std::move(*parsed);
        call->request_id = request.request_id;
        call->stored.resize(call->request.tasks.size());
        if (answered_from_store(*call, responder)) return;

        const std::vector<PredictTask>& tasks = call->request.tasks;
        std::vector<long long> task_ids;
        task_ids.reserve(tasks.size());
        for (const auto& task : tasks) task_ids.push_back(task.id);
        auto self = shared_from_this();
        auto held = std::make_shared<Responder>(std::move(responder));
        SlotBatch::Callbacks callbacks;
        callbacks.answer = [self, held](SlotBatch::Slots slots, std::size_t unfinished) {
            if (unfinished > 0)
                self->log(server::LogLevel::info, "predict deadline: answering with finished tasks",
                          {{"unfinished", unfinished}}, held->request_id());
            json results = json::array();
            for (auto& slot : slots) results.push_back(slot ? std::move(*slot) : json::array());
            held->send_json(200, {{"results", std::move(results)}});
        };
        // A task that finishes after the answer went out is pushed to Label Studio (the store
        // has it either way).
        callbacks.late = [self, task_ids](std::size_t index, const json& prediction) {
            self->push_late_prediction(task_ids[index], prediction);
        };
        call->work_key = deps.media_work.new_call(call->request.project);
        call->answer =
            SlotBatch::start(deps.media_work, tasks.size(),
                             std::chrono::milliseconds(deps.config.serve.predict_deadline_ms), std::move(callbacks));
        std::vector<Job> jobs;
        jobs.reserve(tasks.size());
        for (std::size_t i = 0; i < tasks.size(); ++i)
            jobs.emplace_back([self, task = TaskRef{call, i, {}}] { self->fetch_task(task); });
        tasks_running.begin(tasks.size());
        if (auto refused = deps.media_work.fetch(call->work_key, std::move(jobs))) {
            tasks_running.end(tasks.size());
            call->answer->withdraw();
            log(server::LogLevel::warn, "predict refused", {{"tasks", tasks.size()}, {"reason", refused->message}},
                held->request_id());
            held->send_error(*refused);
        }
    }

    // "Retrieve predictions" again: when the store has every task, answer on this thread with
    // the stored JSON spliced in as it is — no parse, no thread hop. The lookups stop at the
    // first task the store lacks; what they read is kept for the tasks' own runs.
    bool answered_from_store(PredictCall& call, Responder& responder) {
        const PredictRequest& request = call.request;
        if (!request.drawn.empty()) return false;
        for (std::size_t i = 0; i < request.tasks.size(); ++i) {
            if (request.tasks[i].id < 0) return false;
            call.stored[i] = {true, stored_prediction(request.project, request.tasks[i].id)};
            if (!call.stored[i].prediction) return false;
        }
        std::string out = "{\"results\":[";
        for (std::size_t i = 0; i < call.stored.size(); ++i) out += (i ? "," : "") + *call.stored[i].prediction;
        out += "]}";
        deps.metrics.counter("seke_predict_store_hits_total", "tasks answered from the store")
            .inc({}, static_cast<double>(call.stored.size()));
        responder.send(server::text_response(200, std::move(out), "application/json"));
        return true;
    }

    // On a shared store another replica may be labeling the task now: its prediction is awaited
    // rather than paid for again, for as long as that replica's claim is renewed. Returns it when
    // it came; nothing when this replica labels the task itself, `claim` then the key of the
    // claim it holds ("" when it could not be made: it labels the task anyway, losing nothing).
    std::optional<json> await_other_replica(const TaskRef& t, std::string& claim) {
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(deps.config.serve.predict_deadline_ms);
        const std::string key =
            "task:" + t.request().project + ":" + std::to_string(t.task().id) + ":" + model_version();
        while (!stopping && std::chrono::steady_clock::now() < deadline) {
            auto mine = deps.store.claim(key, replica, claim_ms());
            if (!mine || *mine) {
                if (mine) {
                    claim = key;
                    task_claims.hold(key);
                }
                return std::nullopt;
            }
            std::this_thread::sleep_for(kClaimRecheck);
            if (auto stored = stored_prediction(t.request().project, t.task().id)) {
                json prediction = json::parse(*stored, nullptr, false);
                if (!prediction.is_discarded()) return prediction;
            }
        }
        return std::nullopt;
    }
    static int claim_ms() { return static_cast<int>(kClaimLength.count()); }
    void release_task_claim(const TaskRef& t) {
        if (t.claim.empty()) return;
        task_claims.drop(t.claim);  // before the release: no renewal makes the claim again after it
        deps.store.release_claim(t.claim, replica);
    }

    std::optional<std::string> stored_prediction(const std::string& project, long long task_id) {
        auto row = deps.store.task_prediction(project, task_id, model_version());
        if (!row || !row->has_value() || (*row)->status != "done") return std::nullopt;
        return std::move((*row)->prediction_json);
    }

    void push_late_prediction(long long task_id, const json& prediction) {
        if (task_id < 0 || !prediction.is_object() || deps.config.label_studio.url.empty() ||
            deps.config.label_studio.api_key.empty())
            return;
        auto pushed = deps.media.create_prediction(task_id, prediction);
        log(pushed ? server::LogLevel::info : server::LogLevel::warn,
            pushed ? "late prediction pushed to Label Studio" : "late prediction not pushed",
            {{"task", task_id}, {"reason", pushed ? "" : pushed.error().message}});
    }

    // Records one task's outcome in its slot of the answer.
    void complete(const TaskRef& t, json prediction) {
        release_task_claim(t);
        t.call->answer->fill(t.index, std::move(prediction));
        tasks_running.end();
    }

    void fail_task(const TaskRef& t, const Error& error) {
        const std::string& project = t.request().project;
        long long task_id = t.task().id;
        log(server::LogLevel::warn, "task not predicted",
            {{"project", project}, {"task", task_id}, {"code", errc_name(error.code)}, {"reason", error.message}},
            t.request_id());
        deps.metrics.counter("seke_predict_task_failures_total", "tasks answered with [] because they failed")
            .inc({{"code", std::string(errc_name(error.code))}});
        if (task_id >= 0)
            deps.store.save_task_prediction({project,
                                             task_id,
                                             model_version(),
                                             "failed",
                                             "",
                                             std::string(errc_name(error.code)) + ": " + error.message,
                                             {}});
        complete(t, json::array());
    }

    // On a fetch thread: the store, else the task's media; the rest on a media thread.
    void fetch_task(const TaskRef& t) {
        const PredictRequest& request = t.request();
        const PredictTask& task = t.task();
        if (stopping) return fail_task(t, make_error(errc::cancelled, "server stopping"));
        if (task.unusable) return fail_task(t, *task.unusable);
        // Served from the store when this model version already answered this task.
        if (task.id >= 0 && request.drawn.empty()) {
            const StoredLookup& looked = t.call->stored[t.index];
            std::optional<std::string> read_now;
            if (!looked.read) read_now = stored_prediction(request.project, task.id);
            const std::optional<std::string>& stored = looked.read ? looked.prediction : read_now;
            if (stored) {
                json prediction = json::parse(*stored, nullptr, false);
                if (!prediction.is_discarded()) {
                    deps.metrics.counter("seke_predict_store_hits_total", "tasks answered from the store").inc();
                    return complete(t, std::move(prediction));
                }
            }
            if (deps.store.shared()) {
                std::string claim;
                if (auto awaited = await_other_replica(t, claim)) {
                    deps.metrics.counter("seke_predict_replica_hits_total", "tasks another replica was labeling").inc();
                    return complete(t, std::move(*awaited));
                }
                if (!claim.empty()) return fetch_and_label(TaskRef{t.call, t.index, std::move(claim)});
            }
        }
        fetch_and_label(t);
    }

    void fetch_and_label(const TaskRef& t) {
        const PredictTask& task = t.task();
        auto bytes =
            deps.media.fetch_task_media(task.image, task.id >= 0 ? std::optional<long long>(task.id) : std::nullopt);
        if (!bytes) return fail_task(t, bytes.error());
        deps.media_work.post_fetched(t.call->work_key, Job([self = shared_from_this(), t, bytes = std::move(*bytes)] {
                                         self->label_task(t, bytes);
                                     }));
    }

    // On a media thread: decode, find the faces, hand them to the engine.
    void label_task(const TaskRef& t, const std::string& bytes) {
        const PredictRequest& request = t.request();
        const PredictTask& task = t.task();
        if (stopping) return fail_task(t, make_error(errc::cancelled, "server stopping"));
        std::vector<RegionFraction> regions;
        for (const auto& d : request.drawn) regions.push_back(d.region);
        auto prepared = regions.empty() ? deps.preparer.prepare(bytes) : deps.preparer.prepare_regions(bytes, regions);
        if (!prepared) return fail_task(t, prepared.error());
        if (prepared->faces.empty()) return fail_task(t, make_error(errc::no_face, "no face to label"));
        auto image = std::make_shared<PreparedImage>(std::move(*prepared));
        auto self = shared_from_this();
        label_faces(
            deps.engine, *image, task.known, task.provenance, [self, t, image](std::vector<FaceResult> results) {
                // Store writes stay off the engine's thread.
                self->deps.media_work.post(t.call->work_key, Job([self, t, image, results = std::move(results)] {
                                               self->finish_task(t, *image, results);
                                           }));
            });
    }

    void finish_task(const TaskRef& t, const PreparedImage& prepared, const std::vector<FaceResult>& results) {
        const PredictRequest& request = t.request();
        const std::vector<DrawnRegion>& drawn = request.drawn;
        long long task_id = t.task().id;
        std::string item_id = item_id_for(request.project, task_id, t.task().image);
        auto learned = deps.learned.current();
        // A drawn region is its own FEID record, beside the faces seke found, and keeps its id.
        std::vector<std::string> face_ids;
        face_ids.reserve(drawn.size());
        for (const auto& d : drawn) face_ids.push_back(item_id + "_region_" + d.id);
        LabeledImage labeled =
            labeled_image(deps.knowledge, item_id, t.task().image, prepared, results, learned->model_version, face_ids);
        if (labeled.labeled.empty()) {
            deps.store.save_outcomes({labeled.outcome});
            return fail_task(t, make_error(errc::upstream_error, labeled.errors));
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
        json prediction = build_prediction(*request.config, ImageSize{prepared.width, prepared.height}, faces,
                                           learned->model_version);
        if (auto saved = deps.store.save_outcomes({outcome}); !saved)
            log(server::LogLevel::error, "prediction not stored",
                {{"task", task_id}, {"reason", saved.error().message}}, t.request_id());
        // An interactive answer is not the task's prediction: the next batch call still labels it whole.
        if (task_id >= 0 && drawn.empty())
            deps.store.save_task_prediction(
                {request.project, task_id, learned->model_version, "done", prediction.dump(), "", {}});
        deps.metrics.counter("seke_predict_tasks_total", "tasks predicted by the model").inc();
        for (const auto& r : results)
            deps.metrics.counter("seke_model_samples_total", "model answers received for faces")
                .inc({}, static_cast<double>(r.cost.samples));
        complete(t, std::move(prediction));
    }
};

Backend::Backend(BackendDeps deps) : impl_(std::make_shared<Impl>(deps)) {}

Backend::~Backend() {
    shutdown(std::chrono::milliseconds(0));
}

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
    // Webhook bodies are stored as they come: their own, smaller limit.
    router.post("/webhook",
                auth.basic_enabled() || auth.secret_enabled() ? server::require_webhook_auth(auth, std::move(webhook))
                                                              : webhook,
                impl_->deps.config.serve.webhook_body_limit);
}

void Backend::shutdown(std::chrono::milliseconds grace) {
    if (!impl_) return;
    impl_->tasks_running.wait_idle(grace);
    impl_->stopping = true;
    impl_->deps.engine.cancel_all();
    impl_->tasks_running.wait_idle(std::chrono::seconds(30));
    impl_->close_learning();
}

}  // namespace seke::label_studio
