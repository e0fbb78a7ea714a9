#define BOOST_TEST_MODULE seke
#include <boost/test/unit_test.hpp>
