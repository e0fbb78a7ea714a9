#include <algorithm>
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>
#include <set>

#include "tests/unit/fake_vllm/test_util.hpp"
#include "tools/fake_vllm/fake_model.hpp"

using namespace seke::fake;

namespace {

TruthItem item_with(const std::string& expression, double difficulty, std::string confusable) {
    return testing::make_item("t-" + expression + "-" + std::to_string(difficulty), expression, difficulty,
                              std::move(confusable));
}

using testing::sample_request;

ChatRequest verify_request(const std::string& candidate) {
    ChatRequest r = sample_request(0.7, {"verdict", "expression", "action_units"});
    r.kind = AskKind::verify;
    r.candidates = {{"expression", candidate}};
    return r;
}

double au_f1(const std::vector<std::string>& got, const std::vector<std::string>& truth) {
    std::set<std::string> g(got.begin(), got.end()), t(truth.begin(), truth.end());
    double tp = 0;
    for (const auto& x : g) tp += static_cast<double>(t.count(x));
    if (g.empty() && t.empty()) return 1.0;
    return 2 * tp / static_cast<double>(g.size() + t.size());
}

nlohmann::json chat_body(const std::string& user_text, nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json body{{"model", "m"},
                        {"messages",
                         {{{"role", "system"}, {"content", "You know emotions."}},
                          {{"role", "user"},
                           {"content",
                            {{{"type", "text"}, {"text", user_text}},
                             {{"type", "image_url"}, {"image_url", {{"url", "data:image/jpeg;base64,AAAA"}}}}}}}}}};
    for (auto& [k, v] : extra.items()) body[k] = v;
    return body;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fake_vllm_model)

BOOST_AUTO_TEST_CASE(parses_what_is_asked) {
    nlohmann::json schema{{"type", "object"},
                          {"properties",
                           {{"valence", {{"type", "number"}}},
                            {"arousal", {{"type", "number"}}},
                            {"va_description", {{"type", "string"}}}}}};
    auto r = parse_chat_request(chat_body(
        "Look.\nKnown labels (facts): {\"expression\":\"happy\"}\nAnswer keys: expression",
        {{"temperature", 0.4},
         {"n", 5},
         {"response_format",
          {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"strict", true}, {"schema", schema}}}}}}));
    BOOST_TEST(r.json_schema);
    BOOST_TEST(r.keys.size() == 3u);  // the schema wins over the text line
    BOOST_TEST((r.kind == AskKind::sample));
    BOOST_TEST(r.n == 5);
    BOOST_TEST(r.temperature == 0.4);
    BOOST_TEST(r.known.at("expression") == "happy");
    BOOST_TEST(r.image_count == 1);
    BOOST_TEST(r.image_url.value() == "data:image/jpeg;base64,AAAA");

    r =
        parse_chat_request(chat_body("Check.\nCandidate labels: {\"expression\":\"fear\",\"action_units\":[\"AU1\"]}\n"
                                     "Answer keys: verdict, expression , action_units"));
    BOOST_TEST(!r.json_schema);
    BOOST_TEST((r.keys == std::vector<std::string>{"verdict", "expression", "action_units"}));
    BOOST_TEST((r.kind == AskKind::verify));
    BOOST_TEST(r.candidates.at("expression") == "fear");

    r = parse_chat_request(chat_body("Answer keys: expression_description, au_description"));
    BOOST_TEST((r.kind == AskKind::describe));

    BOOST_CHECK_THROW(parse_chat_request(nlohmann::json::array()), std::invalid_argument);
    BOOST_CHECK_THROW(parse_chat_request(nlohmann::json{{"messages", nlohmann::json::array()}}), std::invalid_argument);
    BOOST_CHECK_THROW(parse_chat_request(chat_body("x", {{"n", 0}})), std::invalid_argument);
    BOOST_CHECK_THROW(parse_chat_request(chat_body("x", {{"n", "two"}})), std::invalid_argument);
    BOOST_CHECK_THROW(parse_chat_request(chat_body("x", {{"n", 2.5}})), std::invalid_argument);
    BOOST_TEST(parse_chat_request(chat_body("x", {{"n", 3.0}})).n == 3);
    BOOST_CHECK_THROW(parse_chat_request(chat_body("x", {{"temperature", "hot"}})), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(base64_and_data_uris) {
    BOOST_TEST(base64_decode("aGVsbG8=").value() == "hello");
    BOOST_TEST(base64_decode("aGVsbG8").value() == "hello");
    BOOST_TEST(base64_decode("aGVs\nbG8h").value() == "hello!");
    BOOST_TEST(!base64_decode("aGV*bG8=").has_value());
    BOOST_TEST(!base64_decode("aGVsbG8=x").has_value());
    BOOST_TEST(decode_data_uri("data:image/png;base64,aGk=").value() == "hi");
    BOOST_TEST(!decode_data_uri("https://example.com/a.jpg").has_value());
    BOOST_TEST(!decode_data_uri("data:image/png,raw").has_value());
}

BOOST_AUTO_TEST_CASE(distribution_follows_difficulty_and_temperature) {
    const auto easy = expression_distribution(item_with("fear", 0.1, "surprise"), 1.0);
    BOOST_TEST(std::abs(easy[4] - (1 - 0.085)) < 1e-9);   // fear
    BOOST_TEST(std::abs(easy[3] - 0.75 * 0.085) < 1e-9);  // surprise, the confusable
    double sum = 0;
    for (double p : easy) sum += p;
    BOOST_TEST(std::abs(sum - 1.0) < 1e-9);
    const auto cold = expression_distribution(item_with("fear", 0.5, "surprise"), 0.3);
    const auto hot = expression_distribution(item_with("fear", 0.5, "surprise"), 1.5);
    BOOST_TEST(cold[4] > hot[4]);
    const auto greedy = expression_distribution(item_with("fear", 0.9, "surprise"), 0.0);
    BOOST_TEST(greedy[3] == 1.0);  // hard: the confusable wins
}

BOOST_AUTO_TEST_CASE(easy_items_are_mostly_right) {
    const auto item = item_with("happy", 0.1, "surprise");
    const auto request = sample_request(1.0);
    int right = 0;
    double f1 = 0, va_error = 0;
    for (int i = 0; i < 2000; ++i) {
        const auto a = simulate_answer(&item, request, 1, static_cast<std::uint64_t>(i), 0);
        right += a.at("expression") == item.expression;
        f1 += au_f1(a.at("action_units").get<std::vector<std::string>>(), item.action_units);
        va_error += std::abs(a.at("valence").get<double>() - item.valence);
        BOOST_REQUIRE(a.size() == 4u);
    }
    BOOST_TEST(right / 2000.0 > 0.88);
    BOOST_TEST(right / 2000.0 < 0.95);  // not an oracle
    BOOST_TEST(f1 / 2000.0 > 0.8);
    BOOST_TEST(va_error / 2000.0 < 0.15);
}

BOOST_AUTO_TEST_CASE(greedy_is_deterministic_and_hard_items_are_wrong) {
    const auto hard = item_with("fear", 0.8, "surprise");
    const auto request = sample_request(0.0);
    const auto first = simulate_answer(&hard, request, 1, 0, 0);
    for (std::uint64_t counter = 1; counter < 20; ++counter)
        for (int choice = 0; choice < 3; ++choice)
            BOOST_TEST(simulate_answer(&hard, request, 1, counter, choice) == first);
    BOOST_TEST(first.at("expression") == "surprise");
    // Greedy AUs are the item's fixed beliefs: mostly the true ones, with systematic slips.
    {
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < 300; ++i) {
            auto item = hard;
            item.id = "hard" + std::to_string(i);
            auto aus = simulate_answer(&item, request, 1, 0, 0).at("action_units").get<std::vector<std::string>>();
            for (const auto& au : aus)
                (std::find(item.action_units.begin(), item.action_units.end(), au) != item.action_units.end() ? tp
                                                                                                              : fp)++;
            for (const auto& au : item.action_units)
                if (std::find(aus.begin(), aus.end(), au) == aus.end()) ++fn;
        }
        double greedy_f1 = 2.0 * tp / (2.0 * tp + fp + fn);
        BOOST_TEST(greedy_f1 > 0.7);
        BOOST_TEST(greedy_f1 < 0.97);  // not an oracle at temperature 0 either
    }

    // Majority vote over many samples is still wrong: more samples do not fix a biased model.
    std::map<std::string, int> votes;
    for (int i = 0; i < 2000; ++i)
        ++votes[simulate_answer(&hard, sample_request(1.0), 1, static_cast<std::uint64_t>(i), 0)
                    .at("expression")
                    .get<std::string>()];
    BOOST_TEST(votes["surprise"] > votes["fear"]);
    BOOST_TEST(votes["fear"] > 400);  // but the truth is often sampled (uncertainty is visible)

    // Different seeds and counters give different samples at T > 0.
    std::set<std::string> distinct;
    for (int i = 0; i < 20; ++i)
        distinct.insert(simulate_answer(&hard, sample_request(1.0), 1, static_cast<std::uint64_t>(i), 0).dump());
    BOOST_TEST(distinct.size() > 5u);
}

BOOST_AUTO_TEST_CASE(wrong_answers_drag_aus_and_va_along) {
    const auto item = item_with("fear", 0.75, "surprise");
    int wrong = 0, confabulated = 0;
    double shift = 0;
    Rng rng(3);
    for (int i = 0; i < 2000; ++i) {
        const auto aus = perceive_action_units(item, "surprise", 1.0, rng);
        if (aus == find_expression("surprise")->prototype) ++confabulated;
        const auto [v, a] = perceive_va(item, "surprise", 1.0, rng);
        shift += v - item.valence;
        ++wrong;
    }
    BOOST_TEST(confabulated / static_cast<double>(wrong) > 0.18);
    BOOST_TEST(confabulated / static_cast<double>(wrong) < 0.35);
    BOOST_TEST(shift / wrong > 0.1);  // towards surprise's valence centre (0.05 vs fear's -0.55)
}

BOOST_AUTO_TEST_CASE(verification_behaviour) {
    const auto item = item_with("anger", 0.1, "disgust");
    int agree_right = 0, disagree_wrong = 0, corrected_to_truth = 0;
    for (int i = 0; i < 2000; ++i) {
        const auto ok = simulate_answer(&item, verify_request("anger"), 1, static_cast<std::uint64_t>(i), 0);
        if (ok.at("verdict") == "agree") {
            ++agree_right;
            BOOST_TEST(ok.at("expression") == "anger");
        } else {
            BOOST_TEST(ok.at("expression") == "disgust");
        }
        const auto bad = simulate_answer(&item, verify_request("happy"), 1, static_cast<std::uint64_t>(i), 0);
        if (bad.at("verdict") == "disagree") {
            ++disagree_wrong;
            corrected_to_truth += bad.at("expression") == "anger";
            BOOST_TEST(bad.at("expression") != "happy");
        } else {
            BOOST_TEST(bad.at("expression") == "happy");
        }
    }
    BOOST_TEST(std::abs(agree_right / 2000.0 - 0.87) < 0.03);
    BOOST_TEST(std::abs(disagree_wrong / 2000.0 - 0.80) < 0.03);
    BOOST_TEST(std::abs(corrected_to_truth / static_cast<double>(disagree_wrong) - 0.8) < 0.04);

    // Hard items: the verifier is less reliable.
    const auto hard = item_with("anger", 0.9, "disgust");
    int hard_disagree = 0;
    for (int i = 0; i < 2000; ++i)
        hard_disagree +=
            simulate_answer(&hard, verify_request("happy"), 1, static_cast<std::uint64_t>(i), 0).at("verdict") ==
            "disagree";
    BOOST_TEST(std::abs(hard_disagree / 2000.0 - 0.40) < 0.04);
}

BOOST_AUTO_TEST_CASE(only_asked_keys_and_descriptions_match_labels) {
    const auto item = item_with("happy", 0.0, "surprise");
    const auto a = simulate_answer(
        &item, sample_request(0.0, {"expression", "expression_description", "va_description", "au_description"}), 1, 0,
        0);
    BOOST_TEST(a.size() == 4u);
    BOOST_TEST(!a.contains("valence"));
    BOOST_TEST(a.at("expression_description") == "The face shows happiness: cheeks raised and lip corners pulled up.");
    BOOST_TEST(a.at("au_description") == "Active units: AU6 (cheek raiser), AU12 (lip corner puller).");
    BOOST_TEST(a.at("va_description").get<std::string>().starts_with("Valence is positive"));
    BOOST_TEST(describe_va(-0.5, -0.4) == "Valence is negative (-0.50) and arousal low (-0.40).");
    BOOST_TEST(describe_action_units({}) == "No action units are clearly active.");

    // Known facts are trusted and described.
    auto describe = sample_request(0.7, {"expression_description", "au_description"});
    describe.kind = AskKind::describe;
    describe.known = {{"expression", "contempt"}, {"action_units", {"AU14"}}};
    const auto d = simulate_answer(&item, describe, 1, 0, 0);
    BOOST_TEST(d.at("expression_description").get<std::string>().starts_with("The face shows contempt"));
    BOOST_TEST(d.at("au_description") == "Active units: AU14 (dimpler).");
}

BOOST_AUTO_TEST_CASE(unreadable_image_gives_a_confused_model) {
    std::map<std::string, int> seen;
    for (int i = 0; i < 400; ++i) {
        const auto a = simulate_answer(nullptr, sample_request(0.7), 1, static_cast<std::uint64_t>(i), 0);
        ++seen[a.at("expression").get<std::string>()];
        BOOST_TEST(std::abs(a.at("valence").get<double>()) <= 1.0);
    }
    BOOST_TEST(seen.size() == 8u);  // all over the place
    for (const auto& [name, count] : seen) BOOST_TEST(count < 100, name);
}

BOOST_AUTO_TEST_SUITE_END()
