// The batches a `seke label --batch` run submitted, kept by the store on both engines: recorded
// with their requests, listed while open, closed once read, and added to a store of step 4.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "plugin/records/store.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
namespace bdata = boost::unit_test::data;

using test::open_store;

BOOST_AUTO_TEST_SUITE(store_batches)

BOOST_DATA_TEST_CASE(a_batch_is_open_from_its_record_until_it_is_closed_and_a_reopened_store_still_has_it,
                     bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    {
        auto store = open_store(where);
        StoreBatchLedger ledger(*store);
        BOOST_TEST(ledger.open_batches().empty());
        ledger.record("batch_1", {"key-a", "key-b"});
        ledger.record("batch_2", {"key-c"});
    }
    auto store = open_store(where);
    StoreBatchLedger ledger(*store);
    auto open = ledger.open_batches();
    BOOST_TEST_REQUIRE(open.size() == 2u);
    BOOST_TEST(open[0].batch_id == "batch_1");
    BOOST_TEST((open[0].custom_ids == std::vector<std::string>{"key-a", "key-b"}));
    ledger.close("batch_1", "completed");
    open = ledger.open_batches();
    BOOST_TEST_REQUIRE(open.size() == 1u);
    BOOST_TEST(open[0].batch_id == "batch_2");
    BOOST_TEST(where.number("SELECT count(*) FROM model_batches WHERE status='completed'") == 1);
}

BOOST_DATA_TEST_CASE(a_store_of_step_4_gets_the_batch_table, bdata::make(test::kStoreEngines), engine) {
    test::StoreTarget where(engine);
    { open_store(where); }
    where.exec("DROP TABLE model_batches");
    where.exec("UPDATE meta SET value='4' WHERE key='schema_version'");
    auto store = open_store(where);
    BOOST_TEST(where.number("SELECT count(*) FROM meta WHERE key='schema_version' AND value='5'") == 1);
    StoreBatchLedger ledger(*store);
    ledger.record("batch_9", {"k"});
    BOOST_TEST(ledger.open_batches().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
