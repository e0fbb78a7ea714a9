// The two engines behind one connection: values round-trip alike, the schema is migrated once
// when several processes start together, a lost PostgreSQL session is renewed, and a password
// never shows.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <thread>

#include "plugin/sql/connection.hpp"
#include "plugin/sql/migrations.hpp"
#include "tests/support/postgres.hpp"

using namespace seke;
using sql::Statement;
using sql::Step;
namespace bdata = boost::unit_test::data;

namespace {

std::unique_ptr<sql::Connection> open(const test::StoreTarget& where) {
    auto connection = sql::connect(where.target(), sql::Durability::full, 5000);
    BOOST_TEST_REQUIRE(connection.ok(), (connection.ok() ? "" : connection.error().message));
    return std::move(*connection);
}

// Step 2 counts how often it ran: a step applied twice would show as 2.
constexpr sql::Migration kSteps[] = {
    {1, "CREATE TABLE runs (step {int} NOT NULL)"},
    {2, "INSERT INTO runs VALUES (2)"},
};

std::int64_t count_runs(sql::Connection& connection) {
    Statement s(connection, "SELECT count(*) FROM runs");
    BOOST_TEST_REQUIRE(s.ok());
    BOOST_TEST_REQUIRE((s.step() == Step::row));
    return s.integer(0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sql_connection)

BOOST_AUTO_TEST_CASE(schema_types_are_each_engines) {
    const std::string_view table = "CREATE TABLE t (id {serial}, n {int}, x {real}, b {blob},{seq} k TEXT)";
    BOOST_TEST(sql::Dialect{sql::Engine::sqlite}.schema(table) ==
               "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, x REAL, b BLOB, k TEXT)");
    BOOST_TEST(sql::Dialect{sql::Engine::postgres}.schema(table) ==
               "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, n BIGINT, x DOUBLE PRECISION, b BYTEA,\n  seq BIGSERIAL, k "
               "TEXT)");
}

BOOST_AUTO_TEST_CASE(a_password_is_never_described) {
    BOOST_TEST(sql::describe_target("/data/seke.db") == "/data/seke.db");
    BOOST_TEST(sql::describe_target("postgresql://seke:s3cret@db.example:5432/labels?sslmode=require") ==
               "postgresql://seke:***@db.example:5432/labels?sslmode=require");
    BOOST_TEST(sql::describe_target("postgres://seke@db/labels?password=s3cret&sslmode=disable") ==
               "postgres://seke@db/labels?password=***&sslmode=disable");
    BOOST_TEST(sql::describe_target("postgresql://a:b:c@host/db").find("b:c") == std::string::npos);
    BOOST_TEST(sql::describe_target("postgresql://host/db") == "postgresql://host/db");
    BOOST_TEST(sql::is_postgres_target("postgresql://h/d"));
    BOOST_TEST(!sql::is_postgres_target("postgresql.db"));
}

BOOST_DATA_TEST_CASE(values_round_trip_alike, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto db = open(where);
    BOOST_TEST_REQUIRE(
        db->exec(sql::Dialect{db->engine()}.schema("CREATE TABLE v (t TEXT, b {blob}, i {int}, r {real})")));
    const std::string bytes("\0\x01\xff\\x'?", 7);
    {
        Statement insert(*db, "INSERT INTO v VALUES (?, ?, ?, ?)");
        BOOST_TEST_REQUIRE(insert.ok(), db->error_message());
        insert.bind(1, "it's a '?' \xc3\xa9").bind_blob(2, bytes).bind(3, std::int64_t{-9007199254740993}).bind(4, 0.1);
        BOOST_TEST((insert.step() == Step::done), db->error_message());
        insert.reset();  // used again with nothing bound: NULLs
        BOOST_TEST((insert.step() == Step::done), db->error_message());
    }
    Statement read(*db, "SELECT t, b, i, r, '?' FROM v ORDER BY i IS NULL, i");
    BOOST_TEST_REQUIRE(read.ok(), db->error_message());
    BOOST_TEST_REQUIRE((read.step() == Step::row), db->error_message());
    BOOST_TEST(read.text(0) == "it's a '?' \xc3\xa9");
    BOOST_TEST(read.text(1) == bytes);
    BOOST_TEST(read.integer(2) == std::int64_t{-9007199254740993});
    BOOST_TEST(read.real(3) == 0.1);
    BOOST_TEST(read.text(4) == "?");  // a placeholder inside a literal stays a character
    BOOST_TEST_REQUIRE((read.step() == Step::row));
    BOOST_TEST(read.text(0).empty());
    BOOST_TEST(read.integer(2) == 0);
    BOOST_TEST((read.step() == Step::done));
    Statement bad(*db, "SELECT no_such_column FROM v");
    BOOST_TEST(!bad.ok());
    BOOST_TEST(!db->error_message().empty());
}

BOOST_DATA_TEST_CASE(processes_starting_together_migrate_once, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    constexpr int kProcesses = 6;
    std::vector<std::thread> starting;
    starting.reserve(kProcesses);
    std::vector<int> versions(kProcesses, -1);
    std::vector<std::string> errors(kProcesses);
    for (int i = 0; i < kProcesses; ++i)
        starting.emplace_back([&, i] {
            auto connection = sql::connect(where.target(), sql::Durability::full, 5000);
            if (!connection) return void(errors[i] = connection.error().message);
            auto version = sql::migrate(**connection, kSteps);
            if (version) versions[i] = *version;
            else errors[i] = version.error().message;
        });
    for (auto& thread : starting) thread.join();
    for (int i = 0; i < kProcesses; ++i) {
        BOOST_TEST(errors[i].empty(), errors[i]);
        BOOST_TEST(versions[i] == 2);
    }
    auto db = open(where);
    BOOST_TEST(count_runs(*db) == 1);
    BOOST_TEST(sql::migrate(*db, kSteps).value() == 2);  // nothing left to do
    BOOST_TEST(count_runs(*db) == 1);
}

BOOST_DATA_TEST_CASE(a_newer_database_is_refused_untouched, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto db = open(where);
    BOOST_TEST_REQUIRE(sql::migrate(*db, kSteps).ok());
    BOOST_TEST_REQUIRE(db->exec("UPDATE meta SET value='9' WHERE key='schema_version'"));
    auto older = sql::migrate(*db, std::span(kSteps).first(1));
    BOOST_TEST_REQUIRE(!older.ok());
    BOOST_TEST(older.error().message.find("newer seke (schema 9") != std::string::npos, older.error().message);
    BOOST_TEST(count_runs(*db) == 1);
}

BOOST_DATA_TEST_CASE(a_failed_step_changes_nothing, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto db = open(where);
    constexpr sql::Migration kBroken[] = {
        {1, "CREATE TABLE half (x {int})"},
        {2, "INSERT INTO no_such_table VALUES (1)"},
    };
    auto version = sql::migrate(*db, kBroken);
    BOOST_TEST_REQUIRE(!version.ok());
    BOOST_TEST(version.error().message.find("schema step 2") != std::string::npos, version.error().message);
    Statement half(*db, "SELECT count(*) FROM half");
    BOOST_TEST(!half.ok());  // step 1 was rolled back with step 2
}

BOOST_AUTO_TEST_CASE(a_lost_postgres_session_is_renewed) {
    test::StoreTarget where("postgres");
    auto db = open(where);
    BOOST_TEST_REQUIRE(db->exec("CREATE TABLE t (x BIGINT)"));
    auto backend_pid = [&] {
        Statement s(*db, "SELECT pg_backend_pid()");
        BOOST_TEST_REQUIRE((s.step() == Step::row));
        return s.integer(0);
    };
    auto kill_session = [&](std::int64_t pid) {
        where.exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ", 5000)");  // waits till it is gone
    };
    const auto first = backend_pid();
    {
        Statement insert(*db, "INSERT INTO t VALUES (?)");
        insert.bind(1, std::int64_t{1});
        BOOST_TEST_REQUIRE((insert.step() == Step::done));
    }
    // Outside a transaction: the statement (prepared in the lost session) runs in a new one.
    kill_session(first);
    {
        Statement insert(*db, "INSERT INTO t VALUES (?)");
        insert.bind(1, std::int64_t{2});
        BOOST_TEST((insert.step() == Step::done), db->error_message());
    }
    const auto second = backend_pid();
    BOOST_TEST(second != first);
    // Inside a transaction: the whole transaction runs again in a new session.
    int attempts = 0;
    auto written = sql::in_transaction(*db, [&]() -> std::optional<std::string> {
        if (++attempts == 1) kill_session(second);
        Statement insert(*db, "INSERT INTO t VALUES (?)");
        insert.bind(1, std::int64_t{3});
        if (insert.step() != Step::done) return "cannot insert";
        return std::nullopt;
    });
    BOOST_TEST(written.ok(), (written.ok() ? "" : written.error().message));
    BOOST_TEST(attempts == 2);
    Statement count(*db, "SELECT count(*), sum(x) FROM t");
    BOOST_TEST_REQUIRE((count.step() == Step::row));
    BOOST_TEST(count.integer(0) == 3);
    BOOST_TEST(count.integer(1) == 6);
}

BOOST_AUTO_TEST_SUITE_END()
