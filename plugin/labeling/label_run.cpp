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

#include "plugin/labeling/image_labeling.hpp"
#include "plugin/labeling/model_setup.hpp"
#include "plugin/labeling/shared_job.hpp"

namespace seke {
namespace {

using Clock = std::chrono::steady_clock;

// Events reach the coordinating thread through one queue: from the image pool and from the
// engine service's thread. Only the coordinator touches the items and the store.
struct ImageReady {
    std::size_t job = 0;
    Result<PreparedImage> image;
};
struct FacesDone {
    std::size_t job = 0;
    std::vector<FaceResult> results;  // one per face of the item's image, in face order
};
using Event = std::variant<ImageReady, FacesDone>;

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
    ImagePool(int threads, const FacePreparer& preparer, const ImageLimits& limits, const std::vector<LabelJob>& jobs,
              EventQueue& events)
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
            events_.push(ImageReady{job, prepare_job(preparer_, jobs_[job], limits_)});
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

}  // namespace

Result<PreparedImage> prepare_job(const FacePreparer& preparer, const LabelJob& job, const ImageLimits& limits) {
    auto bytes = fetch_image_bytes(job.source, limits);
    if (!bytes) return bytes.error();
    return job.box ? preparer.prepare_pixel_regions(*bytes, {*job.box}) : preparer.prepare(*bytes);
}

LabelRun::LabelRun(LabelRunDeps deps) : deps_(std::move(deps)) {}

Result<RunSummary> LabelRun::run(const std::vector<LabelJob>& all_jobs, const std::atomic<bool>& stop,
                                 const ProgressCallback& progress) {
    const Config& config = deps_.config;
    EngineService& engine = deps_.engine;
    RunSummary summary;
    auto finished_ids = deps_.store.finished_item_ids();
    if (!finished_ids) return finished_ids.error();
    std::set<std::string> finished(finished_ids->begin(), finished_ids->end());
    std::vector<LabelJob> jobs;
    for (const auto& job : all_jobs) {
        if (finished.count(job.id)) ++summary.already_done;
        else jobs.push_back(job);
    }
    RunProgress& state = summary.progress;
    state.total = static_cast<std::int64_t>(jobs.size());

    // A shared store: this process is one worker of a job, claiming its items a batch at a time.
    std::optional<SharedJob> share;
    std::unordered_map<std::string, std::size_t> job_of_item;
    if (deps_.store.shared()) {
        std::vector<std::string> all_ids, open_ids;
        for (const auto& job : all_jobs) all_ids.push_back(job.id);
        for (std::size_t i = 0; i < jobs.size(); ++i) {
            open_ids.push_back(jobs[i].id);
            job_of_item.emplace(jobs[i].id, i);
        }
        const std::string name =
            config.run.label_job.empty() ? job_name_for(all_ids, deps_.model_version) : config.run.label_job;
        share.emplace(deps_.store, JobLease{name, claim_owner_name()}, std::chrono::seconds(config.run.lease_seconds));
        if (auto joined = share->join(open_ids); !joined) return joined.error();
        summary.job = name;
        summary.worker = share->lease().worker;
        state.shared = true;
    }

    const auto start_time = Clock::now();
    const auto start_requests = deps_.client_stats.http_requests.load();
    const auto start_retries = deps_.client_stats.retries.load();
    const VllmStats& client = deps_.client_stats;
    const TokenCounts start_tokens{client.prompt_tokens.load(), client.cached_prompt_tokens.load(),
                                   client.completion_tokens.load()};
    const std::optional<Price> price = model_price(config);
    // Batched requests are paid at the batch discount; the cap counts them so.
    const bool batched = config.vllm.batch.mode != BatchMode::off;
    const bool files_mode = config.vllm.batch.mode == BatchMode::files;
    const auto start_files = client.batch_files.load();
    if (const SpendLimits limits = spend_limits(config); limits.any())
        engine.limit_spending(limits, price && batched ? std::optional<Price>(batch_rates(*price)) : price);
    auto count_spending = [&] {
        state.spent = {client.prompt_tokens.load() - start_tokens.prompt,
                       client.cached_prompt_tokens.load() - start_tokens.cached_prompt,
                       client.completion_tokens.load() - start_tokens.completion};
        if (price) state.spent_usd = cost_usd(*price, state.spent, batched);
    };
    FacePreparer preparer(deps_.face, config.image);
    if (auto ready = preparer.ready(); !ready) return ready.error();
    EventQueue events;
    int threads = config.run.image_threads > 0 ? config.run.image_threads
                                               : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    ImagePool pool(threads, preparer, config.image, jobs, events);

    // Enough items in flight to keep every model slot busy, few enough to bound memory. Batched:
    // as many as one batch holds, so a round asks for all of them at once.
    const std::size_t max_active =
        batched ? std::max<std::size_t>(8, config.vllm.batch.max_lines)
                : static_cast<std::size_t>(std::max(8, 2 * config.vllm.max_concurrency + threads));
    // The items out with the pool (image still empty) or with the engine (image prepared).
    std::unordered_map<std::size_t, PreparedImage> active;
    std::size_t dispatched_images = 0;  // images handed to the pool, not yet back
    std::size_t labeling_images = 0;    // images whose faces are with the engine, results not yet handled
    std::size_t next_job = 0;
    std::vector<ItemOutcome> pending_writes;
    auto first_pending = Clock::now();
    std::optional<Error> store_failure;
    bool cancelled = false;
    std::string capped;  // the cap the engine stopped sending at: nothing new is started

    auto flush = [&] {
        if (pending_writes.empty()) return;
        auto saved = deps_.store.save_outcomes(pending_writes, share ? &share->lease() : nullptr);
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
    auto complete_item = [&](std::size_t job, const std::vector<FaceResult>& results) {
        const ItemOptions options{.known_json = jobs[job].known_json,
                                  .name_failed_faces = true,
                                  .skip_faceless = true,
                                  .source = jobs[job].origin.source,
                                  .source_id = jobs[job].origin.source_id};
        LabeledImage labeled = labeled_image(deps_.knowledge, jobs[job].id, jobs[job].image, active.at(job), results,
                                             deps_.model_version, {}, options);
        state.cost += labeled.cost;
        state.faces += static_cast<std::int64_t>(labeled.labeled.size());
        finish_item(job, std::move(labeled.outcome));
    };
    auto handle = [&](Event& event) {
        if (auto* ready = std::get_if<ImageReady>(&event)) {
            --dispatched_images;
            std::size_t job = ready->job;
            if (cancelled || !capped.empty()) {
                active.erase(job);
                return;
            }
            if (!ready->image) {
                ItemOutcome outcome;
                outcome.item.id = jobs[job].id;
                outcome.item.image = jobs[job].image;
                outcome.item.known_json = jobs[job].known_json;
                const Error& error = ready->image.error();
                outcome.item.status = error.code == errc::no_face ? ItemStatus::skipped : ItemStatus::failed;
                outcome.item.error = std::string(errc_name(error.code)) + ": " + error.message;
                finish_item(job, std::move(outcome));
                return;
            }
            PreparedImage& image = active[job];
            image = std::move(*ready->image);
            ++labeling_images;
            // An image without faces comes back at once, with no results.
            label_faces(engine, image, jobs[job].known, jobs[job].known_provenance,
                        [&events, job](std::vector<FaceResult> results) {
                            events.push(FacesDone{job, std::move(results)});
                        });
            return;
        }
        auto& done = std::get<FacesDone>(event);
        --labeling_images;
        if (cancelled || !active.count(done.job)) return;
        // A face the cap stopped is not finished: its item is left for the next run, which finds
        // the answers already paid for in the response cache.
        const bool unfinished = std::any_of(done.results.begin(), done.results.end(), [](const FaceResult& r) {
            return r.failure && r.failure->code == errc::cancelled;
        });
        if (unfinished) {
            active.erase(done.job);
            return;
        }
        complete_item(done.job, done.results);
    };

    auto dispatch = [&](std::size_t job) {
        active.emplace(job, PreparedImage{});
        ++dispatched_images;
        pool.add(job);
    };
    // Shared: claims are made when half the slots are free, and while the job's other items are
    // leased to other workers, asked again every half second (a dead worker's leases run out).
    bool job_exhausted = false;
    auto next_claim = Clock::now();
    auto claim_more = [&] {
        if (active.size() > max_active / 2 || Clock::now() < next_claim) return;
        auto claimed = share->claim(static_cast<int>(max_active - active.size()));
        if (!claimed) return void(store_failure = claimed.error());
        for (const auto& id : *claimed) {
            auto it = job_of_item.find(id);
            if (it == job_of_item.end())
                return void(store_failure =
                                make_error(errc::invalid_argument,
                                           "job " + share->lease().job + " holds item \"" + id +
                                               "\", which is not in this input: give each input its own --label-job"));
            dispatch(it->second);
        }
        if (!claimed->empty()) return;
        auto counts = share->counts(true);
        if (!counts) return void(store_failure = counts.error());
        job_exhausted = counts->done >= counts->items;
        next_claim = Clock::now() + std::chrono::milliseconds(500);
    };

    auto last_progress = Clock::now() - std::chrono::seconds(1);
    for (;;) {
        if (stop.load() && !cancelled) {
            // Stop cleanly: nothing new is sent, what is in flight is cancelled, and every item
            // already finished is committed below.
            cancelled = true;
            engine.cancel_all();
        }
        if (capped.empty()) capped = engine.spending_stopped();
        // File mode: a round's requests are written; the run stops until their answers are in.
        if (capped.empty() && files_mode && client.batch_files.load() > start_files) capped = "batch_out";
        const bool starting = !cancelled && capped.empty();
        if (share) {
            if (starting) claim_more();
            // A renewal that fails is tried again next time round; a lease that runs out meanwhile
            // lets another worker label the item too, which loses nothing.
            (void)share->keep_alive();
        } else {
            while (starting && next_job < jobs.size() && active.size() < max_active) dispatch(next_job++);
        }
        // Running: until every job is finished (shared: the whole job, by any worker). Stopping:
        // until every image and every request handed out has called back, so no callback
        // outlives this function's queue.
        const bool all_handed_out = share ? job_exhausted : next_job >= jobs.size();
        if (!cancelled && !store_failure && active.empty() && all_handed_out) break;
        if (!starting && dispatched_images == 0 && labeling_images == 0) break;
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
            if (share)
                if (auto counts = share->counts()) {
                    state.job_items = counts->items;
                    state.job_finished = counts->done;
                }
            count_spending();
            progress(state);
            last_progress = Clock::now();
        }
    }
    flush();
    // A store failure leaves the loop at once: drain what is still coming back.
    while (dispatched_images > 0 || labeling_images > 0) {
        for (auto& event : events.take(std::chrono::milliseconds(50))) {
            if (std::holds_alternative<ImageReady>(event)) --dispatched_images;
            else --labeling_images;
        }
    }
    state.elapsed_s = std::chrono::duration<double>(Clock::now() - start_time).count();
    count_spending();
    if (share) {
        if (cancelled || !capped.empty()) share->leave();
        if (auto counts = share->counts(true)) {
            state.job_items = counts->items;
            state.job_finished = counts->done;
        }
    }
    if (progress) progress(state);
    summary.interrupted = cancelled;
    summary.stopped = cancelled ? "interrupted" : capped;
    summary.http_requests = deps_.client_stats.http_requests.load() - start_requests;
    summary.retries = deps_.client_stats.retries.load() - start_retries;
    if (store_failure) return *store_failure;
    return summary;
}

}  // namespace seke
