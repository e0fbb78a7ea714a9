#pragma once
// The two SQL engines seke stores in, behind one connection: SQLite (a file, the default on one
// machine) and PostgreSQL (libpq, shared by many processes on many machines). The store writes
// its SQL once, with `?` placeholders and the portable subset of both dialects; what differs
// (JSON reads, a row's insertion order, the clock, row locks) comes from `Dialect`.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verify/errors.hpp"

namespace seke::sql {

enum class Engine { sqlite, postgres };
enum class Step { row, done, error };

// How durable a connection's commits are: `full` survives a power cut (labels, reviews);
// `relaxed` may lose the last commits on one (the response cache: a lost entry costs a request).
// `read_only` commits nothing: a SQLite file is opened read-only (its bytes stay as they are), a
// PostgreSQL session refuses writes (`seke label --plan`).
enum class Durability { full, relaxed, read_only };

// One compiled statement of a connection. Parameters are numbered from 1, columns from 0.
class PreparedStatement {
  public:
    explicit PreparedStatement(std::string sql) : sql_(std::move(sql)) {}
    virtual ~PreparedStatement() = default;
    PreparedStatement(const PreparedStatement&) = delete;
    PreparedStatement& operator=(const PreparedStatement&) = delete;

    virtual void bind_text(int index, std::string_view text) = 0;
    virtual void bind_blob(int index, std::string_view bytes) = 0;
    virtual void bind_integer(int index, std::int64_t value) = 0;
    virtual void bind_real(int index, double value) = 0;
    // The first call runs the statement; each returns the next row, done, or error.
    virtual Step step() = 0;
    // Forgets the bindings and the result, ready to run again.
    virtual void reset() = 0;
    // A text or blob column's bytes ("" for NULL); numbers read as numbers.
    virtual std::string text(int column) = 0;
    virtual std::int64_t integer(int column) = 0;
    virtual double real(int column) = 0;

    // The SQL as the store wrote it: the key the connection keeps it by.
    [[nodiscard]] const std::string& sql() const noexcept { return sql_; }

  private:
    std::string sql_;
};

// A database connection; not thread-safe (the store guards each with a mutex). It keeps its
// prepared statements for its life, keyed by their SQL text, so a call compiles its SQL once per
// connection, not once per call; a statement in use is out of the cache.
class Connection {
  public:
    virtual ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    [[nodiscard]] virtual Engine engine() const noexcept = 0;
    // Runs SQL that returns no rows (several statements separated by `;`).
    virtual bool exec(std::string_view sql) = 0;
    // Starts a write transaction (SQLite takes the write lock at once, so it cannot deadlock).
    bool begin() {
        in_transaction_ = start_transaction();
        return in_transaction_;
    }
    bool commit() {
        in_transaction_ = false;
        return exec("COMMIT");
    }
    void rollback() {
        in_transaction_ = false;
        exec("ROLLBACK");
    }
    [[nodiscard]] bool in_transaction() const noexcept { return in_transaction_; }
    // The last error, in the engine's words (never a password).
    [[nodiscard]] virtual std::string error_message() const = 0;
    // The last error's SQLSTATE class says the transaction may succeed if run again
    // (serialization failure, deadlock) or the connection was lost.
    [[nodiscard]] virtual bool error_is_transient() const = 0;
    // The connection is gone (server restarted, network cut): reconnect() tries to make a new one.
    [[nodiscard]] virtual bool broken() const = 0;
    virtual bool reconnect() = 0;
    // What the connection is to, for messages: the path, or the URI without its password.
    [[nodiscard]] const std::string& description() const noexcept { return description_; }

    // A statement of `sql`: from the cache, or compiled now; nullptr (see error_message) on error.
    std::unique_ptr<PreparedStatement> take(std::string_view sql);
    void give_back(std::unique_ptr<PreparedStatement> statement);

  protected:
    explicit Connection(std::string description) : description_(std::move(description)) {}
    virtual bool start_transaction() = 0;
    virtual std::unique_ptr<PreparedStatement> prepare(const std::string& sql) = 0;
    // Drops every idle statement (a new server session has none of them).
    void forget_statements();

  private:
    static constexpr std::size_t kMaxIdlePerStatement = 2;
    std::string description_;
    std::map<std::string, std::vector<std::unique_ptr<PreparedStatement>>, std::less<>> idle_;
    int in_use_ = 0;
    bool in_transaction_ = false;
};

// A statement taken from a connection for one use and given back, reset, when it goes.
class Statement {
  public:
    Statement(Connection& connection, std::string_view sql)
        : connection_(connection), statement_(connection.take(sql)) {}
    ~Statement() {
        if (statement_) connection_.give_back(std::move(statement_));
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    [[nodiscard]] bool ok() const noexcept { return statement_ != nullptr; }
    Statement& bind(int index, std::string_view text) {
        statement_->bind_text(index, text);
        return *this;
    }
    Statement& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, std::int64_t value) {
        statement_->bind_integer(index, value);
        return *this;
    }
    Statement& bind(int index, double value) {
        statement_->bind_real(index, value);
        return *this;
    }
    Statement& bind_blob(int index, std::string_view bytes) {
        statement_->bind_blob(index, bytes);
        return *this;
    }
    Step step() { return statement_->step(); }
    void reset() { statement_->reset(); }
    std::string text(int column) { return statement_->text(column); }
    std::int64_t integer(int column) { return statement_->integer(column); }
    double real(int column) { return statement_->real(column); }

  private:
    Connection& connection_;
    std::unique_ptr<PreparedStatement> statement_;
};

// The SQL that differs between the engines.
struct Dialect {
    Engine engine = Engine::sqlite;

    // A number inside a JSON text column, by a dotted path ("cost.requests"); NULL when absent.
    [[nodiscard]] std::string json_number(std::string_view column, std::string_view path) const;
    // A string inside a JSON text column; NULL when absent.
    [[nodiscard]] std::string json_text(std::string_view column, std::string_view path) const;
    // The largest integer not above a non-negative `expression`.
    [[nodiscard]] std::string floor_integer(std::string_view expression) const;
    // The database's clock in milliseconds since 1970 (one clock for every process on it).
    [[nodiscard]] std::string now_ms() const;
    // The column that orders rows of a table by insertion ("rowid" / "seq").
    [[nodiscard]] std::string_view insertion_order() const;
    // Schema SQL with the engine's types in place of {int} (64-bit), {real} (double), {blob},
    // {serial} (an id counting up, the primary key) and {seq} (an insertion-order column, then a
    // comma; nothing on SQLite, whose rowid is that).
    [[nodiscard]] std::string schema(std::string_view sql) const;
    // After a SELECT that claims rows: skip rows other transactions hold ("" on SQLite, whose
    // write transactions never overlap).
    [[nodiscard]] std::string_view skip_locked() const;
};

// A PostgreSQL target: a libpq URI (postgresql:// or postgres://). Anything else is a SQLite path.
bool is_postgres_target(std::string_view target) noexcept;
// The target for messages and logs: a path as given, a URI without its password.
std::string describe_target(std::string_view target);

// Opens a connection to `target`. A PostgreSQL server that does not answer is tried again until
// `wait_ms` has passed.
Result<std::unique_ptr<Connection>> connect(const std::string& target, Durability durability, int wait_ms = 0);

// Runs `write` in a write transaction: BEGIN … COMMIT, rolled back when `write` returns what
// failed. A transient failure (a deadlock, a serialization failure, a lost connection that
// reconnects) runs it again, a few times. The error names what failed and the engine's reason.
Result<bool> in_transaction(Connection& connection, const std::function<std::optional<std::string>()>& write);

// An io_error naming what failed and the connection's reason; when the connection is lost, an
// `overloaded` error (HTTP 503): the database is unreachable, and a later try may succeed.
Error database_error(const Connection& connection, const std::string& what);

}  // namespace seke::sql
