#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "plugin/labeling/knowledge_json.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using nlohmann::json;
using Names = std::vector<std::string>;

namespace {

// A small valid file; tests change one field and parse it.
json minimal_file() {
    return json::parse(R"({
      "expressions": [
        {"name": "happy", "va": {"valence": [0.0, 1.0], "arousal": [-0.2, 0.7]}},
        {"name": "contempt"}
      ],
      "action_units": [{"code": "AU12", "name": "Lip corner puller"}]
    })");
}

std::string error_of(const json& file) {
    auto parsed = parse_knowledge(file.dump());
    BOOST_REQUIRE(!parsed.ok());
    BOOST_TEST((parsed.error().code == errc::config_error));
    return parsed.error().message;
}

bool mentions(const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_knowledge_json)

BOOST_AUTO_TEST_CASE(shipped_file_gives_expert_classes_and_centroids) {
    const Knowledge& k = test::test_knowledge();
    for (const auto& e : k.expressions) {
        BOOST_TEST_CONTEXT(e.name) {
            BOOST_REQUIRE(e.va_centroid.has_value());
            // Each shipped centroid is the centre of the expression's prior region.
            BOOST_TEST(e.va_centroid->first == (e.va.valence_min + e.va.valence_max) / 2,
                       boost::test_tools::tolerance(1e-9));
            BOOST_TEST(e.va_centroid->second == (e.va.arousal_min + e.va.arousal_max) / 2,
                       boost::test_tools::tolerance(1e-9));
            if (e.name == "contempt") BOOST_TEST(e.expert_classes.empty());
            else BOOST_TEST(e.expert_classes == Names{e.name}, boost::test_tools::per_element());
        }
    }
    BOOST_TEST(mentions(k.va_centroid_source, "Russell (1980)"));
    BOOST_TEST(mentions(k.va_centroid_source, "arXiv:1708.03985"));
}

BOOST_AUTO_TEST_CASE(expert_classes_default_to_the_own_name_when_the_expert_has_it) {
    auto parsed = parse_knowledge(minimal_file().dump());
    BOOST_REQUIRE(parsed.ok());
    BOOST_TEST(parsed->expressions[0].expert_classes == Names{"happy"}, boost::test_tools::per_element());
    BOOST_TEST(parsed->expressions[1].expert_classes.empty());  // no network has contempt
    BOOST_TEST(!parsed->expressions[0].va_centroid.has_value());
    BOOST_TEST(parsed->va_centroid_source.empty());
}

BOOST_AUTO_TEST_CASE(other_names_map_through_expert_classes) {
    json file = minimal_file();
    file["expressions"][0]["name"] = "Happiness";
    file["expressions"][0]["expert_classes"] = {"happy"};
    file["expressions"][0]["va_centroid"] = {0.5, 0.25};
    file["expressions"][1]["name"] = "Negative";
    file["expressions"][1]["expert_classes"] = {"sad", "anger", "fear"};
    file["va_centroid_source"] = "a test";
    auto parsed = parse_knowledge(file.dump());
    BOOST_REQUIRE(parsed.ok());
    BOOST_TEST(parsed->expressions[0].expert_classes == Names{"happy"}, boost::test_tools::per_element());
    BOOST_TEST(parsed->expressions[1].expert_classes == (Names{"sad", "anger", "fear"}),
               boost::test_tools::per_element());
    BOOST_REQUIRE(parsed->expressions[0].va_centroid.has_value());
    BOOST_TEST(parsed->expressions[0].va_centroid->first == 0.5);
    BOOST_TEST(parsed->expressions[0].va_centroid->second == 0.25);
    BOOST_TEST(parsed->va_centroid_source == "a test");

    // An explicit empty list takes nothing, even when the name is an expert class.
    file["expressions"][0]["name"] = "happy";
    file["expressions"][0]["expert_classes"] = json::array();
    auto none = parse_knowledge(file.dump());
    BOOST_REQUIRE(none.ok());
    BOOST_TEST(none->expressions[0].expert_classes.empty());
}

BOOST_AUTO_TEST_CASE(wrong_types_and_values_name_the_field) {
    auto with = [](const char* key, json value, std::size_t index = 0) {
        json file = minimal_file();
        file["expressions"][index][key] = std::move(value);
        return error_of(file);
    };
    BOOST_TEST(mentions(with("expert_classes", "happy"), "expressions[0].expert_classes"));
    BOOST_TEST(mentions(with("expert_classes", {1, 2}), "expressions[0].expert_classes"));
    BOOST_TEST(mentions(with("expert_classes", {"smile"}), "\"smile\" is not one of the face expert's classes"));
    BOOST_TEST(mentions(with("va_centroid", "0.5, 0.2"), "expressions[0].va_centroid: must be [valence, arousal]"));
    BOOST_TEST(mentions(with("va_centroid", {0.5}), "expressions[0].va_centroid"));
    BOOST_TEST(mentions(with("va_centroid", {0.5, "high"}), "expressions[0].va_centroid"));
    BOOST_TEST(mentions(with("va_centroid", {1.5, 0.0}), "must lie in [-1, 1]"));
    BOOST_TEST(mentions(with("va_centroid", {0.0, -1.01}, 1), "expressions[1].va_centroid"));

    json file = minimal_file();
    file["va_centroid_source"] = json::array();
    BOOST_TEST(mentions(error_of(file), "va_centroid_source: must be a string"));
}

BOOST_AUTO_TEST_CASE(an_expert_class_feeds_one_expression_only) {
    json file = minimal_file();
    file["expressions"][1]["expert_classes"] = {"happy"};  // happy already takes its own class
    BOOST_TEST(mentions(error_of(file), "\"happy\" already belongs to happy"));
    file["expressions"][1]["expert_classes"] = {"sad", "sad"};
    BOOST_TEST(mentions(error_of(file), "already belongs to this expression"));
}

BOOST_AUTO_TEST_SUITE_END()
