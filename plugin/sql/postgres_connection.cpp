// PostgreSQL through libpq: one session per connection, statements prepared on the server once
// per session, results read as text (bytea unescaped).
#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

#include "plugin/sql/engines.hpp"
#include "verify/text.hpp"

namespace seke::sql {
namespace {

constexpr unsigned kByteaOid = 17;  // pg_type.h's BYTEAOID, a fixed catalogue number

// The store's `?` placeholders as PostgreSQL's $1, $2, …; string literals are left alone.
std::string numbered_placeholders(const std::string& sql, int& count) {
    std::string out;
    out.reserve(sql.size() + 16);
    bool in_literal = false;
    count = 0;
    for (char c : sql) {
        if (c == '\'') in_literal = !in_literal;
        if (c == '?' && !in_literal) {
            out += '$';
            out += std::to_string(++count);
        } else {
            out += c;
        }
    }
    return out;
}

class PostgresConnection;

class PostgresStatement final : public PreparedStatement {
  public:
    PostgresStatement(std::string sql, PostgresConnection& connection, std::string name, std::string text,
                      int parameters, std::uint64_t session)
        : PreparedStatement(std::move(sql)), connection_(connection), name_(std::move(name)), text_(std::move(text)),
          session_(session), values_(static_cast<std::size_t>(parameters)),
          binary_(static_cast<std::size_t>(parameters), 0) {}
    ~PostgresStatement() override;
    PostgresStatement(const PostgresStatement&) = delete;
    PostgresStatement& operator=(const PostgresStatement&) = delete;

    void bind_text(int index, std::string_view text) override { set(index, std::string(text), false); }
    void bind_blob(int index, std::string_view bytes) override { set(index, std::string(bytes), true); }
    void bind_integer(int index, std::int64_t value) override { set(index, std::to_string(value), false); }
    void bind_real(int index, double value) override {
        char buffer[32];
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);  // shortest exact form
        set(index, std::string(buffer, ec == std::errc() ? end : buffer), false);
    }
    Step step() override;
    void reset() override {
        clear_result();
        for (auto& value : values_) value.reset();
        std::fill(binary_.begin(), binary_.end(), 0);
    }
    std::string text(int column) override {
        if (!result_ || row_ < 0 || PQgetisnull(result_, row_, column)) return {};
        const char* value = PQgetvalue(result_, row_, column);
        if (PQftype(result_, column) != kByteaOid)
            return {value, static_cast<std::size_t>(PQgetlength(result_, row_, column))};
        std::size_t length = 0;
        unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(value), &length);
        std::string out = bytes ? std::string(reinterpret_cast<const char*>(bytes), length) : std::string{};
        PQfreemem(bytes);
        return out;
    }
    std::int64_t integer(int column) override {
        std::string value = text(column);
        std::int64_t out = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
        if (ec == std::errc() && end == value.data() + value.size()) return out;
        return static_cast<std::int64_t>(std::strtod(value.c_str(), nullptr));  // a sum of doubles, say
    }
    double real(int column) override { return std::strtod(text(column).c_str(), nullptr); }

  private:
    void set(int index, std::string value, bool binary) {
        if (index < 1 || index > static_cast<int>(values_.size())) return;
        values_[static_cast<std::size_t>(index - 1)] = std::move(value);
        binary_[static_cast<std::size_t>(index - 1)] = binary ? 1 : 0;
    }
    void clear_result() {
        if (result_) PQclear(result_);
        result_ = nullptr;
        row_ = -1;
        executed_ = false;
    }
    PGresult* execute();

    PostgresConnection& connection_;
    std::string name_;
    std::string text_;       // the SQL with $n placeholders, to prepare again in a new session
    std::uint64_t session_;  // the session it was prepared in
    std::vector<std::optional<std::string>> values_;
    std::vector<int> binary_;
    PGresult* result_ = nullptr;
    int row_ = -1;
    bool executed_ = false;
};

class PostgresConnection final : public Connection {
  public:
    PostgresConnection(std::string description, PGconn* conn, Durability durability)
        : Connection(std::move(description)), conn_(conn), durability_(durability) {}
    ~PostgresConnection() override {
        closing_ = true;  // the session's statements go with it: no DEALLOCATE each
        forget_statements();
        PQfinish(conn_);
    }
    PostgresConnection(const PostgresConnection&) = delete;
    PostgresConnection& operator=(const PostgresConnection&) = delete;

    [[nodiscard]] Engine engine() const noexcept override { return Engine::postgres; }
    bool exec(std::string_view sql) override {
        PGresult* result = PQexec(conn_, std::string(sql).c_str());
        const bool ok = note(result);
        PQclear(result);
        return ok;
    }
    [[nodiscard]] std::string error_message() const override {
        const std::string message = trim(PQerrorMessage(conn_));  // libpq ends it with a newline
        return message.empty() ? "unknown error" : message;
    }
    [[nodiscard]] bool error_is_transient() const override {
        // 40: serialization failure or deadlock; 08: connection exception; 57P01: server shut down.
        return broken() || sqlstate_.starts_with("40") || sqlstate_.starts_with("08") || sqlstate_ == "57P01";
    }
    [[nodiscard]] bool broken() const override { return PQstatus(conn_) != CONNECTION_OK; }
    bool reconnect() override {
        forget_statements();
        PQreset(conn_);
        ++session_;
        return !broken() && set_up_session();
    }
    // Counts the server sessions this connection has had: a statement prepared in an earlier one
    // is prepared again before it runs.
    [[nodiscard]] std::uint64_t session() const noexcept { return session_; }
    // Prepares `text` under `name` in this session; false (see error_message) when refused.
    bool prepare_named(const std::string& name, const std::string& text) {
        PGresult* result = PQprepare(conn_, name.c_str(), text.c_str(), 0, nullptr);
        const bool ok = note(result);
        PQclear(result);
        return ok;
    }

    // The session's settings, on a new connection and after a reconnect.
    bool set_up_session() {
        PQsetNoticeProcessor(
            conn_, [](void*, const char*) {}, nullptr);  // "already exists" is no news
        if (durability_ == Durability::read_only) return exec("SET default_transaction_read_only = on");
        return exec(durability_ == Durability::full ? "SET synchronous_commit = on" : "SET synchronous_commit = off");
    }

    // Records a result's SQLSTATE; true when it succeeded.
    bool note(const PGresult* result) {
        const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            sqlstate_.clear();
            return true;
        }
        const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
        sqlstate_ = state ? state : "";
        return false;
    }
    PGconn* raw() { return conn_; }
    [[nodiscard]] bool closing() const { return closing_; }

  protected:
    bool start_transaction() override { return exec("BEGIN"); }
    std::unique_ptr<PreparedStatement> prepare(const std::string& sql) override {
        int parameters = 0;
        std::string text = numbered_placeholders(sql, parameters);
        std::string name = "seke_" + std::to_string(++statements_made_);
        if (!prepare_named(name, text)) return nullptr;
        return std::make_unique<PostgresStatement>(sql, *this, std::move(name), std::move(text), parameters, session_);
    }

  private:
    PGconn* conn_;
    Durability durability_;
    std::string sqlstate_;
    std::uint64_t statements_made_ = 0;
    std::uint64_t session_ = 0;
    bool closing_ = false;
};

PostgresStatement::~PostgresStatement() {
    clear_result();
    if (!connection_.closing() && !connection_.broken() && session_ == connection_.session())
        connection_.exec("DEALLOCATE " + name_);  // a statement dropped from a full cache
}

PGresult* PostgresStatement::execute() {
    if (session_ != connection_.session()) {
        if (!connection_.prepare_named(name_, text_)) return nullptr;
        session_ = connection_.session();
    }
    std::vector<const char*> values(values_.size(), nullptr);
    std::vector<int> lengths(values_.size(), 0);
    for (std::size_t i = 0; i < values_.size(); ++i) {
        if (!values_[i]) continue;
        values[i] = values_[i]->data();
        lengths[i] = static_cast<int>(values_[i]->size());
    }
    return PQexecPrepared(connection_.raw(), name_.c_str(), static_cast<int>(values_.size()), values.data(),
                          lengths.data(), binary_.data(), 0);
}

Step PostgresStatement::step() {
    if (!executed_) {
        executed_ = true;
        result_ = execute();
        // A session lost outside a transaction (the server restarted, an idle connection was cut)
        // is renewed and the statement run once more; inside one, the transaction is retried whole.
        if (!connection_.note(result_) && connection_.broken() && !connection_.in_transaction() &&
            connection_.reconnect()) {
            PQclear(result_);
            result_ = execute();
        }
        if (!connection_.note(result_)) return Step::error;
    }
    if (!result_ || PQresultStatus(result_) != PGRES_TUPLES_OK) return Step::done;
    if (++row_ < PQntuples(result_)) return Step::row;
    return Step::done;
}

}  // namespace

Result<std::unique_ptr<Connection>> open_postgres(const std::string& uri, Durability durability, int wait_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    auto pause = std::chrono::milliseconds(200);
    // Keywords after `dbname` override what its URI says; those before it are defaults.
    const char* keywords[] = {"connect_timeout", "dbname", "fallback_application_name", nullptr};
    const char* values[] = {"10", uri.c_str(), "seke", nullptr};
    for (;;) {
        PGconn* conn = PQconnectdbParams(keywords, values, 1);
        if (!conn) return make_error(errc::io_error, "store: out of memory connecting to " + describe_target(uri));
        auto connection = std::make_unique<PostgresConnection>(describe_target(uri), conn, durability);
        if (!connection->broken()) {
            if (!connection->set_up_session())
                return make_error(errc::io_error, "store: cannot set up the session on " + describe_target(uri) + ": " +
                                                      connection->error_message());
            return std::unique_ptr<Connection>(std::move(connection));
        }
        if (std::chrono::steady_clock::now() + pause > deadline)
            return make_error(errc::io_error,
                              "store: cannot connect to " + describe_target(uri) + ": " + connection->error_message());
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(2000));
    }
}

}  // namespace seke::sql
