#include <boost/test/unit_test.hpp>

#include "plugin/config/config.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;

namespace {

const std::map<std::string, std::string> kEndpoint{{"OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"}};

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_config_cost)

BOOST_AUTO_TEST_CASE(the_default_model_has_a_shipped_price) {
    auto loaded = load_config({}, kEndpoint);
    BOOST_TEST_REQUIRE(loaded.ok());
    auto price = model_price(loaded->config);
    BOOST_TEST_REQUIRE(price.has_value());
    BOOST_TEST(price->as_of == kShippedPricesAsOf);
    BOOST_TEST(!spend_limits(loaded->config).any());
}

BOOST_AUTO_TEST_CASE(an_unknown_model_has_no_price_until_one_is_given) {
    auto unknown = load_config({"--model", "my-local-vlm"}, kEndpoint);
    BOOST_TEST_REQUIRE(unknown.ok());
    BOOST_TEST(!model_price(unknown->config).has_value());

    auto flagged = load_config({"--model", "my-local-vlm", "--price", "0.2,0.02,0.8"}, kEndpoint);
    BOOST_TEST_REQUIRE(flagged.ok());
    auto price = model_price(flagged->config);
    BOOST_TEST_REQUIRE(price.has_value());
    BOOST_TEST(price->output == 0.8);
    BOOST_TEST(price->as_of.empty());

    // SEKE_PRICE is the same option; a price for the configured model beats its table entry.
    auto env = std::map<std::string, std::string>(kEndpoint);
    env["SEKE_PRICE"] = "1,0.5,2,0.5";
    auto over = load_config({"--model", "gpt-4o"}, env);
    BOOST_TEST_REQUIRE(over.ok());
    BOOST_TEST(model_price(over->config)->input == 1.0);
    BOOST_TEST(model_price(over->config)->batch_discount == 0.5);
}

BOOST_AUTO_TEST_CASE(the_config_file_adds_and_overrides_prices_as_an_object) {
    test::TempDir dir;
    test::write_file(dir / "seke.json", R"({"vllm": {"model": "qwen2.5-vl-7b"},
        "cost": {"prices": {"qwen2.5-vl-7b": {"input": 0.1, "cached_input": 0.05, "output": 0.3},
                            "gpt-4o": {"input": 9, "cached_input": 9, "output": 9, "batch_discount": 0.25}},
                 "max_cost": 2.5, "max_requests": 100}})");
    auto loaded = load_config({"--config", (dir / "seke.json").string()}, kEndpoint);
    BOOST_TEST_REQUIRE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
    const Config& config = loaded->config;
    BOOST_TEST(model_price(config)->cached_input == 0.05);
    BOOST_TEST(config.cost.prices.find("gpt-4o")->batch_discount == 0.25);
    BOOST_TEST(config.cost.prices.find("gpt-4o-mini") != nullptr);  // the other shipped entries stay
    const SpendLimits limits = spend_limits(config);
    BOOST_TEST(limits.max_usd.value_or(0) == 2.5);
    BOOST_TEST(limits.max_requests.value_or(0) == 100);
    // The dump writes the entries back as an object, and reads again.
    auto dumped = nlohmann::json::parse(dump_config_json(config));
    BOOST_TEST(dumped["cost"]["prices"].is_object());
    BOOST_TEST(dumped["cost"]["prices"]["qwen2.5-vl-7b"]["output"] == 0.3);
    test::write_file(dir / "again.json", dumped.dump());
    auto again = load_config({"--config", (dir / "again.json").string()}, kEndpoint);
    BOOST_TEST_REQUIRE(again.ok());
    BOOST_TEST(model_price(again->config)->output == 0.3);
}

BOOST_AUTO_TEST_CASE(bad_prices_are_refused_with_the_option_named) {
    for (const char* bad :
         {R"({"m": {"input": 1, "output": 2}})", R"({"m": {"input": "1", "cached_input": 0, "output": 2}})",
          R"({"m": {"input": -1, "cached_input": 0, "output": 2}})",
          R"({"m": {"input": 1, "cached_input": 0, "output": 2, "batch_discount": 1}})",
          R"({"m": {"input": 1, "cached_input": 0, "output": 2, "tip": 3}})", R"({"m": 5})", R"([1, 2])", "not json",
          R"({"": {"input": 1, "cached_input": 0, "output": 2}})"}) {
        auto loaded = load_config({"--prices", bad}, kEndpoint);
        BOOST_TEST_REQUIRE(!loaded.ok(), bad);
        BOOST_TEST(loaded.error().message.find("cost.prices") != std::string::npos, loaded.error().message);
    }
    auto price = load_config({"--price", "1,2"}, kEndpoint);
    BOOST_TEST_REQUIRE(!price.ok());
    BOOST_TEST(price.error().message.find("cost.price") != std::string::npos);
    BOOST_TEST(!load_config({"--max-cost", "-1"}, kEndpoint).ok());
    BOOST_TEST(!load_config({"--max-requests", "-1"}, kEndpoint).ok());
}

BOOST_AUTO_TEST_CASE(a_money_cap_needs_a_price) {
    auto no_price = load_config({"--model", "my-local-vlm", "--max-cost", "5"}, kEndpoint);
    BOOST_TEST_REQUIRE(!no_price.ok());
    BOOST_TEST(no_price.error().message.find("cost.max_cost") != std::string::npos);
    BOOST_TEST(no_price.error().message.find("my-local-vlm") != std::string::npos);
    BOOST_TEST(load_config({"--model", "my-local-vlm", "--max-cost", "5", "--price", "1,1,1"}, kEndpoint).ok());
    // A request cap needs none; nor does the expert provider, which sends nothing.
    BOOST_TEST(load_config({"--model", "my-local-vlm", "--max-requests", "5"}, kEndpoint).ok());
    BOOST_TEST(load_config({"--model", "my-local-vlm", "--max-cost", "5"}, {}).ok());
}

BOOST_AUTO_TEST_SUITE_END()
