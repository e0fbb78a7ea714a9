#pragma once
// The SQLite store (WAL, durable commits): items, faces with their FEID records, predictions with
// traces, and the model response cache. One Store per process; thread-safe (one connection for
// labels behind a mutex, a second one for the cache so cache reads never wait on label commits).
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connectors/vllm_client.hpp"
#include "verify/errors.hpp"

struct sqlite3;

namespace seke {

enum class ItemStatus { pending, done, failed, skipped };
std::string_view item_status_name(ItemStatus status) noexcept;

struct ItemRow {
    std::string id;
    std::string image;        // path or URI as given
    std::string known_json;   // prior labels as given ({} when none)
    ItemStatus status = ItemStatus::pending;
    std::string error;        // reason when failed or skipped
    std::string content_hash;
    int width = 0, height = 0;
};

struct FaceRow {
    std::string id;           // item id, suffixed _face<N> when an image holds several faces
    std::string item_id;
    int face_index = 0;
    std::string status = "auto";  // auto | accepted | corrected | rejected
    std::string model_version;
    double overall = 0;
    std::string record_json;  // the FEID record
    std::string trace_json;   // the SV-UAMC trace of the prediction
};

// What one finished item writes, in one transaction.
struct ItemOutcome {
    ItemRow item;
    std::vector<FaceRow> faces;
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
};

struct StoreCounts {
    std::int64_t items = 0, done = 0, failed = 0, skipped = 0, faces = 0, cache_entries = 0;
};

class Store {
  public:
    static Result<std::unique_ptr<Store>> open(const std::string& path);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Items that need no more work (done or skipped), to resume a run.
    Result<std::vector<std::string>> finished_item_ids();
    // Writes the outcomes of finished items in one durable transaction (group commit).
    Result<bool> save_outcomes(const std::vector<ItemOutcome>& outcomes);
    Result<std::optional<ItemRow>> item(const std::string& id);
    Result<std::vector<ItemRow>> items_with_status(ItemStatus status);
    // Every FEID record, ordered by face id; `visit` returns false to stop.
    Result<bool> for_each_face(const std::function<bool(const FaceRow&)>& visit);
    Result<StoreCounts> counts();

    // Label Studio state: projects, per-task predictions, received webhook events.
    Result<bool> save_project(const ProjectRow& project);
    Result<std::optional<ProjectRow>> project(const std::string& id);
    Result<bool> save_task_prediction(const TaskPredictionRow& row);
    Result<std::optional<TaskPredictionRow>> task_prediction(const std::string& project, long long task_id,
                                                             const std::string& model_version);
    // Stores a webhook event durably; returns its row id.
    Result<long long> save_event(const std::string& source, const std::string& action, const std::string& body);

    // Faces of one item, by face index.
    Result<std::vector<FaceRow>> faces_of_item(const std::string& item_id);
    // A human review replaces the record whatever its status (unlike save_outcomes).
    Result<bool> save_review(const std::string& face_id, const std::string& status, const std::string& record_json);
    // Unreviewed faces of items whose id starts with `item_prefix`, most uncertain first.
    Result<std::vector<FaceRow>> review_queue(const std::string& item_prefix, int limit);

    // The response cache, for the VLLM client.
    std::optional<std::string> cache_get(const std::string& key);
    void cache_put(const std::string& key, const std::string& value);

    [[nodiscard]] const std::string& path() const noexcept { return path_; }

  private:
    Store() = default;
    std::string path_;
    sqlite3* db_ = nullptr;
    sqlite3* cache_db_ = nullptr;
    std::mutex db_mutex_;
    std::mutex cache_mutex_;
};

// Adapts the store's cache to the client's interface.
class StoreResponseCache final : public ResponseCache {
  public:
    explicit StoreResponseCache(Store& store) : store_(store) {}
    std::optional<std::string> get(const std::string& key) override { return store_.cache_get(key); }
    void put(const std::string& key, const std::string& value) override { store_.cache_put(key, value); }

  private:
    Store& store_;
};

}  // namespace seke
