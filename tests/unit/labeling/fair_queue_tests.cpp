// The queue both media pools take their work from: FIFO within a call, round-robin across
// projects and across the calls of a project, bounded for new work only.
#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "plugin/labeling/fair_queue.hpp"

using namespace seke;

namespace {

using Queue = FairQueue<std::string>;

void push(Queue& queue, const WorkKey& key, std::vector<std::string> items) {
    BOOST_TEST_REQUIRE(queue.push_new(key, items));
}

std::vector<std::string> drain(Queue& queue) {
    std::vector<std::string> order;
    while (auto item = queue.pop()) order.push_back(*item);
    return order;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(labeling_fair_queue)

BOOST_AUTO_TEST_CASE(one_call_comes_out_in_the_order_it_went_in) {
    Queue queue(10);
    BOOST_TEST(!queue.pop());
    push(queue, {"p", 1}, {"a", "b", "c"});
    queue.push_step({"p", 1}, "d");
    BOOST_TEST(queue.size() == 4u);
    BOOST_TEST(drain(queue) == (std::vector<std::string>{"a", "b", "c", "d"}));
    BOOST_TEST(queue.empty());
}

BOOST_AUTO_TEST_CASE(projects_take_turns_one_item_each) {
    Queue queue(100);
    push(queue, {"big", 1}, {"b1", "b2", "b3", "b4"});
    push(queue, {"small", 2}, {"s1"});
    push(queue, {"mid", 3}, {"m1", "m2"});
    BOOST_TEST(drain(queue) == (std::vector<std::string>{"b1", "s1", "m1", "b2", "m2", "b3", "b4"}));
}

BOOST_AUTO_TEST_CASE(the_calls_of_one_project_take_turns_within_its_turn) {
    Queue queue(100);
    push(queue, {"a", 1}, {"a1-1", "a1-2", "a1-3"});
    push(queue, {"a", 2}, {"a2-1"});
    push(queue, {"b", 3}, {"b3-1", "b3-2"});
    // a's turn: call 1; b's turn; a's turn: call 2; b; a: call 1 again ...
    BOOST_TEST(drain(queue) == (std::vector<std::string>{"a1-1", "b3-1", "a2-1", "b3-2", "a1-2", "a1-3"}));
}

BOOST_AUTO_TEST_CASE(a_call_arriving_behind_a_big_batch_waits_one_item_not_the_batch) {
    Queue queue(1000);
    std::vector<std::string> batch;
    for (int i = 0; i < 40; ++i) batch.push_back("big" + std::to_string(i));
    push(queue, {"1", 1}, batch);
    BOOST_TEST(*queue.pop() == "big0");
    BOOST_TEST(*queue.pop() == "big1");
    push(queue, {"2", 2}, {"small"});
    BOOST_TEST(*queue.pop() == "big2");  // the project whose turn it was
    BOOST_TEST(*queue.pop() == "small");
    // A drained project or call leaves nothing behind: it queues again from the back.
    push(queue, {"2", 2}, {"again"});
    BOOST_TEST(*queue.pop() == "big3");
    BOOST_TEST(*queue.pop() == "again");
    BOOST_TEST(queue.size() == 36u);
}

BOOST_AUTO_TEST_CASE(new_work_is_refused_past_the_capacity_all_or_none_and_steps_are_not) {
    Queue queue(4);
    BOOST_TEST(queue.capacity() == 4u);
    push(queue, {"a", 1}, {"1", "2", "3"});
    std::vector<std::string> two = {"x", "y"};
    BOOST_TEST(!queue.push_new({"b", 2}, two));  // 5 > 4: none of them
    BOOST_TEST(two.size() == 2u);                // handed back untouched
    BOOST_TEST(queue.size() == 3u);
    std::vector<std::string> one = {"4"};
    BOOST_TEST(queue.push_new({"b", 2}, one));
    BOOST_TEST(one.empty());
    std::vector<std::string> more = {"5"};
    BOOST_TEST(!queue.push_new({"c", 3}, more));
    // The next step of admitted work goes in regardless; new work stays refused meanwhile.
    queue.push_step({"a", 1}, "step");
    BOOST_TEST(queue.size() == 5u);
    BOOST_TEST(!queue.push_new({"c", 3}, more));
    queue.pop();
    queue.pop();
    BOOST_TEST(queue.push_new({"c", 3}, more));  // 4 of 4
    BOOST_TEST(queue.size() == 4u);
    std::vector<std::string> none;
    BOOST_TEST(queue.push_new({"c", 3}, none));  // nothing is always room
}

BOOST_AUTO_TEST_CASE(take_all_empties_the_queue_in_turn_order) {
    Queue queue(10);
    push(queue, {"a", 1}, {"a1", "a2"});
    push(queue, {"b", 2}, {"b1"});
    BOOST_TEST(queue.take_all() == (std::vector<std::string>{"a1", "b1", "a2"}));
    BOOST_TEST(queue.empty());
    BOOST_TEST(!queue.pop());
}

BOOST_AUTO_TEST_CASE(move_only_items_are_fine) {
    FairQueue<std::unique_ptr<int>> queue(2);
    std::vector<std::unique_ptr<int>> items;
    items.push_back(std::make_unique<int>(7));
    BOOST_TEST(queue.push_new({"p", 1}, items));
    queue.push_step({"p", 1}, std::make_unique<int>(8));
    BOOST_TEST(**queue.pop() == 7);
    BOOST_TEST(**queue.pop() == 8);
}

BOOST_AUTO_TEST_SUITE_END()
