#include "verify/cost.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace seke {
namespace {

constexpr double kMaxRate = 10'000;  // USD per million tokens: far above any price, below nonsense

double per_token(double per_million) {
    return per_million / 1e6;
}

}  // namespace

double cost_usd(const Price& price, const TokenCounts& tokens, bool batch) noexcept {
    const auto prompt = static_cast<double>(std::max<std::int64_t>(0, tokens.prompt));
    const double cached = std::clamp(static_cast<double>(tokens.cached_prompt), 0.0, prompt);
    const auto completion = static_cast<double>(std::max<std::int64_t>(0, tokens.completion));
    double usd = (prompt - cached) * per_token(price.input) + cached * per_token(price.cached_input) +
                 completion * per_token(price.output);
    if (batch) usd *= 1 - price.batch_discount;
    return usd;
}

Price batch_rates(const Price& price) noexcept {
    Price rates = price;
    const double keep = 1 - price.batch_discount;
    rates.input *= keep;
    rates.cached_input *= keep;
    rates.output *= keep;
    rates.batch_discount = 0;
    return rates;
}

Result<bool> check_price(const Price& price, const std::string& what) {
    for (double rate : {price.input, price.cached_input, price.output})
        if (!std::isfinite(rate) || rate < 0 || rate > kMaxRate)
            return make_error(errc::config_error, what + ": a rate must be between 0 and 10000 USD per million tokens");
    if (!std::isfinite(price.batch_discount) || price.batch_discount < 0 || price.batch_discount >= 1)
        return make_error(errc::config_error, what + ": the batch discount must be at least 0 and below 1");
    return true;
}

Result<Price> parse_price(std::string_view text) {
    std::vector<double> numbers;
    std::size_t start = 0;
    while (start <= text.size() && numbers.size() < 5) {
        std::size_t end = std::min(text.find(',', start), text.size());
        std::string field(text.substr(start, end - start));
        errno = 0;
        char* stop = nullptr;
        double value = std::strtod(field.c_str(), &stop);
        if (field.empty() || *stop != '\0' || errno == ERANGE)
            return make_error(errc::config_error, "price \"" + std::string(text).substr(0, 80) +
                                                      "\": expected INPUT,CACHED_INPUT,OUTPUT[,BATCH_DISCOUNT]");
        numbers.push_back(value);
        start = end + 1;
    }
    if (numbers.size() < 3 || numbers.size() > 4)
        return make_error(errc::config_error, "price \"" + std::string(text).substr(0, 80) +
                                                  "\": expected INPUT,CACHED_INPUT,OUTPUT[,BATCH_DISCOUNT]");
    Price price{numbers[0], numbers[1], numbers[2], numbers.size() == 4 ? numbers[3] : 0.0, {}};
    if (auto checked = check_price(price, "price \"" + std::string(text) + "\""); !checked) return checked.error();
    return price;
}

std::string price_text(const Price& price) {
    char buffer[160];
    std::snprintf(buffer, sizeof buffer, "%g,%g,%g,%g", price.input, price.cached_input, price.output,
                  price.batch_discount);
    return buffer;
}

PriceTable PriceTable::shipped() {
    // OpenAI's list prices in USD per million tokens, read on kShippedPricesAsOf from public copies
    // of its pricing page. Examples to check, not a bill: prices change and differ by region and
    // contract. The batch API takes half off.
    PriceTable table;
    auto add = [&](const char* model, double input, double cached, double output) {
        table.set(model, Price{input, cached, output, 0.5, kShippedPricesAsOf});
    };
    add("gpt-4o", 2.50, 1.25, 10.00);
    add("gpt-4o-mini", 0.15, 0.075, 0.60);
    add("gpt-4.1", 2.00, 0.50, 8.00);
    add("gpt-4.1-mini", 0.40, 0.10, 1.60);
    return table;
}

void PriceTable::set(const std::string& model, Price price) {
    entries_[model] = std::move(price);
}

const Price* PriceTable::find(std::string_view model) const {
    auto found = entries_.find(model);
    return found == entries_.end() ? nullptr : &found->second;
}

std::string format_usd(double usd) {
    char buffer[64];
    if (!std::isfinite(usd)) return "$?";
    std::snprintf(buffer, sizeof buffer, std::fabs(usd) < 10 ? "$%.4f" : "$%.2f", usd);
    return buffer;
}

SpendCap::SpendCap(SpendLimits limits, std::optional<Price> price) : limits_(limits), price_(std::move(price)) {}

double SpendCap::estimate_usd(int n, const TokenCounts& upper_guess) const {
    if (!price_) return 0;
    if (max_prompt_usd_ && max_sample_usd_) return *max_prompt_usd_ + n * *max_sample_usd_;
    return cost_usd(*price_, upper_guess);
}

SpendCap::Verdict SpendCap::reserve(int n, const TokenCounts& upper_guess, Reservation& reservation) {
    if (!stopped_by_.empty()) return Verdict::stop;
    n = std::max(1, n);
    const double usd = estimate_usd(n, upper_guess);
    const bool requests_fit = !limits_.max_requests || requests_ + reserved_requests_ + 1 <= *limits_.max_requests;
    const bool money_fits = !limits_.max_usd || spent_usd_ + reserved_usd_ + usd <= *limits_.max_usd;
    if (requests_fit && money_fits) {
        reservation = {usd, 1};
        reserved_usd_ += usd;
        reserved_requests_ += 1;
        return Verdict::send;
    }
    // Requests in flight may come back from the response cache (free) or cheaper than reserved.
    if (reserved_requests_ > 0) return Verdict::wait;
    stopped_by_ = requests_fit ? "max_cost" : "max_requests";
    return Verdict::stop;
}

void SpendCap::settle(const Reservation& reservation, int n, const TokenCounts& paid, bool sent) {
    reserved_usd_ = std::max(0.0, reserved_usd_ - reservation.usd);
    reserved_requests_ = std::max<std::int64_t>(0, reserved_requests_ - reservation.requests);
    if (!sent) return;
    ++requests_;
    if (!price_) return;
    const double prompt_usd = cost_usd(*price_, {paid.prompt, paid.cached_prompt, 0});
    const double completion_usd = cost_usd(*price_, {0, 0, paid.completion});
    spent_usd_ += prompt_usd + completion_usd;
    const double per_sample = completion_usd / std::max(1, n);
    max_prompt_usd_ = std::max(max_prompt_usd_.value_or(0.0), prompt_usd);
    max_sample_usd_ = std::max(max_sample_usd_.value_or(0.0), per_sample);
}

}  // namespace seke
