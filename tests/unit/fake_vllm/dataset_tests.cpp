#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "tests/unit/fake_vllm/test_util.hpp"
#include "tools/fake_vllm/dataset.hpp"
#include "tools/fake_vllm/face_code.hpp"

using namespace seke::fake;

namespace {

std::string dump_all(const std::vector<TruthItem>& items) {
    std::string out;
    for (const auto& item : items) out += to_json(item).dump() + "\n";
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fake_vllm_dataset)

BOOST_AUTO_TEST_CASE(same_seed_same_items) {
    BOOST_TEST(dump_all(generate_truth(120, 7)) == dump_all(generate_truth(120, 7)));
    BOOST_TEST(dump_all(generate_truth(120, 7)) != dump_all(generate_truth(120, 8)));
    const auto a = make_manifest(generate_truth(50, 3), 3, 0.5);
    const auto b = make_manifest(generate_truth(50, 3), 3, 0.5);
    BOOST_TEST(a == b);
}

BOOST_AUTO_TEST_CASE(items_are_balanced_and_plausible) {
    const auto items = generate_truth(800, 42);
    BOOST_REQUIRE(items.size() == 800u);
    std::map<std::string, int> per_class;
    std::set<std::uint32_t> codes;
    std::set<std::string> ids;
    int easy = 0, medium = 0, hard = 0, exact_prototype = 0;
    for (const auto& item : items) {
        ++per_class[item.expression];
        codes.insert(item.code);
        ids.insert(item.id);
        const auto* facts = find_expression(item.expression);
        BOOST_REQUIRE(facts);
        BOOST_TEST(item.code <= kMaxCode);
        BOOST_TEST((item.valence >= facts->valence_min && item.valence <= facts->valence_max));
        BOOST_TEST((item.arousal >= facts->arousal_min && item.arousal <= facts->arousal_max));
        BOOST_TEST((std::find(facts->confusables.begin(), facts->confusables.end(), item.confusable) !=
                    facts->confusables.end()));
        for (const auto& au : item.action_units) BOOST_TEST(!action_unit_name(au).empty());
        if (item.action_units == facts->prototype) ++exact_prototype;
        BOOST_TEST((item.difficulty >= 0.0 && item.difficulty <= 0.95));
        if (item.difficulty < 0.3) ++easy;
        else if (item.difficulty < 0.6) ++medium;
        else ++hard;
        BOOST_TEST(item.source == "synthetic");
    }
    BOOST_TEST(per_class.size() == 8u);
    for (const auto& [name, count] : per_class) BOOST_TEST(count == 100, name);
    BOOST_TEST(codes.size() == 800u);
    BOOST_TEST(ids.size() == 800u);
    BOOST_TEST(items.front().id == "s00001");
    // ~60/30/10 and mostly the textbook prototype, with individual variation.
    BOOST_TEST((easy > 430 && easy < 530));
    BOOST_TEST((medium > 190 && medium < 290));
    BOOST_TEST((hard > 50 && hard < 120));
    BOOST_TEST((exact_prototype > 400 && exact_prototype < 700));
}

BOOST_AUTO_TEST_CASE(truth_json_round_trips) {
    auto item = generate_truth(3, 1)[2];
    item.faults = {"always_500"};
    const auto back = truth_from_json(nlohmann::json::parse(to_json(item).dump()));
    BOOST_TEST(to_json(back) == to_json(item));
    BOOST_TEST(back.has_fault("always_500"));
    BOOST_CHECK_THROW(truth_from_json(nlohmann::json{{"id", "x"}}), std::runtime_error);
    BOOST_CHECK_THROW(truth_from_json(nlohmann::json::parse(
                          R"({"id":"x","code":1,"expression":"bored","valence":0,"arousal":0,"action_units":[]})")),
                      std::runtime_error);
}

BOOST_AUTO_TEST_CASE(writes_images_truth_and_manifest) {
    testing::ScratchDir dir;
    DatasetOptions options;
    options.out = dir.path() / "set";
    options.count = 40;
    options.seed = 9;
    options.known_fraction = 0.5;
    write_dataset(options);

    const auto table = TruthTable::load((options.out / "truth.jsonl").string());
    BOOST_REQUIRE(table.items().size() == 40u);
    int png = 0;
    for (const auto& item : table.items()) {
        const auto path = options.out / item.image;
        BOOST_REQUIRE(std::filesystem::exists(path));
        if (path.extension() == ".png") ++png;
        const cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
        BOOST_TEST(image.cols == 256);
        BOOST_TEST(read_code(image).value_or(kMaxCode + 1) == item.code);
        BOOST_TEST(table.by_code(item.code) == &item);
    }
    BOOST_TEST((png > 0 && png < 40));

    std::istringstream manifest(testing::slurp(options.out / "manifest.jsonl"));
    std::string line;
    int lines = 0, with_known = 0;
    while (std::getline(manifest, line)) {
        const auto j = nlohmann::json::parse(line);
        const auto* item = table.by_id(j.at("id").get<std::string>());
        BOOST_REQUIRE(item);
        BOOST_TEST(j.at("image").get<std::string>() == item->image);
        const auto& known = j.at("known");
        BOOST_TEST(known.is_object());
        if (!known.empty()) ++with_known;
        if (known.contains("expression")) BOOST_TEST(known["expression"] == item->expression);
        if (known.contains("valence")) BOOST_TEST(known.contains("arousal"));
        if (known.contains("action_units"))
            BOOST_TEST(known["action_units"].get<std::vector<std::string>>() == item->action_units);
        ++lines;
    }
    BOOST_TEST(lines == 40);
    BOOST_TEST((with_known > 10 && with_known < 30));
}

BOOST_AUTO_TEST_SUITE_END()
