#pragma once
// The media work of `seke serve`, shared by the Label Studio and CVAT servers. Three parts, so
// that slow media can neither hold up a deadline nor the decoding of other calls' images:
//   - fetch threads (serve.media_fetch_concurrency): the blocking media downloads;
//   - media threads (serve.media_threads): decode, find faces, hand them to the engine, store
//     what comes back;
//   - one deadline thread: every call's deadline fires there, whatever the pools are doing.
// Both pools take their work from a FairQueue: round-robin across projects and calls, bounded
// (serve.media_queue_limit). Beside them, what every platform call needs: a count of the work a
// server still has running (its shutdown waits on it), and a batch of result slots answered
// once, by its last slot or at its deadline.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/labeling/fair_queue.hpp"
#include "verify/errors.hpp"

namespace seke {

// A move-only piece of work, run once.
class Job {
  public:
    Job() = default;
    template <class Work>
    explicit Job(Work work) : work_(std::make_unique<Model<Work>>(std::move(work))) {}
    void operator()() { work_->run(); }
    explicit operator bool() const noexcept { return work_ != nullptr; }

  private:
    struct Concept {
        virtual ~Concept() = default;
        virtual void run() = 0;
    };
    template <class Work>
    struct Model final : Concept {
        explicit Model(Work w) : work(std::move(w)) {}
        void run() override { work(); }
        Work work;
    };
    std::unique_ptr<Concept> work_;
};

// Threads that take Jobs from one FairQueue. Thread-safe.
class FairPool {
  public:
    enum class Pushed { queued, full, closed };

    FairPool(std::size_t threads, std::size_t capacity);
    ~FairPool();  // join()
    FairPool(const FairPool&) = delete;
    FairPool& operator=(const FairPool&) = delete;

    // New work of a call, all of `jobs` or none (FairQueue::push_new); on refusal `jobs` is
    // untouched.
    Pushed push_new(const WorkKey& key, std::vector<Job>& jobs);
    // The next step of admitted work (FairQueue::push_step). Dropped once the pool has joined.
    void push_step(const WorkKey& key, Job job);
    // Waits for everything queued, and what that queues in turn, then stops the threads; work
    // pushed later never runs. Idempotent.
    void join();

    [[nodiscard]] std::size_t threads() const noexcept { return threads_.size(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return queue_.capacity(); }
    [[nodiscard]] std::size_t queued() const;

  private:
    void work();

    mutable std::mutex mutex_;
    std::condition_variable ready_;  // an item was queued, or the pool stopped
    std::condition_variable idle_;   // joining, and nothing is queued or running
    FairQueue<Job> queue_;
    std::size_t running_ = 0;
    bool joining_ = false;
    bool stopped_ = false;
    std::vector<std::thread> threads_;
};

// One thread that fires deadlines, so a deadline is on time even while every worker is busy.
// Thread-safe.
class Deadlines {
  public:
    struct State;
    // An armed deadline; cancel() makes sure it does not fire (if it has not already).
    class Handle {
      public:
        Handle() = default;
        void cancel();

      private:
        friend class Deadlines;
        Handle(std::shared_ptr<State> state, std::uint64_t id) : state_(std::move(state)), id_(id) {}
        std::shared_ptr<State> state_;  // keeps the timers' io_context alive as long as a handle is
        std::uint64_t id_ = 0;
    };

    Deadlines();
    ~Deadlines();  // NOLINT(bugprone-exception-escape): stop() throws only when allocating or joining a thread fails
    Deadlines(const Deadlines&) = delete;
    Deadlines& operator=(const Deadlines&) = delete;

    // Runs `fire` on the deadline thread `after` from now, unless cancelled first. Once stopped,
    // `fire` runs at once on the caller's thread.
    Handle arm(std::chrono::milliseconds after, std::function<void()> fire);
    // Fires every deadline still armed, at once, then stops the thread. Idempotent.
    void stop();

  private:
    std::shared_ptr<State> state_;
    std::thread thread_;
};

class MediaWork {
  public:
    static constexpr int kDefaultFetchThreads = 32;
    static constexpr std::size_t kDefaultQueueLimit = 100'000;

    // `threads` as serve.media_threads has it: 0 (or less) is two per core. `fetch_threads` as
    // serve.media_fetch_concurrency, `queue_limit` as serve.media_queue_limit (each pool's bound).
    explicit MediaWork(int threads, int fetch_threads = kDefaultFetchThreads,
                       std::size_t queue_limit = kDefaultQueueLimit);
    ~MediaWork();  // NOLINT(bugprone-exception-escape): join() throws only when allocating or joining a thread fails
    MediaWork(const MediaWork&) = delete;
    MediaWork& operator=(const MediaWork&) = delete;

    // The key of a new call of `project`: its work takes turns with other calls and projects.
    WorkKey new_call(std::string project);

    // A call's first steps, on the fetch threads (work that waits on media), all or none. Errors:
    // overloaded (the fetch queue holds its limit; the reason says which option raises it),
    // cancelled (joined).
    std::optional<Error> fetch(const WorkKey& key, std::vector<Job> jobs);
    // A call's first step on the media threads (work that brings its bytes), as fetch().
    std::optional<Error> admit(const WorkKey& key, Job job);
    // The next step of admitted work on the media threads: decode, the engine's answers, store
    // writes. Never refused for room; dropped once joined.
    void post(const WorkKey& key, Job job);
    // From a fetch thread, the step after a download: waits while as many fetched images as
    // there are fetch threads already wait for a media thread, so downloads cannot pile up
    // images in memory faster than they are decoded.
    void post_fetched(const WorkKey& key, Job job);

    [[nodiscard]] Deadlines& deadlines() noexcept { return deadlines_; }
    [[nodiscard]] std::size_t threads() const noexcept { return media_.threads(); }
    [[nodiscard]] std::size_t fetch_threads() const noexcept { return fetch_.threads(); }
    [[nodiscard]] std::size_t queue_limit() const noexcept { return media_.capacity(); }
    // Waits for the fetch threads' work, then the media threads' (what each posts in turn
    // included), then fires the deadlines still armed and stops. Work posted later never runs.
    // Idempotent. Join while what the work uses is still alive.
    void join();

  private:
    std::optional<Error> refusal(FairPool::Pushed pushed, std::size_t jobs, const char* pool_name,
                                 const char* option) const;

    std::atomic<std::uint64_t> next_call_{1};
    std::counting_semaphore<> fetched_waiting_;  // free places for fetched images awaiting decode
    Deadlines deadlines_;
    FairPool media_;
    FairPool fetch_;  // declared last: destroyed (joined) first, it posts to media_
};

// Work a server handed out and has not finished: begin() before handing it out, end() after its
// last step. Thread-safe.
class RunningCount {
  public:
    void begin(std::size_t count = 1);
    void end(std::size_t count = 1);
    [[nodiscard]] std::size_t value() const;
    // True when the count is zero, or reaches zero within `timeout`.
    bool wait_idle(std::chrono::milliseconds timeout) const;

  private:
    mutable std::mutex mutex_;
    mutable std::condition_variable idle_;
    std::size_t running_ = 0;
};

// One call's result slots, answered exactly once: when the last slot is filled, or when the
// deadline fires, with the slots filled by then. A slot filled after the answer goes to `late`
// instead. Callbacks run on the thread that fills the slot or on the deadline thread, never
// under the batch's lock. Thread-safe.
class SlotBatch {
  public:
    using Slots = std::vector<std::optional<nlohmann::json>>;
    struct Callbacks {
        // Runs once. `unfilled` > 0: the deadline answered, that many slots were still open.
        std::function<void(Slots slots, std::size_t unfilled)> answer;
        // A slot filled after the answer went out; may be empty.
        std::function<void(std::size_t index, const nlohmann::json& value)> late;
    };

    // A batch of `count` slots whose deadline fires on `work`'s deadline thread; 0 slots answer
    // at once.
    static std::shared_ptr<SlotBatch> start(MediaWork& work, std::size_t count, std::chrono::milliseconds deadline,
                                            Callbacks callbacks);
    SlotBatch(const SlotBatch&) = delete;
    SlotBatch& operator=(const SlotBatch&) = delete;

    // Fills slot `index` (each once; an index out of range is ignored).
    void fill(std::size_t index, nlohmann::json value);
    [[nodiscard]] bool answered() const;
    // For a call refused before any of its work ran: the batch never answers (the caller answers
    // with the refusal) and its deadline is cancelled.
    void withdraw();

  private:
    SlotBatch(std::size_t count, Callbacks callbacks);
    void answer_now();  // answers unless answered already

    mutable std::mutex mutex_;
    Slots slots_;
    std::size_t unfilled_;
    bool answered_ = false;
    Callbacks callbacks_;
    Deadlines::Handle deadline_;
};

}  // namespace seke
