// The media pool shared by the platform servers: batches answered once (last slot or deadline),
// late slots kept apart, the running count, and the pool's size.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "plugin/labeling/media_work.hpp"

using namespace seke;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// What a batch reported, in order, waited on from the test thread.
struct Recorder {
    std::mutex mutex;
    std::condition_variable changed;
    int answers = 0;
    SlotBatch::Slots slots;
    std::size_t unfilled = 0;
    std::vector<std::pair<std::size_t, json>> late;

    SlotBatch::Callbacks callbacks() {
        return {[this](SlotBatch::Slots s, std::size_t open) {
                    std::lock_guard lock(mutex);
                    ++answers;
                    slots = std::move(s);
                    unfilled = open;
                    changed.notify_all();
                },
                [this](std::size_t index, const json& value) {
                    std::lock_guard lock(mutex);
                    late.emplace_back(index, value);
                    changed.notify_all();
                }};
    }
    template <class Done>
    bool wait(Done done, std::chrono::milliseconds timeout = 5s) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, timeout, [&] { return done(); });
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(labeling_media_work)

BOOST_AUTO_TEST_CASE(the_pool_has_the_threads_asked_for_or_two_per_core) {
    BOOST_TEST(MediaWork(3).threads() == 3u);
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    BOOST_TEST(MediaWork(0).threads() == 2 * cores);
    BOOST_TEST(MediaWork(-1).threads() == 2 * cores);
}

BOOST_AUTO_TEST_CASE(join_waits_for_work_posted_and_the_work_it_posts) {
    MediaWork work(2);
    std::atomic<int> done{0};
    for (int i = 0; i < 4; ++i)
        work.post([&] {
            std::this_thread::sleep_for(10ms);
            work.post([&] { ++done; });
            ++done;
        });
    work.join();
    BOOST_TEST(done.load() == 8);
    work.join();  // idempotent
}

BOOST_AUTO_TEST_CASE(the_last_slot_answers_once_with_every_slot) {
    MediaWork work(2);
    Recorder recorder;
    auto batch = SlotBatch::start(work, 3, 10s, recorder.callbacks());
    batch->fill(2, "c");
    batch->fill(0, "a");
    BOOST_TEST(!batch->answered());
    BOOST_TEST(recorder.answers == 0);
    work.post([batch] { batch->fill(1, "b"); });
    BOOST_REQUIRE(recorder.wait([&] { return recorder.answers == 1; }));
    BOOST_TEST(batch->answered());
    BOOST_TEST(recorder.unfilled == 0u);
    BOOST_REQUIRE(recorder.slots.size() == 3u);
    BOOST_TEST(recorder.slots[0].value() == "a");
    BOOST_TEST(recorder.slots[1].value() == "b");
    BOOST_TEST(recorder.slots[2].value() == "c");
    // A slot filled twice, or one out of range, changes nothing.
    batch->fill(1, "again");
    batch->fill(7, "nowhere");
    BOOST_TEST(recorder.answers == 1);
    BOOST_TEST(recorder.late.empty());
    batch.reset();
    work.join();  // the cancelled deadline does not hold the pool
}

BOOST_AUTO_TEST_CASE(the_deadline_answers_once_with_the_slots_done_so_far) {
    MediaWork work(2);
    Recorder recorder;
    auto batch = SlotBatch::start(work, 3, 1s, recorder.callbacks());
    batch->fill(1, {{"result", 1}});
    BOOST_REQUIRE(recorder.wait([&] { return recorder.answers == 1; }));
    BOOST_TEST(recorder.unfilled == 2u);
    BOOST_REQUIRE(recorder.slots.size() == 3u);
    BOOST_TEST(!recorder.slots[0]);
    BOOST_TEST(recorder.slots[1].value() == (json{{"result", 1}}));
    BOOST_TEST(!recorder.slots[2]);

    // Late slots go to their callback, never to a second answer.
    batch->fill(2, "late two");
    work.post([batch] { batch->fill(0, "late zero"); });
    BOOST_REQUIRE(recorder.wait([&] { return recorder.late.size() == 2u; }));
    BOOST_TEST(recorder.answers == 1);
    BOOST_TEST(recorder.late[0].first == 2u);
    BOOST_TEST(recorder.late[0].second == "late two");
    BOOST_TEST(recorder.late[1].first == 0u);
    BOOST_TEST(recorder.late[1].second == "late zero");
    batch->fill(2, "late again");  // each slot once
    BOOST_TEST(recorder.late.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_batch_of_no_slots_answers_at_once) {
    MediaWork work(1);
    Recorder recorder;
    auto batch = SlotBatch::start(work, 0, 10s, recorder.callbacks());
    BOOST_TEST(batch->answered());
    BOOST_TEST(recorder.answers == 1);
    BOOST_TEST(recorder.slots.empty());
    BOOST_TEST(recorder.unfilled == 0u);
}

BOOST_AUTO_TEST_CASE(slots_racing_the_deadline_answer_exactly_once) {
    MediaWork work(4);
    constexpr std::size_t kSlots = 16;
    for (int round = 0; round < 50; ++round) {
        Recorder recorder;
        auto batch = SlotBatch::start(work, kSlots, std::chrono::milliseconds(round % 3), recorder.callbacks());
        for (std::size_t i = 0; i < kSlots; ++i) work.post([batch, i] { batch->fill(i, static_cast<int>(i)); });
        // Every slot ends in the answer or in a late callback, exactly once.
        BOOST_REQUIRE(recorder.wait(
            [&] { return recorder.answers == 1 && recorder.late.size() + (kSlots - recorder.unfilled) == kSlots; }));
        std::this_thread::sleep_for(1ms);
        std::lock_guard lock(recorder.mutex);
        BOOST_TEST(recorder.answers == 1);
        std::size_t answered = 0;
        for (std::size_t i = 0; i < kSlots; ++i)
            if (recorder.slots[i]) {
                ++answered;
                BOOST_TEST(recorder.slots[i].value() == static_cast<int>(i));
            }
        BOOST_TEST(answered == kSlots - recorder.unfilled);
        BOOST_TEST(answered + recorder.late.size() == kSlots);
    }
    work.join();
}

BOOST_AUTO_TEST_CASE(the_running_count_returns_to_zero) {
    MediaWork work(3);
    RunningCount running;
    BOOST_TEST(running.value() == 0u);
    BOOST_TEST(running.wait_idle(0ms));
    std::atomic<bool> release{false};
    for (int i = 0; i < 6; ++i) {
        running.begin();
        work.post([&] {
            while (!release) std::this_thread::sleep_for(1ms);
            running.end();
        });
    }
    BOOST_TEST(running.value() == 6u);
    BOOST_TEST(!running.wait_idle(20ms));
    release = true;
    BOOST_TEST(running.wait_idle(5s));
    BOOST_TEST(running.value() == 0u);
    running.end();  // an extra end() does not wrap around
    BOOST_TEST(running.value() == 0u);
    work.join();
}

BOOST_AUTO_TEST_SUITE_END()
