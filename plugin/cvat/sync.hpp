#pragma once
// The review sync (protocol notes §4.6): a job's annotations as CVAT holds them now, diffed
// against the shapes seke created on the job's frames. Seke's shape unchanged → accepted;
// attributes or box changed → corrected; gone → rejected; a face a human drew → added, as a
// new FEID record. Human labels merge into the FEID records with provenance human. Running it
// again on the same annotations writes nothing.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/cvat_client.hpp"
#include "plugin/cvat/spec.hpp"
#include "plugin/records/store.hpp"
#include "verify/knowledge.hpp"

namespace seke::cvat {

struct SyncDeps {
    const Knowledge& knowledge;
    const FunctionSpec& spec;
    Store& store;
    CvatClient& client;
};

struct SyncSummary {
    long long job_id = -1;
    long long task_id = -1;
    long long annotations_version = 0;
    int accepted = 0, corrected = 0, rejected = 0, added = 0;
    int written = 0;                   // FEID records changed by this run (0 on a repeat)
    std::vector<std::string> skipped;  // what was not read, and why
};

// Errors: what stops the whole sync (the job, its labels or annotations cannot be read, the
// task has no face label, the store fails).
Result<SyncSummary> sync_job(const SyncDeps& deps, long long job_id);

nlohmann::ordered_json sync_summary_json(const SyncSummary& summary);

}  // namespace seke::cvat
