#include <boost/test/unit_test.hpp>
#include <cmath>

#include "plugin/metrics.hpp"

using namespace seke::metrics;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(plugin_metrics)

BOOST_AUTO_TEST_CASE(accuracy_and_macro_f1_by_hand) {
    std::vector<std::string> truth = {"a", "a", "b", "b", "c"};
    std::vector<std::string> pred = {"a", "b", "b", "b", "a"};
    BOOST_TEST(accuracy(truth, pred) == 0.6, tt::tolerance(1e-12));
    // a: tp1 fp1 fn1 → 0.5; b: tp2 fp1 fn0 → 0.8; c: tp0 fp0 fn1 → 0. Mean 1.3/3.
    BOOST_TEST(macro_f1(truth, pred, {"a", "b", "c", "d"}) == 1.3 / 3, tt::tolerance(1e-12));
    BOOST_TEST(accuracy({}, {}) == 0.0);
    BOOST_TEST(macro_f1({"a"}, {"a"}, {"a"}) == 1.0);
}

BOOST_AUTO_TEST_CASE(f1_degenerate) {
    BOOST_TEST(f1({0, 0, 0, 10}) == 0.0);
    BOOST_TEST(f1({3, 1, 2, 0}) == 6.0 / 9.0, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(ccc_by_hand) {
    BOOST_TEST(ccc({0.1, 0.5, -0.3}, {0.1, 0.5, -0.3}) == 1.0, tt::tolerance(1e-12));
    // x = (0, 1), y = (1, 2): mx .5 my 1.5, vx = vy = .25, cov .25 → 2*.25/(.5+1) = 1/3.
    BOOST_TEST(ccc({0, 1}, {1, 2}) == 1.0 / 3.0, tt::tolerance(1e-12));
    BOOST_TEST(ccc({0.2, 0.2}, {0.2, 0.2}) == 0.0);  // no variance at all
    BOOST_TEST(ccc({0.2}, {0.3}) == 0.0);
    BOOST_TEST(rmse({0, 0}, {3, 4}) == std::sqrt(12.5), tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(auroc_by_hand) {
    BOOST_TEST(auroc({0.1, 0.2, 0.8, 0.9}, {false, false, true, true}) == 1.0);
    BOOST_TEST(auroc({0.9, 0.8, 0.2, 0.1}, {false, false, true, true}) == 0.0);
    // one tie between a positive and a negative counts a half: pairs (p.5 vs n.5)=.5, (p.5 vs n.1)=1
    BOOST_TEST(auroc({0.5, 0.5, 0.1}, {true, false, false}) == 0.75, tt::tolerance(1e-12));
    BOOST_TEST(auroc({0.3, 0.4}, {true, true}) == 0.5);
}

BOOST_AUTO_TEST_SUITE_END()
