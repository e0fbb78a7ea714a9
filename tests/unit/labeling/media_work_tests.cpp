// The media work shared by the platform servers: batches answered once (last slot or deadline),
// late slots kept apart, deadlines on their own thread, the fair pools, the running count, and
// the pools' sizes.
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

// Work of one call of one project: in these tests the order between calls does not matter.
template <class Work>
void post(MediaWork& work, Work step) {
    static const WorkKey key{"project", 1};
    work.post(key, Job(std::move(step)));
}

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
        post(work, [&] {
            std::this_thread::sleep_for(10ms);
            post(work, [&] { ++done; });
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
    post(work, [batch] { batch->fill(1, "b"); });
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
    post(work, [batch] { batch->fill(0, "late zero"); });
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
        for (std::size_t i = 0; i < kSlots; ++i) post(work, [batch, i] { batch->fill(i, static_cast<int>(i)); });
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
        post(work, [&] {
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

// A gate a test holds work at: the work waits in wait() until open() (or the gate's end).
struct Gate {
    std::mutex mutex;
    std::condition_variable changed;
    bool opened = false;
    int waiting = 0;

    void wait() {
        std::unique_lock lock(mutex);
        ++waiting;
        changed.notify_all();
        changed.wait(lock, [&] { return opened; });
    }
    bool wait_for_waiting(int count) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 5s, [&] { return waiting >= count; });
    }
    void open() {
        std::lock_guard lock(mutex);
        opened = true;
        changed.notify_all();
    }
};

BOOST_AUTO_TEST_CASE(the_pools_have_the_sizes_asked_for) {
    MediaWork work(2, 5, 7);
    BOOST_TEST(work.threads() == 2u);
    BOOST_TEST(work.fetch_threads() == 5u);
    BOOST_TEST(work.queue_limit() == 7u);
    BOOST_TEST(MediaWork(1, 0).fetch_threads() == 1u);  // at least one
}

// The defect of issue 12: the deadline queued behind blocked work and answered late.
BOOST_AUTO_TEST_CASE(a_deadline_fires_while_every_worker_is_blocked) {
    MediaWork work(1, 1);
    Gate gate;
    std::vector<Job> fetches;
    fetches.emplace_back([&] { gate.wait(); });
    BOOST_REQUIRE(!work.fetch(work.new_call("p"), std::move(fetches)));
    BOOST_REQUIRE(!work.admit(work.new_call("p"), Job([&] { gate.wait(); })));
    BOOST_REQUIRE(gate.wait_for_waiting(2));  // every thread of both pools is held
    Recorder recorder;
    auto batch = SlotBatch::start(work, 2, 50ms, recorder.callbacks());
    batch->fill(0, "done");
    const bool answered = recorder.wait([&] { return recorder.answers == 1; });
    gate.open();
    BOOST_REQUIRE(answered);
    BOOST_TEST(recorder.unfilled == 1u);
    BOOST_TEST(recorder.slots[0].value() == "done");
    BOOST_TEST(!recorder.slots[1]);
    work.join();
}

BOOST_AUTO_TEST_CASE(join_answers_the_deadlines_still_armed) {
    Recorder recorder;
    Recorder after;
    std::shared_ptr<SlotBatch> batch, late_batch;
    {
        MediaWork work(1);
        batch = SlotBatch::start(work, 2, 1h, recorder.callbacks());
        batch->fill(1, "one");
        work.join();
        BOOST_TEST(recorder.answers == 1);
        BOOST_TEST(recorder.unfilled == 1u);
        // Once joined, a new batch's deadline is now.
        late_batch = SlotBatch::start(work, 1, 1h, after.callbacks());
        BOOST_TEST(after.answers == 1);
    }
    batch->fill(0, "late");  // the batch outlives the work: its handle keeps what it needs
    BOOST_TEST(recorder.late.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_withdrawn_batch_never_answers) {
    MediaWork work(1);
    Recorder recorder;
    auto batch = SlotBatch::start(work, 1, 10ms, recorder.callbacks());
    batch->withdraw();
    work.join();  // fires every deadline still armed: this one was cancelled
    BOOST_TEST(recorder.answers == 0);
}

BOOST_AUTO_TEST_CASE(slow_fetches_leave_the_media_threads_free) {
    MediaWork work(1, 3);
    Gate gate;
    std::vector<Job> fetches;
    for (int i = 0; i < 3; ++i) fetches.emplace_back([&] { gate.wait(); });
    BOOST_REQUIRE(!work.fetch(work.new_call("slow"), std::move(fetches)));
    BOOST_REQUIRE(gate.wait_for_waiting(3));  // three downloads at once, on the fetch threads
    std::atomic<bool> decoded{false};
    BOOST_REQUIRE(!work.admit(work.new_call("other"), Job([&] { decoded = true; })));
    // The media thread runs other work while every fetch is held.
    for (int i = 0; i < 500 && !decoded; ++i) std::this_thread::sleep_for(10ms);
    BOOST_TEST(decoded.load());
    gate.open();
    work.join();
}

BOOST_AUTO_TEST_CASE(the_media_threads_take_projects_and_calls_in_turn) {
    MediaWork work(1);
    Gate gate;
    BOOST_REQUIRE(!work.admit(work.new_call("hold"), Job([&] { gate.wait(); })));
    BOOST_REQUIRE(gate.wait_for_waiting(1));
    std::mutex mutex;
    std::vector<std::string> order;
    auto record = [&](std::string what) {
        return Job([&, what] {
            std::lock_guard lock(mutex);
            order.push_back(what);
        });
    };
    WorkKey big = work.new_call("1"), small = work.new_call("2");
    for (int i = 0; i < 3; ++i) work.post(big, record("big" + std::to_string(i)));
    work.post(small, record("small"));
    gate.open();
    work.join();
    BOOST_TEST(order == (std::vector<std::string>{"big0", "small", "big1", "big2"}));
}

BOOST_AUTO_TEST_CASE(new_work_past_the_queue_limit_is_refused_and_steps_are_not) {
    MediaWork work(1, 1, 3);
    Gate gate;
    std::vector<Job> hold;
    hold.emplace_back([&] { gate.wait(); });
    BOOST_REQUIRE(!work.fetch(work.new_call("p"), std::move(hold)));
    BOOST_REQUIRE(gate.wait_for_waiting(1));
    std::atomic<int> ran{0};
    auto count = [&] { return Job([&] { ++ran; }); };
    std::vector<Job> three;
    for (int i = 0; i < 3; ++i) three.push_back(count());
    BOOST_TEST(!work.fetch(work.new_call("p"), std::move(three)));
    std::vector<Job> one;
    one.push_back(count());
    auto refused = work.fetch(work.new_call("q"), std::move(one));
    BOOST_REQUIRE(refused.has_value());
    BOOST_TEST((refused->code == errc::overloaded));
    BOOST_TEST(refused->message.find("serve.media_queue_limit") != std::string::npos);
    // The media threads have their own queue, and a step of admitted work always goes in.
    BOOST_TEST(!work.admit(work.new_call("q"), count()));
    work.post(work.new_call("q"), count());
    gate.open();
    work.join();
    BOOST_TEST(ran.load() == 5);
    // Once joined, new work is refused as the server stopping, and steps are dropped.
    std::vector<Job> after;
    after.push_back(count());
    auto stopped = work.fetch(work.new_call("p"), std::move(after));
    BOOST_REQUIRE(stopped.has_value());
    BOOST_TEST((stopped->code == errc::cancelled));
    work.post(work.new_call("p"), count());
    BOOST_TEST(ran.load() == 5);
}

BOOST_AUTO_TEST_CASE(fetched_images_wait_for_a_place_while_the_media_threads_lag) {
    MediaWork work(1, 2);
    Gate gate;
    BOOST_REQUIRE(!work.admit(work.new_call("hold"), Job([&] { gate.wait(); })));
    BOOST_REQUIRE(gate.wait_for_waiting(1));
    std::atomic<int> decoded{0};
    WorkKey key = work.new_call("p");
    // As many fetched images as there are fetch threads may wait; the next hand-off waits.
    work.post_fetched(key, Job([&] { ++decoded; }));
    work.post_fetched(key, Job([&] { ++decoded; }));
    std::atomic<bool> handed{false};
    std::thread fetcher([&] {
        work.post_fetched(key, Job([&] { ++decoded; }));
        handed = true;
    });
    std::this_thread::sleep_for(50ms);
    BOOST_TEST(!handed.load());
    gate.open();
    fetcher.join();
    BOOST_TEST(handed.load());
    work.join();
    BOOST_TEST(decoded.load() == 3);
}

BOOST_AUTO_TEST_SUITE_END()
