#include "plugin/server/metrics.hpp"  // first: the header is self-contained

#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

using namespace seke::server;

BOOST_AUTO_TEST_SUITE(server_metrics)

BOOST_AUTO_TEST_CASE(counter_and_gauge_render) {
    MetricsRegistry registry;
    auto& requests = registry.counter("app_requests_total", "Requests.\nSecond line \\ here.");
    requests.inc({{"method", "GET"}, {"path", "/a\"b\\c\nd"}});
    requests.inc({{"method", "GET"}, {"path", "/a\"b\\c\nd"}}, 2);
    requests.inc({{"method", "POST"}, {"path", "/p"}}, 0.5);
    requests.inc({}, -3);  // ignored: counters only go up
    auto& open = registry.gauge("app_open", "Open things.");
    open.set(4);
    open.add(-1.5);

    auto text = registry.render();
    BOOST_TEST_MESSAGE(text);
    const std::string expected =
        "# HELP app_open Open things.\n"
        "# TYPE app_open gauge\n"
        "app_open 2.5\n"
        "# HELP app_requests_total Requests.\\nSecond line \\\\ here.\n"
        "# TYPE app_requests_total counter\n"
        "app_requests_total{method=\"GET\",path=\"/a\\\"b\\\\c\\nd\"} 3\n"
        "app_requests_total{method=\"POST\",path=\"/p\"} 0.5\n";
    BOOST_TEST(text == expected);
    BOOST_TEST(requests.value({{"method", "GET"}, {"path", "/a\"b\\c\nd"}}) == 3.0);
    BOOST_TEST(open.value() == 2.5);
}

BOOST_AUTO_TEST_CASE(a_kept_series_is_the_one_rendered) {
    MetricsRegistry registry;
    auto& requests = registry.counter("app_requests_total", "Requests.");
    CounterSeries& get = requests.series({{"method", "GET"}});
    get.inc();
    get.inc(2);
    get.inc(-1);                        // ignored
    requests.inc({{"method", "GET"}});  // the same series, found by its labels
    BOOST_TEST(get.value() == 4.0);
    BOOST_TEST(&requests.series({{"method", "GET"}}) == &get);
    auto& open = registry.gauge("app_open", "Open.").series();
    open.add(3);
    open.add(-1);
    auto& latency = registry.histogram("app_seconds", "Latency.", {0.1, 1}).series({{"route", "/a"}});
    latency.observe(0.05);
    latency.observe(5);
    latency.observe(std::nan(""));  // ignored
    BOOST_TEST(latency.count() == 2u);
    auto text = registry.render();
    BOOST_TEST(text.find("app_requests_total{method=\"GET\"} 4\n") != std::string::npos);
    BOOST_TEST(text.find("app_open 2\n") != std::string::npos);
    BOOST_TEST(text.find("app_seconds_bucket{route=\"/a\",le=\"0.1\"} 1\n") != std::string::npos);
    BOOST_TEST(text.find("app_seconds_bucket{route=\"/a\",le=\"+Inf\"} 2\n") != std::string::npos);
    BOOST_TEST(text.find("app_seconds_count{route=\"/a\"} 2\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(histogram_render) {
    MetricsRegistry registry;
    auto& latency = registry.histogram("rt_seconds", "Latency.", {0.125, 1, 0.5});
    for (double v : {0.0625, 0.125, 0.25, 2.0}) latency.observe(v, {{"route", "/x"}});
    latency.observe(std::nan(""), {{"route", "/x"}});  // ignored
    auto text = registry.render();
    const std::string expected =
        "# HELP rt_seconds Latency.\n"
        "# TYPE rt_seconds histogram\n"
        "rt_seconds_bucket{route=\"/x\",le=\"0.125\"} 2\n"
        "rt_seconds_bucket{route=\"/x\",le=\"0.5\"} 3\n"
        "rt_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
        "rt_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
        "rt_seconds_sum{route=\"/x\"} 2.4375\n"
        "rt_seconds_count{route=\"/x\"} 4\n";
    BOOST_TEST(text == expected);
    BOOST_TEST(latency.count({{"route", "/x"}}) == 4u);

    MetricsRegistry plain;
    plain.histogram("h", "H.", {1}).observe(0.5);
    BOOST_TEST(plain.render().find("h_bucket{le=\"1\"} 1\n") != std::string::npos);
    BOOST_TEST(plain.render().find("h_count 1\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(values_and_type_clash) {
    BOOST_TEST(format_metric_value(1) == "1");
    BOOST_TEST(format_metric_value(0.25) == "0.25");
    BOOST_TEST(format_metric_value(INFINITY) == "+Inf");
    BOOST_TEST(format_metric_value(-INFINITY) == "-Inf");
    BOOST_TEST(format_metric_value(std::nan("")) == "NaN");
    MetricsRegistry registry;
    registry.counter("x", "X.");
    BOOST_CHECK_THROW(registry.gauge("x", "X."), std::logic_error);
    BOOST_TEST(&registry.counter("x", "X.") == &registry.counter("x", "other help"));
}

BOOST_AUTO_TEST_CASE(thread_safe_updates) {
    MetricsRegistry registry;
    auto& counter = registry.counter("c_total", "C.");
    auto& histogram = registry.histogram("h_seconds", "H.");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 1000; ++i) {
                counter.inc({{"t", std::to_string(t % 2)}});
                histogram.observe(0.01);
                if (i % 100 == 0) (void)registry.render();
            }
        });
    for (auto& thread : threads) thread.join();
    BOOST_TEST(counter.value({{"t", "0"}}) == 2000.0);
    BOOST_TEST(counter.value({{"t", "1"}}) == 2000.0);
    BOOST_TEST(histogram.count() == 4000u);
}

BOOST_AUTO_TEST_SUITE_END()
