// `seke feab build`'s draw: the allocation across sources and strata, the test-split and
// training-subject rules, reproducibility from the seed, and truth lines FEAB reads back.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <random>

#include "plugin/feab/build.hpp"
#include "plugin/feab/input.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using namespace seke::feab;

namespace {

BuildCandidate candidate(const std::string& source, int n, const std::string& subject, const std::string& split,
                         std::optional<std::string> expression, std::optional<std::vector<std::string>> units = {},
                         std::optional<std::vector<std::string>> coded = {}) {
    BuildCandidate c;
    c.source = source;
    c.source_id = std::to_string(n);
    c.id = source + "/" + c.source_id;
    c.image = c.id + ".jpg";
    c.subject = subject;
    c.split = split;
    c.known.expression = std::move(expression);
    c.known.action_units = std::move(units);
    c.known.au_coded = std::move(coded);
    return c;
}

std::vector<std::string> ids(const BuildResult& result) {
    std::vector<std::string> out;
    for (const auto& item : result.selected) out.push_back(item.id);
    return out;
}

// 40 RAF-DB test items (happy 30, sad 10), 10 BP4D part1 frames (AU present in 4), 5 train items.
std::vector<BuildCandidate> pool() {
    std::vector<BuildCandidate> out;
    out.reserve(55);
    for (int i = 0; i < 40; ++i) out.push_back(candidate("rafdb", i, "", "test", i < 30 ? "happy" : "sad"));
    for (int i = 0; i < 10; ++i) {
        std::vector<std::string> units;
        if (i < 4) units = {"AU12"};
        out.push_back(candidate("bp4d", i, "F00" + std::to_string(i % 3), "part1", std::nullopt, units,
                                std::vector<std::string>{"AU1", "AU12"}));
    }
    for (int i = 100; i < 105; ++i) out.push_back(candidate("rafdb", i, "", "train", "happy"));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(feab_build)

BOOST_AUTO_TEST_CASE(allocation_is_proportional_with_one_per_group_and_capped) {
    BOOST_TEST((allocate({30, 10}, 8) == std::vector<std::size_t>{6, 2}));
    // One each first, the rest in proportion to what is left (29 : 0 : 9).
    BOOST_TEST((allocate({30, 1, 10}, 5) == std::vector<std::size_t>{3, 1, 1}));
    // Fewer than the groups: the largest get one.
    BOOST_TEST((allocate({2, 9, 5}, 2) == std::vector<std::size_t>{0, 1, 1}));
    BOOST_TEST((allocate({3, 0, 2}, 10) == std::vector<std::size_t>{3, 0, 2}));
    BOOST_TEST((allocate({0, 0}, 3) == std::vector<std::size_t>{0, 0}));
    // Never more than a group has, always the total asked for.
    for (std::size_t total = 0; total <= 21; ++total) {
        auto given = allocate({1, 7, 13}, total);
        BOOST_TEST(given[0] + given[1] + given[2] == std::min<std::size_t>(total, 21));
        BOOST_TEST(given[0] <= 1u);
        BOOST_TEST(given[1] <= 7u);
        BOOST_TEST(given[2] <= 13u);
    }
}

BOOST_AUTO_TEST_CASE(draws_from_test_splits_stratified_by_source_and_stratum) {
    BuildOptions options;
    options.size = 10;
    options.seed = 7;
    options.test_splits = {"test", "part1"};
    auto result = build_benchmark(pool(), options);
    BOOST_TEST(result.selected.size() == 10u);
    // 40 : 10 eligible → one each, then 8 in proportion to 39 : 9 → 7 + 1 (equal fractions: the larger source).
    BOOST_TEST(result.sources["rafdb"].selected == 8);
    BOOST_TEST(result.sources["bp4d"].selected == 2);
    BOOST_TEST(result.sources["rafdb"].other_splits == 5);
    BOOST_TEST(result.sources["rafdb"].candidates == 40);
    // Within RAF-DB: happy 30 and sad 10 → 6 and 2; within BP4D both AU strata are drawn.
    BOOST_TEST(result.sources["rafdb"].expressions["happy"] == 6);
    BOOST_TEST(result.sources["rafdb"].expressions["sad"] == 2);
    BOOST_TEST(result.sources["bp4d"].au_present == 1);
    BOOST_TEST(result.sources["bp4d"].au_none == 1);
    for (const auto& item : result.selected) BOOST_TEST(item.split != "train");
    BOOST_TEST(std::is_sorted(result.selected.begin(), result.selected.end(),
                              [](const auto& a, const auto& b) { return a.id < b.id; }));
}

BOOST_AUTO_TEST_CASE(the_same_seed_gives_the_same_draw_whatever_the_input_order) {
    BuildOptions options;
    options.size = 9;
    options.seed = 42;
    auto first = build_benchmark(pool(), options);
    auto shuffled = pool();
    std::mt19937 shuffle_engine(3);
    std::shuffle(shuffled.begin(), shuffled.end(), shuffle_engine);
    auto second = build_benchmark(shuffled, options);
    BOOST_TEST(ids(first) == ids(second));
    // Another seed draws other items from the same strata.
    options.seed = 43;
    auto other = build_benchmark(pool(), options);
    BOOST_TEST(other.selected.size() == first.selected.size());
    BOOST_TEST(ids(other) != ids(first));
}

BOOST_AUTO_TEST_CASE(subjects_of_training_lines_are_left_out_per_source) {
    auto items = pool();
    items.push_back(candidate("disfa", 1, "F001", "test", std::nullopt, std::vector<std::string>{},
                              std::vector<std::string>{"AU1"}));
    items.push_back(candidate("bp4d", 3, "F000", "part1", std::nullopt));  // a duplicate id
    BuildOptions options;
    options.size = 100;
    options.test_splits = {"test", "part1"};
    options.training_subjects = {{"bp4d", "F001"}};
    auto result = build_benchmark(items, options);
    for (const auto& item : result.selected) BOOST_TEST(!(item.source == "bp4d" && item.subject == "F001"));
    // F001 of BP4D holds frames 1, 4, 7; DISFA's F001 is another person.
    BOOST_TEST(result.sources["bp4d"].training_subject == 3);
    BOOST_TEST(result.sources["bp4d"].duplicate_id == 1);
    BOOST_TEST(result.sources["disfa"].selected == 1);
    BOOST_TEST(result.selected.size() == 40u + 7u + 1u);
}

BOOST_AUTO_TEST_CASE(truth_lines_carry_au_coded_and_score_only_coded_aus) {
    auto item = candidate("bp4d", 5, "F002", "part1", std::nullopt, std::vector<std::string>{"AU12"},
                          std::vector<std::string>{"AU1", "AU12"});
    auto line = truth_line(item);
    BOOST_TEST(line.dump() == R"({"id":"bp4d/5","image":"bp4d/5.jpg","source":"bp4d","source_id":"5","subject":"F002",)"
                              R"("split":"part1","action_units":["AU12"],"au_coded":["AU1","AU12"]})");
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    auto truth = parse_truth_line(line.dump(), 1, vocabulary, problems);
    BOOST_TEST_REQUIRE(truth.has_value());
    BOOST_TEST(problems.total() == 0u);
    BOOST_TEST(truth->source == "bp4d");
    BOOST_TEST(truth->action_units_uncoded.size() == vocabulary.action_units().size() - 2);

    auto affectnet = candidate("affectnet", 1, "", "validation", "sad");
    affectnet.known.valence = -0.5;
    affectnet.known.arousal = 0.25;
    BOOST_TEST(truth_line(affectnet).dump() ==
               R"({"id":"affectnet/1","image":"affectnet/1.jpg","source":"affectnet","source_id":"1",)"
               R"("split":"validation","expression":"sad","valence":-0.5,"arousal":0.25})");
}

BOOST_AUTO_TEST_SUITE_END()
