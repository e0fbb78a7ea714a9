#include "plugin/cvat/worker.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "plugin/cvat/ids.hpp"
#include "plugin/labeling/image_labeling.hpp"

namespace seke::cvat {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxReportedFailures = 100;

// The faces one frame will carry, and the store rows they belong to.
struct FrameFaces {
    std::vector<LabeledFace> faces;
    std::vector<std::string> face_ids;
    std::string item_id;
    int width = 0, height = 0;
    bool reused = false;
    Cost cost;
};

// What one frame's write created in CVAT.
struct Written {
    std::size_t shapes = 0, tags = 0;
};

bool same_points(const json& sent, const std::vector<double>& got) {
    if (!sent.is_array() || sent.size() != got.size()) return false;
    for (std::size_t i = 0; i < got.size(); ++i)
        if (!sent[i].is_number() || std::fabs(sent[i].get<double>() - got[i]) > 0.5) return false;
    return true;
}

class Annotator {
  public:
    Annotator(const AnnotateDeps& deps, std::string cvat_url, long long task_id, const TaskBinding& binding,
              const std::vector<CvatJob>& jobs)
        : deps_(deps), cvat_url_(std::move(cvat_url)), task_id_(task_id), binding_(binding), jobs_(jobs) {}

    // Labels (or reuses) and writes one frame.
    Result<Written> run(long long frame, bool& reused, Cost& cost, std::size_t& faces) {
        auto bytes = deps_.client.frame(task_id_, frame);
        if (!bytes) return bytes.error();
        auto prepared = deps_.preparer.prepare(*bytes);
        if (!prepared) return prepared.error();
        auto labeled = faces_of(frame, *prepared);
        if (!labeled) return labeled.error();
        reused = labeled->reused;
        cost = labeled->cost;
        faces = labeled->faces.size();
        return write_shapes(frame, *labeled);
    }

  private:
    // Labels already stored for these image bytes, else the model's.
    Result<FrameFaces> faces_of(long long frame, const PreparedImage& prepared) {
        FrameFaces out;
        out.width = prepared.width;
        out.height = prepared.height;
        if (auto done = deps_.store.done_item_with_content(prepared.content_hash, deps_.model_version); done && *done) {
            auto rows = deps_.store.faces_of_item((*done)->id);
            if (rows && !rows->empty()) {
                for (const auto& row : *rows) {
                    auto record = row.record();
                    if (!record) continue;
                    out.faces.push_back(labeled_face_from_record(*record));
                    out.face_ids.push_back(row.id);
                }
                if (!out.faces.empty()) {
                    out.item_id = (*done)->id;
                    out.reused = true;
                    return out;
                }
            }
        }
        out.item_id = frame_item_id(task_id_, frame);
        if (prepared.faces.empty()) return make_error(errc::no_face, "no face to label");
        auto results = label_faces_blocking(deps_.engine, prepared, {}, {});
        LabeledImage labeled = labeled_image(deps_.knowledge, out.item_id, frame_image_url(cvat_url_, task_id_, frame),
                                             prepared, results, deps_.model_version);
        out.cost = labeled.cost;
        if (auto saved = deps_.store.save_outcomes({labeled.outcome}); !saved) return saved.error();
        // A frame with a face the model could not label is not written: a re-run retries it
        // whole, and the response cache makes the faces already labeled free.
        if (!labeled.errors.empty() || labeled.labeled.empty())
            return make_error(errc::upstream_error, labeled.errors.empty() ? "no face was labeled" : labeled.errors);
        for (std::size_t i = 0; i < labeled.labeled.size(); ++i) {
            const FaceResult& r = results[labeled.labeled[i]];
            out.faces.push_back(
                {prepared.faces[labeled.labeled[i]].box, r.labels,
                 1 - std::clamp(std::isfinite(r.uncertainty.overall) ? r.uncertainty.overall : 1.0, 0.0, 1.0)});
            out.face_ids.push_back(labeled.outcome.faces[i].id);
        }
        return out;
    }

    // The job whose range holds `frame`, -1 when the task lists none.
    long long job_of(long long frame) const {
        for (const auto& job : jobs_)
            if (frame >= job.start_frame && frame <= job.stop_frame) return job.id;
        return -1;
    }

    Result<Written> write_shapes(long long frame, const FrameFaces& labeled) {
        json shapes = json::array();
        for (const auto& face : labeled.faces)
            shapes.push_back(
                rest_shape(deps_.spec, binding_, face, frame, labeled.width, labeled.height, deps_.model_version));
        // The frame tag goes in the same write: a frame is written whole, once.
        std::optional<json> tag = rest_tag(deps_.spec, binding_, labeled.faces, frame);
        json body = {{"version", 0},
                     {"tags", tag ? json::array({*tag}) : json::array()},
                     {"shapes", shapes},
                     {"tracks", json::array()}};
        long long job = job_of(frame);
        // Writing through the job is what an annotator's token is allowed to do.
        auto created = job >= 0 ? deps_.client.create_job_annotations(job, body)
                                : deps_.client.create_task_annotations(task_id_, body);
        if (!created) return created.error();
        // CVAT echoes the created shapes in the order sent; points confirm each pairing.
        std::vector<CvatShapeRow> rows;
        std::vector<bool> used(created->shapes.size(), false);
        for (std::size_t i = 0; i < shapes.size(); ++i) {
            std::optional<std::size_t> match;
            if (i < created->shapes.size() && created->shapes[i].frame == frame &&
                same_points(shapes[i]["points"], created->shapes[i].points))
                match = i;
            for (std::size_t j = 0; !match && j < created->shapes.size(); ++j)
                if (!used[j] && created->shapes[j].frame == frame &&
                    same_points(shapes[i]["points"], created->shapes[j].points))
                    match = j;
            if (!match || created->shapes[*match].id < 0) continue;
            used[*match] = true;
            rows.push_back({cvat_url_, task_id_, job, frame, created->shapes[*match].id, labeled.face_ids[i],
                            labeled.item_id,
                            json{{"points", shapes[i]["points"]}, {"attributes", shapes[i]["attributes"]}}.dump(), ""});
        }
        if (auto saved = deps_.store.save_cvat_shapes(rows); !saved) return saved.error();
        std::vector<CvatTagRow> tags;
        if (tag) tags = tag_rows(frame, job, labeled, *tag, created->tags);
        if (auto saved = deps_.store.save_cvat_tags(tags); !saved) return saved.error();
        if (rows.size() != shapes.size())
            return make_error(errc::upstream_error, "CVAT created " + std::to_string(created->shapes.size()) +
                                                        " shapes for " + std::to_string(shapes.size()) +
                                                        " faces but returned ids for " + std::to_string(rows.size()) +
                                                        "; faces without an id are not synced");
        return Written{rows.size(), tags.size()};
    }

    // The tag CVAT created on `frame`, recorded with the face it speaks for so the review sync
    // can read it back. One without an id is not recorded: the shapes still are.
    std::vector<CvatTagRow> tag_rows(long long frame, long long job, const FrameFaces& labeled, const json& sent,
                                     const std::vector<CvatTag>& created) const {
        std::vector<CvatTagRow> rows;
        auto face = frame_tag_face(labeled.faces);
        for (const CvatTag& t : created)
            if (t.frame == frame && t.label_id == binding_.tag_label_id && t.id >= 0) {
                rows.push_back({cvat_url_, task_id_, job, frame, t.id, face ? labeled.face_ids[*face] : std::string(),
                                json{{"attributes", sent["attributes"]}}.dump(), ""});
                break;
            }
        return rows;
    }

    const AnnotateDeps& deps_;
    std::string cvat_url_;
    long long task_id_;
    const TaskBinding& binding_;
    const std::vector<CvatJob>& jobs_;
};

}  // namespace

Result<AnnotateSummary> annotate(const AnnotateDeps& deps, const AnnotateRequest& request,
                                 const std::atomic<bool>& stop, const std::function<void(const RunProgress&)>& progress,
                                 const std::function<void(const FrameFailure&)>& on_failure) {
    auto started = Clock::now();
    AnnotateSummary summary;
    std::string cvat_url = store_url(deps.client.settings().url);

    std::optional<CvatJob> job;
    if (request.job_id) {
        auto fetched = deps.client.job(*request.job_id);
        if (!fetched) return fetched.error();
        if (request.task_id >= 0 && fetched->task_id != request.task_id)
            return make_error(errc::invalid_argument, "job " + std::to_string(*request.job_id) + " belongs to task " +
                                                          std::to_string(fetched->task_id) + ", not task " +
                                                          std::to_string(request.task_id));
        job = *fetched;
    }
    summary.task_id = job ? job->task_id : request.task_id;
    summary.job_id = job ? job->id : -1;
    if (summary.task_id < 0)
        return make_error(errc::invalid_argument, "a task (--task N) or a job (--job N) is required");

    auto labels = deps.client.labels_of_task(summary.task_id);
    if (!labels) return labels.error();
    auto binding = bind_task_labels(deps.spec, deps.knowledge, json(*labels));
    if (!binding)
        return make_error(binding.error().code,
                          "task " + std::to_string(summary.task_id) + ": " + binding.error().message);
    summary.label_problems = binding->problems;

    auto frames = deps.client.task_frames(summary.task_id);
    if (!frames) return frames.error();
    std::vector<CvatJob> jobs;
    if (job) {
        jobs.push_back(*job);
    } else {
        auto listed = deps.client.jobs_of_task(summary.task_id);
        if (!listed) return listed.error();
        jobs = std::move(*listed);
    }
    auto annotated = deps.store.cvat_annotated_frames(cvat_url, summary.task_id);
    if (!annotated) return annotated.error();
    std::set<long long> done(annotated->begin(), annotated->end());

    long long first = job ? std::max(0LL, job->start_frame) : 0;
    long long last = job ? std::min(frames->size - 1, job->stop_frame) : frames->size - 1;
    std::vector<long long> todo;
    for (long long f = first; f <= last; ++f) {
        if (frames->deleted_frames.count(f)) {
            ++summary.deleted;
            continue;
        }
        ++summary.frames;
        if (done.count(f)) ++summary.already_annotated;
        else todo.push_back(f);
    }

    std::mutex mutex;
    std::atomic<std::size_t> next{0};
    RunProgress shown;
    shown.total = static_cast<std::int64_t>(todo.size());
    Annotator annotator(deps, cvat_url, summary.task_id, *binding, jobs);
    auto report = [&] {
        shown.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
        if (progress) progress(shown);
    };
    auto work = [&] {
        while (!stop.load()) {
            std::size_t index = next.fetch_add(1);
            if (index >= todo.size()) return;
            long long frame = todo[index];
            bool reused = false;
            Cost cost;
            std::size_t faces = 0;
            auto written = annotator.run(frame, reused, cost, faces);
            std::lock_guard lock(mutex);
            ++shown.finished;
            summary.cost += cost;
            shown.cost += cost;
            if (written) {
                (reused ? summary.reused : summary.labeled) += 1;
                summary.shapes_created += static_cast<std::int64_t>(written->shapes);
                summary.tags_created += static_cast<std::int64_t>(written->tags);
                summary.faces += static_cast<std::int64_t>(faces);
                shown.faces += static_cast<std::int64_t>(faces);
            } else {
                ++summary.failed;
                ++shown.failed;
                FrameFailure failure{frame, std::string(errc_name(written.error().code)), written.error().message};
                if (summary.failures.size() < kMaxReportedFailures) summary.failures.push_back(failure);
                if (on_failure) on_failure(failure);
            }
            report();
        }
    };
    std::size_t threads = std::clamp<std::size_t>(static_cast<std::size_t>(std::max(1, request.frames_in_flight)), 1,
                                                  std::max<std::size_t>(1, todo.size()));
    std::vector<std::thread> pool;
    for (std::size_t i = 1; i < threads; ++i) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    summary.interrupted = stop.load() && next.load() < todo.size();
    summary.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return summary;
}

nlohmann::ordered_json annotate_summary_json(const AnnotateSummary& s) {
    nlohmann::ordered_json out;
    out["task"] = s.task_id;
    if (s.job_id >= 0) out["job"] = s.job_id;
    out["frames"] = s.frames;
    out["deleted_frames"] = s.deleted;
    out["already_annotated"] = s.already_annotated;
    out["labeled"] = s.labeled;
    out["reused"] = s.reused;
    out["failed"] = s.failed;
    out["faces"] = s.faces;
    out["shapes_created"] = s.shapes_created;
    out["tags_created"] = s.tags_created;
    out["model_requests"] = s.cost.requests;
    out["cached_requests"] = s.cost.cached_requests;
    out["samples"] = s.cost.samples;
    out["prompt_tokens"] = s.cost.prompt_tokens;
    out["cached_prompt_tokens"] = s.cost.cached_prompt_tokens;
    out["completion_tokens"] = s.cost.completion_tokens;
    out["seconds"] = s.seconds;
    out["interrupted"] = s.interrupted;
    out["label_problems"] = s.label_problems;
    nlohmann::ordered_json failures = nlohmann::ordered_json::array();
    for (const auto& f : s.failures) failures.push_back({{"frame", f.frame}, {"code", f.code}, {"reason", f.reason}});
    out["failures"] = std::move(failures);
    return out;
}

}  // namespace seke::cvat
