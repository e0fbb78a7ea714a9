#pragma once
// A database's schema, brought to its newest version by the process that opens it. Several
// processes starting at once take turns: the first applies what is missing, the others find it done.
#include <span>
#include <string_view>

#include "plugin/sql/connection.hpp"

namespace seke::sql {

// One step of the schema, its types written {int}, {real}, {blob}, {serial}, {seq} for each engine
// to fill in (Dialect::schema). Versions count up from 1, one step each.
struct Migration {
    int version = 0;
    std::string_view sql;
};

// Applies the steps newer than the database's version, all in one transaction under a lock
// (SQLite's write lock; a PostgreSQL advisory lock), and records the version in table `meta`.
// Returns the version now. A database newer than the newest step is an error, and changes nothing.
Result<int> migrate(Connection& connection, std::span<const Migration> migrations);

// The database's schema version, read without writing (0: no schema yet).
Result<int> schema_version(Connection& connection);

}  // namespace seke::sql
