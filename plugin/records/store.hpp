#pragma once
// The store: items, faces with their FEID records, predictions with traces, the platforms'
// state and the model response cache, in SQLite (a file, WAL, durable commits) or PostgreSQL
// (shared by many processes). One Store per process; thread-safe (one connection for labels
// behind a mutex, a second one for the cache so cache reads never wait on label commits).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "connectors/claim_renewer.hpp"
#include "connectors/vllm_client.hpp"
#include "plugin/records/feid_record.hpp"
#include "verify/errors.hpp"
#include "verify/labels.hpp"

namespace seke::sql {
class Connection;
}

namespace seke {

class RecentPredictions;
struct DialectQueries;

// The store's target for messages and summaries: a SQLite file's absolute path, a PostgreSQL URI
// without its password.
std::string describe_store(const std::string& target);
// A SQLite file that exists, or a PostgreSQL URI (connecting tells whether the database is there).
bool store_may_exist(const std::string& target);

// This process's name in claims and leases, unique across machines: host, process, a random part.
std::string claim_owner_name();

// Now, as the store writes times: "2026-11-26T17:20:00Z".
std::string utc_timestamp();

enum class ItemStatus { pending, done, failed, skipped };
std::string_view item_status_name(ItemStatus status) noexcept;

struct ItemRow {
    std::string id;
    std::string image;       // path or URI as given
    std::string known_json;  // prior labels as given ({} when none)
    ItemStatus status = ItemStatus::pending;
    std::string error;  // reason when failed or skipped
    std::string content_hash;
    int width = 0, height = 0;
};

struct FaceRow {
    std::string id;  // item id, suffixed _face<N> when an image holds several faces
    std::string item_id;
    int face_index = 0;
    std::string status = "auto";  // auto | accepted | corrected | rejected | added | withdrawn
    std::string model_version;
    double overall = 0;
    std::string record_json;     // the FEID record as stored; read and written through record()/set_record()
    std::string trace_json;      // the SV-UAMC trace of the prediction
    std::string thumbnail_jpeg;  // written when non-empty; read with Store::thumbnail
    // What the face's crop was cut with when it was labeled; null for a face labeled before the
    // store kept it (schema step 4) and for one a human drew. Written with the labels; a review
    // leaves it.
    std::optional<CropSettings> crop;

    // The FEID record; a bad_json error naming the face when its text is not one.
    [[nodiscard]] Result<FeidRecord> record() const;
    void set_record(const FeidRecord& record);
};

// What one finished item writes, in one transaction.
struct ItemOutcome {
    ItemRow item;
    std::vector<FaceRow> faces;
};

// The annotation a face's current review came from (a Label Studio annotation), so deleting
// that annotation can undo it.
struct ReviewSource {
    std::string source;   // "label_studio"
    std::string project;  // the platform's project id
    long long annotation_id = -1;
    bool operator==(const ReviewSource&) const = default;
};

// One face's human review: the status and the record it merged into.
struct ReviewRow {
    std::string face_id;
    std::string status;  // accepted | corrected | rejected | withdrawn | auto (a review undone)
    FeidRecord record;
    // Set: the face's current review is this annotation's from now on. Unset: it is no
    // annotation's (a CVAT review, a reopened face).
    std::optional<ReviewSource> from;
};

// A face given back to the model because the annotation that reviewed it is gone: its record
// without the review (status auto), written only while the face's current review is `from`'s.
struct ReopenRow {
    std::string face_id;
    FeidRecord record;
    ReviewSource from;
};

// What one review event writes, in one transaction: the reopened faces first, then the reviews.
struct ReviewWrites {
    std::vector<ReopenRow> reopens;
    std::vector<ReviewRow> reviews;
};

// What save_review_writes did: false `first` when another process had merged the event already
// (nothing written); the faces reopened.
struct ReviewsSaved {
    bool first = true;
    int reopened = 0;
};

// A face whose current review came from an annotation.
struct LinkedFace {
    ReviewSource from;
    FaceRow face;
};

// A Label Studio project as /setup last described it.
struct ProjectRow {
    std::string id;
    std::string label_config;
    std::string extra_params_json = "null";
};

// seke's prediction for one Label Studio task, per model version (what /predict returns).
struct TaskPredictionRow {
    std::string project;
    long long task_id = 0;
    std::string model_version;
    std::string status;           // done | failed
    std::string prediction_json;  // the LS prediction object when done
    std::string error;            // reason when failed
    std::string updated_at;       // when read back
};

// A shape seke created in CVAT and the FEID face it carries: how a review finds its face.
struct CvatShapeRow {
    std::string cvat_url;  // the CVAT base URL, without a trailing slash
    long long task_id = -1;
    long long job_id = -1;  // -1 when unknown
    long long frame = 0;    // task-relative
    long long shape_id = -1;
    std::string face_id;
    std::string item_id;
    std::string shape_json;  // the shape as created (points, attributes): what a review is diffed against
    std::string created_at;  // set by the store
};

// A frame tag seke created in CVAT (the whole image's expression): read back by the review sync.
struct CvatTagRow {
    std::string cvat_url;
    long long task_id = -1;
    long long job_id = -1;
    long long frame = 0;
    long long tag_id = -1;
    std::string face_id;     // the face the tag speaks for ("" when none)
    std::string tag_json;    // the tag as created (attributes)
    std::string created_at;  // set by the store
};

// The last review sync of one CVAT job.
struct CvatJobSyncRow {
    std::string cvat_url;
    long long job_id = -1;
    long long task_id = -1;
    long long annotations_version = 0;
    std::string summary_json;
    std::string synced_at;  // set by the store
};

// Faces at a glance: how many per status, what labeling them cost, how uncertain they were.
struct FaceStats {
    std::map<std::string, std::int64_t> by_status;  // auto, accepted, corrected, rejected, added...
    std::int64_t requests = 0, cached_requests = 0, samples = 0, prompt_tokens = 0, completion_tokens = 0;
    std::int64_t cached_prompt_tokens = 0;        // of prompt_tokens: the provider's prefix cache
    std::vector<std::int64_t> overall_histogram;  // `bins` equal bins of `overall` over [0, 1]
};

// A JSON document kept by kind and key: fits (calibration, exemplars), FEAB reports, what seke
// fills of each Label Studio project's config (kControlReportDocument, keyed by project).
inline constexpr std::string_view kControlReportDocument = "label_config_report";
struct DocumentRow {
    std::string kind;
    std::string key;
    std::string body;
    std::string created_at;
};

// What ranking an unreviewed face needs, read without its whole record.
struct QueueCandidate {
    std::string id;
    std::string item_id;
    Uncertainty uncertainty;
    LevelProvenance provenance;
    std::string phash;  // perceptual hash of the crop (hex), "" when unknown
};

// A label job several `seke label` workers share: its items, how many are done, how many a live
// lease holds now (the rest wait for a worker).
struct JobCounts {
    std::int64_t items = 0, done = 0, leased = 0;
};

// Whose claim on a job's items a write settles.
struct JobLease {
    std::string job;
    std::string worker;
};

// A review event as stored: its row, and whether its reviews are merged already (a redelivery).
struct StoredEvent {
    long long id = 0;
    bool merged = false;
};

struct StoreCounts {
    std::int64_t items = 0, done = 0, failed = 0, skipped = 0, faces = 0, cache_entries = 0;
};

class Store {
  public:
    // `target` is a SQLite file's path or a PostgreSQL URI (postgresql://user:pass@host/db); the
    // schema is created or brought up to date. A PostgreSQL server that does not answer is tried
    // again for `connect_wait_ms`.
    static Result<std::unique_ptr<Store>> open(const std::string& target, int connect_wait_ms = 0);
    // The same store for reading only (`seke label --plan`): nothing is created, migrated or
    // written; a SQLite file keeps its bytes. A store whose schema is not this seke's newest is
    // refused (invalid_argument: a real run brings it up to date).
    static Result<std::unique_ptr<Store>> open_read_only(const std::string& target, int connect_wait_ms = 0);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Items that need no more work (done or skipped), to resume a run.
    Result<std::vector<std::string>> finished_item_ids();
    // Writes the outcomes of finished items in one durable transaction (group commit); with a
    // lease, the job's items are marked done in the same transaction.
    Result<bool> save_outcomes(const std::vector<ItemOutcome>& outcomes, const JobLease* lease = nullptr);

    // Shared label jobs (store_jobs.cpp). Items join a job once; an item that failed before is
    // opened again. A claim takes up to `count` open items no live lease holds, for `lease_ms` on
    // the database's clock, skipping rows other workers are claiming at that moment.
    Result<bool> add_job_items(const std::string& job, const std::vector<std::string>& item_ids);
    Result<std::vector<std::string>> claim_job_items(const JobLease& lease, int count, int lease_ms);
    // Extends every open lease of this worker; release gives them back at once (a clean stop).
    Result<bool> renew_leases(const JobLease& lease, int lease_ms);
    Result<bool> release_leases(const JobLease& lease);
    Result<JobCounts> job_counts(const std::string& job);
    // A claim on work in flight that processes sharing the database must not do twice (a model
    // request, a task's prediction), for `claim_ms` on the database's clock: true when `owner`
    // holds it now (it was free, ran out, or was `owner`'s already); false while another's lives.
    Result<bool> claim(const std::string& key, const std::string& owner, int claim_ms);
    void release_claim(const std::string& key, const std::string& owner);
    Result<std::optional<ItemRow>> item(const std::string& id);
    Result<std::vector<ItemRow>> items_with_status(ItemStatus status);
    // The latest done item with these image bytes whose faces this model version labeled: lets a
    // path that sees only bytes (CVAT's function call) reuse what another path already paid for.
    Result<std::optional<ItemRow>> done_item_with_content(const std::string& content_hash,
                                                          const std::string& model_version);
    // Every FEID record, ordered by face id; `visit` returns false to stop.
    Result<bool> for_each_face(const std::function<bool(const FaceRow&)>& visit);
    Result<StoreCounts> counts();

    // Label Studio state: projects, per-task predictions, received webhook events.
    Result<bool> save_project(const ProjectRow& project);
    Result<std::optional<ProjectRow>> project(const std::string& id);
    Result<bool> save_task_prediction(const TaskPredictionRow& row);
    Result<std::optional<TaskPredictionRow>> task_prediction(const std::string& project, long long task_id,
                                                             const std::string& model_version);
    // Every model version's prediction of a task, newest first ("" = every version).
    Result<std::vector<TaskPredictionRow>> task_predictions(const std::string& project, long long task_id,
                                                            const std::string& model_version = {});
    // Stores a webhook event durably; returns its row id.
    Result<long long> save_event(const std::string& source, const std::string& action, const std::string& body);
    // Stores a review event durably, once: the same body delivered again (to this process or to
    // another on the same database) is the same event, its row returned with whether its reviews
    // are in already.
    Result<StoredEvent> save_review_event(const std::string& source, const std::string& action,
                                          const std::string& body);

    // Faces of one item, by face index.
    Result<std::vector<FaceRow>> faces_of_item(const std::string& item_id);
    // A human review replaces the record whatever its status (unlike save_outcomes).
    Result<bool> save_review(const std::string& face_id, const std::string& status, const FeidRecord& record);
    // The reviews of one event in one durable transaction: all of them are stored, or none. With
    // the event's id (save_review_event), they are stored only if that event's reviews are not in
    // yet: false, and nothing written, when another process merged them first.
    Result<bool> save_reviews(const std::vector<ReviewRow>& reviews, long long event_id = 0);
    // As save_reviews, with faces reopened before the reviews are written. A reopen whose face's
    // current review is no longer its annotation's (a later review, or reopened already) writes
    // nothing and is not counted.
    Result<ReviewsSaved> save_review_writes(const ReviewWrites& writes, long long event_id = 0);
    // The faces whose current review came from one of these annotations of a project.
    Result<std::vector<LinkedFace>> faces_reviewed_by(const std::string& source, const std::string& project,
                                                      const std::vector<long long>& annotation_ids);
    Result<FaceStats> face_stats(int bins = 20);
    // What each of the newest `limit` faces labeled by `model_version` cost (Cost's counts; the
    // token counts of reused answers left at zero), the latest written first.
    Result<std::vector<Cost>> face_costs(const std::string& model_version, std::size_t limit);

    // One face by id.
    Result<std::optional<FaceRow>> face(const std::string& id);
    // A face a human drew (no model prediction): writes `item` only when no item of that id
    // exists, then the face whatever the status of a face already stored under its id.
    Result<bool> save_human_face(const ItemRow& item, const FaceRow& face);

    // CVAT shapes seke created. A shape id is recorded once per CVAT URL; repeats are ignored.
    Result<bool> save_cvat_shapes(const std::vector<CvatShapeRow>& rows);
    // Shapes on task frames first..last (inclusive), by frame then shape id.
    Result<std::vector<CvatShapeRow>> cvat_shapes(const std::string& cvat_url, long long task_id, long long first_frame,
                                                  long long last_frame);
    // Task frames that already carry a shape seke created (a re-run skips them).
    Result<std::vector<long long>> cvat_annotated_frames(const std::string& cvat_url, long long task_id);
    // Frame tags seke created, as shapes are: a tag id once per CVAT URL; read by frame range.
    Result<bool> save_cvat_tags(const std::vector<CvatTagRow>& rows);
    Result<std::vector<CvatTagRow>> cvat_tags(const std::string& cvat_url, long long task_id, long long first_frame,
                                              long long last_frame);
    // Faces a human drew (model_version "human") on items whose id starts with `item_prefix`.
    Result<std::vector<FaceRow>> human_faces(const std::string& item_prefix);
    Result<bool> save_cvat_job_sync(const CvatJobSyncRow& row);
    Result<std::optional<CvatJobSyncRow>> cvat_job_sync(const std::string& cvat_url, long long job_id);

    // A face's small JPEG, "" when none was kept.
    Result<std::string> thumbnail(const std::string& face_id);

    // Documents: one per (kind, key), replaced on save; an empty key reads the newest of a kind.
    Result<bool> save_document(const std::string& kind, const std::string& key, const std::string& body);
    // Several documents in one transaction: all are saved, or none. On PostgreSQL, with a
    // `notify` channel, that channel's listeners (sql::Listener) are told `payload` when it commits.
    Result<bool> save_documents(const std::vector<DocumentRow>& documents, const std::string& notify = {},
                                const std::string& payload = {});
    Result<std::optional<DocumentRow>> document(const std::string& kind, const std::string& key = {});
    // The documents of a kind, newest first, at most `limit`.
    Result<std::vector<DocumentRow>> documents(const std::string& kind, std::size_t limit);
    // Unreviewed faces of items whose id starts with `item_prefix` ("" = all), unordered.
    Result<std::vector<QueueCandidate>> queue_candidates(const std::string& item_prefix);

    // The response cache, for the VLLM client.
    std::optional<std::string> cache_get(const std::string& key);
    void cache_put(const std::string& key, const std::string& value);

    // The batches a `--batch` run submitted (batch_id → the cache keys of its requests), on the
    // cache's connection: recorded when made, open until their answers are read.
    Result<bool> save_batch(const std::string& batch_id, const std::vector<std::string>& custom_ids);
    Result<std::vector<OpenBatch>> open_batches();
    Result<bool> close_batch(const std::string& batch_id, const std::string& status);

    // The target as given (a URI with its password: for connecting again, never for messages).
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    // On a database other processes on other machines may share (PostgreSQL).
    [[nodiscard]] bool shared() const noexcept;

  private:
    Store() = default;
    static Result<std::unique_ptr<Store>> open_as(const std::string& target, int connect_wait_ms, bool read_only);
    std::string path_;
    std::unique_ptr<sql::Connection> db_;        // under db_mutex_
    std::unique_ptr<sql::Connection> cache_db_;  // under cache_mutex_
    std::unique_ptr<DialectQueries> queries_;
    std::unique_ptr<RecentPredictions> recent_predictions_;
    std::mutex db_mutex_;
    std::mutex cache_mutex_;
};

// Adapts the store's cache to the client's interface.
// On a shared store, a missed request is claimed for `claim_ms`, renewed by the client while it is
// in flight, so two processes that need it at once pay for it once, and the claims of a process
// that died run out soon.
class StoreResponseCache final : public ResponseCache {
  public:
    explicit StoreResponseCache(Store& store, int claim_ms = static_cast<int>(kClaimLength.count()))
        : store_(store), claim_ms_(claim_ms), owner_(claim_owner_name()) {}
    std::optional<std::string> get(const std::string& key) override { return store_.cache_get(key); }
    void put(const std::string& key, const std::string& value) override { store_.cache_put(key, value); }
    bool claim(const std::string& key) override {
        if (!store_.shared()) return true;
        auto mine = store_.claim("cache:" + key, owner_, claim_ms_);
        return !mine || *mine;  // a claim that cannot be made: send, paying twice loses nothing
    }
    void release(const std::string& key) override {
        if (store_.shared()) store_.release_claim("cache:" + key, owner_);
    }

  private:
    Store& store_;
    int claim_ms_;
    std::string owner_;
};

// Adapts the store's batch table to the client's ledger; a failed write throws (the client logs it).
class StoreBatchLedger final : public BatchLedger {
  public:
    explicit StoreBatchLedger(Store& store) : store_(store) {}
    void record(const std::string& batch_id, const std::vector<std::string>& custom_ids) override {
        if (auto saved = store_.save_batch(batch_id, custom_ids); !saved)
            throw std::runtime_error(saved.error().message);
    }
    std::vector<OpenBatch> open_batches() override {
        auto open = store_.open_batches();
        if (!open) throw std::runtime_error(open.error().message);
        return std::move(*open);
    }
    void close(const std::string& batch_id, const std::string& status) override {
        if (auto closed = store_.close_batch(batch_id, status); !closed)
            throw std::runtime_error(closed.error().message);
    }

  private:
    Store& store_;
};

}  // namespace seke
