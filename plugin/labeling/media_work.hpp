#pragma once
// The media threads of `seke serve`, one pool shared by the Label Studio and CVAT servers: they
// fetch and decode images, hand faces to the engine and store what comes back. Beside the pool,
// what every platform call needs: a count of the work a server still has running (its shutdown
// waits on it), and a batch of result slots answered once, by its last slot or at its deadline.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

namespace seke {

class MediaWork {
  public:
    // `threads` as serve.media_threads has it: 0 (or less) is two per core.
    explicit MediaWork(int threads);
    ~MediaWork();  // join()
    MediaWork(const MediaWork&) = delete;
    MediaWork& operator=(const MediaWork&) = delete;

    // Runs `work` on a media thread; move-only work is fine.
    template <class Work>
    void post(Work&& work) {
        boost::asio::post(pool_, std::forward<Work>(work));
    }
    [[nodiscard]] boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }
    [[nodiscard]] std::size_t threads() const noexcept { return threads_; }
    // Waits for everything posted, and what that posts in turn, then stops the threads; work
    // posted later never runs. Idempotent. Join while what the work uses is still alive.
    void join();

  private:
    std::size_t threads_;
    boost::asio::thread_pool pool_;
};

// Work a server handed out and has not finished: begin() before handing it out, end() after its
// last step. Thread-safe.
class RunningCount {
  public:
    void begin();
    void end();
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
// instead. Callbacks run on the thread that fills the slot or on a media thread (the deadline),
// never under the batch's lock. Thread-safe.
class SlotBatch {
  public:
    using Slots = std::vector<std::optional<nlohmann::json>>;
    struct Callbacks {
        // Runs once. `unfilled` > 0: the deadline answered, that many slots were still open.
        std::function<void(Slots slots, std::size_t unfilled)> answer;
        // A slot filled after the answer went out; may be empty.
        std::function<void(std::size_t index, const nlohmann::json& value)> late;
    };

    // A batch of `count` slots whose deadline runs on `work`'s threads; 0 slots answer at once.
    static std::shared_ptr<SlotBatch> start(MediaWork& work, std::size_t count, std::chrono::milliseconds deadline,
                                            Callbacks callbacks);
    SlotBatch(const SlotBatch&) = delete;
    SlotBatch& operator=(const SlotBatch&) = delete;

    // Fills slot `index` (each once; an index out of range is ignored).
    void fill(std::size_t index, nlohmann::json value);
    [[nodiscard]] bool answered() const;

  private:
    SlotBatch(MediaWork& work, std::size_t count, Callbacks callbacks);
    void answer_now();  // answers unless answered already

    mutable std::mutex mutex_;
    Slots slots_;
    std::size_t unfilled_;
    bool answered_ = false;
    Callbacks callbacks_;
    boost::asio::steady_timer deadline_;
};

}  // namespace seke
