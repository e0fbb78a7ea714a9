#include "plugin/labeling/media_work.hpp"

#include <algorithm>
#include <thread>

namespace seke {
namespace {

std::size_t pool_size(int threads) {
    if (threads > 0) return static_cast<std::size_t>(threads);
    return 2 * static_cast<std::size_t>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

MediaWork::MediaWork(int threads) : threads_(pool_size(threads)), pool_(threads_) {}

MediaWork::~MediaWork() {
    join();
}

void MediaWork::join() {
    pool_.join();
}

void RunningCount::begin() {
    std::lock_guard lock(mutex_);
    ++running_;
}

void RunningCount::end() {
    std::lock_guard lock(mutex_);
    if (running_ > 0 && --running_ == 0) idle_.notify_all();
}

std::size_t RunningCount::value() const {
    std::lock_guard lock(mutex_);
    return running_;
}

bool RunningCount::wait_idle(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, timeout, [this] { return running_ == 0; });
}

SlotBatch::SlotBatch(MediaWork& work, std::size_t count, Callbacks callbacks)
    : slots_(count), unfilled_(count), callbacks_(std::move(callbacks)), deadline_(work.executor()) {}

std::shared_ptr<SlotBatch> SlotBatch::start(MediaWork& work, std::size_t count, std::chrono::milliseconds deadline,
                                            Callbacks callbacks) {
    std::shared_ptr<SlotBatch> batch(new SlotBatch(work, count, std::move(callbacks)));
    if (count == 0) {
        batch->answer_now();
        return batch;
    }
    // Armed before any slot can be filled; the timer does not keep the batch alive.
    batch->deadline_.expires_after(deadline);
    std::weak_ptr<SlotBatch> weak = batch;
    batch->deadline_.async_wait([weak](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto alive = weak.lock()) alive->answer_now();
    });
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
