#pragma once
// A tiny thread-safe Prometheus registry: counters, gauges and fixed-bucket histograms with
// labels, rendered in the text exposition format (version 0.0.4) for GET /metrics.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seke::server {

using Labels = std::vector<std::pair<std::string, std::string>>;  // name → value, in order

class Counter {
  public:
    void inc(const Labels& labels = {}, double amount = 1.0);  // negative amounts are ignored
    [[nodiscard]] double value(const Labels& labels = {}) const;

  private:
    friend class MetricsRegistry;
    mutable std::mutex mutex_;
    std::map<std::string, double> series_;  // rendered label set → value
};

class Gauge {
  public:
    void set(double value, const Labels& labels = {});
    void add(double amount, const Labels& labels = {});
    [[nodiscard]] double value(const Labels& labels = {}) const;

  private:
    friend class MetricsRegistry;
    mutable std::mutex mutex_;
    std::map<std::string, double> series_;
};

class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);  // sorted, deduplicated; +Inf is implicit
    void observe(double value, const Labels& labels = {});
    [[nodiscard]] std::uint64_t count(const Labels& labels = {}) const;
    [[nodiscard]] double sum(const Labels& labels = {}) const;

  private:
    friend class MetricsRegistry;
    struct Series {
        std::vector<std::uint64_t> buckets;  // per bound, not cumulative; last = above every bound
        double sum = 0.0;
        std::uint64_t count = 0;
    };
    std::vector<double> bounds_;
    mutable std::mutex mutex_;
    std::map<std::string, Series> series_;
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
