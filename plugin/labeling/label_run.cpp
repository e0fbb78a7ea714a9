#include "plugin/labeling/label_run.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <variant>

#include "plugin/labeling/model_setup.hpp"
#include "plugin/records/feid.hpp"
#include "plugin/labeling/engine_service.hpp"
#include "verify/face_labeler.hpp"

namespace seke {
namespace {

using Clock = std::chrono::steady_clock;

// Events reach the coordinating thread through one queue: from the image pool and from the
// engine service's thread. Only the coordinator touches the items and the store.
struct ImageReady {
    std::size_t job = 0;
    Result<PreparedImage> image;
};
struct FaceDone {
    std::size_t job = 0;
    std::size_t face = 0;
    FaceResult result;
};
using Event = std::variant<ImageReady, FaceDone>;

class EventQueue {
  public:
    void push(Event event) {
        {
            std::lock_guard lock(mutex_);
            events_.push_back(std::move(event));
        }
        ready_.notify_one();
    }
    // Waits up to `timeout` for at least one event; returns all queued.
    std::deque<Event> take(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        ready_.wait_for(lock, timeout, [&] { return !events_.empty(); });
        std::deque<Event> out;
        out.swap(events_);
        return out;
    }

  private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<Event> events_;
};

// A bounded pool that decodes images and finds faces (CPU work, off the coordinator).
class ImagePool {
  public:
    ImagePool(int threads, const FacePreparer& preparer, const ImageLimits& limits,
              const std::vector<LabelJob>& jobs, EventQueue& events)
        : preparer_(preparer), limits_(limits), jobs_(jobs), events_(events) {
        for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
    }
    ~ImagePool() {
        {
            std::lock_guard lock(mutex_);
            closing_ = true;
        }
        wake_.notify_all();
        for (auto& worker : workers_) worker.join();
    }
    ImagePool(const ImagePool&) = delete;
    ImagePool& operator=(const ImagePool&) = delete;

    void add(std::size_t job) {
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(job);
        }
        wake_.notify_one();
    }

  private:
    void work() {
        for (;;) {
            std::size_t job = 0;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return closing_ || !queue_.empty(); });
                if (closing_) return;
                job = queue_.front();
                queue_.pop_front();
            }
            auto bytes = fetch_image_bytes(jobs_[job].source, limits_);
            if (!bytes) {
                events_.push(ImageReady{job, bytes.error()});
                continue;
            }
            events_.push(ImageReady{job, preparer_.prepare(*bytes)});
        }
    }

    const FacePreparer& preparer_;
    const ImageLimits& limits_;
    const std::vector<LabelJob>& jobs_;
    EventQueue& events_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::size_t> queue_;
    bool closing_ = false;
    std::vector<std::thread> workers_;
};

struct FaceSlot {
    FaceCrop crop;
    std::optional<FaceResult> result;
};

struct ActiveItem {
    PreparedImage image;
    std::vector<FaceSlot> faces;
    std::size_t remaining = 0;
    bool abandoned = false;  // stopped mid-way: nothing of it is stored
};


}  // namespace

LabelRun::LabelRun(const Config& config, const Knowledge& knowledge, Store& store, VllmClient& client,
                   std::string model_version)
    : config_(config), knowledge_(knowledge), store_(store), client_(client),
      model_version_(std::move(model_version)) {}

Result<RunSummary> LabelRun::run(const std::vector<LabelJob>& all_jobs, const std::atomic<bool>& stop,
                                 const ProgressCallback& progress) {
    RunSummary summary;
    auto finished_ids = store_.finished_item_ids();
    if (!finished_ids) return finished_ids.error();
    std::set<std::string> finished(finished_ids->begin(), finished_ids->end());
    std::vector<LabelJob> jobs;
    for (const auto& job : all_jobs) {
        if (finished.count(job.id)) ++summary.already_done;
        else jobs.push_back(job);
    }
    RunProgress& state = summary.progress;
    state.total = static_cast<std::int64_t>(jobs.size());

    const auto start_time = Clock::now();
    const auto start_requests = client_.stats().http_requests.load();
    const auto start_retries = client_.stats().retries.load();
    FacePreparer preparer(face_options(config_), config_.image);
    if (auto ready = preparer.ready(); !ready) return ready.error();
    EventQueue events;
    int threads = config_.run.image_threads > 0
                      ? config_.run.image_threads
                      : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    ImagePool pool(threads, preparer, config_.image, jobs, events);

    // Enough items in flight to keep every model slot busy, few enough to bound memory.
    const std::size_t max_active =
        static_cast<std::size_t>(std::max(8, 2 * config_.vllm.max_concurrency + threads));
    std::unordered_map<std::size_t, ActiveItem> active;
    std::size_t dispatched_images = 0;  // images handed to the pool, not yet back
    std::size_t faces_in_flight = 0;    // faces handed to the engine, result not yet handled
    std::size_t next_job = 0;
    std::vector<ItemOutcome> pending_writes;
    auto first_pending = Clock::now();
    std::optional<Error> store_failure;
    bool cancelled = false;
    EngineService engine(knowledge_, config_.engine, client_);

    auto flush = [&] {
        if (pending_writes.empty()) return;
        auto saved = store_.save_outcomes(pending_writes);
        if (!saved && !store_failure) store_failure = saved.error();
        pending_writes.clear();
    };
    auto finish_item = [&](std::size_t job, ItemOutcome outcome) {
        ++state.finished;
        if (outcome.item.status == ItemStatus::failed) {
            ++state.failed;
            if (summary.failures.size() < 50) summary.failures.emplace_back(outcome.item.id, outcome.item.error);
        }
        if (outcome.item.status == ItemStatus::skipped) ++state.skipped;
        if (pending_writes.empty()) first_pending = Clock::now();
        pending_writes.push_back(std::move(outcome));
        active.erase(job);
    };
    auto base_outcome = [&](std::size_t job) {
        ItemOutcome outcome;
        outcome.item.id = jobs[job].id;
        outcome.item.image = jobs[job].image;
        outcome.item.known_json = jobs[job].known_json;
        return outcome;
    };
    auto complete_item = [&](std::size_t job) {
        ActiveItem& item = active.at(job);
        ItemOutcome outcome = base_outcome(job);
        outcome.item.content_hash = item.image.content_hash;
        outcome.item.width = item.image.width;
        outcome.item.height = item.image.height;
        std::string errors;
        for (std::size_t i = 0; i < item.faces.size(); ++i) {
            FaceSlot& slot = item.faces[i];
            const FaceResult& result = *slot.result;
            state.cost.requests += result.cost.requests;
            state.cost.cached_requests += result.cost.cached_requests;
            state.cost.samples += result.cost.samples;
            state.cost.malformed += result.cost.malformed;
            state.cost.prompt_tokens += result.cost.prompt_tokens;
            state.cost.completion_tokens += result.cost.completion_tokens;
            std::string id = face_id_for(jobs[job].id, i, item.faces.size());
            if (!result.ok) {
                errors += (errors.empty() ? "" : "; ") + id + ": " + face_failure_reason(result);
                continue;
            }
            ++state.faces;
            FeidInput input{id, jobs[job].image, slot.crop.box, slot.crop.whole_image_fallback, &result,
                            model_version_, "auto", slot.crop.phash, slot.crop.thumbnail_jpeg};
            outcome.faces.push_back(face_row(knowledge_, input, jobs[job].id, i));
        }
        // An item is done only when every face got labels; a failed one is retried next run,
        // and the response cache makes the faces that did succeed free then.
        outcome.item.status = errors.empty() ? ItemStatus::done : ItemStatus::failed;
        outcome.item.error = errors;
        finish_item(job, std::move(outcome));
    };
    auto handle = [&](Event& event) {
        if (auto* ready = std::get_if<ImageReady>(&event)) {
            --dispatched_images;
            std::size_t job = ready->job;
            if (cancelled) {
                active.erase(job);
                return;
            }
            if (!ready->image) {
                ItemOutcome outcome = base_outcome(job);
                const Error& error = ready->image.error();
                outcome.item.status = error.code == errc::no_face ? ItemStatus::skipped : ItemStatus::failed;
                outcome.item.error = std::string(errc_name(error.code)) + ": " + error.message;
                finish_item(job, std::move(outcome));
                return;
            }
            ActiveItem& item = active[job];
            item.image = std::move(*ready->image);
            if (item.image.faces.empty()) {
                ItemOutcome outcome = base_outcome(job);
                outcome.item.status = ItemStatus::skipped;
                outcome.item.error = "no face to label";
                finish_item(job, std::move(outcome));
                return;
            }
            for (std::size_t face = 0; face < item.image.faces.size(); ++face) {
                FaceCrop& crop = item.image.faces[face];
                FaceJob face_job{crop.jpeg, sha256_hex(crop.jpeg), jobs[job].known, jobs[job].known_provenance};
                item.faces.push_back(FaceSlot{std::move(crop), std::nullopt});
                ++faces_in_flight;
                engine.submit(std::move(face_job), [&events, job, face](FaceResult result) {
                    events.push(FaceDone{job, face, std::move(result)});
                });
            }
            item.image.faces.clear();  // the crops now live in the slots
            item.remaining = item.faces.size();
            return;
        }
        auto& done = std::get<FaceDone>(event);
        --faces_in_flight;
        auto found = active.find(done.job);
        if (found == active.end() || cancelled) return;
        found->second.faces[done.face].result = std::move(done.result);
        if (--found->second.remaining == 0) complete_item(done.job);
    };

    auto last_progress = Clock::now() - std::chrono::seconds(1);
    for (;;) {
        if (stop.load() && !cancelled) {
            // Stop cleanly: nothing new is sent, what is in flight is cancelled, and every item
            // already finished is committed below.
            cancelled = true;
            engine.cancel_all();
        }
        while (!cancelled && next_job < jobs.size() && active.size() < max_active) {
            active.emplace(next_job, ActiveItem{});
            ++dispatched_images;
            pool.add(next_job++);
        }
        // Running: until every job is finished. Stopping: until every image and every request
        // handed out has called back, so no callback outlives this function's queue.
        if (!cancelled && active.empty() && next_job >= jobs.size()) break;
        if (cancelled && dispatched_images == 0 && faces_in_flight == 0) break;
        auto batch = events.take(std::chrono::milliseconds(50));
        for (auto& event : batch) handle(event);
        // Group commit: one durable transaction per 64 items or 200 ms, whichever comes first.
        if (pending_writes.size() >= 64 ||
            (!pending_writes.empty() && Clock::now() - first_pending > std::chrono::milliseconds(200)))
            flush();
        if (store_failure) {
            cancelled = true;
            engine.cancel_all();
            break;
        }
        if (progress && Clock::now() - last_progress > std::chrono::milliseconds(100)) {
            state.elapsed_s = std::chrono::duration<double>(Clock::now() - start_time).count();
            progress(state);
            last_progress = Clock::now();
        }
    }
    flush();
    // A store failure leaves the loop at once: drain what is still coming back.
    while (dispatched_images > 0 || faces_in_flight > 0) {
        for (auto& event : events.take(std::chrono::milliseconds(50))) {
            if (std::holds_alternative<ImageReady>(event)) --dispatched_images;
            else --faces_in_flight;
        }
    }
    state.elapsed_s = std::chrono::duration<double>(Clock::now() - start_time).count();
    if (progress) progress(state);
    summary.interrupted = cancelled;
    summary.http_requests = client_.stats().http_requests.load() - start_requests;
    summary.retries = client_.stats().retries.load() - start_retries;
    if (store_failure) return *store_failure;
    return summary;
}

}  // namespace seke
