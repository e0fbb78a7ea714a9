#include "plugin/labeling/media_work.hpp"

#include <algorithm>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace seke {
namespace {

std::size_t pool_size(int threads) {
    if (threads > 0) return static_cast<std::size_t>(threads);
    return 2 * static_cast<std::size_t>(std::max(1u, std::thread::hardware_concurrency()));
}

std::size_t fetch_pool_size(int threads) {
    return static_cast<std::size_t>(std::max(1, threads));
}

// A place among the fetched images waiting for a media thread, given back when the step that
// decodes the image starts, or when it is dropped unrun.
class FetchedPlace {
  public:
    explicit FetchedPlace(std::counting_semaphore<>& places) : places_(&places) { places_->acquire(); }
    FetchedPlace(FetchedPlace&& other) noexcept : places_(std::exchange(other.places_, nullptr)) {}
    FetchedPlace& operator=(FetchedPlace&&) = delete;
    FetchedPlace(const FetchedPlace&) = delete;
    FetchedPlace& operator=(const FetchedPlace&) = delete;
    ~FetchedPlace() { give_back(); }
    void give_back() {
        if (places_) std::exchange(places_, nullptr)->release();
    }

  private:
    std::counting_semaphore<>* places_;
};

}  // namespace

// ---- FairPool -----------------------------------------------------------------------------------

FairPool::FairPool(std::size_t threads, std::size_t capacity) : queue_(capacity) {
    threads_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

FairPool::~FairPool() {
    join();
}

FairPool::Pushed FairPool::push_new(const WorkKey& key, std::vector<Job>& jobs) {
    {
        std::lock_guard lock(mutex_);
        if (stopped_) return Pushed::closed;
        if (!queue_.push_new(key, jobs)) return Pushed::full;
    }
    ready_.notify_all();
    return Pushed::queued;
}

void FairPool::push_step(const WorkKey& key, Job job) {
    {
        std::lock_guard lock(mutex_);
        if (stopped_) return;  // `job` is dropped here, outside the lock
        queue_.push_step(key, std::move(job));
    }
    ready_.notify_one();
}

std::size_t FairPool::queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

void FairPool::work() {
    std::unique_lock lock(mutex_);
    for (;;) {
        ready_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopped, and nothing is left
        std::optional<Job> job = queue_.pop();
        ++running_;
        lock.unlock();
        (*job)();
        job.reset();  // what the job holds is released outside the lock
        lock.lock();
        --running_;
        if (joining_ && running_ == 0 && queue_.empty()) idle_.notify_all();
    }
}

void FairPool::join() {
    {
        std::unique_lock lock(mutex_);
        joining_ = true;
        idle_.wait(lock, [this] { return stopped_ || (running_ == 0 && queue_.empty()); });
        stopped_ = true;
    }
    ready_.notify_all();
    for (auto& thread : threads_)
        if (thread.joinable()) thread.join();
}

// ---- Deadlines ----------------------------------------------------------------------------------

struct Deadlines::State {
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> keep_running{io.get_executor()};
    std::mutex mutex;  // guards stopped, next_id and the order of posts; `armed` is deadline-thread only
    bool stopped = false;
    std::uint64_t next_id = 1;
    struct Armed {
        std::unique_ptr<boost::asio::steady_timer> timer;
        std::function<void()> fire;
    };
    std::map<std::uint64_t, Armed> armed;

    // On the deadline thread: fires `id` unless it was cancelled.
    void fire(std::uint64_t id) {
        auto found = armed.find(id);
        if (found == armed.end()) return;
        std::function<void()> fire_now = std::move(found->second.fire);
        armed.erase(found);
        fire_now();
    }
};

Deadlines::Deadlines() : state_(std::make_shared<State>()) {
    thread_ = std::thread([state = state_.get()] { state->io.run(); });
}

Deadlines::~Deadlines() {  // NOLINT(bugprone-exception-escape): as in the header
    stop();
}

Deadlines::Handle Deadlines::arm(std::chrono::milliseconds after, std::function<void()> fire) {
    const auto when = std::chrono::steady_clock::now() + after;
    std::unique_lock lock(state_->mutex);
    if (state_->stopped) {
        lock.unlock();
        fire();
        return {};
    }
    const std::uint64_t id = state_->next_id++;
    // Posted under the lock, so stop()'s own post comes after it. Timers are made, waited on,
    // fired and cancelled on the deadline thread alone.
    boost::asio::post(state_->io, [state = state_.get(), id, when, fire = std::move(fire)]() mutable {
        auto timer = std::make_unique<boost::asio::steady_timer>(state->io, when);
        timer->async_wait([state, id](const boost::system::error_code& ec) {
            if (!ec) state->fire(id);
        });
        state->armed.emplace(id, State::Armed{std::move(timer), std::move(fire)});
    });
    return {state_, id};
}

void Deadlines::Handle::cancel() {
    if (!state_) return;
    boost::asio::post(state_->io, [state = state_.get(), id = id_] { state->armed.erase(id); });
    state_.reset();
}

void Deadlines::stop() {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->stopped) return;
        state_->stopped = true;
        // Posted after every arm, so it sees them all.
        boost::asio::post(state_->io, [state = state_.get()] {
            auto armed = std::move(state->armed);
            state->armed.clear();
            for (auto& [id, deadline] : armed) {
                deadline.timer->cancel();
                deadline.fire();
            }
        });
    }
    state_->keep_running.reset();
    if (thread_.joinable()) thread_.join();
}

// ---- MediaWork ----------------------------------------------------------------------------------

MediaWork::MediaWork(int threads, int fetch_threads, std::size_t queue_limit)
    : fetched_waiting_(static_cast<std::ptrdiff_t>(fetch_pool_size(fetch_threads))),
      media_(pool_size(threads), std::max<std::size_t>(1, queue_limit)),
      fetch_(fetch_pool_size(fetch_threads), std::max<std::size_t>(1, queue_limit)) {}

MediaWork::~MediaWork() {  // NOLINT(bugprone-exception-escape): as in the header
    join();
}

WorkKey MediaWork::new_call(std::string project) {
    return {std::move(project), next_call_.fetch_add(1)};
}

std::optional<Error> MediaWork::refusal(FairPool::Pushed pushed, std::size_t jobs, const char* pool_name,
                                        const char* option) const {
    switch (pushed) {
        case FairPool::Pushed::queued: return std::nullopt;
        case FairPool::Pushed::closed: return make_error(errc::cancelled, "server stopping");
        case FairPool::Pushed::full: break;
    }
    return make_error(errc::overloaded, std::string("too much work waits for the ") + pool_name + ": " +
                                            std::to_string(jobs) + " more would pass the limit of " +
                                            std::to_string(media_.capacity()) + " (" + option +
                                            "); try again later, or send smaller calls");
}

std::optional<Error> MediaWork::fetch(const WorkKey& key, std::vector<Job> jobs) {
    const std::size_t count = jobs.size();
    return refusal(fetch_.push_new(key, jobs), count, "media fetch threads", "serve.media_queue_limit");
}

std::optional<Error> MediaWork::admit(const WorkKey& key, Job job) {
    std::vector<Job> jobs;
    jobs.push_back(std::move(job));
    return refusal(media_.push_new(key, jobs), 1, "media threads", "serve.media_queue_limit");
}

void MediaWork::post(const WorkKey& key, Job job) {
    media_.push_step(key, std::move(job));
}

void MediaWork::post_fetched(const WorkKey& key, Job job) {
    FetchedPlace place(fetched_waiting_);
    media_.push_step(key, Job([place = std::move(place), job = std::move(job)]() mutable {
                         place.give_back();
                         job();
                     }));
}

void MediaWork::join() {
    fetch_.join();  // its work posts to the media threads, which are still running
    media_.join();
    deadlines_.stop();
}

// ---- RunningCount -------------------------------------------------------------------------------

void RunningCount::begin(std::size_t count) {
    std::lock_guard lock(mutex_);
    running_ += count;
}

void RunningCount::end(std::size_t count) {
    std::lock_guard lock(mutex_);
    if (running_ == 0) return;  // an extra end() does not wrap around
    running_ -= std::min(count, running_);
    if (running_ == 0) idle_.notify_all();
}

std::size_t RunningCount::value() const {
    std::lock_guard lock(mutex_);
    return running_;
}

bool RunningCount::wait_idle(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, timeout, [this] { return running_ == 0; });
}

// ---- SlotBatch ----------------------------------------------------------------------------------

SlotBatch::SlotBatch(std::size_t count, Callbacks callbacks)
    : slots_(count), unfilled_(count), callbacks_(std::move(callbacks)) {}

std::shared_ptr<SlotBatch> SlotBatch::start(MediaWork& work, std::size_t count, std::chrono::milliseconds deadline,
                                            Callbacks callbacks) {
    std::shared_ptr<SlotBatch> batch(new SlotBatch(count, std::move(callbacks)));
    if (count == 0) {
        batch->answer_now();
        return batch;
    }
    // Armed before any slot can be filled; the deadline does not keep the batch alive.
    std::weak_ptr<SlotBatch> weak = batch;
    Deadlines::Handle handle = work.deadlines().arm(deadline, [weak] {
        if (auto alive = weak.lock()) alive->answer_now();
    });
    std::lock_guard lock(batch->mutex_);
    if (batch->answered_) handle.cancel();
    else batch->deadline_ = std::move(handle);
    return batch;
}

void SlotBatch::fill(std::size_t index, nlohmann::json value) {
    std::optional<nlohmann::json> late_value;  // filled after the answer: it goes to `late`
    bool last = false;
    {
        std::lock_guard lock(mutex_);
        if (index >= slots_.size() || slots_[index]) return;
        if (answered_) {
            late_value = std::move(value);
            slots_[index] = nlohmann::json();  // only marked filled
        } else {
            slots_[index] = std::move(value);
        }
        last = --unfilled_ == 0;
    }
    if (late_value) {
        if (callbacks_.late) callbacks_.late(index, *late_value);
        return;
    }
    if (last) answer_now();
}

bool SlotBatch::answered() const {
    std::lock_guard lock(mutex_);
    return answered_;
}

void SlotBatch::withdraw() {
    std::lock_guard lock(mutex_);
    answered_ = true;
    deadline_.cancel();
}

void SlotBatch::answer_now() {
    Slots slots;
    std::size_t unfilled = 0;
    {
        std::lock_guard lock(mutex_);
        if (answered_) return;
        answered_ = true;
        slots = slots_;
        unfilled = unfilled_;
        deadline_.cancel();
    }
    if (callbacks_.answer) callbacks_.answer(std::move(slots), unfilled);
}

}  // namespace seke
