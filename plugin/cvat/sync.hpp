#pragma once
// The review sync (protocol notes §4.6): a job's annotations as CVAT holds them now, diffed
// against the shapes seke created on the job's frames. Seke's shape unchanged → accepted;
// attributes or box changed → corrected; gone → rejected; a face a human drew → added, as a
// new FEID record, and withdrawn once its shape is gone. Faces on frames CVAT deleted, and
// every face of a job cleared whole, are reopened (the model's labels, unreviewed). A frame
// tag whose expression was changed corrects the face it speaks for. Human labels merge into
// the FEID records with provenance human. Running it again on the same annotations writes
// nothing.
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
    int reopened = 0;      // seke's faces on deleted frames or in a cleared job: the model's labels, unreviewed
    int withdrawn = 0;     // faces a human drew whose shape is gone: status withdrawn, not exported
    int tags_read = 0;     // frame tags whose changed expression was taken as their face's
    bool cleared = false;  // no shape, track or tag left where seke had shapes: the job starts over
    int written = 0;       // FEID records changed by this run (0 on a repeat)
    std::vector<std::string> skipped;  // what was not read, and why
};

// Errors: what stops the whole sync (the job, its labels or annotations cannot be read, the
// task has no face label, the store fails).
Result<SyncSummary> sync_job(const SyncDeps& deps, long long job_id);

nlohmann::ordered_json sync_summary_json(const SyncSummary& summary);

}  // namespace seke::cvat
