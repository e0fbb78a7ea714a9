#include "plugin/sql/connection.hpp"

#include "plugin/sql/engines.hpp"

namespace seke::sql {

Connection::~Connection() = default;

std::unique_ptr<PreparedStatement> Connection::take(std::string_view sql) {
    // A lost session is renewed at the start of a call, never under a statement in use.
    if (in_use_ == 0 && broken() && !reconnect()) return nullptr;
    std::unique_ptr<PreparedStatement> statement;
    if (auto it = idle_.find(sql); it != idle_.end() && !it->second.empty()) {
        statement = std::move(it->second.back());
        it->second.pop_back();
    } else {
        statement = prepare(std::string(sql));
        if (!statement) return nullptr;
    }
    ++in_use_;
    return statement;
}

void Connection::give_back(std::unique_ptr<PreparedStatement> statement) {
    --in_use_;
    statement->reset();
    auto found = idle_.find(statement->sql());
    if (found == idle_.end())
        found = idle_.emplace(statement->sql(), std::vector<std::unique_ptr<PreparedStatement>>{}).first;
    if (found->second.size() < kMaxIdlePerStatement) found->second.push_back(std::move(statement));
}

void Connection::forget_statements() {
    idle_.clear();
}

namespace {

// "cost.requests" as PostgreSQL's text-array path: {cost,requests}.
std::string postgres_path(std::string_view path) {
    std::string out = "'{";
    for (char c : path) out += c == '.' ? ',' : c;
    out += "}'";
    return out;
}

}  // namespace

std::string Dialect::json_number(std::string_view column, std::string_view path) const {
    if (engine == Engine::sqlite) return "json_extract(" + std::string(column) + ", '$." + std::string(path) + "')";
    return "CAST((CAST(" + std::string(column) + " AS jsonb) #>> " + postgres_path(path) + ") AS double precision)";
}

std::string Dialect::json_text(std::string_view column, std::string_view path) const {
    if (engine == Engine::sqlite) return "json_extract(" + std::string(column) + ", '$." + std::string(path) + "')";
    return "(CAST(" + std::string(column) + " AS jsonb) #>> " + postgres_path(path) + ")";
}

std::string Dialect::floor_integer(std::string_view expression) const {
    // SQLite's CAST truncates, which is the floor of a non-negative number; PostgreSQL's rounds.
    if (engine == Engine::sqlite) return "CAST(" + std::string(expression) + " AS INTEGER)";
    return "CAST(floor(" + std::string(expression) + ") AS BIGINT)";
}

std::string Dialect::now_ms() const {
    if (engine == Engine::sqlite) return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
    return "CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT)";
}

std::string_view Dialect::insertion_order() const {
    return engine == Engine::sqlite ? "rowid" : "seq";
}

std::string Dialect::schema(std::string_view sql) const {
    const bool sqlite = engine == Engine::sqlite;
    const std::pair<std::string_view, std::string_view> types[] = {
        {"{int}", sqlite ? "INTEGER" : "BIGINT"},
        {"{real}", sqlite ? "REAL" : "DOUBLE PRECISION"},
        {"{blob}", sqlite ? "BLOB" : "BYTEA"},
        {"{serial}", sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"},
        {"{seq}", sqlite ? "" : "\n  seq BIGSERIAL,"},
    };
    std::string out(sql);
    for (const auto& [token, type] : types)
        for (auto at = out.find(token); at != std::string::npos; at = out.find(token, at + type.size()))
            out.replace(at, token.size(), type);
    return out;
}

std::string_view Dialect::skip_locked() const {
    return engine == Engine::sqlite ? "" : " FOR UPDATE SKIP LOCKED";
}

bool is_postgres_target(std::string_view target) noexcept {
    return target.starts_with("postgresql://") || target.starts_with("postgres://");
}

std::string describe_target(std::string_view target) {
    if (!is_postgres_target(target)) return std::string(target);
    // postgresql://user:password@host/db?password=...: the password goes, wherever it is.
    std::string out(target);
    const auto scheme_end = out.find("://") + 3;
    const auto authority_end = out.find_first_of("/?", scheme_end);
    const auto at = out.rfind('@', authority_end == std::string::npos ? out.size() : authority_end);
    if (at != std::string::npos && at >= scheme_end) {
        const auto colon = out.find(':', scheme_end);
        if (colon != std::string::npos && colon < at) out.replace(colon, at - colon, ":***");
    }
    if (auto query = out.find('?'); query != std::string::npos) {
        std::string kept = out.substr(0, query);
        std::string_view rest = std::string_view(out).substr(query + 1);
        char separator = '?';
        while (!rest.empty()) {
            auto amp = rest.find('&');
            std::string_view parameter = rest.substr(0, amp);
            kept += separator;
            kept += parameter.starts_with("password=") ? std::string_view("password=***") : parameter;
            separator = '&';
            rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        }
        out = std::move(kept);
    }
    return out;
}

Result<std::unique_ptr<Connection>> connect(const std::string& target, Durability durability, int wait_ms) {
    if (is_postgres_target(target)) return open_postgres(target, durability, wait_ms);
    return open_sqlite(target, durability);
}

Error database_error(const Connection& connection, const std::string& what) {
    std::string message = "store: " + what + ": " + connection.error_message();
    if (connection.broken())
        return make_error(errc::overloaded, message + " (the database " + connection.description() +
                                                " is unreachable; seke reconnects on the next call)");
    return make_error(errc::io_error, message);
}

Result<bool> in_transaction(Connection& connection, const std::function<std::optional<std::string>()>& write) {
    constexpr int kAttempts = 4;
    for (int attempt = 1;; ++attempt) {
        if (connection.broken() && !connection.reconnect())
            return database_error(connection, "cannot begin a transaction");
        std::optional<std::string> failed;
        if (!connection.begin()) failed = "cannot begin a transaction";
        else {
            failed = write();
            if (!failed && connection.commit()) return true;
        }
        // The reason is read before the rollback, which would replace it.
        Error error = database_error(connection, failed.value_or("cannot commit"));
        const bool again = connection.error_is_transient() && attempt < kAttempts;
        connection.rollback();
        if (!again) return error;
    }
}

}  // namespace seke::sql
