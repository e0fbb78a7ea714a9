// SQLite: one file, WAL (readers never wait on the writer), a busy timeout for other processes
// on the same file.
#include <sqlite3.h>

#include "plugin/sql/engines.hpp"

namespace seke::sql {
namespace {

class SqliteStatement final : public PreparedStatement {
  public:
    SqliteStatement(std::string sql, sqlite3_stmt* statement) : PreparedStatement(std::move(sql)), stmt_(statement) {}
    ~SqliteStatement() override { sqlite3_finalize(stmt_); }
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;

    void bind_text(int index, std::string_view text) override {
        sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
    void bind_blob(int index, std::string_view bytes) override {
        sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    }
    void bind_integer(int index, std::int64_t value) override { sqlite3_bind_int64(stmt_, index, value); }
    void bind_real(int index, double value) override { sqlite3_bind_double(stmt_, index, value); }
    Step step() override {
        switch (sqlite3_step(stmt_)) {
            case SQLITE_ROW: return Step::row;
            case SQLITE_DONE: return Step::done;
            default: return Step::error;
        }
    }
    void reset() override {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    std::string text(int column) override {
        const void* bytes = sqlite3_column_blob(stmt_, column);
        return bytes ? std::string(static_cast<const char*>(bytes),
                                   static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
                     : std::string{};
    }
    std::int64_t integer(int column) override { return sqlite3_column_int64(stmt_, column); }
    double real(int column) override { return sqlite3_column_double(stmt_, column); }

  private:
    sqlite3_stmt* stmt_;
};

class SqliteConnection final : public Connection {
  public:
    SqliteConnection(std::string path, sqlite3* db) : Connection(std::move(path)), db_(db) {}
    ~SqliteConnection() override {
        forget_statements();  // a connection with live statements does not close
        sqlite3_close(db_);
    }
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;

    [[nodiscard]] Engine engine() const noexcept override { return Engine::sqlite; }
    bool exec(std::string_view sql) override {
        return sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
    }
    [[nodiscard]] std::string error_message() const override { return sqlite3_errmsg(db_); }
    [[nodiscard]] bool error_is_transient() const override {
        const int code = sqlite3_errcode(db_) & 0xff;
        return code == SQLITE_BUSY || code == SQLITE_LOCKED;
    }
    [[nodiscard]] bool broken() const override { return false; }
    bool reconnect() override { return true; }

  protected:
    // IMMEDIATE takes the write lock now: two writers never both hold a read lock and deadlock.
    bool start_transaction() override { return exec("BEGIN IMMEDIATE"); }
    std::unique_ptr<PreparedStatement> prepare(const std::string& sql) override {
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &statement,
                               nullptr) != SQLITE_OK) {
            sqlite3_finalize(statement);
            return nullptr;
        }
        return std::make_unique<SqliteStatement>(sql, statement);
    }

  private:
    sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path, Durability durability) {
    sqlite3* db = nullptr;
    const bool read_only = durability == Durability::read_only;
    const int flags =
        (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
        Error error = make_error(errc::io_error,
                                 "store: cannot open " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
        sqlite3_close(db);
        return error;
    }
    auto connection = std::make_unique<SqliteConnection>(path, db);
    sqlite3_busy_timeout(db, 10000);
    // Setting the journal mode writes the file: a read-only reader takes the file as it is.
    if (read_only) return std::unique_ptr<Connection>(std::move(connection));
    // FULL: a committed label survives a power cut. NORMAL (WAL): only the last commits may go.
    std::string pragmas = std::string("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=") +
                          (durability == Durability::full ? "FULL" : "NORMAL") + ";";
    if (!connection->exec(pragmas))
        return make_error(errc::io_error, "store: cannot set up " + path + ": " + connection->error_message());
    return std::unique_ptr<Connection>(std::move(connection));
}

}  // namespace seke::sql
