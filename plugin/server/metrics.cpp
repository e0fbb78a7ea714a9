#include "plugin/server/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace seke::server {

namespace {

std::string escape_help(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else out.push_back(c);
    }
    return out;
}

// `labels` already rendered as {a="1"}; adds one more label inside the braces.
std::string with_label(const std::string& labels, const std::string& name, const std::string& value) {
    std::string extra = name + "=\"" + escape_label_value(value) + "\"";
    if (labels.empty()) return "{" + extra + "}";
    return labels.substr(0, labels.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out.push_back(c);
    }
    return out;
}

std::string format_labels(const Labels& labels) {
    if (labels.empty()) return {};
    std::string out = "{";
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i) out += ",";
        out += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
    }
    return out + "}";
}

std::string format_metric_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (value == std::floor(value) && std::fabs(value) < 1e15) return std::to_string(static_cast<long long>(value));
    char buffer[64];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

std::vector<double> default_duration_buckets() {
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}

void CounterSeries::inc(double amount) noexcept {
    if (!(amount >= 0)) return;  // counters only go up; also drops NaN
    value_.fetch_add(amount, std::memory_order_relaxed);
}

HistogramSeries::HistogramSeries(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {}

void HistogramSeries::observe(double value) noexcept {
    if (std::isnan(value)) return;
    // Upper bounds are inclusive ("le"): the first bound >= value.
    auto index = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    buckets_[index].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

std::uint64_t HistogramSeries::count() const noexcept {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) total += buckets_[i].load(std::memory_order_relaxed);
    return total;
}

CounterSeries& Counter::series(const Labels& labels) {
    auto key = format_labels(labels);
    std::lock_guard lock(mutex_);
    return series_[key];
}

double Counter::value(const Labels& labels) const {
    std::lock_guard lock(mutex_);
    auto it = series_.find(format_labels(labels));
    return it == series_.end() ? 0.0 : it->second.value();
}

GaugeSeries& Gauge::series(const Labels& labels) {
    auto key = format_labels(labels);
    std::lock_guard lock(mutex_);
    return series_[key];
}

double Gauge::value(const Labels& labels) const {
    std::lock_guard lock(mutex_);
    auto it = series_.find(format_labels(labels));
    return it == series_.end() ? 0.0 : it->second.value();
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
    std::erase_if(bounds_, [](double b) { return !std::isfinite(b); });
    std::sort(bounds_.begin(), bounds_.end());
    bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
}

HistogramSeries& Histogram::series(const Labels& labels) {
    auto key = format_labels(labels);
    std::lock_guard lock(mutex_);
    return series_.try_emplace(key, bounds_).first->second;
}

std::uint64_t Histogram::count(const Labels& labels) const {
    std::lock_guard lock(mutex_);
    auto it = series_.find(format_labels(labels));
    return it == series_.end() ? 0 : it->second.count();
}

double Histogram::sum(const Labels& labels) const {
    std::lock_guard lock(mutex_);
    auto it = series_.find(format_labels(labels));
    return it == series_.end() ? 0.0 : it->second.sum();
}

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help, Kind kind) {
    auto [it, inserted] = families_.try_emplace(name);
    if (inserted) {
        it->second.kind = kind;
        it->second.help = help;
    } else if (it->second.kind != kind) {
        throw std::logic_error("metric " + name + " is already registered with another type");
    }
    return it->second;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help) {
    std::lock_guard lock(mutex_);
    auto& f = family(name, help, Kind::counter);
    if (!f.counter) f.counter = std::make_unique<Counter>();
    return *f.counter;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help) {
    std::lock_guard lock(mutex_);
    auto& f = family(name, help, Kind::gauge);
    if (!f.gauge) f.gauge = std::make_unique<Gauge>();
    return *f.gauge;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help, std::vector<double> bounds) {
    std::lock_guard lock(mutex_);
    auto& f = family(name, help, Kind::histogram);
    if (!f.histogram) f.histogram = std::make_unique<Histogram>(std::move(bounds));
    return *f.histogram;
}

std::string MetricsRegistry::render() const {
    std::string out;
    std::lock_guard lock(mutex_);
    for (const auto& [name, f] : families_) {
        out += "# HELP " + name + " " + escape_help(f.help) + "\n";
        switch (f.kind) {
            case Kind::counter: {
                out += "# TYPE " + name + " counter\n";
                std::lock_guard series_lock(f.counter->mutex_);
                for (const auto& [labels, series] : f.counter->series_)
                    out += name + labels + " " + format_metric_value(series.value()) + "\n";
                break;
            }
            case Kind::gauge: {
                out += "# TYPE " + name + " gauge\n";
                std::lock_guard series_lock(f.gauge->mutex_);
                for (const auto& [labels, series] : f.gauge->series_)
                    out += name + labels + " " + format_metric_value(series.value()) + "\n";
                break;
            }
            case Kind::histogram: {
                out += "# TYPE " + name + " histogram\n";
                const auto& h = *f.histogram;
                std::lock_guard series_lock(h.mutex_);
                for (const auto& [labels, series] : h.series_) {
                    // Events may land while this runs: the count is the buckets' own total, so
                    // the +Inf bucket and _count agree with the buckets shown.
                    std::uint64_t cumulative = 0;
                    for (std::size_t i = 0; i < h.bounds_.size(); ++i) {
                        cumulative += series.buckets_[i].load(std::memory_order_relaxed);
                        out += name + "_bucket" + with_label(labels, "le", format_metric_value(h.bounds_[i])) + " " +
                               std::to_string(cumulative) + "\n";
                    }
                    cumulative += series.buckets_[h.bounds_.size()].load(std::memory_order_relaxed);
                    out +=
                        name + "_bucket" + with_label(labels, "le", "+Inf") + " " + std::to_string(cumulative) + "\n";
                    out += name + "_sum" + labels + " " + format_metric_value(series.sum()) + "\n";
                    out += name + "_count" + labels + " " + std::to_string(cumulative) + "\n";
                }
                break;
            }
        }
    }
    return out;
}

}  // namespace seke::server
