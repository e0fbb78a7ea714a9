// ClaimRenewer: the claims a process holds are made again on time while held, and never after
// they are dropped (a renewal must not undo the release that follows the drop).
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "connectors/claim_renewer.hpp"

using namespace seke;
using namespace std::chrono_literals;

namespace {

// Renewals counted per key, as the store would see them.
struct Renewals {
    std::mutex mutex;
    std::map<std::string, int> count;
    ClaimRenewer::Renew renew() {
        return [this](const std::string& key) {
            std::lock_guard lock(mutex);
            ++count[key];
        };
    }
    int of(const std::string& key) {
        std::lock_guard lock(mutex);
        return count[key];
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(connectors_claim_renewer)

BOOST_AUTO_TEST_CASE(held_claims_are_renewed_each_round_and_dropped_ones_never_again) {
    Renewals renewals;
    ClaimRenewer renewer(renewals.renew(), {}, 50ms);
    renewer.hold("a");
    renewer.hold("b");
    std::this_thread::sleep_for(280ms);
    BOOST_TEST(renewals.of("a") >= 3);  // about five rounds of 50 ms
    BOOST_TEST(renewals.of("a") <= 6);
    BOOST_TEST(renewals.of("b") >= 3);
    renewer.drop("b");
    const int b_at_drop = renewals.of("b");
    std::this_thread::sleep_for(200ms);
    BOOST_TEST(renewals.of("b") == b_at_drop);  // none after drop returned
    BOOST_TEST(renewals.of("a") > b_at_drop);
    BOOST_TEST(renewer.held() == 1u);
}

BOOST_AUTO_TEST_CASE(a_claim_held_twice_is_renewed_until_dropped_twice) {
    Renewals renewals;
    ClaimRenewer renewer(renewals.renew(), {}, 40ms);
    renewer.hold("k");
    renewer.hold("k");
    renewer.drop("k");
    std::this_thread::sleep_for(150ms);
    BOOST_TEST(renewals.of("k") >= 2);
    renewer.drop("k");
    const int at_drop = renewals.of("k");
    std::this_thread::sleep_for(120ms);
    BOOST_TEST(renewals.of("k") == at_drop);
    BOOST_TEST(renewer.held() == 0u);
}

BOOST_AUTO_TEST_CASE(a_drop_waits_for_a_renewal_in_flight_of_its_key) {
    std::atomic<bool> in_renewal{false};
    std::atomic<bool> renewal_done{false};
    ClaimRenewer renewer(
        [&](const std::string&) {
            in_renewal = true;
            std::this_thread::sleep_for(150ms);  // a slow round trip to the database
            renewal_done = true;
        },
        {}, 20ms);
    renewer.hold("slow");
    while (!in_renewal) std::this_thread::sleep_for(1ms);
    renewer.drop("slow");
    BOOST_TEST(renewal_done.load());  // the release that follows cannot be overtaken by it
}

BOOST_AUTO_TEST_CASE(a_failed_renewal_is_logged_and_the_claim_stays_held) {
    std::mutex mutex;
    std::string logged;
    std::atomic<int> tries{0};
    ClaimRenewer renewer(
        [&](const std::string&) {
            ++tries;
            throw std::runtime_error("database unreachable");
        },
        [&](const std::string& line) {
            std::lock_guard lock(mutex);
            logged = line;
        },
        30ms);
    renewer.hold("k");
    std::this_thread::sleep_for(150ms);
    BOOST_TEST(tries.load() >= 2);  // tried again the next round
    std::lock_guard lock(mutex);
    BOOST_TEST(logged.find("database unreachable") != std::string::npos, logged);
}

BOOST_AUTO_TEST_CASE(claims_outlive_their_renewals_several_times_over) {
    BOOST_TEST(kClaimLength.count() >= 4 * kClaimRenewal.count());
    BOOST_TEST(kClaimRecheck.count() < kClaimRenewal.count());
}

BOOST_AUTO_TEST_SUITE_END()
