// /predict bodies parsed at the edge: the typed request, and today's answer for every field of
// the wrong JSON type (a 4xx error where the request cannot be read, else the field ignored).
#include <map>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "plugin/label_studio/predict_request.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using namespace seke::label_studio;
using nlohmann::json;

namespace {

const char* kPhotoConfig = R"(<View>
  <Image name="img" value="$photo"/>
  <Choices name="expression" toName="img" choice="single">
    <Choice value="Happy"/><Choice value="Sad"/>
  </Choices>
</View>)";

// A parser with a store of project configs; `asked` records the projects it was asked about.
struct Parser {
    LabelConfigCache configs{test::test_knowledge()};
    std::map<std::string, std::string> stored;
    std::vector<std::string> asked;

    PredictParsing parsing() {
        return PredictParsing{configs,
                              [this](const std::string& project) {
                                  asked.push_back(project);
                                  auto it = stored.find(project);
                                  return it == stored.end() ? std::string() : it->second;
                              },
                              parse_prior_label_keys("expression,valence,arousal,action_units"),
                              test::test_knowledge()};
    }
    Result<PredictRequest> parse(const std::string& body) { return parse_predict_request(body, parsing()); }
    // The same parse through a body cache.
    Result<PredictRequest> parse_cached(PredictBodyCache& cache, const std::string& body) {
        return cache.parse(body, parsing());
    }
    Result<PredictRequest> parse(const json& body) { return parse(body.dump()); }

    PredictRequest parse_ok(const json& body) {
        auto parsed = parse(body);
        BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : parsed.error().message));
        return std::move(parsed).value();
    }
};

std::string faces_config() {
    return test::read_file(test::source_path("config/label_studio/faces.xml"));
}

json body_with_tasks(const json& tasks) {
    return {{"tasks", tasks}, {"label_config", faces_config()}, {"project", "5.1"}};
}

json drawn(const json& overrides) {
    json region = {{"id", "box-1"},
                   {"type", "rectanglelabels"},
                   {"value", {{"x", 25.0}, {"y", 10.0}, {"width", 50.0}, {"height", 60.0}}}};
    for (const auto& [key, value] : overrides.items()) region[key] = value;
    return region;
}

std::vector<DrawnRegion> drawn_of(Parser& parser, const json& params) {
    json body = body_with_tasks(json::array());
    body["params"] = params;
    return parser.parse_ok(body).drawn;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(label_studio_predict_request)

BOOST_AUTO_TEST_CASE(a_batch_call_becomes_typed_tasks) {
    Parser parser;
    json tasks = json::array({{{"id", 11}, {"data", {{"image", "/data/local-files/?d=a.jpg"}}}},
                              {{"id", 12}, {"data", {{"image", "s3://bucket/b.jpg"}, {"expression", "SAD"}}}}});
    auto request = parser.parse_ok(body_with_tasks(tasks));
    BOOST_TEST(request.project == "5");
    BOOST_TEST(request.label_config == faces_config());
    BOOST_REQUIRE(request.config);
    BOOST_TEST(request.config->applicable());
    BOOST_TEST(request.drawn.empty());
    BOOST_REQUIRE(request.tasks.size() == 2u);
    BOOST_TEST(request.tasks[0].id == 11);
    BOOST_TEST(!request.tasks[0].unusable);
    BOOST_TEST(request.tasks[0].image == "/data/local-files/?d=a.jpg");
    BOOST_TEST(request.tasks[0].known.empty());
    BOOST_TEST(request.tasks[1].image == "s3://bucket/b.jpg");
    BOOST_TEST(request.tasks[1].known.expression.value_or("") == "sad");
    BOOST_TEST((request.tasks[1].provenance.expression == Provenance::source));
    BOOST_TEST(parser.asked.empty());  // the body had a config: the store is not asked
}

BOOST_AUTO_TEST_CASE(one_task_as_an_object_and_no_tasks_at_all) {
    Parser parser;
    auto one = parser.parse_ok(body_with_tasks({{"id", 3}, {"data", {{"image", "x.jpg"}}}}));
    BOOST_REQUIRE(one.tasks.size() == 1u);
    BOOST_TEST(one.tasks[0].id == 3);
    json none = body_with_tasks(json::array());
    none.erase("tasks");
    BOOST_TEST(parser.parse_ok(none).tasks.empty());
}

BOOST_AUTO_TEST_CASE(bodies_that_cannot_be_read_are_bad_json) {
    Parser parser;
    for (const std::string body : {"", "  \n", "{not json", "[1,2]", "5", "\"text\"", "null"}) {
        auto parsed = parser.parse(body);
        BOOST_REQUIRE_MESSAGE(!parsed.ok(), body);
        BOOST_TEST((parsed.error().code == errc::bad_json), body);
    }
}

BOOST_AUTO_TEST_CASE(tasks_of_another_type_are_an_invalid_argument) {
    Parser parser;
    for (const json& tasks : {json(5), json("tasks"), json(nullptr), json(true), json(2.5)}) {
        auto parsed = parser.parse(body_with_tasks(tasks));
        BOOST_REQUIRE_MESSAGE(!parsed.ok(), tasks.dump());
        BOOST_TEST((parsed.error().code == errc::invalid_argument));
        BOOST_TEST(parsed.error().message.find("tasks") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(a_task_without_data_or_image_is_unusable_not_an_error) {
    Parser parser;
    json tasks = json::array({5,
                              "text",
                              json::array(),
                              nullptr,
                              {{"id", 1}},
                              {{"id", 2}, {"data", "image.jpg"}},
                              {{"id", 3}, {"data", {{"image", 42}}}},
                              {{"id", 4}, {"data", {{"picture", "a.jpg"}}}},
                              {{"id", "5"}, {"data", {{"image", "a.jpg"}}}},
                              {{"id", 6.5}, {"data", {{"image", "a.jpg"}}}},
                              {{"id", {{"nested", 1}}}, {"data", {{"image", "a.jpg"}}}}});
    auto request = parser.parse_ok(body_with_tasks(tasks));
    BOOST_REQUIRE(request.tasks.size() == tasks.size());
    for (std::size_t i = 0; i < 5; ++i) {
        BOOST_REQUIRE_MESSAGE(request.tasks[i].unusable, tasks[i].dump());
        BOOST_TEST(request.tasks[i].unusable->message == "task has no \"data\" object");
        BOOST_TEST((request.tasks[i].unusable->code == errc::invalid_argument));
    }
    BOOST_TEST(request.tasks[0].id == -1);
    BOOST_TEST(request.tasks[4].id == 1);
    BOOST_TEST(request.tasks[5].unusable->message == "task has no \"data\" object");
    for (std::size_t i : {6u, 7u}) {
        BOOST_REQUIRE(request.tasks[i].unusable);
        BOOST_TEST(request.tasks[i].unusable->message == "task.data has no string \"image\" for the image");
    }
    // An id that is not an integer is no id; the task is still predicted, by its image.
    for (std::size_t i : {8u, 9u, 10u}) {
        BOOST_TEST(request.tasks[i].id == -1);
        BOOST_TEST(!request.tasks[i].unusable);
        BOOST_TEST(request.tasks[i].image == "a.jpg");
    }
}

BOOST_AUTO_TEST_CASE(the_image_is_read_under_the_configs_key) {
    Parser parser;
    json body = {{"tasks", json::array({{{"id", 1}, {"data", {{"photo", "p.jpg"}, {"image", "i.jpg"}}}},
                                        {{"id", 2}, {"data", {{"image", "i.jpg"}}}}})},
                 {"label_config", kPhotoConfig}};
    auto request = parser.parse_ok(body);
    BOOST_TEST(request.project == "None");
    BOOST_TEST(request.tasks[0].image == "p.jpg");
    BOOST_REQUIRE(request.tasks[1].unusable);
    BOOST_TEST(request.tasks[1].unusable->message == "task.data has no string \"photo\" for the image");
}

BOOST_AUTO_TEST_CASE(project_ids_as_label_studio_sends_them) {
    BOOST_TEST(project_id({{"project", "62053.1712586036"}}) == "62053");
    BOOST_TEST(project_id({{"project", "7"}}) == "7");
    BOOST_TEST(project_id({{"project", 7}}) == "7");
    BOOST_TEST(project_id({{"project", {{"id", 9}, {"label_config", "<View/>"}}}}) == "9");
    // Anything else is no project.
    for (const json& project : {json(nullptr), json(""), json(".5"), json(true), json(1.5), json::array({1}),
                                json::object(), json{{"id", "9"}}, json{{"id", nullptr}}})
        BOOST_TEST(project_id({{"project", project}}) == "None", project.dump());
    BOOST_TEST(project_id(json::object()) == "None");
    BOOST_TEST(project_id(json::array()) == "None");
}

BOOST_AUTO_TEST_CASE(a_missing_or_mistyped_label_config_falls_back_to_the_stored_one) {
    Parser parser;
    parser.stored["8"] = faces_config();
    json tasks = json::array({{{"id", 1}, {"data", {{"image", "a.jpg"}}}}});
    for (const json& config : {json(5), json(nullptr), json(""), json::array(), json{{"xml", "<View/>"}}}) {
        json body = {{"tasks", tasks}, {"project", 8}, {"label_config", config}};
        auto request = parser.parse_ok(body);
        BOOST_TEST(request.label_config == faces_config(), config.dump());
        BOOST_TEST(request.config->applicable());
    }
    BOOST_TEST(parser.asked == std::vector<std::string>(5, "8"), boost::test_tools::per_element());
    // Nothing stored and nothing sent: a config with nothing to fill, which is not an error.
    auto bare = parser.parse_ok({{"tasks", tasks}, {"project", 99}});
    BOOST_TEST(bare.label_config.empty());
    BOOST_TEST(!bare.config->applicable());
}

BOOST_AUTO_TEST_CASE(a_label_config_that_is_not_xml_is_an_invalid_argument) {
    Parser parser;
    auto parsed = parser.parse(json{{"tasks", json::array()}, {"label_config", "<View><Image"}});
    BOOST_REQUIRE(!parsed.ok());
    BOOST_TEST((parsed.error().code == errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(drawn_regions_come_from_params_context_result) {
    Parser parser;
    auto regions = drawn_of(
        parser, {{"context", {{"result", json::array({drawn({}), drawn({{"id", "box-2"}, {"type", "rectangle"}})})}}}});
    BOOST_REQUIRE(regions.size() == 2u);
    BOOST_TEST(regions[0].id == "box-1");
    BOOST_TEST(regions[0].region.x == 0.25);
    BOOST_TEST(regions[0].region.y == 0.10);
    BOOST_TEST(regions[0].region.w == 0.50);
    BOOST_TEST(regions[0].region.h == 0.60);
    BOOST_TEST(regions[1].id == "box-2");
}

BOOST_AUTO_TEST_CASE(drawn_regions_of_another_shape_are_ignored) {
    Parser parser;
    // params, context and result of the wrong type: no regions, and no error.
    for (const json& params : {json(5), json("x"), json::array(), json{{"context", 5}}, json{{"context", "x"}},
                               json{{"context", nullptr}}, json{{"context", {{"result", {{"id", "a"}}}}}},
                               json{{"context", {{"result", "x"}}}}, json{{"context", json::object()}}})
        BOOST_TEST(drawn_of(parser, params).empty(), params.dump());
    // Regions that are not face rectangles, or lack what makes one.
    json result =
        json::array({5, "x", nullptr, json::array(), drawn({{"id", 7}}), drawn({{"id", nullptr}}), drawn({{"type", 5}}),
                     drawn({{"type", nullptr}}), drawn({{"type", "choices"}}), drawn({{"value", "x"}}),
                     drawn({{"value", {{"x", "25"}, {"y", 1}, {"width", 5}, {"height", 5}}}}),
                     drawn({{"value", {{"x", 1}, {"y", 1}, {"width", 0}, {"height", 5}}}}),
                     drawn({{"value", {{"x", -1}, {"y", 1}, {"width", 5}, {"height", 5}}}}),
                     drawn({{"value", {{"y", 1}, {"width", 5}, {"height", 5}}}})});
    json type_missing = drawn({});
    type_missing.erase("type");
    result.push_back(type_missing);
    BOOST_TEST(drawn_of(parser, {{"context", {{"result", result}}}}).empty());
}

BOOST_AUTO_TEST_CASE(prior_labels_of_the_wrong_type_are_ignored) {
    Parser parser;
    auto task_with = [](const json& labels) {
        json data = {{"image", "a.jpg"}};
        for (const auto& [key, value] : labels.items()) data[key] = value;
        return json{{"id", 1}, {"data", data}};
    };
    json tasks =
        json::array({task_with({{"expression", "Happy"},
                                {"valence", "0.5"},
                                {"arousal", -0.25},
                                {"action_units", {"au12", 6, "AU99", "AU6"}}}),
                     task_with({{"expression", 5}, {"valence", "high"}, {"arousal", 2}, {"action_units", "AU12"}}),
                     task_with({{"expression", "contempt-ish"},
                                {"valence", nullptr},
                                {"arousal", true},
                                {"action_units", json::array({json{{"AU", 12}}, "AU99"})}}),
                     task_with({{"valence", json::array()}, {"arousal", "nan"}})});
    auto request = parser.parse_ok(body_with_tasks(tasks));
    BOOST_REQUIRE(request.tasks.size() == 4u);
    const PredictTask& full = request.tasks[0];
    BOOST_TEST(full.known.expression.value_or("") == "happy");
    BOOST_TEST(full.known.valence.value_or(-9) == 0.5);
    BOOST_TEST(full.known.arousal.value_or(-9) == -0.25);
    BOOST_REQUIRE(full.known.action_units);
    BOOST_TEST(*full.known.action_units == (std::vector<std::string>{"AU12", "AU6"}), boost::test_tools::per_element());
    BOOST_TEST((full.provenance.expression == Provenance::source));
    BOOST_TEST((full.provenance.va == Provenance::source));
    BOOST_TEST((full.provenance.au == Provenance::source));

    const PredictTask& wrong = request.tasks[1];
    BOOST_TEST(!wrong.unusable);
    BOOST_TEST(wrong.known.empty());
    BOOST_TEST((wrong.provenance.expression == Provenance::model));
    BOOST_TEST((wrong.provenance.va == Provenance::model));
    BOOST_TEST((wrong.provenance.au == Provenance::model));

    // An AU list is a fact even when none of it is known: the task has no AUs.
    const PredictTask& unknown = request.tasks[2];
    BOOST_TEST(!unknown.known.expression);
    BOOST_TEST(!unknown.known.valence);
    BOOST_TEST(!unknown.known.arousal);
    BOOST_REQUIRE(unknown.known.action_units);
    BOOST_TEST(unknown.known.action_units->empty());
    BOOST_TEST((unknown.provenance.au == Provenance::source));
    BOOST_TEST(request.tasks[3].known.empty());
}

BOOST_AUTO_TEST_CASE(prior_label_keys_come_in_a_fixed_order) {
    auto keys = parse_prior_label_keys("emo,v,a,aus");
    BOOST_TEST(keys.expression == "emo");
    BOOST_TEST(keys.valence == "v");
    BOOST_TEST(keys.arousal == "a");
    BOOST_TEST(keys.action_units == "aus");
    auto some = parse_prior_label_keys(",v");
    BOOST_TEST(some.expression.empty());
    BOOST_TEST(some.valence == "v");
    BOOST_TEST(some.arousal.empty());
    BOOST_TEST(some.action_units.empty());
    auto none = parse_prior_label_keys("");
    BOOST_TEST((none.expression.empty() && none.valence.empty() && none.arousal.empty() && none.action_units.empty()));
}

BOOST_AUTO_TEST_CASE(a_body_with_its_own_config_is_parsed_once_and_kept) {
    Parser parser;
    PredictBodyCache cache;
    json tasks = json::array({{{"id", 11}, {"data", {{"image", "a.jpg"}, {"expression", "Sad"}}}}});
    std::string body = body_with_tasks(tasks).dump();
    auto first = parser.parse_cached(cache, body);
    BOOST_TEST_REQUIRE(first.ok());
    BOOST_TEST(cache.size() == 1u);
    auto again = parser.parse_cached(cache, body);
    BOOST_TEST_REQUIRE(again.ok());
    BOOST_TEST(cache.size() == 1u);
    BOOST_TEST(again->project == "5");
    BOOST_TEST(again->config == first->config);  // the very parse, not a new one
    BOOST_TEST_REQUIRE(again->tasks.size() == 1u);
    BOOST_TEST(again->tasks[0].id == 11);
    BOOST_TEST(again->tasks[0].known.expression.value_or("") == "sad");
    // Another body is another entry.
    tasks[0]["id"] = 12;
    auto other = parser.parse_cached(cache, body_with_tasks(tasks).dump());
    BOOST_TEST_REQUIRE(other.ok());
    BOOST_TEST(other->tasks[0].id == 12);
    BOOST_TEST(cache.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_body_relying_on_the_stored_config_is_never_kept) {
    Parser parser;
    PredictBodyCache cache;
    parser.stored["7"] = kPhotoConfig;
    std::string body =
        json{{"tasks", json::array({{{"id", 1}, {"data", {{"photo", "p.jpg"}}}}})}, {"project", 7}}.dump();
    auto first = parser.parse_cached(cache, body);
    BOOST_TEST_REQUIRE(first.ok());
    BOOST_TEST(first->tasks[0].image == "p.jpg");
    BOOST_TEST(cache.size() == 0u);
    // /setup stored another config meanwhile: the same bytes now mean another request.
    parser.stored["7"] = faces_config();
    auto second = parser.parse_cached(cache, body);
    BOOST_TEST_REQUIRE(second.ok());
    BOOST_TEST(second->config != first->config);
    BOOST_TEST(second->tasks[0].unusable.has_value());  // faces.xml reads $image, which the task lacks
    BOOST_TEST(parser.asked.size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_body_cache_is_bounded_and_keeps_no_errors) {
    Parser parser;
    PredictBodyCache cache;
    for (std::size_t i = 0; i < PredictBodyCache::kMaxEntries + 40; ++i) {
        json tasks = json::array({{{"id", static_cast<long long>(i)}, {"data", {{"image", "a.jpg"}}}}});
        BOOST_TEST_REQUIRE(parser.parse_cached(cache, body_with_tasks(tasks).dump()).ok());
    }
    BOOST_TEST(cache.size() == PredictBodyCache::kMaxEntries);
    // The oldest went first; a recent one is still there (parsing it again adds nothing).
    json recent = json::array(
        {{{"id", static_cast<long long>(PredictBodyCache::kMaxEntries + 39)}, {"data", {{"image", "a.jpg"}}}}});
    BOOST_TEST_REQUIRE(parser.parse_cached(cache, body_with_tasks(recent).dump()).ok());
    BOOST_TEST(cache.size() == PredictBodyCache::kMaxEntries);
    PredictBodyCache fresh;
    BOOST_TEST(!parser.parse_cached(fresh, "{not json").ok());
    json bad_tasks = body_with_tasks(json::array());
    bad_tasks["tasks"] = 5;
    BOOST_TEST(!parser.parse_cached(fresh, bad_tasks.dump()).ok());
    BOOST_TEST(fresh.size() == 0u);
    // A body over the per-entry bound is parsed and not kept.
    json big = body_with_tasks(json::array({{{"id", 1}, {"data", {{"image", "a.jpg"}}}}}));
    big["padding"] = std::string(PredictBodyCache::kMaxBodyBytes, 'x');
    BOOST_TEST(parser.parse_cached(fresh, big.dump()).ok());
    BOOST_TEST(fresh.size() == 0u);
}

BOOST_AUTO_TEST_CASE(json_bodies) {
    BOOST_TEST(parse_json_body("", true).ok());
    BOOST_TEST(parse_json_body(" \t\r\n", true)->empty());
    BOOST_TEST(parse_json_body("{\"a\": 1}", false)->at("a") == 1);
    for (const std::string body : {"", "[]", "{", "1"}) {
        auto parsed = parse_json_body(body, false);
        BOOST_REQUIRE(!parsed.ok());
        BOOST_TEST((parsed.error().code == errc::bad_json));
    }
    BOOST_TEST(parse_json_body("", false).error().message == "the request body is empty; a JSON object is expected");
    BOOST_TEST(parse_json_body("[]", true).error().message == "the request body must be a JSON object");
    BOOST_TEST(parse_json_body("{", true).error().message == "the request body is not valid JSON");
}

BOOST_AUTO_TEST_SUITE_END()
