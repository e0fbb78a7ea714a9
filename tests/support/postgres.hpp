#pragma once
// The test PostgreSQL server (CTest's fixture `postgres`, scripts/postgres-test-server.sh) and a
// store target per engine, so every store suite runs on SQLite and on PostgreSQL alike.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "plugin/records/store.hpp"
#include "tests/support/test_support.hpp"

namespace seke::test {

// The engines a store suite runs on, as Boost.Test data: BOOST_DATA_TEST_CASE(name,
// boost::unit_test::data::make(test::kStoreEngines), engine).
inline constexpr const char* kStoreEngines[] = {"sqlite", "postgres"};

// The test server's URI (its superuser, with a password). Fails the test, saying why, when the
// fixture is not running (run the test through CTest).
std::string postgres_server_uri();

// Where one test's store lives: a SQLite file in a folder of its own, or a database of its own on
// the test server, dropped when this goes.
class StoreTarget {
  public:
    explicit StoreTarget(std::string_view engine);
    ~StoreTarget();
    StoreTarget(const StoreTarget&) = delete;
    StoreTarget& operator=(const StoreTarget&) = delete;

    // What Store::open and --db take.
    [[nodiscard]] const std::string& target() const noexcept { return target_; }
    [[nodiscard]] bool postgres() const noexcept { return !database_.empty(); }
    [[nodiscard]] const TempDir& dir() const noexcept { return dir_; }
    // Runs SQL on the store's database behind the store's back (what another program would do).
    void exec(const std::string& sql) const;
    // The first column of the first row of a query, as a number (0 when there is no row).
    [[nodiscard]] std::int64_t number(const std::string& sql) const;
    // Faces with more than one prediction committed: items labeled twice.
    [[nodiscard]] std::int64_t faces_labeled_twice() const {
        return number("SELECT count(*) FROM (SELECT face_id FROM predictions GROUP BY face_id HAVING count(*) > 1) t");
    }

  private:
    TempDir dir_;
    std::string target_;
    std::string database_;  // on PostgreSQL
    std::string server_;    // the server's URI, to drop the database
};

// The store at `where`, opened (schema made or migrated); fails the test, saying why, when it
// cannot be.
std::unique_ptr<Store> open_store(const StoreTarget& where);

}  // namespace seke::test
