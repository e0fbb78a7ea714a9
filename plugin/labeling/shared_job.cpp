#include "plugin/labeling/shared_job.hpp"

#include <algorithm>

#include "connectors/crypto.hpp"

namespace seke {

std::string job_name_for(const std::vector<std::string>& item_ids, const std::string& model_version) {
    std::vector<std::string> sorted = item_ids;
    std::sort(sorted.begin(), sorted.end());
    std::string basis = model_version;
    for (const auto& id : sorted) {
        basis += '\n';
        basis += id;
    }
    return "label-" + sha256_hex(basis).substr(0, 16);
}

SharedJob::SharedJob(Store& store, JobLease lease, std::chrono::milliseconds lease_time)
    : store_(store), lease_(std::move(lease)), lease_time_(lease_time), renewed_(Clock::now()) {}

Result<bool> SharedJob::join(const std::vector<std::string>& item_ids) {
    return store_.add_job_items(lease_.job, item_ids);
}

Result<std::vector<std::string>> SharedJob::claim(int count) {
    if (count <= 0) return std::vector<std::string>{};
    return store_.claim_job_items(lease_, count, static_cast<int>(lease_time_.count()));
}

Result<bool> SharedJob::keep_alive() {
    if (Clock::now() - renewed_ < lease_time_ / 3) return true;
    auto renewed = store_.renew_leases(lease_, static_cast<int>(lease_time_.count()));
    if (renewed) renewed_ = Clock::now();
    return renewed;
}

Result<JobCounts> SharedJob::counts(bool fresh) {
    if (!fresh && Clock::now() - counted_ < std::chrono::seconds(1)) return counts_;
    auto counts = store_.job_counts(lease_.job);
    if (!counts) return counts.error();
    counts_ = *counts;
    counted_ = Clock::now();
    return counts_;
}

void SharedJob::leave() {
    (void)store_.release_leases(lease_);  // unreleased leases run out by themselves
}

}  // namespace seke
