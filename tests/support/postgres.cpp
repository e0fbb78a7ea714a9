#include "tests/support/postgres.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <fstream>

#include "plugin/sql/connection.hpp"

namespace seke::test {
namespace {

// The same URI with another database: the path after the authority replaced.
std::string with_database(const std::string& uri, const std::string& database) {
    const auto authority = uri.find("://") + 3;
    const auto path = uri.find('/', authority);
    const auto query = uri.find('?', authority);
    std::string out = uri.substr(0, path == std::string::npos ? query : path) + "/" + database;
    if (query != std::string::npos) out += uri.substr(query);
    return out;
}

void exec_on(const std::string& uri, const std::string& sql) {
    auto connection = sql::connect(uri, sql::Durability::relaxed, 10000);
    BOOST_TEST_REQUIRE(connection.ok(), (connection.ok() ? "" : connection.error().message));
    BOOST_TEST_REQUIRE((*connection)->exec(sql), sql << ": " << (*connection)->error_message());
}

}  // namespace

std::string postgres_server_uri() {
    if (const char* uri = std::getenv("SEKE_TEST_POSTGRES_URI"); uri && *uri) return uri;
    std::ifstream in(std::string(SEKE_TEST_POSTGRES_DIR) + "/uri");
    std::string uri;
    std::getline(in, uri);
    if (uri.empty())
        BOOST_FAIL(
            "no PostgreSQL test server: run the test through CTest (fixture postgres), or start one with "
            "scripts/postgres-test-server.sh start " SEKE_TEST_POSTGRES_DIR);
    return uri;
}

StoreTarget::StoreTarget(std::string_view engine) {
    if (engine == "sqlite") {
        target_ = (dir_ / "store.db").string();
        return;
    }
    static std::atomic<int> made{0};
    database_ = "seke_test_" + std::to_string(::getpid()) + "_" + std::to_string(made++);
    server_ = postgres_server_uri();
    exec_on(server_, "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    exec_on(server_, "CREATE DATABASE " + database_);
    target_ = with_database(server_, database_);
}

StoreTarget::~StoreTarget() {
    if (database_.empty()) return;
    auto connection = sql::connect(server_, sql::Durability::relaxed, 2000);
    if (connection) (*connection)->exec("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
}

void StoreTarget::exec(const std::string& sql) const {
    exec_on(target_, sql);
}

std::int64_t StoreTarget::number(const std::string& sql) const {
    auto connection = sql::connect(target_, sql::Durability::relaxed, 10000);
    BOOST_TEST_REQUIRE(connection.ok(), (connection.ok() ? "" : connection.error().message));
    sql::Statement query(**connection, sql);
    BOOST_TEST_REQUIRE(query.ok(), sql << ": " << (*connection)->error_message());
    const sql::Step step = query.step();
    BOOST_TEST_REQUIRE((step != sql::Step::error), sql << ": " << (*connection)->error_message());
    return step == sql::Step::row ? query.integer(0) : 0;
}

std::unique_ptr<Store> open_store(const StoreTarget& where) {
    auto store = Store::open(where.target());
    BOOST_TEST_REQUIRE(store.ok(), (store.ok() ? "" : store.error().message));
    return std::move(*store);
}

}  // namespace seke::test
