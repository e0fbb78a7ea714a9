#pragma once
// One worker's share of a label job on a shared (PostgreSQL) store: the job's items are claimed
// in batches with leases on the database's clock, the leases are renewed while the worker lives,
// and a worker that dies loses them when they run out, so another worker finishes its items.
#include <chrono>
#include <string>
#include <vector>

#include "plugin/records/store.hpp"

namespace seke {

// The job's name when none is given: the items it holds and what labels them, so workers started
// on the same input with the same model share one job.
std::string job_name_for(const std::vector<std::string>& item_ids, const std::string& model_version);

class SharedJob {
  public:
    SharedJob(Store& store, JobLease lease, std::chrono::milliseconds lease_time);

    // Adds the items (once for the job, whoever adds them first).
    Result<bool> join(const std::vector<std::string>& item_ids);
    // Up to `count` more items for this worker. Empty while the other items are leased to others.
    Result<std::vector<std::string>> claim(int count);
    // Renews this worker's leases when a third of their time has passed since the last renewal.
    Result<bool> keep_alive();
    // The job's whole: items, done, leased now. Read at most once a second; older figures between.
    Result<JobCounts> counts(bool fresh = false);
    // Gives this worker's unfinished items back at once (a clean stop).
    void leave();

    [[nodiscard]] const JobLease& lease() const noexcept { return lease_; }

  private:
    using Clock = std::chrono::steady_clock;
    Store& store_;
    JobLease lease_;
    std::chrono::milliseconds lease_time_;
    Clock::time_point renewed_;
    Clock::time_point counted_{};
    JobCounts counts_;
};

}  // namespace seke
