#include "plugin/records/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <unordered_map>
#include <string_view>

namespace seke {
namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  id TEXT PRIMARY KEY,
  image TEXT NOT NULL,
  known TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  content_hash TEXT NOT NULL DEFAULT '',
  width INTEGER NOT NULL DEFAULT 0,
  height INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_status ON items(status);
CREATE INDEX IF NOT EXISTS items_content ON items(content_hash);
CREATE TABLE IF NOT EXISTS faces (
  id TEXT PRIMARY KEY,
  item_id TEXT NOT NULL REFERENCES items(id),
  face_index INTEGER NOT NULL,
  status TEXT NOT NULL,
  model_version TEXT NOT NULL,
  overall REAL NOT NULL,
  record TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS faces_item ON faces(item_id);
CREATE TABLE IF NOT EXISTS predictions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
  task_id INTEGER NOT NULL,
  model_version TEXT NOT NULL,
  status TEXT NOT NULL,
  prediction TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL,
  PRIMARY KEY (project, task_id, model_version));
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  action TEXT NOT NULL,
  body TEXT NOT NULL,
  received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS face_thumbnails (
  face_id TEXT PRIMARY KEY,
  jpeg BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS response_cache (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cvat_shapes (
  cvat_url TEXT NOT NULL,
  task_id INTEGER NOT NULL,
  job_id INTEGER NOT NULL,
  frame INTEGER NOT NULL,
  shape_id INTEGER NOT NULL,
  face_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  shape TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL,
  PRIMARY KEY (cvat_url, shape_id));
CREATE INDEX IF NOT EXISTS cvat_shapes_frame ON cvat_shapes(cvat_url, task_id, frame);
CREATE TABLE IF NOT EXISTS cvat_job_syncs (
  cvat_url TEXT NOT NULL,
  job_id INTEGER NOT NULL,
  task_id INTEGER NOT NULL,
  annotations_version INTEGER NOT NULL,
  summary TEXT NOT NULL,
  synced_at TEXT NOT NULL,
  PRIMARY KEY (cvat_url, job_id));
)sql";

Error db_error(sqlite3* db, const std::string& what) {
    return make_error(errc::io_error, "store: " + what + ": " + (db ? sqlite3_errmsg(db) : "no database"));
}

// BEGIN IMMEDIATE … COMMIT around `write`, which returns what failed, if anything: a failure
// rolls back and the error says what failed with SQLite's reason.
Result<bool> in_transaction(sqlite3* db, const std::function<std::optional<std::string>()>& write);

}  // namespace

// A connection's prepared statements, kept for its life (used under the connection's mutex):
// a call compiles its SQL once per connection, not once per call. Keyed by the SQL text; a
// statement in use is out of the cache, so two alike at once each get their own.
class StatementCache {
  public:
    explicit StatementCache(sqlite3* db) : db_(db) {}
    ~StatementCache() {
        for (auto& [sql, statements] : idle_)
            for (sqlite3_stmt* statement : statements) sqlite3_finalize(statement);
    }
    StatementCache(const StatementCache&) = delete;
    StatementCache& operator=(const StatementCache&) = delete;

    [[nodiscard]] sqlite3* db() const { return db_; }
    sqlite3_stmt* take(const char* sql) {
        if (auto it = idle_.find(std::string_view(sql)); it != idle_.end() && !it->second.empty()) {
            sqlite3_stmt* statement = it->second.back();
            it->second.pop_back();
            return statement;
        }
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
            sqlite3_finalize(statement);
            return nullptr;
        }
        return statement;
    }
    void give_back(sqlite3_stmt* statement) {
        sqlite3_reset(statement);
        sqlite3_clear_bindings(statement);
        std::string_view sql = sqlite3_sql(statement);  // the text it was prepared from
        auto it = idle_.find(sql);
        if (it == idle_.end()) it = idle_.emplace(sql, std::vector<sqlite3_stmt*>{}).first;
        auto& statements = it->second;
        if (statements.size() < kMaxIdlePerStatement) statements.push_back(statement);
        else sqlite3_finalize(statement);
    }

  private:
    static constexpr std::size_t kMaxIdlePerStatement = 2;
    sqlite3* db_;
    std::map<std::string, std::vector<sqlite3_stmt*>, std::less<>> idle_;
};

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

// A prepared statement, from the connection's cache (returned to it, reset, when done) or made
// for one use.
class Statement {
  public:
    Statement(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
            sqlite3_finalize(stmt_);
            stmt_ = nullptr;
        }
    }
    Statement(StatementCache& cache, const char* sql) : cache_(&cache), stmt_(cache.take(sql)) {}
    ~Statement() {
        if (cache_ && stmt_) cache_->give_back(stmt_);
        else sqlite3_finalize(stmt_);
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    [[nodiscard]] bool ok() const { return stmt_ != nullptr; }
    Statement& bind(int index, const std::string& text) {
        sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Statement& bind_blob(int index, const std::string& bytes) {
        sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Statement& bind(int index, std::int64_t value) {
        sqlite3_bind_int64(stmt_, index, value);
        return *this;
    }
    Statement& bind(int index, double value) {
        sqlite3_bind_double(stmt_, index, value);
        return *this;
    }
    int step() { return sqlite3_step(stmt_); }
    void reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    std::string text(int column) {
        const auto* p = sqlite3_column_text(stmt_, column);
        return p ? std::string(reinterpret_cast<const char*>(p),
                               static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
                 : std::string{};
    }
    std::int64_t integer(int column) { return sqlite3_column_int64(stmt_, column); }
    double real(int column) { return sqlite3_column_double(stmt_, column); }

  private:
    StatementCache* cache_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

bool exec(sqlite3* db, const char* sql) {
    return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

Result<sqlite3*> open_connection(const std::string& path, const char* synchronous) {
    sqlite3* db = nullptr;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        Error error = db_error(db, "cannot open " + path);
        sqlite3_close(db);
        return error;
    }
    sqlite3_busy_timeout(db, 10000);
    std::string pragmas =
        std::string("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=") + synchronous + ";";
    if (!exec(db, pragmas.c_str())) {
        Error error = db_error(db, "cannot set up " + path);
        sqlite3_close(db);
        return error;
    }
    return db;
}

Result<bool> in_transaction(sqlite3* db, const std::function<std::optional<std::string>()>& write) {
    if (!exec(db, "BEGIN IMMEDIATE")) return db_error(db, "cannot begin a transaction");
    std::optional<std::string> failed = write();
    if (!failed && exec(db, "COMMIT")) return true;
    Error error = db_error(db, failed.value_or("cannot commit"));
    exec(db, "ROLLBACK");
    return error;
}

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
    return row;
}

constexpr const char* kFaceColumns =
    "SELECT id, item_id, face_index, status, model_version, overall, record FROM faces ";

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
        .bind(8, now);
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

std::string_view item_status_name(ItemStatus status) noexcept {
    switch (status) {
        case ItemStatus::pending: return "pending";
        case ItemStatus::done: return "done";
        case ItemStatus::failed: return "failed";
        case ItemStatus::skipped: return "skipped";
    }
    return "pending";
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
    std::unique_ptr<Store> store(new Store());
    store->path_ = path;
    // Labels: FULL so a committed label survives a power cut. The cache: NORMAL, since losing
    // its last entries only costs a repeated request, and its commits sit on the request path.
    auto db = open_connection(path, "FULL");
    if (!db) return db.error();
    store->db_ = *db;
    store->statements_ = std::make_unique<StatementCache>(store->db_);
    store->recent_predictions_ = std::make_unique<RecentPredictions>();
    if (!exec(store->db_, kSchema)) return db_error(store->db_, "cannot create schema in " + path);
    {
        Statement version(store->db_, "SELECT value FROM meta WHERE key='schema_version'");
        if (version.ok() && version.step() == SQLITE_ROW) {
            if (std::stoi(version.text(0)) > kSchemaVersion)
                return make_error(errc::io_error,
                                  "store: " + path + " was written by a newer seke (schema " + version.text(0) + ")");
        } else {
            Statement insert(store->db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)");
            insert.bind(1, std::to_string(kSchemaVersion));
            if (insert.step() != SQLITE_DONE) return db_error(store->db_, "cannot write schema version");
        }
    }
    auto cache = open_connection(path, "NORMAL");
    if (!cache) return cache.error();
    store->cache_db_ = *cache;
    store->cache_statements_ = std::make_unique<StatementCache>(store->cache_db_);
    return store;
}

Store::~Store() {
    cache_statements_.reset();  // statements first: a connection with live ones does not close
    statements_.reset();
    sqlite3_close(cache_db_);
    sqlite3_close(db_);
}

Result<std::vector<std::string>> Store::finished_item_ids() {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_, "SELECT id FROM items WHERE status IN ('done', 'skipped')");
    if (!s.ok()) return db_error(db_, "cannot list items");
    std::vector<std::string> ids;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) ids.push_back(s.text(0));
    if (rc != SQLITE_DONE) return db_error(db_, "cannot list items");
    return ids;
}

Result<bool> Store::save_outcomes(const std::vector<ItemOutcome>& outcomes) {
    if (outcomes.empty()) return true;
    std::lock_guard lock(db_mutex_);
    return in_transaction(db_, [&]() -> std::optional<std::string> {
        std::string now = utc_timestamp();
        Statement item(*statements_,
                       "INSERT INTO items(id, image, known, status, error, content_hash, width, height, updated_at) "
                       "VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET image=excluded.image, "
                       "known=excluded.known, status=excluded.status, error=excluded.error, "
                       "content_hash=excluded.content_hash, width=excluded.width, height=excluded.height, "
                       "updated_at=excluded.updated_at");
        // A face a human already reviewed keeps its record: a re-run never overwrites human work.
        Statement face(*statements_,
                       "INSERT INTO faces(id, item_id, face_index, status, model_version, overall, record, updated_at) "
                       "VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET face_index=excluded.face_index, "
                       "status=excluded.status, model_version=excluded.model_version, overall=excluded.overall, "
                       "record=excluded.record, updated_at=excluded.updated_at WHERE faces.status = 'auto'");
        Statement prediction(*statements_,
                             "INSERT INTO predictions(face_id, model_version, record, trace, created_at) "
                             "VALUES(?,?,?,?,?)");
        Statement thumbnail(*statements_,
                            "INSERT INTO face_thumbnails(face_id, jpeg) VALUES(?,?) "
                            "ON CONFLICT(face_id) DO UPDATE SET jpeg=excluded.jpeg");
        if (!item.ok() || !face.ok() || !prediction.ok() || !thumbnail.ok()) return "cannot prepare writes";
        for (const auto& outcome : outcomes) {
            const ItemRow& row = outcome.item;
            bind_item(item, row, now);
            if (item.step() != SQLITE_DONE) return "cannot write item " + row.id;
            item.reset();
            for (const auto& f : outcome.faces) {
                bind_face(face, f, now);
                if (face.step() != SQLITE_DONE) return "cannot write face " + f.id;
                face.reset();
                prediction.bind(1, f.id)
                    .bind(2, f.model_version)
                    .bind(3, f.record_json)
                    .bind(4, f.trace_json)
                    .bind(5, now);
                if (prediction.step() != SQLITE_DONE) return "cannot write prediction " + f.id;
                prediction.reset();
                if (f.thumbnail_jpeg.empty()) continue;
                thumbnail.bind(1, f.id).bind_blob(2, f.thumbnail_jpeg);
                if (thumbnail.step() != SQLITE_DONE) return "cannot write thumbnail " + f.id;
                thumbnail.reset();
            }
        }
        return std::nullopt;
    });
}

Result<std::optional<ItemRow>> Store::item(const std::string& id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_,
                "SELECT id, image, known, status, error, content_hash, width, height FROM items WHERE id=?");
    if (!s.ok()) return db_error(db_, "cannot read item");
    s.bind(1, id);
    int rc = s.step();
    if (rc == SQLITE_ROW) return std::optional<ItemRow>(read_item(s));
    if (rc == SQLITE_DONE) return std::optional<ItemRow>();
    return db_error(db_, "cannot read item " + id);
}

Result<std::optional<ItemRow>> Store::done_item_with_content(const std::string& content_hash,
                                                             const std::string& model_version) {
    std::lock_guard lock(db_mutex_);
    // Done, and every face labeled by this model version: what an earlier path already paid for.
    Statement s(*statements_,
                "SELECT id, image, known, status, error, content_hash, width, height FROM items i "
                "WHERE content_hash=? AND status='done' AND EXISTS (SELECT 1 FROM faces f WHERE f.item_id=i.id) "
                "AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.item_id=i.id AND f.model_version<>?) "
                "ORDER BY updated_at DESC LIMIT 1");
    if (!s.ok()) return db_error(db_, "cannot look up content");
    s.bind(1, content_hash).bind(2, model_version);
    int rc = s.step();
    if (rc == SQLITE_ROW) return std::optional<ItemRow>(read_item(s));
    if (rc == SQLITE_DONE) return std::optional<ItemRow>();
    return db_error(db_, "cannot look up content " + content_hash);
}

Result<std::vector<ItemRow>> Store::items_with_status(ItemStatus status) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_,
                "SELECT id, image, known, status, error, content_hash, width, height FROM items "
                "WHERE status=? ORDER BY id");
    if (!s.ok()) return db_error(db_, "cannot list items");
    s.bind(1, std::string(item_status_name(status)));
    std::vector<ItemRow> rows;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) rows.push_back(read_item(s));
    if (rc != SQLITE_DONE) return db_error(db_, "cannot list items");
    return rows;
}

Result<bool> Store::for_each_face(const std::function<bool(const FaceRow&)>& visit) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_, (std::string(kFaceColumns) + "ORDER BY id").c_str());
    if (!s.ok()) return db_error(db_, "cannot list faces");
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
        FaceRow row = read_face(s);
        if (!visit(row)) return true;
    }
    if (rc != SQLITE_DONE) return db_error(db_, "cannot list faces");
    return true;
}

Result<StoreCounts> Store::counts() {
    std::lock_guard lock(db_mutex_);
    StoreCounts counts;
    Statement s(*statements_,
                "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM items WHERE status='done'), "
                "(SELECT count(*) FROM items WHERE status='failed'), "
                "(SELECT count(*) FROM items WHERE status='skipped'), (SELECT count(*) FROM faces), "
                "(SELECT count(*) FROM response_cache)");
    if (!s.ok() || s.step() != SQLITE_ROW) return db_error(db_, "cannot count");
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
    Statement s(*statements_,
                "INSERT INTO projects(id, label_config, extra_params, updated_at) VALUES(?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET label_config=excluded.label_config, "
                "extra_params=excluded.extra_params, updated_at=excluded.updated_at");
    if (!s.ok()) return db_error(db_, "cannot write project");
    s.bind(1, project.id).bind(2, project.label_config).bind(3, project.extra_params_json).bind(4, utc_timestamp());
    if (s.step() != SQLITE_DONE) return db_error(db_, "cannot write project " + project.id);
    return true;
}

Result<std::optional<ProjectRow>> Store::project(const std::string& id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_, "SELECT id, label_config, extra_params FROM projects WHERE id=?");
    if (!s.ok()) return db_error(db_, "cannot read project");
    s.bind(1, id);
    int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<ProjectRow>();
    if (rc != SQLITE_ROW) return db_error(db_, "cannot read project " + id);
    return std::optional<ProjectRow>(ProjectRow{s.text(0), s.text(1), s.text(2)});
}

Result<bool> Store::save_task_prediction(const TaskPredictionRow& row) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_,
                "INSERT INTO task_predictions(project, task_id, model_version, status, prediction, error, "
                "updated_at) VALUES(?,?,?,?,?,?,?) ON CONFLICT(project, task_id, model_version) DO UPDATE SET "
                "status=excluded.status, prediction=excluded.prediction, error=excluded.error, "
                "updated_at=excluded.updated_at");
    if (!s.ok()) return db_error(db_, "cannot write task prediction");
    TaskPredictionRow written = row;
    written.updated_at = utc_timestamp();
    s.bind(1, written.project)
        .bind(2, static_cast<std::int64_t>(written.task_id))
        .bind(3, written.model_version)
        .bind(4, written.status)
        .bind(5, written.prediction_json)
        .bind(6, written.error)
        .bind(7, written.updated_at);
    if (s.step() != SQLITE_DONE) {
        written.status = "unknown";  // drops what was kept: the row is whatever it was
        recent_predictions_->put(written);
        return db_error(db_, "cannot write task prediction");
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
    Statement s(*statements_,
                "SELECT model_version, status, prediction, error, updated_at FROM task_predictions "
                "WHERE project=? AND task_id=? AND (?='' OR model_version=?) ORDER BY updated_at DESC, rowid DESC");
    if (!s.ok()) return db_error(db_, "cannot read task predictions");
    s.bind(1, project).bind(2, static_cast<std::int64_t>(task_id)).bind(3, model_version).bind(4, model_version);
    std::vector<TaskPredictionRow> rows;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
        rows.push_back(TaskPredictionRow{project, task_id, s.text(0), s.text(1), s.text(2), s.text(3), s.text(4)});
    if (rc != SQLITE_DONE) return db_error(db_, "cannot read task predictions");
    // Kept under the lock, as writes are: what is kept is never older than what was written.
    if (!model_version.empty() && !rows.empty()) recent_predictions_->put(rows.front());
    return rows;
}

Result<std::vector<FaceRow>> Store::faces_of_item(const std::string& item_id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_, (std::string(kFaceColumns) + "WHERE item_id=? ORDER BY face_index").c_str());
    if (!s.ok()) return db_error(db_, "cannot list faces");
    s.bind(1, item_id);
    std::vector<FaceRow> rows;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) rows.push_back(read_face(s));
    if (rc != SQLITE_DONE) return db_error(db_, "cannot list faces of " + item_id);
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
    return save_reviews({ReviewRow{face_id, status, record}});
}

Result<bool> Store::save_reviews(const std::vector<ReviewRow>& reviews) {
    if (reviews.empty()) return true;
    std::lock_guard lock(db_mutex_);
    return in_transaction(db_, [&]() -> std::optional<std::string> {
        std::string now = utc_timestamp();
        Statement s(*statements_, "UPDATE faces SET status=?, record=?, updated_at=? WHERE id=?");
        if (!s.ok()) return "cannot write review";
        for (const auto& review : reviews) {
            s.bind(1, review.status).bind(2, review.record.to_json().dump()).bind(3, now).bind(4, review.face_id);
            if (s.step() != SQLITE_DONE) return "cannot write review of " + review.face_id;
            s.reset();
        }
        return std::nullopt;
    });
}

Result<std::string> Store::thumbnail(const std::string& face_id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_, "SELECT jpeg FROM face_thumbnails WHERE face_id=?");
    if (!s.ok()) return db_error(db_, "cannot read thumbnail");
    s.bind(1, face_id);
    int rc = s.step();
    if (rc == SQLITE_ROW) return s.text(0);
    if (rc == SQLITE_DONE) return std::string{};
    return db_error(db_, "cannot read thumbnail of " + face_id);
}

Result<bool> Store::save_document(const std::string& kind, const std::string& key, const std::string& body) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_,
                "INSERT INTO documents(kind, key, body, created_at) VALUES(?,?,?,?) "
                "ON CONFLICT(kind, key) DO UPDATE SET body=excluded.body, created_at=excluded.created_at");
    if (!s.ok()) return db_error(db_, "cannot write document");
    s.bind(1, kind).bind(2, key).bind(3, body).bind(4, utc_timestamp());
    if (s.step() != SQLITE_DONE) return db_error(db_, "cannot write " + kind + " " + key);
    return true;
}

Result<std::optional<DocumentRow>> Store::document(const std::string& kind, const std::string& key) {
    std::lock_guard lock(db_mutex_);
    // An empty key asks for the newest document of the kind.
    Statement s(*statements_, key.empty() ? "SELECT kind, key, body, created_at FROM documents WHERE kind=? "
                                            "ORDER BY created_at DESC, rowid DESC LIMIT 1"
                                          : "SELECT kind, key, body, created_at FROM documents WHERE kind=? AND key=?");
    if (!s.ok()) return db_error(db_, "cannot read document");
    s.bind(1, kind);
    if (!key.empty()) s.bind(2, key);
    int rc = s.step();
    if (rc == SQLITE_ROW) return std::optional<DocumentRow>(DocumentRow{s.text(0), s.text(1), s.text(2), s.text(3)});
    if (rc == SQLITE_DONE) return std::optional<DocumentRow>();
    return db_error(db_, "cannot read " + kind + " " + key);
}

Result<FaceStats> Store::face_stats(int bins) {
    std::lock_guard lock(db_mutex_);
    FaceStats stats;
    bins = std::clamp(bins, 1, 1000);
    stats.overall_histogram.assign(static_cast<std::size_t>(bins), 0);
    Statement by_status(*statements_, "SELECT status, count(*) FROM faces GROUP BY status");
    Statement cost(*statements_,
                   "SELECT coalesce(sum(json_extract(record, '$.cost.requests')), 0), "
                   "coalesce(sum(json_extract(record, '$.cost.cached_requests')), 0), "
                   "coalesce(sum(json_extract(record, '$.cost.samples')), 0), "
                   "coalesce(sum(json_extract(record, '$.cost.prompt_tokens')), 0), "
                   "coalesce(sum(json_extract(record, '$.cost.completion_tokens')), 0) FROM faces");
    Statement histogram(*statements_,
                        "SELECT min(CAST(overall * ? AS INTEGER), ? - 1), count(*) FROM faces GROUP BY 1");
    if (!by_status.ok() || !cost.ok() || !histogram.ok()) return db_error(db_, "cannot summarise faces");
    int rc;
    while ((rc = by_status.step()) == SQLITE_ROW) stats.by_status[by_status.text(0)] = by_status.integer(1);
    if (rc != SQLITE_DONE) return db_error(db_, "cannot count faces");
    if (cost.step() != SQLITE_ROW) return db_error(db_, "cannot sum costs");
    stats.requests = cost.integer(0);
    stats.cached_requests = cost.integer(1);
    stats.samples = cost.integer(2);
    stats.prompt_tokens = cost.integer(3);
    stats.completion_tokens = cost.integer(4);
    histogram.bind(1, std::int64_t{bins}).bind(2, std::int64_t{bins});
    while ((rc = histogram.step()) == SQLITE_ROW) {
        auto bin = std::clamp<std::int64_t>(histogram.integer(0), 0, bins - 1);
        stats.overall_histogram[static_cast<std::size_t>(bin)] += histogram.integer(1);
    }
    if (rc != SQLITE_DONE) return db_error(db_, "cannot bin uncertainty");
    return stats;
}

Result<std::vector<QueueCandidate>> Store::queue_candidates(const std::string& item_prefix) {
    std::lock_guard lock(db_mutex_);
    // json_extract reads the few numbers ranking needs without parsing whole records in C++.
    Statement s(*statements_,
                "SELECT id, item_id, overall, "
                "coalesce(json_extract(record, '$.uncertainty.expression'), 0), "
                "coalesce(json_extract(record, '$.uncertainty.va'), 0), "
                "coalesce(json_extract(record, '$.uncertainty.au'), 0), "
                "coalesce(json_extract(record, '$.provenance.expression'), 'model'), "
                "coalesce(json_extract(record, '$.provenance.va'), 'model'), "
                "coalesce(json_extract(record, '$.provenance.au'), 'model'), "
                "coalesce(json_extract(record, '$.phash'), ''), "
                "coalesce(json_extract(record, '$.uncertainty.consistency'), 0), "
                "coalesce(json_extract(record, '$.uncertainty.expert_disagreement'), 0) "
                "FROM faces WHERE status='auto' AND substr(item_id, 1, ?)=?");
    if (!s.ok()) return db_error(db_, "cannot list the queue");
    s.bind(1, static_cast<std::int64_t>(item_prefix.size())).bind(2, item_prefix);
    std::vector<QueueCandidate> rows;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
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
    if (rc != SQLITE_DONE) return db_error(db_, "cannot list the queue");
    return rows;
}

Result<long long> Store::save_event(const std::string& source, const std::string& action, const std::string& body) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_, "INSERT INTO events(source, action, body, received_at) VALUES(?,?,?,?)");
    if (!s.ok()) return db_error(db_, "cannot write event");
    s.bind(1, source).bind(2, action).bind(3, body).bind(4, utc_timestamp());
    if (s.step() != SQLITE_DONE) return db_error(db_, "cannot write event");
    return static_cast<long long>(sqlite3_last_insert_rowid(db_));
}

Result<std::optional<FaceRow>> Store::face(const std::string& id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_, (std::string(kFaceColumns) + "WHERE id=?").c_str());
    if (!s.ok()) return db_error(db_, "cannot read face");
    s.bind(1, id);
    int rc = s.step();
    if (rc == SQLITE_ROW) return std::optional<FaceRow>(read_face(s));
    if (rc == SQLITE_DONE) return std::optional<FaceRow>();
    return db_error(db_, "cannot read face " + id);
}

Result<bool> Store::save_human_face(const ItemRow& row, const FaceRow& f) {
    std::lock_guard lock(db_mutex_);
    return in_transaction(db_, [&]() -> std::optional<std::string> {
        std::string now = utc_timestamp();
        Statement item(*statements_,
                       "INSERT OR IGNORE INTO items(id, image, known, status, error, content_hash, width, height, "
                       "updated_at) VALUES(?,?,?,?,?,?,?,?,?)");
        Statement face(*statements_,
                       "INSERT INTO faces(id, item_id, face_index, status, model_version, overall, record, updated_at) "
                       "VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET status=excluded.status, "
                       "record=excluded.record, updated_at=excluded.updated_at");
        if (!item.ok() || !face.ok()) return "cannot prepare writes";
        bind_item(item, row, now);
        if (item.step() != SQLITE_DONE) return "cannot write item " + row.id;
        bind_face(face, f, now);
        if (face.step() != SQLITE_DONE) return "cannot write face " + f.id;
        return std::nullopt;
    });
}

Result<bool> Store::save_cvat_shapes(const std::vector<CvatShapeRow>& rows) {
    if (rows.empty()) return true;
    std::lock_guard lock(db_mutex_);
    return in_transaction(db_, [&]() -> std::optional<std::string> {
        Statement s(*statements_,
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
            if (s.step() != SQLITE_DONE) return "cannot record CVAT shape " + std::to_string(r.shape_id);
            s.reset();
        }
        return std::nullopt;
    });
}

Result<std::vector<CvatShapeRow>> Store::cvat_shapes(const std::string& cvat_url, long long task_id,
                                                     long long first_frame, long long last_frame) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_,
                "SELECT cvat_url, task_id, job_id, frame, shape_id, face_id, item_id, shape, created_at "
                "FROM cvat_shapes WHERE cvat_url=? AND task_id=? AND frame BETWEEN ? AND ? "
                "ORDER BY frame, shape_id");
    if (!s.ok()) return db_error(db_, "cannot list CVAT shapes");
    s.bind(1, cvat_url)
        .bind(2, std::int64_t{task_id})
        .bind(3, std::int64_t{first_frame})
        .bind(4, std::int64_t{last_frame});
    std::vector<CvatShapeRow> rows;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW)
        rows.push_back(CvatShapeRow{s.text(0), s.integer(1), s.integer(2), s.integer(3), s.integer(4), s.text(5),
                                    s.text(6), s.text(7), s.text(8)});
    if (rc != SQLITE_DONE) return db_error(db_, "cannot list CVAT shapes");
    return rows;
}

Result<std::vector<long long>> Store::cvat_annotated_frames(const std::string& cvat_url, long long task_id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_, "SELECT DISTINCT frame FROM cvat_shapes WHERE cvat_url=? AND task_id=? ORDER BY frame");
    if (!s.ok()) return db_error(db_, "cannot list CVAT frames");
    s.bind(1, cvat_url).bind(2, std::int64_t{task_id});
    std::vector<long long> frames;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) frames.push_back(s.integer(0));
    if (rc != SQLITE_DONE) return db_error(db_, "cannot list CVAT frames");
    return frames;
}

Result<bool> Store::save_cvat_job_sync(const CvatJobSyncRow& row) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_,
                "INSERT INTO cvat_job_syncs(cvat_url, job_id, task_id, annotations_version, summary, synced_at) "
                "VALUES(?,?,?,?,?,?) ON CONFLICT(cvat_url, job_id) DO UPDATE SET task_id=excluded.task_id, "
                "annotations_version=excluded.annotations_version, summary=excluded.summary, "
                "synced_at=excluded.synced_at");
    if (!s.ok()) return db_error(db_, "cannot write CVAT sync");
    s.bind(1, row.cvat_url)
        .bind(2, std::int64_t{row.job_id})
        .bind(3, std::int64_t{row.task_id})
        .bind(4, std::int64_t{row.annotations_version})
        .bind(5, row.summary_json)
        .bind(6, utc_timestamp());
    if (s.step() != SQLITE_DONE) return db_error(db_, "cannot write CVAT sync of job " + std::to_string(row.job_id));
    return true;
}

Result<std::optional<CvatJobSyncRow>> Store::cvat_job_sync(const std::string& cvat_url, long long job_id) {
    std::lock_guard lock(db_mutex_);
    Statement s(*statements_,
                "SELECT task_id, annotations_version, summary, synced_at FROM cvat_job_syncs "
                "WHERE cvat_url=? AND job_id=?");
    if (!s.ok()) return db_error(db_, "cannot read CVAT sync");
    s.bind(1, cvat_url).bind(2, std::int64_t{job_id});
    int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<CvatJobSyncRow>();
    if (rc != SQLITE_ROW) return db_error(db_, "cannot read CVAT sync");
    return std::optional<CvatJobSyncRow>(
        CvatJobSyncRow{cvat_url, job_id, s.integer(0), s.integer(1), s.text(2), s.text(3)});
}

std::optional<std::string> Store::cache_get(const std::string& key) {
    std::lock_guard lock(cache_mutex_);
    Statement s(*cache_statements_, "SELECT value FROM response_cache WHERE key=?");
    if (!s.ok()) return std::nullopt;
    s.bind(1, key);
    if (s.step() == SQLITE_ROW) return s.text(0);
    return std::nullopt;
}

void Store::cache_put(const std::string& key, const std::string& value) {
    std::lock_guard lock(cache_mutex_);
    Statement s(*cache_statements_, "INSERT OR REPLACE INTO response_cache(key, value, created_at) VALUES(?,?,?)");
    if (!s.ok()) return;
    s.bind(1, key).bind(2, value).bind(3, utc_timestamp());
    s.step();  // a cache write that fails costs a repeated request later, nothing more
}

}  // namespace seke
