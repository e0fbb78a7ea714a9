#include "plugin/sql/migrations.hpp"

#include <string>

namespace seke::sql {
namespace {

// Any number will do, the same in every seke: it names the lock "seke's schema" in the database.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7365657365)";

}  // namespace

Result<int> migrate(Connection& connection, std::span<const Migration> migrations) {
    const int newest = migrations.empty() ? 0 : migrations.back().version;
    int version = 0;
    std::optional<Error> refused;
    auto applied = in_transaction(connection, [&]() -> std::optional<std::string> {
        if (connection.engine() == Engine::postgres && !connection.exec(kSchemaLock)) return "cannot lock the schema";
        if (!connection.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"))
            return "cannot create table meta";
        version = 0;
        {
            Statement read(connection, "SELECT value FROM meta WHERE key='schema_version'");
            if (!read.ok()) return "cannot read the schema version";
            const Step step = read.step();
            if (step == Step::error) return "cannot read the schema version";
            if (step == Step::row) version = std::atoi(read.text(0).c_str());
        }
        if (version > newest) {
            refused = make_error(errc::io_error, "store: " + connection.description() +
                                                     " was written by a newer seke (schema " + std::to_string(version) +
                                                     ", this seke knows " + std::to_string(newest) + ")");
            return "refused";
        }
        for (const auto& migration : migrations) {
            if (migration.version <= version) continue;
            if (!connection.exec(Dialect{connection.engine()}.schema(migration.sql)))
                return "cannot apply schema step " + std::to_string(migration.version);
        }
        if (version == newest) return std::nullopt;
        Statement write(connection,
                        "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
        if (!write.ok()) return "cannot write the schema version";
        write.bind(1, std::to_string(newest));
        if (write.step() != Step::done) return "cannot write the schema version";
        version = newest;
        return std::nullopt;
    });
    if (refused) return *refused;
    if (!applied) return applied.error();
    return version;
}

Result<int> schema_version(Connection& connection) {
    const char* has_meta = connection.engine() == Engine::postgres
                               ? "SELECT count(*) FROM information_schema.tables WHERE table_name='meta' "
                                 "AND table_schema=current_schema()"
                               : "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'";
    Statement tables(connection, has_meta);
    if (!tables.ok() || tables.step() != Step::row) return database_error(connection, "cannot read the schema");
    if (tables.integer(0) == 0) return 0;
    Statement read(connection, "SELECT value FROM meta WHERE key='schema_version'");
    if (!read.ok()) return database_error(connection, "cannot read the schema version");
    const Step step = read.step();
    if (step == Step::error) return database_error(connection, "cannot read the schema version");
    return step == Step::row ? std::atoi(read.text(0).c_str()) : 0;
}

}  // namespace seke::sql
