#include "plugin/records/store.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "connectors/crypto.hpp"
#include "plugin/records/store_sql.hpp"
#include "plugin/sql/listener.hpp"
#include "plugin/sql/migrations.hpp"

namespace seke {

using sql::Statement;
using sql::Step;

namespace {

// Schema step 1: what SQLite stores have always had (their files keep it). The types in braces
// are each engine's (sql::Dialect::schema); {seq} orders rows by insertion on PostgreSQL, as
// SQLite's rowid does.
constexpr std::string_view kSchema1 = R"sql(
CREATE TABLE IF NOT EXISTS items (
  id TEXT PRIMARY KEY,
  image TEXT NOT NULL,
  known TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  content_hash TEXT NOT NULL DEFAULT '',
  width {int} NOT NULL DEFAULT 0,
  height {int} NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_status ON items(status);
CREATE INDEX IF NOT EXISTS items_content ON items(content_hash);
CREATE TABLE IF NOT EXISTS faces (
  id TEXT PRIMARY KEY,
  item_id TEXT NOT NULL REFERENCES items(id),
  face_index {int} NOT NULL,
  status TEXT NOT NULL,
  model_version TEXT NOT NULL,
  overall {real} NOT NULL,
  record TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS faces_item ON faces(item_id);
CREATE TABLE IF NOT EXISTS predictions (
  id {serial},
  face_id TEXT NOT NULL,
  model_version TEXT NOT NULL,
  record TEXT NOT NULL,
  trace TEXT NOT NULL,
  created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS predictions_face ON predictions(face_id);
CREATE TABLE IF NOT EXISTS projects (
  id TEXT PRIMARY KEY,
  label_config TEXT NOT NULL,
  extra_params TEXT NOT NULL DEFAULT 'null',
  updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS task_predictions (
  project TEXT NOT NULL,
  task_id {int} NOT NULL,
  model_version TEXT NOT NULL,
  status TEXT NOT NULL,
  prediction TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL,{seq}
  PRIMARY KEY (project, task_id, model_version));
CREATE TABLE IF NOT EXISTS events (
  id {serial},
  source TEXT NOT NULL,
  action TEXT NOT NULL,
  body TEXT NOT NULL,
  received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS face_thumbnails (
  face_id TEXT PRIMARY KEY,
  jpeg {blob} NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,{seq}
  PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS response_cache (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cvat_shapes (
  cvat_url TEXT NOT NULL,
  task_id {int} NOT NULL,
  job_id {int} NOT NULL,
  frame {int} NOT NULL,
  shape_id {int} NOT NULL,
  face_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  shape TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL,
  PRIMARY KEY (cvat_url, shape_id));
CREATE INDEX IF NOT EXISTS cvat_shapes_frame ON cvat_shapes(cvat_url, task_id, frame);
CREATE TABLE IF NOT EXISTS cvat_job_syncs (
  cvat_url TEXT NOT NULL,
  job_id {int} NOT NULL,
  task_id {int} NOT NULL,
  annotations_version {int} NOT NULL,
  summary TEXT NOT NULL,
  synced_at TEXT NOT NULL,
  PRIMARY KEY (cvat_url, job_id));
)sql";

// Step 2, for processes sharing one database: review events kept once (by their body's digest)
// with how often their reviews were merged; the items of label jobs, claimed with leases; claims
// on work in flight (a model request, a task). The same SQL on both engines.
constexpr std::string_view kSchema2 = R"sql(
ALTER TABLE events ADD COLUMN digest TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN merges {int} NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX events_once ON events(source, digest) WHERE digest <> '';
CREATE TABLE job_items (
  job TEXT NOT NULL,
  item_id TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'open',
  worker TEXT NOT NULL DEFAULT '',
  lease_until {int} NOT NULL DEFAULT 0,
  claims {int} NOT NULL DEFAULT 0,
  PRIMARY KEY (job, item_id));
CREATE INDEX job_items_open ON job_items(job, state, lease_until);
CREATE TABLE claims (
  key TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  until_ms {int} NOT NULL);
)sql";

// Step 3: which annotation each face's current review came from (one row per face, replaced by
// a later review, gone when the review is undone), so deleting an annotation reopens its faces;
// and the frame tags seke wrote to CVAT, kept as its shapes are.
constexpr std::string_view kSchema3 = R"sql(
CREATE TABLE review_links (
  face_id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  project TEXT NOT NULL,
  annotation_id {int} NOT NULL,
  linked_at TEXT NOT NULL);
CREATE INDEX review_links_annotation ON review_links(source, project, annotation_id);
CREATE TABLE cvat_tags (
  cvat_url TEXT NOT NULL,
  tag_id {int} NOT NULL,
  task_id {int} NOT NULL,
  job_id {int} NOT NULL,
  frame {int} NOT NULL,
  face_id TEXT NOT NULL,
  tag TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL,
  PRIMARY KEY (cvat_url, tag_id));
CREATE INDEX cvat_tags_frame ON cvat_tags(cvat_url, task_id, frame);
)sql";

// Step 4: what each face's crop was cut with when it was labeled (margin, longest side, JPEG
// quality), so an export cuts the crop the model saw. 0 in crop_side: a face labeled before
// (its export falls back to the export's own face options) or one a human drew.
constexpr std::string_view kSchema4 = R"sql(
ALTER TABLE faces ADD COLUMN crop_margin {real} NOT NULL DEFAULT 0;
ALTER TABLE faces ADD COLUMN crop_side {int} NOT NULL DEFAULT 0;
ALTER TABLE faces ADD COLUMN crop_quality {int} NOT NULL DEFAULT 0;
)sql";

// Step 5: the batches `seke label --batch` submitted to the provider and has not read back yet,
// with the requests (cache keys) each holds, so a stopped run polls them instead of paying again.
constexpr std::string_view kSchema5 = R"sql(
CREATE TABLE model_batches (
  batch_id TEXT PRIMARY KEY,
  custom_ids TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'submitted',
  created_at TEXT NOT NULL,
  closed_at TEXT NOT NULL DEFAULT '');
CREATE INDEX model_batches_open ON model_batches(closed_at);
)sql";

constexpr sql::Migration kMigrations[] = {
    {1, kSchema1}, {2, kSchema2}, {3, kSchema3}, {4, kSchema4}, {5, kSchema5},
};

}  // namespace

// The done task predictions read or written lately. Label Studio asks for the same tasks'
// predictions again and again; each SQLite read is a transaction with its file locks. Writes
// from this process replace their entry at once; an entry is trusted for kTtl, so a write by
// another process on the same store is seen within that. At most kMaxEntries (then it starts
// over).
class RecentPredictions {
  public:
    static constexpr auto kTtl = std::chrono::seconds(1);
    static constexpr std::size_t kMaxEntries = 8192;

    std::optional<TaskPredictionRow> get(const std::string& project, long long task_id,
                                         const std::string& model_version) {
        auto key = make_key(project, task_id, model_version);
        std::lock_guard lock(mutex_);
        auto it = entries_.find(key);
        if (it == entries_.end()) return std::nullopt;
        if (std::chrono::steady_clock::now() - it->second.since > kTtl) {
            entries_.erase(it);
            return std::nullopt;
        }
        return it->second.row;
    }
    // A done row is kept; any other replaces nothing and drops what was kept.
    void put(const TaskPredictionRow& row) {
        auto key = make_key(row.project, row.task_id, row.model_version);
        std::lock_guard lock(mutex_);
        if (row.status != "done") {
            entries_.erase(key);
            return;
        }
        if (entries_.size() >= kMaxEntries) entries_.clear();
        entries_.insert_or_assign(std::move(key), Entry{row, std::chrono::steady_clock::now()});
    }

  private:
    struct Entry {
        TaskPredictionRow row;
        std::chrono::steady_clock::time_point since;
    };
    static std::string make_key(const std::string& project, long long task_id, const std::string& model_version) {
        std::string key = project;
        key += '\0';
        key += std::to_string(task_id);
        key += '\0';
        key += model_version;
        return key;
    }
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

namespace {

ItemStatus parse_status(const std::string& text) {
    if (text == "done") return ItemStatus::done;
    if (text == "failed") return ItemStatus::failed;
    if (text == "skipped") return ItemStatus::skipped;
    return ItemStatus::pending;
}

ItemRow read_item(Statement& s) {
    ItemRow row;
    row.id = s.text(0);
    row.image = s.text(1);
    row.known_json = s.text(2);
    row.status = parse_status(s.text(3));
    row.error = s.text(4);
    row.content_hash = s.text(5);
    row.width = static_cast<int>(s.integer(6));
    row.height = static_cast<int>(s.integer(7));
    return row;
}

FaceRow read_face(Statement& s) {
    FaceRow row;
    row.id = s.text(0);
    row.item_id = s.text(1);
    row.face_index = static_cast<int>(s.integer(2));
    row.status = s.text(3);
    row.model_version = s.text(4);
    row.overall = s.real(5);
    row.record_json = s.text(6);
    if (const auto side = s.integer(8); side > 0)
        row.crop = CropSettings{s.real(7), static_cast<int>(side), static_cast<int>(s.integer(9))};
    return row;
}

// The columns read_face reads, in its order (named alike in faces and when joined with review_links).
constexpr const char* kFaceFields =
    "id, item_id, face_index, status, model_version, overall, record, crop_margin, crop_side, crop_quality";

std::string select_faces() {
    return std::string("SELECT ") + kFaceFields + " FROM faces ";
}

// The item and face columns in the order every INSERT of them names them.
void bind_item(Statement& item, const ItemRow& row, const std::string& now) {
    item.bind(1, row.id)
        .bind(2, row.image)
        .bind(3, row.known_json.empty() ? "{}" : row.known_json)
        .bind(4, std::string(item_status_name(row.status)))
        .bind(5, row.error)
        .bind(6, row.content_hash)
        .bind(7, std::int64_t{row.width})
        .bind(8, std::int64_t{row.height})
        .bind(9, now);
}

void bind_face(Statement& face, const FaceRow& f, const std::string& now) {
    face.bind(1, f.id)
        .bind(2, f.item_id)
        .bind(3, std::int64_t{f.face_index})
        .bind(4, f.status)
        .bind(5, f.model_version)
        .bind(6, f.overall)
        .bind(7, f.record_json)
        .bind(8, now)
        .bind(9, f.crop ? f.crop->margin : 0.0)
        .bind(10, std::int64_t{f.crop ? f.crop->longest_side : 0})
        .bind(11, std::int64_t{f.crop ? f.crop->jpeg_quality : 0});
}

}  // namespace

std::string utc_timestamp() {
    auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

std::string describe_store(const std::string& target) {
    if (sql::is_postgres_target(target)) return sql::describe_target(target);
    std::error_code error;
    auto absolute = std::filesystem::absolute(target, error);
    return error ? target : absolute.string();
}

bool store_may_exist(const std::string& target) {
    std::error_code error;
    return sql::is_postgres_target(target) || std::filesystem::exists(target, error);
}

std::string_view item_status_name(ItemStatus status) noexcept {
    switch (status) {
        case ItemStatus::pending: return "pending";
        case ItemStatus::done: return "done";
        case ItemStatus::failed: return "failed";
        case ItemStatus::skipped: return "skipped";
    }
    return "pending";
}

Result<std::unique_ptr<Store>> Store::open(const std::string& target, int connect_wait_ms) {
    return open_as(target, connect_wait_ms, false);
}

Result<std::unique_ptr<Store>> Store::open_read_only(const std::string& target, int connect_wait_ms) {
    return open_as(target, connect_wait_ms, true);
}

Result<std::unique_ptr<Store>> Store::open_as(const std::string& target, int connect_wait_ms, bool read_only) {
    std::unique_ptr<Store> store(new Store());
    store->path_ = target;
    // Labels: durable commits, so a committed label survives a power cut. The cache: relaxed,
    // since losing its last entries only costs a repeated request, and its commits sit on the
    // request path.
    auto db = sql::connect(target, read_only ? sql::Durability::read_only : sql::Durability::full, connect_wait_ms);
    if (!db) return db.error();
    store->db_ = std::move(*db);
    if (read_only) {
        auto version = sql::schema_version(*store->db_);
        if (!version) return version.error();
        const int newest = std::end(kMigrations)[-1].version;
        if (*version != newest)
            return make_error(errc::invalid_argument, "store: " + describe_store(target) + " is at schema step " +
                                                          std::to_string(*version) + ", this seke's is " +
                                                          std::to_string(newest) + ": a run without --plan updates it");
    } else if (auto version = sql::migrate(*store->db_, kMigrations); !version) {
        return version.error();
    }
    store->queries_ = std::make_unique<DialectQueries>(sql::Dialect{store->db_->engine()});
    store->recent_predictions_ = std::make_unique<RecentPredictions>();
    auto cache =
        sql::connect(target, read_only ? sql::Durability::read_only : sql::Durability::relaxed, connect_wait_ms);
    if (!cache) return cache.error();
    store->cache_db_ = std::move(*cache);
    return store;
}

Store::~Store() = default;

bool Store::shared() const noexcept {
    return db_->engine() == sql::Engine::postgres;
}

Result<std::vector<std::string>> Store::finished_item_ids() {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, "SELECT id FROM items WHERE status IN ('done', 'skipped')");
    if (!s.ok()) return sql::database_error(*db_, "cannot list items");
    std::vector<std::string> ids;
    Step rc;
    while ((rc = s.step()) == Step::row) ids.push_back(s.text(0));
    if (rc != Step::done) return sql::database_error(*db_, "cannot list items");
    return ids;
}

Result<bool> Store::save_outcomes(const std::vector<ItemOutcome>& outcomes, const JobLease* lease) {
    if (outcomes.empty()) return true;
    std::lock_guard lock(db_mutex_);
    return sql::in_transaction(*db_, [&]() -> std::optional<std::string> {
        std::string now = utc_timestamp();
        Statement item(*db_,
                       "INSERT INTO items(id, image, known, status, error, content_hash, width, height, updated_at) "
                       "VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET image=excluded.image, "
                       "known=excluded.known, status=excluded.status, error=excluded.error, "
                       "content_hash=excluded.content_hash, width=excluded.width, height=excluded.height, "
                       "updated_at=excluded.updated_at");
        // A face a human already reviewed keeps its record: a re-run never overwrites human work.
        Statement face(*db_,
                       "INSERT INTO faces(id, item_id, face_index, status, model_version, overall, record, updated_at, "
                       "crop_margin, crop_side, crop_quality) VALUES(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE "
                       "SET face_index=excluded.face_index, status=excluded.status, "
                       "model_version=excluded.model_version, overall=excluded.overall, record=excluded.record, "
                       "updated_at=excluded.updated_at, crop_margin=excluded.crop_margin, "
                       "crop_side=excluded.crop_side, crop_quality=excluded.crop_quality WHERE faces.status = 'auto'");
        Statement prediction(*db_,
                             "INSERT INTO predictions(face_id, model_version, record, trace, created_at) "
                             "VALUES(?,?,?,?,?)");
        Statement thumbnail(*db_,
                            "INSERT INTO face_thumbnails(face_id, jpeg) VALUES(?,?) "
                            "ON CONFLICT(face_id) DO UPDATE SET jpeg=excluded.jpeg");
        // Settled whoever holds the lease now: a worker whose lease ran out still wrote the item.
        Statement settle(*db_, "UPDATE job_items SET state='done', worker=? WHERE job=? AND item_id=?");
        if (!item.ok() || !face.ok() || !prediction.ok() || !thumbnail.ok() || !settle.ok())
            return "cannot prepare writes";
        for (const auto& outcome : outcomes) {
            const ItemRow& row = outcome.item;
            bind_item(item, row, now);
            if (item.step() != Step::done) return "cannot write item " + row.id;
            item.reset();
            if (lease) {
                settle.bind(1, lease->worker).bind(2, lease->job).bind(3, row.id);
                if (settle.step() != Step::done) return "cannot settle job item " + row.id;
                settle.reset();
            }
            for (const auto& f : outcome.faces) {
                bind_face(face, f, now);
                if (face.step() != Step::done) return "cannot write face " + f.id;
                face.reset();
                prediction.bind(1, f.id)
                    .bind(2, f.model_version)
                    .bind(3, f.record_json)
                    .bind(4, f.trace_json)
                    .bind(5, now);
                if (prediction.step() != Step::done) return "cannot write prediction " + f.id;
                prediction.reset();
                if (f.thumbnail_jpeg.empty()) continue;
                thumbnail.bind(1, f.id).bind_blob(2, f.thumbnail_jpeg);
                if (thumbnail.step() != Step::done) return "cannot write thumbnail " + f.id;
                thumbnail.reset();
            }
        }
        return std::nullopt;
    });
}

Result<std::optional<ItemRow>> Store::item(const std::string& id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, "SELECT id, image, known, status, error, content_hash, width, height FROM items WHERE id=?");
    if (!s.ok()) return sql::database_error(*db_, "cannot read item");
    s.bind(1, id);
    Step rc = s.step();
    if (rc == Step::row) return std::optional<ItemRow>(read_item(s));
    if (rc == Step::done) return std::optional<ItemRow>();
    return sql::database_error(*db_, "cannot read item " + id);
}

Result<std::optional<ItemRow>> Store::done_item_with_content(const std::string& content_hash,
                                                             const std::string& model_version) {
    std::lock_guard lock(db_mutex_);
    // Done, and every face labeled by this model version: what an earlier path already paid for.
    Statement s(*db_,
                "SELECT id, image, known, status, error, content_hash, width, height FROM items i "
                "WHERE content_hash=? AND status='done' AND EXISTS (SELECT 1 FROM faces f WHERE f.item_id=i.id) "
                "AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.item_id=i.id AND f.model_version<>?) "
                "ORDER BY updated_at DESC LIMIT 1");
    if (!s.ok()) return sql::database_error(*db_, "cannot look up content");
    s.bind(1, content_hash).bind(2, model_version);
    Step rc = s.step();
    if (rc == Step::row) return std::optional<ItemRow>(read_item(s));
    if (rc == Step::done) return std::optional<ItemRow>();
    return sql::database_error(*db_, "cannot look up content " + content_hash);
}

Result<std::vector<ItemRow>> Store::items_with_status(ItemStatus status) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_,
                "SELECT id, image, known, status, error, content_hash, width, height FROM items "
                "WHERE status=? ORDER BY id");
    if (!s.ok()) return sql::database_error(*db_, "cannot list items");
    s.bind(1, std::string(item_status_name(status)));
    std::vector<ItemRow> rows;
    Step rc;
    while ((rc = s.step()) == Step::row) rows.push_back(read_item(s));
    if (rc != Step::done) return sql::database_error(*db_, "cannot list items");
    return rows;
}

Result<bool> Store::for_each_face(const std::function<bool(const FaceRow&)>& visit) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, select_faces() + "ORDER BY id");
    if (!s.ok()) return sql::database_error(*db_, "cannot list faces");
    Step rc;
    while ((rc = s.step()) == Step::row) {
        FaceRow row = read_face(s);
        if (!visit(row)) return true;
    }
    if (rc != Step::done) return sql::database_error(*db_, "cannot list faces");
    return true;
}

Result<StoreCounts> Store::counts() {
    std::lock_guard lock(db_mutex_);
    StoreCounts counts;
    Statement s(*db_,
                "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM items WHERE status='done'), "
                "(SELECT count(*) FROM items WHERE status='failed'), "
                "(SELECT count(*) FROM items WHERE status='skipped'), (SELECT count(*) FROM faces), "
                "(SELECT count(*) FROM response_cache)");
    if (!s.ok() || s.step() != Step::row) return sql::database_error(*db_, "cannot count");
    counts.items = s.integer(0);
    counts.done = s.integer(1);
    counts.failed = s.integer(2);
    counts.skipped = s.integer(3);
    counts.faces = s.integer(4);
    counts.cache_entries = s.integer(5);
    return counts;
}

Result<bool> Store::save_project(const ProjectRow& project) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_,
                "INSERT INTO projects(id, label_config, extra_params, updated_at) VALUES(?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET label_config=excluded.label_config, "
                "extra_params=excluded.extra_params, updated_at=excluded.updated_at");
    if (!s.ok()) return sql::database_error(*db_, "cannot write project");
    s.bind(1, project.id).bind(2, project.label_config).bind(3, project.extra_params_json).bind(4, utc_timestamp());
    if (s.step() != Step::done) return sql::database_error(*db_, "cannot write project " + project.id);
    return true;
}

Result<std::optional<ProjectRow>> Store::project(const std::string& id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, "SELECT id, label_config, extra_params FROM projects WHERE id=?");
    if (!s.ok()) return sql::database_error(*db_, "cannot read project");
    s.bind(1, id);
    Step rc = s.step();
    if (rc == Step::done) return std::optional<ProjectRow>();
    if (rc != Step::row) return sql::database_error(*db_, "cannot read project " + id);
    return std::optional<ProjectRow>(ProjectRow{s.text(0), s.text(1), s.text(2)});
}

Result<bool> Store::save_task_prediction(const TaskPredictionRow& row) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_,
                "INSERT INTO task_predictions(project, task_id, model_version, status, prediction, error, "
                "updated_at) VALUES(?,?,?,?,?,?,?) ON CONFLICT(project, task_id, model_version) DO UPDATE SET "
                "status=excluded.status, prediction=excluded.prediction, error=excluded.error, "
                "updated_at=excluded.updated_at");
    if (!s.ok()) return sql::database_error(*db_, "cannot write task prediction");
    TaskPredictionRow written = row;
    written.updated_at = utc_timestamp();
    s.bind(1, written.project)
        .bind(2, static_cast<std::int64_t>(written.task_id))
        .bind(3, written.model_version)
        .bind(4, written.status)
        .bind(5, written.prediction_json)
        .bind(6, written.error)
        .bind(7, written.updated_at);
    if (s.step() != Step::done) {
        written.status = "unknown";  // drops what was kept: the row is whatever it was
        recent_predictions_->put(written);
        return sql::database_error(*db_, "cannot write task prediction");
    }
    recent_predictions_->put(written);
    return true;
}

Result<std::optional<TaskPredictionRow>> Store::task_prediction(const std::string& project, long long task_id,
                                                                const std::string& model_version) {
    if (!model_version.empty())
        if (auto recent = recent_predictions_->get(project, task_id, model_version)) return recent;
    auto rows = task_predictions(project, task_id, model_version);
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<TaskPredictionRow>();
    return std::optional<TaskPredictionRow>(std::move(rows->front()));
}

Result<std::vector<TaskPredictionRow>> Store::task_predictions(const std::string& project, long long task_id,
                                                               const std::string& model_version) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, queries_->task_predictions);
    if (!s.ok()) return sql::database_error(*db_, "cannot read task predictions");
    s.bind(1, project).bind(2, static_cast<std::int64_t>(task_id)).bind(3, model_version).bind(4, model_version);
    std::vector<TaskPredictionRow> rows;
    Step rc;
    while ((rc = s.step()) == Step::row)
        rows.push_back(TaskPredictionRow{project, task_id, s.text(0), s.text(1), s.text(2), s.text(3), s.text(4)});
    if (rc != Step::done) return sql::database_error(*db_, "cannot read task predictions");
    // Kept under the lock, as writes are: what is kept is never older than what was written.
    if (!model_version.empty() && !rows.empty()) recent_predictions_->put(rows.front());
    return rows;
}

Result<std::vector<FaceRow>> Store::faces_of_item(const std::string& item_id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, select_faces() + "WHERE item_id=? ORDER BY face_index");
    if (!s.ok()) return sql::database_error(*db_, "cannot list faces");
    s.bind(1, item_id);
    std::vector<FaceRow> rows;
    Step rc;
    while ((rc = s.step()) == Step::row) rows.push_back(read_face(s));
    if (rc != Step::done) return sql::database_error(*db_, "cannot list faces of " + item_id);
    return rows;
}

Result<FeidRecord> FaceRow::record() const {
    auto record = FeidRecord::parse(record_json);
    if (!record) return make_error(record.error().code, "face " + id + ": " + record.error().message);
    return record;
}

void FaceRow::set_record(const FeidRecord& record) {
    record_json = record.to_json().dump();
}

Result<bool> Store::save_review(const std::string& face_id, const std::string& status, const FeidRecord& record) {
    return save_reviews({ReviewRow{face_id, status, record, std::nullopt}});
}

Result<bool> Store::save_reviews(const std::vector<ReviewRow>& reviews, long long event_id) {
    auto saved = save_review_writes(ReviewWrites{{}, reviews}, event_id);
    if (!saved) return saved.error();
    return saved->first;
}

Result<ReviewsSaved> Store::save_review_writes(const ReviewWrites& writes, long long event_id) {
    if (writes.reviews.empty() && writes.reopens.empty() && event_id == 0) return ReviewsSaved{};
    std::lock_guard lock(db_mutex_);
    ReviewsSaved result;
    auto saved = sql::in_transaction(*db_, [&]() -> std::optional<std::string> {
        result = ReviewsSaved{};
        if (event_id != 0) {
            // The event's row lock orders two processes merging it: the second finds it merged.
            Statement once(*db_, "UPDATE events SET merges=merges+1 WHERE id=? AND merges=0 RETURNING id");
            if (!once.ok()) return "cannot mark event merged";
            once.bind(1, std::int64_t{event_id});
            const Step rc = once.step();
            if (rc == Step::error) return "cannot mark event " + std::to_string(event_id) + " merged";
            if (rc == Step::done) {
                result.first = false;
                return std::nullopt;
            }
        }
        std::string now = utc_timestamp();
        // Taking the link away first is what makes a reopen happen once, whoever else tries.
        Statement unlink(*db_,
                         "DELETE FROM review_links WHERE face_id=? AND source=? AND project=? AND annotation_id=? "
                         "RETURNING face_id");
        Statement reopen(*db_, "UPDATE faces SET status='auto', record=?, updated_at=? WHERE id=?");
        Statement review(*db_, "UPDATE faces SET status=?, record=?, updated_at=? WHERE id=?");
        Statement link(*db_,
                       "INSERT INTO review_links(face_id, source, project, annotation_id, linked_at) VALUES(?,?,?,?,?) "
                       "ON CONFLICT(face_id) DO UPDATE SET source=excluded.source, project=excluded.project, "
                       "annotation_id=excluded.annotation_id, linked_at=excluded.linked_at");
        Statement forget(*db_, "DELETE FROM review_links WHERE face_id=?");
        if (!unlink.ok() || !reopen.ok() || !review.ok() || !link.ok() || !forget.ok())
            return "cannot prepare the review writes";
        for (const auto& r : writes.reopens) {
            unlink.bind(1, r.face_id)
                .bind(2, r.from.source)
                .bind(3, r.from.project)
                .bind(4, std::int64_t{r.from.annotation_id});
            const Step linked = unlink.step();
            unlink.reset();
            if (linked == Step::error) return "cannot unlink the review of " + r.face_id;
            if (linked == Step::done) continue;  // reviewed again since, or reopened already
            reopen.bind(1, r.record.to_json().dump()).bind(2, now).bind(3, r.face_id);
            if (reopen.step() != Step::done) return "cannot reopen " + r.face_id;
            reopen.reset();
            ++result.reopened;
        }
        for (const auto& r : writes.reviews) {
            review.bind(1, r.status).bind(2, r.record.to_json().dump()).bind(3, now).bind(4, r.face_id);
            if (review.step() != Step::done) return "cannot write review of " + r.face_id;
            review.reset();
            Statement& current = r.from ? link : forget;
            current.bind(1, r.face_id);
            if (r.from)
                link.bind(2, r.from->source)
                    .bind(3, r.from->project)
                    .bind(4, std::int64_t{r.from->annotation_id})
                    .bind(5, now);
            if (current.step() != Step::done) return "cannot link the review of " + r.face_id;
            current.reset();
        }
        return std::nullopt;
    });
    if (!saved) return saved.error();
    return result;
}

Result<std::vector<LinkedFace>> Store::faces_reviewed_by(const std::string& source, const std::string& project,
                                                         const std::vector<long long>& annotation_ids) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, std::string("SELECT ") + kFaceFields +
                          ", l.annotation_id FROM review_links l JOIN faces f ON f.id=l.face_id "
                          "WHERE l.source=? AND l.project=? AND l.annotation_id=? ORDER BY f.id");
    if (!s.ok()) return sql::database_error(*db_, "cannot list reviewed faces");
    std::vector<LinkedFace> out;
    for (long long annotation : annotation_ids) {
        s.bind(1, source).bind(2, project).bind(3, std::int64_t{annotation});
        Step rc;
        while ((rc = s.step()) == Step::row)
            out.push_back(LinkedFace{ReviewSource{source, project, s.integer(10)}, read_face(s)});
        if (rc != Step::done)
            return sql::database_error(*db_,
                                       "cannot list the faces annotation " + std::to_string(annotation) + " reviewed");
        s.reset();
    }
    return out;
}

Result<std::string> Store::thumbnail(const std::string& face_id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, "SELECT jpeg FROM face_thumbnails WHERE face_id=?");
    if (!s.ok()) return sql::database_error(*db_, "cannot read thumbnail");
    s.bind(1, face_id);
    Step rc = s.step();
    if (rc == Step::row) return s.text(0);
    if (rc == Step::done) return std::string{};
    return sql::database_error(*db_, "cannot read thumbnail of " + face_id);
}

Result<bool> Store::save_document(const std::string& kind, const std::string& key, const std::string& body) {
    return save_documents({DocumentRow{kind, key, body, {}}});
}

Result<bool> Store::save_documents(const std::vector<DocumentRow>& documents, const std::string& notify,
                                   const std::string& payload) {
    std::lock_guard lock(db_mutex_);
    auto saved = sql::in_transaction(*db_, [&]() -> std::optional<std::string> {
        for (const auto& d : documents) {
            Statement s(*db_,
                        "INSERT INTO documents(kind, key, body, created_at) VALUES(?,?,?,?) "
                        "ON CONFLICT(kind, key) DO UPDATE SET body=excluded.body, created_at=excluded.created_at");
            if (!s.ok()) return "cannot write document";
            s.bind(1, d.kind).bind(2, d.key).bind(3, d.body).bind(4, utc_timestamp());
            if (s.step() != Step::done) return "cannot write " + d.kind + " " + d.key;
        }
        if (notify.empty() || !shared()) return std::nullopt;
        Statement s(*db_, sql::kNotifySql);
        if (!s.ok()) return "cannot notify " + notify;
        s.bind(1, notify).bind(2, payload);
        Step rc;
        while ((rc = s.step()) == Step::row) {
        }
        if (rc == Step::error) return "cannot notify " + notify;
        return std::nullopt;
    });
    if (!saved) return saved.error();
    return true;
}

Result<std::optional<DocumentRow>> Store::document(const std::string& kind, const std::string& key) {
    std::lock_guard lock(db_mutex_);
    // An empty key asks for the newest document of the kind.
    Statement s(*db_, key.empty() ? std::string_view(queries_->newest_document)
                                  : std::string_view(
                                        "SELECT kind, key, body, created_at FROM documents WHERE kind=? AND key=?"));
    if (!s.ok()) return sql::database_error(*db_, "cannot read document");
    s.bind(1, kind);
    if (!key.empty()) s.bind(2, key);
    Step rc = s.step();
    if (rc == Step::row) return std::optional<DocumentRow>(DocumentRow{s.text(0), s.text(1), s.text(2), s.text(3)});
    if (rc == Step::done) return std::optional<DocumentRow>();
    return sql::database_error(*db_, "cannot read " + kind + " " + key);
}

Result<std::vector<DocumentRow>> Store::documents(const std::string& kind, std::size_t limit) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, queries_->documents_of_kind);
    if (!s.ok()) return sql::database_error(*db_, "cannot read documents");
    s.bind(1, kind);
    s.bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, 100'000)));
    std::vector<DocumentRow> out;
    Step rc;
    while ((rc = s.step()) == Step::row) out.push_back(DocumentRow{s.text(0), s.text(1), s.text(2), s.text(3)});
    if (rc != Step::done) return sql::database_error(*db_, "cannot read documents of kind " + kind);
    return out;
}

Result<FaceStats> Store::face_stats(int bins) {
    std::lock_guard lock(db_mutex_);
    FaceStats stats;
    bins = std::clamp(bins, 1, 1000);
    stats.overall_histogram.assign(static_cast<std::size_t>(bins), 0);
    Statement by_status(*db_, "SELECT status, count(*) FROM faces GROUP BY status");
    Statement cost(*db_, queries_->cost);
    Statement histogram(*db_, queries_->histogram);
    if (!by_status.ok() || !cost.ok() || !histogram.ok()) return sql::database_error(*db_, "cannot summarise faces");
    Step rc;
    while ((rc = by_status.step()) == Step::row) stats.by_status[by_status.text(0)] = by_status.integer(1);
    if (rc != Step::done) return sql::database_error(*db_, "cannot count faces");
    if (cost.step() != Step::row) return sql::database_error(*db_, "cannot sum costs");
    stats.requests = cost.integer(0);
    stats.cached_requests = cost.integer(1);
    stats.samples = cost.integer(2);
    stats.prompt_tokens = cost.integer(3);
    stats.completion_tokens = cost.integer(4);
    stats.cached_prompt_tokens = cost.integer(5);
    histogram.bind(1, std::int64_t{bins});
    while ((rc = histogram.step()) == Step::row) {
        auto bin = std::clamp<std::int64_t>(histogram.integer(0), 0, bins - 1);
        stats.overall_histogram[static_cast<std::size_t>(bin)] += histogram.integer(1);
    }
    if (rc != Step::done) return sql::database_error(*db_, "cannot bin uncertainty");
    return stats;
}

Result<std::vector<Cost>> Store::face_costs(const std::string& model_version, std::size_t limit) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, queries_->face_costs);
    if (!s.ok()) return sql::database_error(*db_, "cannot read the faces' costs");
    s.bind(1, model_version).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, 1U << 30)));
    std::vector<Cost> costs;
    Step rc;
    while ((rc = s.step()) == Step::row) {
        Cost c;
        c.requests = static_cast<int>(s.integer(0));
        c.cached_requests = static_cast<int>(s.integer(1));
        c.samples = static_cast<int>(s.integer(2));
        c.prompt_tokens = s.integer(3);
        c.cached_prompt_tokens = s.integer(4);
        c.completion_tokens = s.integer(5);
        costs.push_back(c);
    }
    if (rc != Step::done) return sql::database_error(*db_, "cannot read the faces' costs");
    return costs;
}

Result<std::vector<QueueCandidate>> Store::queue_candidates(const std::string& item_prefix) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, queries_->queue);
    if (!s.ok()) return sql::database_error(*db_, "cannot list the queue");
    s.bind(1, static_cast<std::int64_t>(item_prefix.size())).bind(2, item_prefix);
    std::vector<QueueCandidate> rows;
    Step rc;
    while ((rc = s.step()) == Step::row) {
        QueueCandidate c;
        c.id = s.text(0);
        c.item_id = s.text(1);
        c.uncertainty.overall = s.real(2);
        c.uncertainty.expression = s.real(3);
        c.uncertainty.va = s.real(4);
        c.uncertainty.au = s.real(5);
        c.provenance.expression = parse_provenance(s.text(6)).value_or(Provenance::model);
        c.provenance.va = parse_provenance(s.text(7)).value_or(Provenance::model);
        c.provenance.au = parse_provenance(s.text(8)).value_or(Provenance::model);
        c.phash = s.text(9);
        c.uncertainty.consistency = s.real(10);  // every feature the face error model reads
        c.uncertainty.expert_disagreement = s.real(11);
        rows.push_back(std::move(c));
    }
    if (rc != Step::done) return sql::database_error(*db_, "cannot list the queue");
    return rows;
}

Result<long long> Store::save_event(const std::string& source, const std::string& action, const std::string& body) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, "INSERT INTO events(source, action, body, received_at) VALUES(?,?,?,?) RETURNING id");
    if (!s.ok()) return sql::database_error(*db_, "cannot write event");
    s.bind(1, source).bind(2, action).bind(3, body).bind(4, utc_timestamp());
    if (s.step() != Step::row) return sql::database_error(*db_, "cannot write event");
    return static_cast<long long>(s.integer(0));
}

Result<StoredEvent> Store::save_review_event(const std::string& source, const std::string& action,
                                             const std::string& body) {
    std::lock_guard lock(db_mutex_);
    // On a second delivery the no-op update returns the first one's row.
    Statement s(*db_,
                "INSERT INTO events(source, action, body, received_at, digest) VALUES(?,?,?,?,?) "
                "ON CONFLICT(source, digest) WHERE digest <> '' DO UPDATE SET digest=excluded.digest "
                "RETURNING id, merges");
    if (!s.ok()) return sql::database_error(*db_, "cannot write event");
    s.bind(1, source).bind(2, action).bind(3, body).bind(4, utc_timestamp()).bind(5, sha256_hex(body));
    if (s.step() != Step::row) return sql::database_error(*db_, "cannot write event");
    return StoredEvent{static_cast<long long>(s.integer(0)), s.integer(1) > 0};
}

Result<std::optional<FaceRow>> Store::face(const std::string& id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, select_faces() + "WHERE id=?");
    if (!s.ok()) return sql::database_error(*db_, "cannot read face");
    s.bind(1, id);
    Step rc = s.step();
    if (rc == Step::row) return std::optional<FaceRow>(read_face(s));
    if (rc == Step::done) return std::optional<FaceRow>();
    return sql::database_error(*db_, "cannot read face " + id);
}

Result<bool> Store::save_human_face(const ItemRow& row, const FaceRow& f) {
    std::lock_guard lock(db_mutex_);
    return sql::in_transaction(*db_, [&]() -> std::optional<std::string> {
        std::string now = utc_timestamp();
        Statement item(*db_,
                       "INSERT INTO items(id, image, known, status, error, content_hash, width, height, "
                       "updated_at) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING");
        Statement face(*db_,
                       "INSERT INTO faces(id, item_id, face_index, status, model_version, overall, record, updated_at, "
                       "crop_margin, crop_side, crop_quality) VALUES(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE "
                       "SET status=excluded.status, record=excluded.record, updated_at=excluded.updated_at");
        if (!item.ok() || !face.ok()) return "cannot prepare writes";
        bind_item(item, row, now);
        if (item.step() != Step::done) return "cannot write item " + row.id;
        bind_face(face, f, now);
        if (face.step() != Step::done) return "cannot write face " + f.id;
        return std::nullopt;
    });
}

Result<bool> Store::save_cvat_shapes(const std::vector<CvatShapeRow>& rows) {
    if (rows.empty()) return true;
    std::lock_guard lock(db_mutex_);
    return sql::in_transaction(*db_, [&]() -> std::optional<std::string> {
        Statement s(*db_,
                    "INSERT INTO cvat_shapes(cvat_url, task_id, job_id, frame, shape_id, face_id, item_id, shape, "
                    "created_at) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(cvat_url, shape_id) DO NOTHING");
        if (!s.ok()) return "cannot prepare the CVAT shape write";
        std::string now = utc_timestamp();
        for (const auto& r : rows) {
            s.bind(1, r.cvat_url)
                .bind(2, std::int64_t{r.task_id})
                .bind(3, std::int64_t{r.job_id})
                .bind(4, std::int64_t{r.frame})
                .bind(5, std::int64_t{r.shape_id})
                .bind(6, r.face_id)
                .bind(7, r.item_id)
                .bind(8, r.shape_json.empty() ? std::string("{}") : r.shape_json)
                .bind(9, now);
            if (s.step() != Step::done) return "cannot record CVAT shape " + std::to_string(r.shape_id);
            s.reset();
        }
        return std::nullopt;
    });
}

Result<std::vector<CvatShapeRow>> Store::cvat_shapes(const std::string& cvat_url, long long task_id,
                                                     long long first_frame, long long last_frame) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_,
                "SELECT cvat_url, task_id, job_id, frame, shape_id, face_id, item_id, shape, created_at "
                "FROM cvat_shapes WHERE cvat_url=? AND task_id=? AND frame BETWEEN ? AND ? "
                "ORDER BY frame, shape_id");
    if (!s.ok()) return sql::database_error(*db_, "cannot list CVAT shapes");
    s.bind(1, cvat_url)
        .bind(2, std::int64_t{task_id})
        .bind(3, std::int64_t{first_frame})
        .bind(4, std::int64_t{last_frame});
    std::vector<CvatShapeRow> rows;
    Step rc;
    while ((rc = s.step()) == Step::row)
        rows.push_back(CvatShapeRow{s.text(0), s.integer(1), s.integer(2), s.integer(3), s.integer(4), s.text(5),
                                    s.text(6), s.text(7), s.text(8)});
    if (rc != Step::done) return sql::database_error(*db_, "cannot list CVAT shapes");
    return rows;
}

Result<std::vector<long long>> Store::cvat_annotated_frames(const std::string& cvat_url, long long task_id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, "SELECT DISTINCT frame FROM cvat_shapes WHERE cvat_url=? AND task_id=? ORDER BY frame");
    if (!s.ok()) return sql::database_error(*db_, "cannot list CVAT frames");
    s.bind(1, cvat_url).bind(2, std::int64_t{task_id});
    std::vector<long long> frames;
    Step rc;
    while ((rc = s.step()) == Step::row) frames.push_back(s.integer(0));
    if (rc != Step::done) return sql::database_error(*db_, "cannot list CVAT frames");
    return frames;
}

Result<bool> Store::save_cvat_tags(const std::vector<CvatTagRow>& rows) {
    if (rows.empty()) return true;
    std::lock_guard lock(db_mutex_);
    return sql::in_transaction(*db_, [&]() -> std::optional<std::string> {
        Statement s(*db_,
                    "INSERT INTO cvat_tags(cvat_url, tag_id, task_id, job_id, frame, face_id, tag, created_at) "
                    "VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(cvat_url, tag_id) DO NOTHING");
        if (!s.ok()) return "cannot prepare the CVAT tag write";
        std::string now = utc_timestamp();
        for (const auto& r : rows) {
            s.bind(1, r.cvat_url)
                .bind(2, std::int64_t{r.tag_id})
                .bind(3, std::int64_t{r.task_id})
                .bind(4, std::int64_t{r.job_id})
                .bind(5, std::int64_t{r.frame})
                .bind(6, r.face_id)
                .bind(7, r.tag_json.empty() ? std::string("{}") : r.tag_json)
                .bind(8, now);
            if (s.step() != Step::done) return "cannot record CVAT tag " + std::to_string(r.tag_id);
            s.reset();
        }
        return std::nullopt;
    });
}

Result<std::vector<CvatTagRow>> Store::cvat_tags(const std::string& cvat_url, long long task_id, long long first_frame,
                                                 long long last_frame) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_,
                "SELECT task_id, job_id, frame, tag_id, face_id, tag, created_at FROM cvat_tags "
                "WHERE cvat_url=? AND task_id=? AND frame BETWEEN ? AND ? ORDER BY frame, tag_id");
    if (!s.ok()) return sql::database_error(*db_, "cannot list CVAT tags");
    s.bind(1, cvat_url)
        .bind(2, std::int64_t{task_id})
        .bind(3, std::int64_t{first_frame})
        .bind(4, std::int64_t{last_frame});
    std::vector<CvatTagRow> rows;
    Step rc;
    while ((rc = s.step()) == Step::row)
        rows.push_back(CvatTagRow{cvat_url, s.integer(0), s.integer(1), s.integer(2), s.integer(3), s.text(4),
                                  s.text(5), s.text(6)});
    if (rc != Step::done) return sql::database_error(*db_, "cannot list CVAT tags");
    return rows;
}

Result<std::vector<FaceRow>> Store::human_faces(const std::string& item_prefix) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_, select_faces() + "WHERE model_version='human' AND substr(item_id, 1, ?)=? ORDER BY item_id, id");
    if (!s.ok()) return sql::database_error(*db_, "cannot list the faces humans drew");
    s.bind(1, static_cast<std::int64_t>(item_prefix.size())).bind(2, item_prefix);
    std::vector<FaceRow> rows;
    Step rc;
    while ((rc = s.step()) == Step::row) rows.push_back(read_face(s));
    if (rc != Step::done) return sql::database_error(*db_, "cannot list the faces humans drew");
    return rows;
}

Result<bool> Store::save_cvat_job_sync(const CvatJobSyncRow& row) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_,
                "INSERT INTO cvat_job_syncs(cvat_url, job_id, task_id, annotations_version, summary, synced_at) "
                "VALUES(?,?,?,?,?,?) ON CONFLICT(cvat_url, job_id) DO UPDATE SET task_id=excluded.task_id, "
                "annotations_version=excluded.annotations_version, summary=excluded.summary, "
                "synced_at=excluded.synced_at");
    if (!s.ok()) return sql::database_error(*db_, "cannot write CVAT sync");
    s.bind(1, row.cvat_url)
        .bind(2, std::int64_t{row.job_id})
        .bind(3, std::int64_t{row.task_id})
        .bind(4, std::int64_t{row.annotations_version})
        .bind(5, row.summary_json)
        .bind(6, utc_timestamp());
    if (s.step() != Step::done)
        return sql::database_error(*db_, "cannot write CVAT sync of job " + std::to_string(row.job_id));
    return true;
}

Result<std::optional<CvatJobSyncRow>> Store::cvat_job_sync(const std::string& cvat_url, long long job_id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*db_,
                "SELECT task_id, annotations_version, summary, synced_at FROM cvat_job_syncs "
                "WHERE cvat_url=? AND job_id=?");
    if (!s.ok()) return sql::database_error(*db_, "cannot read CVAT sync");
    s.bind(1, cvat_url).bind(2, std::int64_t{job_id});
    Step rc = s.step();
    if (rc == Step::done) return std::optional<CvatJobSyncRow>();
    if (rc != Step::row) return sql::database_error(*db_, "cannot read CVAT sync");
    return std::optional<CvatJobSyncRow>(
        CvatJobSyncRow{cvat_url, job_id, s.integer(0), s.integer(1), s.text(2), s.text(3)});
}

std::optional<std::string> Store::cache_get(const std::string& key) {
    std::lock_guard lock(cache_mutex_);
    Statement s(*cache_db_, "SELECT value FROM response_cache WHERE key=?");
    if (!s.ok()) return std::nullopt;
    s.bind(1, key);
    if (s.step() == Step::row) return s.text(0);
    return std::nullopt;
}

void Store::cache_put(const std::string& key, const std::string& value) {
    std::lock_guard lock(cache_mutex_);
    Statement s(*cache_db_,
                "INSERT INTO response_cache(key, value, created_at) VALUES(?,?,?) ON CONFLICT(key) DO UPDATE SET "
                "value=excluded.value, created_at=excluded.created_at");
    if (!s.ok()) return;
    s.bind(1, key).bind(2, value).bind(3, utc_timestamp());
    s.step();  // a cache write that fails costs a repeated request later, nothing more
}

Result<bool> Store::save_batch(const std::string& batch_id, const std::vector<std::string>& custom_ids) {
    std::lock_guard lock(cache_mutex_);
    Statement s(*cache_db_,
                "INSERT INTO model_batches(batch_id, custom_ids, created_at) VALUES(?,?,?) ON CONFLICT(batch_id) DO "
                "UPDATE SET custom_ids=excluded.custom_ids");
    if (!s.ok()) return sql::database_error(*cache_db_, "cannot record batch " + batch_id);
    s.bind(1, batch_id).bind(2, nlohmann::json(custom_ids).dump()).bind(3, utc_timestamp());
    if (s.step() != Step::done) return sql::database_error(*cache_db_, "cannot record batch " + batch_id);
    return true;
}

Result<std::vector<OpenBatch>> Store::open_batches() {
    std::lock_guard lock(cache_mutex_);
    Statement s(*cache_db_, "SELECT batch_id, custom_ids FROM model_batches WHERE closed_at='' ORDER BY created_at");
    if (!s.ok()) return sql::database_error(*cache_db_, "cannot read the open batches");
    std::vector<OpenBatch> open;
    Step rc;
    while ((rc = s.step()) == Step::row) {
        OpenBatch batch{s.text(0), {}};
        auto ids = nlohmann::json::parse(s.text(1), nullptr, false);
        if (ids.is_array())
            for (const auto& id : ids)
                if (id.is_string()) batch.custom_ids.push_back(id.get<std::string>());
        open.push_back(std::move(batch));
    }
    if (rc != Step::done) return sql::database_error(*cache_db_, "cannot read the open batches");
    return open;
}

Result<bool> Store::close_batch(const std::string& batch_id, const std::string& status) {
    std::lock_guard lock(cache_mutex_);
    Statement s(*cache_db_, "UPDATE model_batches SET status=?, closed_at=? WHERE batch_id=?");
    if (!s.ok()) return sql::database_error(*cache_db_, "cannot close batch " + batch_id);
    s.bind(1, status).bind(2, utc_timestamp()).bind(3, batch_id);
    if (s.step() != Step::done) return sql::database_error(*cache_db_, "cannot close batch " + batch_id);
    return true;
}

}  // namespace seke
