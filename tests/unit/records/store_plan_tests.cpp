// What `seke label --plan` reads of the store: opened for reading only (nothing created, migrated
// or written), and each face's cost per model version. Both engines.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>

#include "plugin/records/store.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
namespace bdata = boost::unit_test::data;

namespace {

// A done item with one face labeled by `model_version` at this cost.
ItemOutcome costed(const std::string& id, const std::string& model_version, int requests, int samples,
                   std::int64_t prompt) {
    ItemOutcome o;
    o.item.id = id;
    o.item.image = id + ".jpg";
    o.item.status = ItemStatus::done;
    FaceRow f;
    f.id = id;
    f.item_id = id;
    f.model_version = model_version;
    f.record_json = R"({"id":")" + id + R"(","cost":{"requests":)" + std::to_string(requests) +
                    R"(,"cached_requests":1,"samples":)" + std::to_string(samples) + R"(,"prompt_tokens":)" +
                    std::to_string(prompt) + R"(,"cached_prompt_tokens":7,"completion_tokens":9}})";
    f.trace_json = "{}";
    o.faces.push_back(f);
    return o;
}

std::string bytes_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_store_plan)

BOOST_DATA_TEST_CASE(face_costs_are_read_per_model_version_newest_first, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    auto store = Store::open(where.target());
    BOOST_TEST_REQUIRE(store.ok());
    BOOST_TEST((*store)->save_outcomes({costed("a", "v1", 1, 3, 100), costed("b", "v2", 5, 8, 900)}).ok());
    BOOST_TEST((*store)->save_outcomes({costed("c", "v1", 2, 5, 200)}).ok());

    auto v1 = (*store)->face_costs("v1", 10);
    BOOST_TEST_REQUIRE(v1.ok());
    BOOST_TEST_REQUIRE(v1->size() == 2u);
    BOOST_TEST((*v1)[0].requests == 2);  // c, written last
    BOOST_TEST((*v1)[0].samples == 5);
    BOOST_TEST((*v1)[0].prompt_tokens == 200);
    BOOST_TEST((*v1)[1].requests == 1);
    BOOST_TEST((*v1)[1].cached_requests == 1);
    BOOST_TEST((*v1)[1].cached_prompt_tokens == 7);
    BOOST_TEST((*v1)[1].completion_tokens == 9);
    auto newest = (*store)->face_costs("v1", 1);
    BOOST_TEST_REQUIRE(newest.ok());
    BOOST_TEST_REQUIRE(newest->size() == 1u);
    BOOST_TEST((*newest)[0].prompt_tokens == 200);
    auto none = (*store)->face_costs("v3", 10);
    BOOST_TEST_REQUIRE(none.ok());
    BOOST_TEST(none->empty());
}

BOOST_DATA_TEST_CASE(a_read_only_store_reads_and_writes_nothing, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    {
        auto store = Store::open(where.target());
        BOOST_TEST_REQUIRE(store.ok());
        BOOST_TEST((*store)->save_outcomes({costed("a", "v1", 1, 3, 100)}).ok());
    }
    const bool file = engine == std::string("sqlite");
    const std::string before = file ? bytes_of(where.target()) : "";
    {
        auto reader = Store::open_read_only(where.target());
        BOOST_TEST_REQUIRE(reader.ok(), (reader.ok() ? "" : reader.error().message));
        auto finished = (*reader)->finished_item_ids();
        BOOST_TEST_REQUIRE(finished.ok());
        BOOST_TEST((*finished == std::vector<std::string>{"a"}));
        auto costs = (*reader)->face_costs("v1", 10);
        BOOST_TEST_REQUIRE(costs.ok());
        BOOST_TEST(costs->size() == 1u);
        // A write is an error, never a change.
        BOOST_TEST(!(*reader)->save_outcomes({costed("b", "v1", 1, 3, 100)}).ok());
    }
    if (file) BOOST_TEST((bytes_of(where.target()) == before));
    auto store = Store::open(where.target());
    BOOST_TEST_REQUIRE(store.ok());
    auto counts = (*store)->counts();
    BOOST_TEST_REQUIRE(counts.ok());
    BOOST_TEST(counts->items == 1);
}

BOOST_DATA_TEST_CASE(a_store_without_the_schema_is_refused_for_reading, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    // An empty SQLite file (a fresh PostgreSQL database has no tables either).
    if (engine == std::string("sqlite")) std::ofstream(where.target()).close();
    auto reader = Store::open_read_only(where.target());
    BOOST_TEST_REQUIRE(!reader.ok());
    BOOST_TEST((reader.error().code == errc::invalid_argument));
    BOOST_TEST(reader.error().message.find("schema step 0") != std::string::npos, reader.error().message);
}

BOOST_AUTO_TEST_CASE(a_missing_sqlite_file_is_not_created_by_a_reader) {
    test::TempDir dir;
    const auto path = (dir / "none.db").string();
    auto reader = Store::open_read_only(path);
    BOOST_TEST(!reader.ok());
    BOOST_TEST(!std::filesystem::exists(path));
}

BOOST_AUTO_TEST_SUITE_END()
