#pragma once
// Work queued per project and, within a project, per call, taken round-robin: first across
// projects, then across the calls of the project whose turn it is, FIFO within one call. A
// 40-task call of one project therefore delays a one-task call of another by at most one item
// per project ahead of it, not by the 40. Bounded: new work is refused once `capacity` items
// wait; a later step of work already admitted is not (see push). Not thread-safe: its pool
// locks around it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace seke {

// Whose work an item is: the project (Label Studio's `project`, the CVAT function) and the call
// of that project it belongs to.
struct WorkKey {
    std::string project;
    std::uint64_t call = 0;
};

template <class Item>
class FairQueue {
  public:
    explicit FairQueue(std::size_t capacity) : capacity_(capacity) {}

    // Queues every item of `items` for `key`, in order, or none of them when they would take the
    // queue past its capacity. Returns whether they were queued; on refusal `items` is untouched.
    bool push_new(const WorkKey& key, std::vector<Item>& items) {
        if (items.size() > capacity_ - std::min(capacity_, size_)) return false;
        std::deque<Item>& queue = call_queue(key);
        for (auto& item : items) queue.push_back(std::move(item));
        size_ += items.size();
        items.clear();
        return true;
    }

    // Queues the next step of work admitted already (its call got through push_new): never
    // refused, since refusing would drop a task half done. Each admitted task has at most one
    // step waiting, so this adds at most one item per task in flight.
    void push_step(const WorkKey& key, Item item) {
        call_queue(key).push_back(std::move(item));
        ++size_;
    }

    // The next item in round-robin order, or nullopt when the queue is empty.
    std::optional<Item> pop() {
        if (turns_.empty()) return std::nullopt;
        Project& project = turns_.front();
        Call& call = project.turns.front();
        std::optional<Item> item(std::move(call.items.front()));
        call.items.pop_front();
        --size_;
        // The call goes to the back of its project's turns, the project to the back of all.
        if (call.items.empty()) {
            project.calls.erase(call.id);
            project.turns.pop_front();
        } else {
            project.turns.splice(project.turns.end(), project.turns, project.turns.begin());
        }
        if (project.turns.empty()) {
            projects_.erase(project.name);
            turns_.pop_front();
        } else {
            turns_.splice(turns_.end(), turns_, turns_.begin());
        }
        return item;
    }

    // Every item still queued, in round-robin order; the queue is empty afterwards.
    std::vector<Item> take_all() {
        std::vector<Item> all;
        all.reserve(size_);
        while (auto item = pop()) all.push_back(std::move(*item));
        return all;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  private:
    struct Call {
        std::uint64_t id = 0;
        std::deque<Item> items;
    };
    struct Project {
        std::string name;
        std::list<Call> turns;  // calls with items waiting, the one whose turn it is first
        std::map<std::uint64_t, typename std::list<Call>::iterator> calls;
    };

    std::deque<Item>& call_queue(const WorkKey& key) {
        auto found = projects_.find(key.project);
        if (found == projects_.end()) {
            // A project new to the queue waits behind the projects already in it, one turn each.
            turns_.push_back(Project{key.project, {}, {}});
            found = projects_.emplace(key.project, std::prev(turns_.end())).first;
        }
        Project& project = *found->second;
        auto call = project.calls.find(key.call);
        if (call == project.calls.end()) {
            project.turns.push_back(Call{key.call, {}});
            call = project.calls.emplace(key.call, std::prev(project.turns.end())).first;
        }
        return call->second->items;
    }

    std::size_t capacity_;
    std::size_t size_ = 0;
    std::list<Project> turns_;  // projects with items waiting, the one whose turn it is first
    std::map<std::string, typename std::list<Project>::iterator> projects_;
};

}  // namespace seke
