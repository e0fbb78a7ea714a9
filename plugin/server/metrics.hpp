#pragma once
// A tiny thread-safe Prometheus registry: counters, gauges and fixed-bucket histograms with
// labels, rendered in the text exposition format (version 0.0.4) for GET /metrics.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seke::server {

using Labels = std::vector<std::pair<std::string, std::string>>;  // name → value, in order

// One labelled series of a family: found once (a map lookup under the family's lock), then
// bumped from any thread without a lock. A reference stays valid for the registry's life, so hot
// paths keep it instead of rendering their labels on every event.
class CounterSeries {
  public:
    void inc(double amount = 1.0) noexcept;  // negative amounts and NaN are ignored
    [[nodiscard]] double value() const noexcept { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<double> value_{0.0};
};

class GaugeSeries {
  public:
    void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
    void add(double amount) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
    [[nodiscard]] double value() const noexcept { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<double> value_{0.0};
};

class HistogramSeries {
  public:
    explicit HistogramSeries(const std::vector<double>& bounds);  // the family's bounds, which outlive it
    void observe(double value) noexcept;                          // NaN is ignored
    [[nodiscard]] std::uint64_t count() const noexcept;
    [[nodiscard]] double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

  private:
    friend class MetricsRegistry;
    const std::vector<double>& bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // per bound, not cumulative; last = above every bound
    std::atomic<double> sum_{0.0};
};

class Counter {
  public:
    CounterSeries& series(const Labels& labels = {});
    void inc(const Labels& labels = {}, double amount = 1.0) {
        if (amount >= 0) series(labels).inc(amount);  // a refused amount makes no series either
    }
    [[nodiscard]] double value(const Labels& labels = {}) const;

  private:
    friend class MetricsRegistry;
    mutable std::mutex mutex_;
    std::map<std::string, CounterSeries> series_;  // rendered label set → series
};

class Gauge {
  public:
    GaugeSeries& series(const Labels& labels = {});
    void set(double value, const Labels& labels = {}) { series(labels).set(value); }
    void add(double amount, const Labels& labels = {}) { series(labels).add(amount); }
    [[nodiscard]] double value(const Labels& labels = {}) const;

  private:
    friend class MetricsRegistry;
    mutable std::mutex mutex_;
    std::map<std::string, GaugeSeries> series_;
};

class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);  // sorted, deduplicated; +Inf is implicit
    HistogramSeries& series(const Labels& labels = {});
    void observe(double value, const Labels& labels = {}) { series(labels).observe(value); }
    [[nodiscard]] std::uint64_t count(const Labels& labels = {}) const;
    [[nodiscard]] double sum(const Labels& labels = {}) const;

  private:
    friend class MetricsRegistry;
    std::vector<double> bounds_;
    mutable std::mutex mutex_;
    std::map<std::string, HistogramSeries> series_;
};

// Seconds: 5 ms … 120 s, for request latency including slow model calls.
std::vector<double> default_duration_buckets();

class MetricsRegistry {
  public:
    // Get-or-create. References stay valid for the registry's life. Asking for an existing name
    // as another type throws std::logic_error (a programming error, found by the first test).
    Counter& counter(const std::string& name, const std::string& help);
    Gauge& gauge(const std::string& name, const std::string& help);
    Histogram& histogram(const std::string& name, const std::string& help,
                         std::vector<double> bounds = default_duration_buckets());

    // Families sorted by name, series by label set: stable output for tests and diffs.
    [[nodiscard]] std::string render() const;

  private:
    enum class Kind { counter, gauge, histogram };
    struct Family {
        Kind kind;
        std::string help;
        std::unique_ptr<Counter> counter;
        std::unique_ptr<Gauge> gauge;
        std::unique_ptr<Histogram> histogram;
    };
    Family& family(const std::string& name, const std::string& help, Kind kind);
    mutable std::mutex mutex_;
    std::map<std::string, Family> families_;
};

// Prometheus label value escaping: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);
// {a="1",b="x"} (empty string for no labels).
std::string format_labels(const Labels& labels);
// Sample value: integers without a fraction, otherwise shortest round-trip; +Inf, -Inf, NaN.
std::string format_metric_value(double value);

}  // namespace seke::server
