#pragma once
// What model tokens cost in money: a price per model, the one computation of a bill, and the cap
// that keeps a run within a budget. Pure arithmetic: no clock, file or socket.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "verify/errors.hpp"
#include "verify/labels.hpp"

namespace seke {

// USD per million tokens.
struct Price {
    double input = 0;           // prompt tokens the provider's prefix cache did not hold
    double cached_input = 0;    // prompt tokens read from the provider's prefix cache
    double output = 0;          // completion tokens
    double batch_discount = 0;  // share taken off every rate by the provider's batch API, in [0, 1)
    std::string as_of;          // when the price was read (YYYY-MM-DD); empty: given by the operator
};

// The date the shipped prices were read; they are examples to check against the provider's page.
inline constexpr const char* kShippedPricesAsOf = "2026-12-03";

// USD that `tokens` cost at `price`; `batch`: at the batch API's discount. Negative counts (a
// malformed sum) count as none.
[[nodiscard]] double cost_usd(const Price& price, const TokenCounts& tokens, bool batch = false) noexcept;
// The rates a batch pays: every rate less the batch discount (and no discount left to take), so
// that cost_usd(batch_rates(p), t) == cost_usd(p, t, true). For a cap on a batched run.
[[nodiscard]] Price batch_rates(const Price& price) noexcept;

// "2.5,1.25,10" or "2.5,1.25,10,0.5": input, cached input, output USD per million tokens, and
// the batch discount. Every rate finite and in [0, 10000], the discount in [0, 1).
Result<Price> parse_price(std::string_view text);
// The same checks on a price built field by field; `what` names it in the error.
Result<bool> check_price(const Price& price, const std::string& what);
// A price as parse_price reads it.
std::string price_text(const Price& price);

// Prices by model id, as the provider names the model in `vllm.model` (exact match).
class PriceTable {
  public:
    // The shipped examples (OpenAI's vision models as read on kShippedPricesAsOf).
    static PriceTable shipped();

    void set(const std::string& model, Price price);  // adds or overrides
    [[nodiscard]] const Price* find(std::string_view model) const;
    [[nodiscard]] const std::map<std::string, Price, std::less<>>& entries() const noexcept { return entries_; }

  private:
    std::map<std::string, Price, std::less<>> entries_;
};

// "$0.0123" for people: four decimals under $10, two above.
std::string format_usd(double usd);

// Caps on what one run may spend; unset: no cap.
struct SpendLimits {
    std::optional<double> max_usd;
    std::optional<std::int64_t> max_requests;  // model requests sent (response-cache hits are free)
    [[nodiscard]] bool any() const noexcept { return max_usd || max_requests; }
};

// Request by request, whether the next one may go out without the run passing a cap. A request
// is reserved before it is sent, at the most any request of its size has cost so far (before the
// first answer: the caller's upper guess), and settled with what it really cost. One owner thread.
class SpendCap {
  public:
    enum class Verdict {
        send,  // reserved: settle() it when the answer is back
        wait,  // does not fit now, but requests in flight may leave room: ask again after a settle
        stop,  // the cap is reached: nothing more goes out
    };
    struct Reservation {
        double usd = 0;
        std::int64_t requests = 0;
    };

    // `price` is needed for max_usd (the caller refuses a money cap without one).
    SpendCap(SpendLimits limits, std::optional<Price> price);

    // A request for `n` samples; `upper_guess`: its tokens at most, used until an answer is seen.
    Verdict reserve(int n, const TokenCounts& upper_guess, Reservation& reservation);
    // The reserved request is back: `paid` its tokens (none when it was not sent, as a
    // response-cache hit), `sent` whether the model was asked.
    void settle(const Reservation& reservation, int n, const TokenCounts& paid, bool sent);

    [[nodiscard]] double spent_usd() const noexcept { return spent_usd_; }
    [[nodiscard]] std::int64_t requests() const noexcept { return requests_; }
    // "max_cost" or "max_requests" once a request was refused; empty before.
    [[nodiscard]] const std::string& stopped_by() const noexcept { return stopped_by_; }

  private:
    [[nodiscard]] double estimate_usd(int n, const TokenCounts& upper_guess) const;

    SpendLimits limits_;
    std::optional<Price> price_;
    double spent_usd_ = 0;
    std::int64_t requests_ = 0;
    double reserved_usd_ = 0;
    std::int64_t reserved_requests_ = 0;
    // The dearest request seen: its prompt, and a completion per sample.
    std::optional<double> max_prompt_usd_;
    std::optional<double> max_sample_usd_;
    std::string stopped_by_;
};

}  // namespace seke
