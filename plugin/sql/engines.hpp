#pragma once
// The engines' openers, for connection.cpp's connect(); nothing else includes this.
#include <memory>
#include <string>

#include "plugin/sql/connection.hpp"

namespace seke::sql {

Result<std::unique_ptr<Connection>> open_sqlite(const std::string& path, Durability durability);
Result<std::unique_ptr<Connection>> open_postgres(const std::string& uri, Durability durability, int wait_ms);

}  // namespace seke::sql
