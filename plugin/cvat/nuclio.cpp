#include "plugin/cvat/nuclio.hpp"

#include <cmath>

#include "connectors/crypto.hpp"
#include "plugin/labeling/image_labeling.hpp"
#include "plugin/server/log.hpp"
#include "verify/text.hpp"

namespace seke::cvat {
namespace {

using nlohmann::json;
using server::HttpRequest;
using server::Responder;

}  // namespace

Result<DetectorCall> parse_detector_call(const std::string& text, double default_threshold) {
    if (!json_depth_within(text))
        return make_error(errc::bad_json, "the body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    json body = json::parse(text, nullptr, false);
    if (body.is_discarded())
        return make_error(errc::bad_json, "the body is not JSON; CVAT sends {\"image\": base64, \"threshold\"?}");
    if (!body.is_object()) return make_error(errc::bad_json, "the body must be a JSON object with \"image\"");
    if (!body.contains("image") || !body["image"].is_string())
        return make_error(errc::invalid_argument, "the body has no \"image\" string (the base64 of the frame)");
    DetectorCall call;
    call.threshold = default_threshold;
    if (body.contains("threshold") && !body["threshold"].is_null()) {
        const json& t = body["threshold"];
        if (!t.is_number() || !std::isfinite(t.get<double>()) || t.get<double>() < 0 || t.get<double>() > 1)
            return make_error(errc::invalid_argument, "\"threshold\" must be a number from 0 to 1");
        call.threshold = t.get<double>();
    }
    auto bytes = base64_decode(body["image"].get<std::string>());
    if (!bytes || bytes->empty()) return make_error(errc::invalid_argument, "\"image\" is not base64 of an image");
    call.image_bytes = std::move(*bytes);
    return call;
}

struct NuclioFunction::Impl : std::enable_shared_from_this<NuclioFunction::Impl> {
    NuclioDeps deps;
    std::atomic<int> listening_port{0};
    RunningCount running;  // invocations not finished yet, answered or not

    explicit Impl(NuclioDeps d) : deps(std::move(d)) {}

    void log(server::LogLevel level, const std::string& msg, const json& fields, const std::string& request_id) {
        server::logger().log(level, "cvat", msg, fields, request_id);
    }

    std::string model_version() const { return deps.learned.current()->model_version; }

    json function() const {
        int port = deps.config.cvat.http_port > 0 ? deps.config.cvat.http_port : listening_port.load();
        return function_object(deps.spec, model_version(), port);
    }

    void list_functions(const HttpRequest&, Responder responder) {
        responder.send_json(200, {{deps.spec.settings.function_name, function()}});
    }

    void get_function(const HttpRequest& request, Responder responder) {
        std::string name = request.param("name");
        if (name != deps.spec.settings.function_name)
            return void(responder.send_error(make_error(errc::not_found, "no function named \"" + name + "\"")));
        responder.send_json(200, function());
    }

    // POST /api/function_invocations: the dashboard names the function in a header.
    void invoke_via_dashboard(const HttpRequest& request, Responder responder) {
        std::string name = request.header("x-nuclio-function-name");
        if (name != deps.spec.settings.function_name)
            return void(responder.send_error(make_error(
                errc::not_found, name.empty() ? "no x-nuclio-function-name header; CVAT sends the function's name in it"
                                              : "no function named \"" + name + "\"")));
        invoke(request, std::move(responder));
    }

    // POST / (direct mode) and the dashboard route. Decoding a 64 MiB body happens off the
    // server's threads; a frame seke cannot label is answered 200 [] so CVAT's job goes on.
    // Every invocation takes its turn on the media threads as one call of the function's key.
    void invoke(const HttpRequest& request, Responder responder) {
        running.begin();
        auto held = std::make_shared<Responder>(std::move(responder));
        WorkKey key = deps.media_work.new_call("cvat/" + deps.spec.settings.function_name);
        auto refused =
            deps.media_work.admit(key, Job([self = shared_from_this(), held, key, body = request.body,
                                            rid = request.request_id] { self->run(*held, key, body, rid); }));
        if (refused) {
            count("refused");
            held->send_error(*refused);
            running.end();
        }
    }

    void run(Responder& responder, const WorkKey& key, const std::string& body, const std::string& request_id) {
        auto parsed = parse_detector_call(body, deps.config.cvat.default_threshold);
        if (!parsed) {
            count("bad_request");
            responder.send_error(parsed.error());
            return running.end();
        }
        double threshold = parsed->threshold;
        std::string hash = sha256_hex(parsed->image_bytes);
        std::string item_id = "cvat/image/" + hash.substr(0, 16);
        // Paid for already (this path or the REST worker saw the same bytes): answer from the store.
        if (auto item = deps.store.done_item_with_content(hash, model_version()); item && item->has_value()) {
            if (auto rows = deps.store.faces_of_item((*item)->id); rows && !rows->empty()) {
                auto learned = deps.learned.current();
                std::vector<LabeledFace> faces;
                for (const auto& row : *rows) {
                    auto record = row.record();
                    if (!record || row.status == "rejected") continue;
                    LabeledFace face = labeled_face_from_record(*record);
                    Uncertainty u = calibrated_uncertainty(learned->calibration, record->uncertainty.values(),
                                                           record->model_provenance());
                    face.confidence = 1 - u.overall;
                    faces.push_back(std::move(face));
                }
                count("store");
                responder.send_json(200, detector_response(deps.spec, faces, (*item)->width, (*item)->height, threshold,
                                                           model_version()));
                return running.end();
            }
        }
        auto prepared = deps.preparer.prepare(parsed->image_bytes);
        if (!prepared) {
            log(server::LogLevel::warn, "frame not labeled; answering []",
                {{"code", errc_name(prepared.error().code)}, {"reason", prepared.error().message}}, request_id);
            count(std::string(errc_name(prepared.error().code)));
            responder.send_json(200, json::array());
            return running.end();
        }
        if (prepared->faces.empty()) {
            count("no_face");
            responder.send_json(
                200, detector_response(deps.spec, {}, prepared->width, prepared->height, threshold, model_version()));
            return running.end();
        }
        // Answered once: by the labels, or by [] at the deadline while the labeling goes on.
        auto self = shared_from_this();
        auto held = std::make_shared<Responder>(std::move(responder));
        SlotBatch::Callbacks callbacks;
        callbacks.answer = [self, held, request_id](SlotBatch::Slots slots, std::size_t unfinished) {
            if (unfinished > 0) {
                self->log(server::LogLevel::warn,
                          "deadline: answering [] while labeling goes on; a rerun reads the store",
                          {{"deadline_ms", self->deps.config.serve.predict_deadline_ms}}, request_id);
                self->count("deadline");
            }
            held->send_json(200, slots[0] ? std::move(*slots[0]) : json::array());
        };
        auto answer = SlotBatch::start(
            deps.media_work, 1, std::chrono::milliseconds(deps.config.serve.predict_deadline_ms), std::move(callbacks));
        auto image = std::make_shared<PreparedImage>(std::move(*prepared));
        label_faces(deps.engine, *image, {}, {},
                    [self, key, answer, image, item_id, threshold, request_id](std::vector<FaceResult> results) {
                        // Store writes stay off the engine's thread.
                        self->deps.media_work.post(key, Job([=, results = std::move(results)] {
                                                       self->finish(*answer, *image, results, item_id, threshold,
                                                                    request_id);
                                                   }));
                    });
    }

    void finish(SlotBatch& answer, const PreparedImage& image, const std::vector<FaceResult>& results,
                const std::string& item_id, double threshold, const std::string& request_id) {
        auto learned = deps.learned.current();
        LabeledImage labeled = labeled_image(deps.knowledge, item_id, item_id, image, results, learned->model_version);
        if (auto saved = deps.store.save_outcomes({labeled.outcome}); !saved)
            log(server::LogLevel::error, "labels not stored", {{"item", item_id}, {"reason", saved.error().message}},
                request_id);
        if (!labeled.errors.empty())
            log(server::LogLevel::warn,
                labeled.labeled.empty() ? "frame not labeled; answering []" : "some faces not labeled",
                {{"item", item_id}, {"reason", labeled.errors}}, request_id);
        std::vector<LabeledFace> faces;
        for (std::size_t f : labeled.labeled)
            faces.push_back(
                {image.faces[f].box, results[f].labels,
                 1 - calibrated_uncertainty(learned->calibration, results[f].uncertainty, results[f].provenance)
                         .overall});
        count(labeled.labeled.empty() ? "model_failure" : "labeled");
        answer.fill(0, labeled.labeled.empty() ? json::array()
                                               : detector_response(deps.spec, faces, image.width, image.height,
                                                                   threshold, learned->model_version));
        running.end();
    }

    void count(const std::string& outcome) {
        deps.metrics.counter("seke_cvat_invocations_total", "CVAT function calls by outcome")
            .inc({{"outcome", outcome}});
    }
};

NuclioFunction::NuclioFunction(NuclioDeps deps) : impl_(std::make_shared<Impl>(std::move(deps))) {}

NuclioFunction::~NuclioFunction() {
    shutdown(std::chrono::milliseconds(0));
}

void NuclioFunction::set_listening_port(int port) {
    impl_->listening_port = port;
}

void NuclioFunction::add_routes(server::Router& router) {
    auto wrap = [&](auto method) -> server::Handler {
        std::weak_ptr<Impl> weak = impl_;
        return [weak, method](const HttpRequest& request, Responder responder) {
            auto self = weak.lock();
            if (!self) return void(responder.send_error(make_error(errc::cancelled, "server stopping")));
            ((*self).*method)(request, std::move(responder));
        };
    };
    router.get("/api/functions", wrap(&Impl::list_functions));
    router.get("/api/functions/{name}", wrap(&Impl::get_function));
    router.post("/api/function_invocations", wrap(&Impl::invoke_via_dashboard));
    router.post("/", wrap(&Impl::invoke));
}

void NuclioFunction::shutdown(std::chrono::milliseconds grace) {
    if (!impl_) return;
    impl_->running.wait_idle(grace);
    impl_->deps.engine.cancel_all();  // what is still labeling finishes at once, failed
    impl_->running.wait_idle(std::chrono::seconds(30));
}

}  // namespace seke::cvat
