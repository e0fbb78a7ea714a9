#include "verify/cost.hpp"  // first: the header is self-contained

#include <boost/test/unit_test.hpp>

using namespace seke;

namespace {

const Price kPrice{2.0, 0.5, 8.0, 0.5, {}};  // USD per million tokens

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_cost)

BOOST_AUTO_TEST_CASE(cached_prompt_tokens_are_billed_at_the_cached_rate) {
    // 1M prompt tokens of which 400k cached, 100k completion tokens.
    const TokenCounts tokens{1'000'000, 400'000, 100'000};
    BOOST_TEST(cost_usd(kPrice, tokens) == 0.6 * 2.0 + 0.4 * 0.5 + 0.1 * 8.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(cost_usd(kPrice, tokens, true) == (1.2 + 0.2 + 0.8) / 2, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(cost_usd(kPrice, {}) == 0.0);
}

BOOST_AUTO_TEST_CASE(nonsense_counts_cost_nothing_rather_than_a_negative_bill) {
    BOOST_TEST(cost_usd(kPrice, {-5, -1, -7}) == 0.0);
    // More cached than prompt: every prompt token at the cached rate, no more.
    BOOST_TEST(cost_usd(kPrice, {1'000'000, 2'000'000, 0}) == 0.5, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(the_paid_tokens_leave_out_the_response_cache) {
    Cost cost;
    cost.prompt_tokens = 300;
    cost.cached_prompt_tokens = 120;
    cost.completion_tokens = 90;
    cost.reused = {100, 20, 30};
    Cost more = cost;
    cost += more;
    const TokenCounts paid = cost.paid();
    BOOST_TEST(paid.prompt == 400);
    BOOST_TEST(paid.cached_prompt == 200);
    BOOST_TEST(paid.completion == 120);
}

BOOST_AUTO_TEST_CASE(a_price_is_read_from_three_or_four_numbers) {
    auto price = parse_price("2.5,1.25,10");
    BOOST_TEST_REQUIRE(price.ok());
    BOOST_TEST(price->input == 2.5);
    BOOST_TEST(price->cached_input == 1.25);
    BOOST_TEST(price->output == 10.0);
    BOOST_TEST(price->batch_discount == 0.0);
    auto batch = parse_price("1,0.1,4,0.5");
    BOOST_TEST_REQUIRE(batch.ok());
    BOOST_TEST(batch->batch_discount == 0.5);
    auto again = parse_price(price_text(*batch));
    BOOST_TEST_REQUIRE(again.ok());
    BOOST_TEST(again->output == 4.0);
    for (const char* bad :
         {"", "1,2", "1,2,3,0.5,9", "a,b,c", "1,,3", "-1,0,1", "1,0,1,1", "1,0,1e400", "nan,0,1", "1,0,20000"})
        BOOST_TEST(!parse_price(bad).ok(), bad);
}

BOOST_AUTO_TEST_CASE(the_shipped_table_is_dated_and_overridable) {
    PriceTable table = PriceTable::shipped();
    const Price* gpt4o = table.find("gpt-4o");
    BOOST_TEST_REQUIRE(gpt4o != nullptr);
    BOOST_TEST(gpt4o->as_of == kShippedPricesAsOf);
    BOOST_TEST(gpt4o->cached_input < gpt4o->input);
    BOOST_TEST(table.find("no-such-model") == nullptr);
    BOOST_TEST(table.find("GPT-4O") == nullptr);  // model ids are matched exactly
    table.set("gpt-4o", Price{1, 1, 1, 0, {}});
    BOOST_TEST(table.find("gpt-4o")->input == 1.0);
    BOOST_TEST(table.find("gpt-4o")->as_of.empty());
    const PriceTable shipped = PriceTable::shipped();
    for (const auto& [model, price] : shipped.entries()) BOOST_TEST(check_price(price, model).ok(), model);
}

BOOST_AUTO_TEST_CASE(money_reads_to_a_hundredth_of_a_cent) {
    BOOST_TEST(format_usd(0.012345) == "$0.0123");
    BOOST_TEST(format_usd(12.345) == "$12.35");
    BOOST_TEST(format_usd(0) == "$0.0000");
}

BOOST_AUTO_TEST_CASE(a_request_cap_counts_only_requests_sent) {
    SpendCap cap({std::nullopt, 2}, std::nullopt);
    SpendCap::Reservation a, b, c;
    BOOST_TEST((cap.reserve(3, {}, a) == SpendCap::Verdict::send));
    BOOST_TEST((cap.reserve(3, {}, b) == SpendCap::Verdict::send));
    // Both in flight: a third waits, since one may come back from the response cache.
    BOOST_TEST((cap.reserve(3, {}, c) == SpendCap::Verdict::wait));
    cap.settle(a, 3, {}, false);  // a response-cache hit: free
    BOOST_TEST((cap.reserve(3, {}, c) == SpendCap::Verdict::send));
    cap.settle(b, 3, {10, 0, 5}, true);
    cap.settle(c, 3, {10, 0, 5}, true);
    BOOST_TEST(cap.requests() == 2);
    BOOST_TEST(cap.stopped_by().empty());
    SpendCap::Reservation d;
    BOOST_TEST((cap.reserve(1, {}, d) == SpendCap::Verdict::stop));
    BOOST_TEST(cap.stopped_by() == "max_requests");
    BOOST_TEST((cap.reserve(1, {}, d) == SpendCap::Verdict::stop));  // stays stopped
}

BOOST_AUTO_TEST_CASE(a_money_cap_stops_before_the_next_request_would_pass_it) {
    const Price price{1.0, 0.1, 10.0, 0, {}};  // $1 / $10 per million
    // 1000 prompt tokens = $0.001, 100 completion tokens per sample = $0.001.
    SpendCap cap({0.0105, std::nullopt}, price);
    const TokenCounts guess{1000, 0, 1000};  // an upper guess: $0.011, over the cap alone
    SpendCap::Reservation r;
    // Before any answer the guess is all there is: it does not fit, and nothing is in flight.
    SpendCap fresh({0.0105, std::nullopt}, price);
    BOOST_TEST((fresh.reserve(1, guess, r) == SpendCap::Verdict::stop));
    BOOST_TEST(fresh.stopped_by() == "max_cost");

    // With a smaller guess the first goes; after it, the dearest request seen is the estimate.
    BOOST_TEST((cap.reserve(2, {1000, 0, 200}, r) == SpendCap::Verdict::send));
    cap.settle(r, 2, {1000, 0, 200}, true);  // $0.001 + $0.002
    BOOST_TEST(cap.spent_usd() == 0.003, boost::test_tools::tolerance(1e-12));
    int sent = 1;
    while (cap.reserve(2, guess, r) == SpendCap::Verdict::send) {
        cap.settle(r, 2, {1000, 0, 200}, true);
        ++sent;
    }
    // Three requests of $0.003 fit in $0.0105, a fourth would pass it.
    BOOST_TEST(sent == 3);
    BOOST_TEST(cap.spent_usd() <= 0.0105);
    BOOST_TEST(cap.stopped_by() == "max_cost");
}

BOOST_AUTO_TEST_CASE(cached_prompt_tokens_make_the_next_estimate_cheaper_only_when_seen) {
    const Price price{1.0, 0.1, 0.0, 0, {}};
    SpendCap cap({1.0, std::nullopt}, price);
    SpendCap::Reservation r;
    BOOST_TEST((cap.reserve(1, {1000, 0, 0}, r) == SpendCap::Verdict::send));
    cap.settle(r, 1, {1000, 900, 0}, true);
    BOOST_TEST(cap.spent_usd() == (100 * 1.0 + 900 * 0.1) / 1e6, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()
