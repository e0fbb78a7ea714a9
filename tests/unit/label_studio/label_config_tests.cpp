#include <boost/test/unit_test.hpp>
#include <string>
#include <thread>
#include <vector>

#include "plugin/label_studio/label_config.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using namespace seke::label_studio;

namespace {

LabelingConfig parse_ok(const std::string& xml, const ControlOverrides& overrides = {}) {
    auto parsed = parse_label_config(xml, test::test_knowledge(), overrides);
    BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : parsed.error().message));
    return std::move(parsed).value();
}

LabelingConfig shipped(const std::string& file) {
    return parse_ok(test::read_file(test::source_path("config/label_studio/" + file)));
}

std::vector<std::string> values_of(const ControlTag& control) {
    std::vector<std::string> out;
    for (const auto& v : control.values) out.push_back(v.value);
    return out;
}

const char* kSevenClass = R"(<View>
  <Image name="img" value="$photo"/>
  <Choices name="emotion" toName="img" choice="single">
    <Choice value="Neutral"/><Choice value="Happiness"/><Choice value="Sadness"/><Choice value="Surprise"/>
    <Choice value="Fear"/><Choice value="Disgust"/><Choice value="Anger"/>
  </Choices>
</View>)";

}  // namespace

BOOST_AUTO_TEST_SUITE(label_studio_config)

BOOST_AUTO_TEST_CASE(shipped_per_face_config_finds_every_control) {
    auto config = shipped("faces.xml");
    BOOST_TEST(config.applicable());
    BOOST_TEST(config.image_name == "image");
    BOOST_TEST(config.image_value_key == "image");
    BOOST_REQUIRE(config.face);
    BOOST_TEST(config.face->control.name == "face");
    BOOST_TEST(config.face->control.type() == "rectanglelabels");
    BOOST_TEST(config.face->label.value_or("") == "Face");

    BOOST_REQUIRE(config.expression);
    BOOST_TEST(config.expression->name == "expression");
    BOOST_TEST(config.expression->per_region);
    BOOST_TEST(!config.expression->multiple);
    BOOST_TEST(config.expression->values.size() == 8u);
    BOOST_REQUIRE(config.valence);
    BOOST_REQUIRE(config.arousal);
    BOOST_TEST(config.valence->min.value_or(0) == -1.0);
    BOOST_TEST(config.arousal->max.value_or(0) == 1.0);
    BOOST_TEST(config.valence->per_region);
    BOOST_REQUIRE(config.action_units);
    BOOST_TEST(config.action_units->multiple);
    BOOST_TEST(config.action_units->per_region);
    BOOST_REQUIRE(config.description);
    BOOST_TEST(config.description->type() == "textarea");
    BOOST_TEST(!config.expression_description);

    // The config's AU list is exactly the knowledge's AU set: every AU maps, and no AU45.
    const auto& knowledge = test::test_knowledge();
    BOOST_TEST(config.action_units->values.size() == knowledge.action_units.size());
    for (const auto& unit : knowledge.action_units)
        BOOST_TEST(config.config_action_unit(unit.code).value_or("") == unit.code);
    BOOST_TEST(!config.action_units->match_value("AU45"));
    // Every knowledge expression maps to the capitalised value and back.
    for (const auto& e : knowledge.expressions) {
        auto value = config.config_expression(e.name);
        BOOST_REQUIRE_MESSAGE(value, e.name);
        BOOST_TEST(config.seke_expression(*value).value_or("") == e.name);
    }
    BOOST_TEST(config.config_expression("happy").value_or("") == "Happy");
}

BOOST_AUTO_TEST_CASE(shipped_whole_image_config_has_no_rectangle_and_no_per_region) {
    auto config = shipped("faces-whole-image.xml");
    BOOST_TEST(config.applicable());
    BOOST_TEST(!config.face);
    BOOST_REQUIRE(config.expression && config.valence && config.arousal && config.action_units && config.description);
    for (const auto* control : config.emotion_controls()) BOOST_TEST(!control->per_region, control->name);
}

BOOST_AUTO_TEST_CASE(controls_are_recognised_by_values_when_names_are_unusual) {
    auto config = parse_ok(R"(<View>
      <Image name="pic" value="$url"/>
      <Choices name="q2" toName="pic" choice="multiple">
        <Choice value="AU1"/><Choice value="AU4"/><Choice value="AU6"/><Choice value="AU12"/><Choice value="Other"/>
      </Choices>
      <Choices name="q1" toName="pic">
        <Choice value="happiness"/><Choice value="SADNESS"/><Choice value="anger"/><Choice value="Fear"/>
        <Choice value="Unsure"/>
      </Choices>
      <Number name="Valence_Score" toName="pic" min="-1" max="1"/>
      <Number name="myAROUSAL" toName="pic"/>
      <TextArea name="desc" toName="pic"/>
    </View>)");
    BOOST_TEST(config.applicable());
    BOOST_TEST(config.image_value_key == "url");
    BOOST_REQUIRE(config.expression);
    BOOST_TEST(config.expression->name == "q1");
    BOOST_REQUIRE(config.action_units);
    BOOST_TEST(config.action_units->name == "q2");
    BOOST_REQUIRE(config.valence);
    BOOST_TEST(config.valence->name == "Valence_Score");
    BOOST_REQUIRE(config.arousal);
    BOOST_TEST(config.arousal->name == "myAROUSAL");
    BOOST_REQUIRE(config.description);
    BOOST_TEST(config.description->name == "desc");
    BOOST_TEST(config.config_expression("sad").value_or("") == "SADNESS");
    BOOST_TEST(config.config_action_unit("AU12").value_or("") == "AU12");
    BOOST_TEST(!config.seke_expression("Unsure"));
    BOOST_TEST(!config.seke_action_unit("Other"));
}

BOOST_AUTO_TEST_CASE(common_name_variants_and_configured_names) {
    auto variants = parse_ok(R"(<View>
      <Image name="image" value="$image"/>
      <Choices name="emotion" toName="image"><Choice value="Calm"/><Choice value="Happy"/></Choices>
      <Choices name="aus" toName="image" choice="multiple"><Choice value="Brows"/></Choices>
    </View>)");
    BOOST_REQUIRE(variants.expression);
    BOOST_TEST(variants.expression->name == "emotion");
    BOOST_REQUIRE(variants.action_units);
    BOOST_TEST(variants.action_units->name == "aus");

    LabelStudioControls options;
    options.expression = "fer_label";
    options.valence = "v";
    auto names = control_overrides(options);
    BOOST_REQUIRE(names.ok());
    auto configured = parse_ok(R"(<View>
      <Image name="image" value="$image"/>
      <Choices name="fer_label" toName="image"><Choice value="Happy"/></Choices>
      <Number name="v" toName="image"/>
    </View>)",
                               *names);
    BOOST_REQUIRE(configured.expression);
    BOOST_TEST(configured.expression->name == "fer_label");
    BOOST_REQUIRE(configured.valence);
    BOOST_TEST(configured.valence->name == "v");
}

BOOST_AUTO_TEST_CASE(seven_class_config_maps_through_knowledge_synonyms) {
    auto config = parse_ok(kSevenClass);
    BOOST_TEST(config.applicable());
    BOOST_TEST(config.image_name == "img");
    BOOST_TEST(config.image_value_key == "photo");
    BOOST_REQUIRE(config.expression);
    BOOST_TEST(config.config_expression("happy").value_or("") == "Happiness");
    BOOST_TEST(config.config_expression("sad").value_or("") == "Sadness");
    BOOST_TEST(config.config_expression("anger").value_or("") == "Anger");
    BOOST_TEST(!config.config_expression("contempt"));  // not in the config: never sent
    BOOST_TEST(config.seke_expression("Happiness").value_or("") == "happy");
    BOOST_TEST(!config.seke_expression("Contempt"));
}

BOOST_AUTO_TEST_CASE(predicted_values_and_alias_take_part_in_mapping) {
    auto config = parse_ok(R"(<View>
      <Image name="image" value="$image"/>
      <Choices name="expression" toName="image">
        <Choice value="Joy" predicted_values=" happy , glad"/>
        <Choice value="Smiling, happy" alias="Smile"/>
        <Choice value="Grief" predicted_values="sad"/>
        <Choice value="Neutral face" alias="neutral"/>
      </Choices>
    </View>)");
    BOOST_REQUIRE(config.expression);
    BOOST_TEST((values_of(*config.expression) == std::vector<std::string>{"Joy", "Smile", "Grief", "neutral"}));
    BOOST_TEST(config.expression->values[0].predicted_values == (std::vector<std::string>{"happy", "glad"}));
    BOOST_TEST(config.config_expression("happy").value_or("") == "Joy");
    BOOST_TEST(config.expression->match_value("glad").value_or("") == "Joy");
    BOOST_TEST(config.config_expression("sad").value_or("") == "Grief");
    BOOST_TEST(config.config_expression("neutral").value_or("") == "neutral");  // alias is the value sent
    BOOST_TEST(config.seke_expression("Joy").value_or("") == "happy");
    BOOST_TEST(config.seke_expression("Grief").value_or("") == "sad");
    BOOST_TEST(!config.seke_expression("Smile"));
    BOOST_TEST(!config.config_expression("fear"));
}

BOOST_AUTO_TEST_CASE(exact_beats_case_insensitive) {
    auto config = parse_ok(R"(<View><Image name="i" value="$i"/>
      <Choices name="expression" toName="i"><Choice value="HAPPY"/><Choice value="happy"/></Choices></View>)");
    BOOST_TEST(config.config_expression("happy").value_or("") == "happy");
    BOOST_TEST(config.expression->match_value("Happy").value_or("") == "HAPPY");
}

BOOST_AUTO_TEST_CASE(separate_description_text_areas) {
    auto config = parse_ok(R"(<View><Image name="image" value="$image"/>
      <TextArea name="expression_description" toName="image"/>
      <TextArea name="vaDescription" toName="image"/>
      <TextArea name="au_desc" toName="image"/>
      <TextArea name="comment" toName="image"/>
    </View>)");
    BOOST_REQUIRE(config.expression_description);
    BOOST_TEST(config.expression_description->name == "expression_description");
    BOOST_REQUIRE(config.va_description);
    BOOST_TEST(config.va_description->name == "vaDescription");
    BOOST_REQUIRE(config.au_description);
    BOOST_TEST(config.au_description->name == "au_desc");
    BOOST_TEST(!config.description);  // "comment" is the annotator's, not ours
}

BOOST_AUTO_TEST_CASE(empty_and_unrelated_configs_are_not_applicable) {
    for (const char* xml : {"", "   ", "<View></View>", "<View/>",
                            R"(<View><Text name="text" value="$text"/>
                                 <Choices name="sentiment" toName="text"><Choice value="Positive"/></Choices></View>)",
                            R"(<View><Image name="image" value="$image"/>
                                 <RectangleLabels name="label" toName="image"><Label value="Car"/><Label value="Person"/>
                                 </RectangleLabels></View>)"}) {
        auto parsed = parse_label_config(xml, test::test_knowledge());
        BOOST_REQUIRE_MESSAGE(parsed.ok(), xml);
        BOOST_TEST(!parsed->applicable(), xml);
        BOOST_TEST(!parsed->face, xml);
    }
}

BOOST_AUTO_TEST_CASE(face_rectangle_alone_is_applicable_and_label_matches_face) {
    auto config = parse_ok(R"(<View><Image name="image" value="$image"/>
      <RectangleLabels name="boxes" toName="image"><Label value="Person"/><Label value="Human face"/></RectangleLabels>
    </View>)");
    BOOST_TEST(config.applicable());
    BOOST_REQUIRE(config.face);
    BOOST_TEST(config.face->label.value_or("") == "Human face");
}

BOOST_AUTO_TEST_CASE(controls_of_another_image_are_ignored) {
    auto config = parse_ok(R"(<View>
      <Text name="caption" value="$caption"/>
      <Choices name="topic" toName="caption"><Choice value="Happy"/></Choices>
      <Image name="photo" value="$photo"/>
      <Choices name="expression" toName="photo"><Choice value="Sad"/></Choices>
    </View>)");
    BOOST_TEST(config.image_name == "photo");
    BOOST_REQUIRE(config.expression);
    BOOST_TEST(config.expression->to_name == "photo");
    BOOST_TEST(config.config_expression("sad").value_or("") == "Sad");
}

BOOST_AUTO_TEST_CASE(malformed_xml_is_an_error) {
    for (const char* xml :
         {"<View><Image name=\"image\" value=\"$image\"", "not xml at all", "<View><Choices></View>"}) {
        auto parsed = parse_label_config(xml, test::test_knowledge());
        BOOST_REQUIRE_MESSAGE(!parsed.ok(), xml);
        BOOST_TEST((parsed.error().code == errc::invalid_argument));
        BOOST_TEST(!parsed.error().message.empty());
    }
}

// The XML parser decodes &#xD800; to bytes that are not UTF-8; a prediction carrying that value
// threw when the store wrote it as JSON, on a media thread, which ended the process.
BOOST_AUTO_TEST_CASE(a_character_reference_that_is_not_utf8_is_refused) {
    auto config = [](const std::string& value) {
        return "<View><Image name=\"image\" value=\"$image\"/><Choices name=\"expression\" toName=\"image\">"
               "<Choice value=\"" +
               value + "\" predicted_values=\"happy\"/></Choices></View>";
    };
    for (const char* bad : {"&#xD800;", "&#xDFFF;", "J&#xD83D;oy"}) {
        auto parsed = parse_label_config(config(bad), test::test_knowledge());
        BOOST_REQUIRE_MESSAGE(!parsed.ok(), bad);
        BOOST_TEST((parsed.error().code == errc::invalid_argument));
        BOOST_TEST(parsed.error().message.find("UTF-8") != std::string::npos, parsed.error().message);
    }
    auto cyrillic = parse_label_config(config("&#x441;&#1090;&#x440;&#x1F600;"), test::test_knowledge());
    BOOST_REQUIRE(cyrillic.ok());
    BOOST_TEST(cyrillic->config_expression("happy").value_or("") == "\xD1\x81\xD1\x82\xD1\x80\xF0\x9F\x98\x80");
}

// A config nested deeper than any real one is refused before the XML parser (which recurses per
// level) sees it: 20,000 levels used to overflow the stack.
BOOST_AUTO_TEST_CASE(deeply_nested_config_is_a_clear_error_not_a_crash) {
    for (int levels : {65, 20'000}) {
        std::string xml;
        for (int i = 0; i < levels; ++i) xml += "<View>";
        for (int i = 0; i < levels; ++i) xml += "</View>";
        auto parsed = parse_label_config(xml, test::test_knowledge());
        BOOST_REQUIRE_MESSAGE(!parsed.ok(), levels);
        BOOST_TEST((parsed.error().code == errc::invalid_argument));
        BOOST_TEST(parsed.error().message.find("64 levels") != std::string::npos, parsed.error().message);
    }
    // Self-closing tags, comments, CDATA and '>' inside quotes are no levels; 64 real ones are fine.
    std::string deep = "<!-- <View><View> --><![CDATA[<View>]]>";
    for (int i = 0; i < 62; ++i) deep += "<View a=\"x>y\" b='<'>";
    deep +=
        "<Image name=\"image\" value=\"$image\"/><Choices name=\"expression\" toName=\"image\">"
        "<Choice value=\"Happy\"/></Choices>";
    for (int i = 0; i < 62; ++i) deep += "</View>";
    auto parsed = parse_label_config(deep, test::test_knowledge());
    BOOST_TEST_REQUIRE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    BOOST_TEST(parsed->expression.has_value());
}

BOOST_AUTO_TEST_CASE(cache_returns_the_same_parse_and_does_not_keep_errors) {
    LabelConfigCache cache(test::test_knowledge());
    auto first = cache.get(kSevenClass);
    auto second = cache.get(kSevenClass);
    BOOST_REQUIRE(first.ok() && second.ok());
    BOOST_TEST(first.value().get() == second.value().get());
    BOOST_TEST(cache.size() == 1u);
    BOOST_TEST(!cache.get("<View").ok());
    BOOST_TEST(cache.size() == 1u);

    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&cache] {
            for (int j = 0; j < 50; ++j) (void)cache.get(j % 2 ? kSevenClass : "<View></View>");
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(cache.size() == 2u);
}

// --- configs as users write them -----------------------------------------------------------

namespace {

const ControlReport* report_of(const LabelingConfig& config, const std::string& name) {
    for (const auto& report : config.controls)
        if (report.name == name) return &report;
    return nullptr;
}

ControlOverrides overrides_of(const LabelStudioControls& options) {
    auto parsed = control_overrides(options);
    BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? std::string() : parsed.error().message));
    return *parsed;
}

}  // namespace

BOOST_AUTO_TEST_CASE(abbreviated_names_find_every_level) {
    auto config = parse_ok(R"(<View><Image name="img" value="$url"/>
      <Choices name="fer" toName="img"><Choice value="Happy"/><Choice value="Sad"/></Choices>
      <Number name="val" toName="img" min="-1" max="1"/>
      <Number name="aro" toName="img" min="-1" max="1"/>
      <Choices name="facs" toName="img" choice="multiple"><Choice value="AU6"/><Choice value="AU12"/></Choices>
      <TextArea name="desc" toName="img"/>
    </View>)");
    BOOST_REQUIRE(config.expression);
    BOOST_TEST(config.expression->name == "fer");
    BOOST_REQUIRE(config.valence);
    BOOST_TEST(config.valence->name == "val");
    BOOST_REQUIRE(config.arousal);
    BOOST_TEST(config.arousal->name == "aro");
    BOOST_REQUIRE(config.action_units);
    BOOST_TEST(config.action_units->name == "facs");
    BOOST_REQUIRE(config.description);
    for (const auto& report : config.controls) BOOST_TEST(report.role.has_value(), report.name);

    auto prefixed = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Number name="va_valence" toName="image"/><Number name="va_arousal" toName="image"/>
      <Choices name="emo" toName="image"><Choice value="Angry"/><Choice value="Calm"/></Choices></View>)");
    BOOST_TEST(prefixed.valence.value_or(ControlTag{}).name == "va_valence");
    BOOST_TEST(prefixed.arousal.value_or(ControlTag{}).name == "va_arousal");
    BOOST_TEST(prefixed.expression.value_or(ControlTag{}).name == "emo");

    // "v" and "a" side by side are valence and arousal; apart they say nothing.
    auto pair = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Rating name="v" toName="image" maxRating="9"/><Rating name="a" toName="image" maxRating="9"/></View>)");
    BOOST_TEST(pair.valence.value_or(ControlTag{}).name == "v");
    BOOST_TEST(pair.arousal.value_or(ControlTag{}).name == "a");
    auto apart = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Number name="v" toName="image"/><TextArea name="notes" toName="image"/><Number name="a" toName="image"/></View>)");
    BOOST_TEST(!apart.valence);
    BOOST_TEST(!apart.arousal);
    BOOST_TEST(!apart.applicable());
}

BOOST_AUTO_TEST_CASE(sam_ratings_and_choice_scales_map_onto_minus_one_to_one) {
    auto config = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Rating name="valence_sam" toName="image" maxRating="9"/>
      <Choices name="arousal" toName="image">
        <Choice value="1"/><Choice value="2"/><Choice value="3"/><Choice value="4"/><Choice value="5"/>
        <Choice value="6"/><Choice value="7"/><Choice value="8"/><Choice value="9"/>
      </Choices></View>)");
    BOOST_REQUIRE(config.valence);
    BOOST_TEST(config.valence->type() == "rating");
    const ValueScale& stars = config.valence->scale;
    BOOST_TEST(stars.whole);
    BOOST_TEST(stars.low == 1.0);
    BOOST_TEST(stars.high == 9.0);
    BOOST_TEST(stars.to_control(-1) == 1.0);
    BOOST_TEST(stars.to_control(0) == 5.0);
    BOOST_TEST(stars.to_control(1) == 9.0);
    BOOST_TEST(stars.to_level(7) == 0.5);
    BOOST_REQUIRE(config.arousal);
    BOOST_TEST(config.arousal->type() == "choices");
    const ValueScale& nine = config.arousal->scale;
    BOOST_TEST(nine.choice_for(0.62).value_or("") == "7");  // 1 + 1.62 / 2 * 8 = 7.48
    BOOST_TEST(nine.choice_for(-1).value_or("") == "1");
    BOOST_TEST(nine.level_of_choice("5").value_or(9) == 0.0);
    BOOST_TEST(report_of(config, "arousal")->how.find("\"1\" for -1") != std::string::npos);

    // Words in the order written, high first when the first one says so.
    auto words = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Choices name="valence" toName="image">
        <Choice value="Very positive"/><Choice value="Positive"/><Choice value="Neutral"/>
        <Choice value="Negative"/><Choice value="Very negative"/></Choices>
      <Choices name="arousal" toName="image"><Choice value="Low"/><Choice value="Medium"/><Choice value="High"/></Choices>
    </View>)");
    BOOST_REQUIRE(words.valence);
    BOOST_TEST(words.valence->scale.choice_for(0.9).value_or("") == "Very positive");
    BOOST_TEST(words.valence->scale.choice_for(-0.45).value_or("") == "Negative");
    BOOST_TEST(words.valence->scale.level_of_choice("Very negative").value_or(0) == -1.0);
    BOOST_REQUIRE(words.arousal);
    BOOST_TEST(words.arousal->scale.choice_for(0.8).value_or("") == "High");
    BOOST_TEST(words.arousal->scale.level_of_choice("Medium").value_or(9) == 0.0);

    // A Number with its own range is that range; -1..1 is left as it is.
    auto numbers = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Number name="valence" toName="image" min="1" max="9"/><Number name="arousal" toName="image" min="-1" max="1"/>
    </View>)");
    BOOST_TEST(numbers.valence->scale.to_control(0) == 5.0);
    BOOST_TEST(numbers.arousal->scale.identity());
}

BOOST_AUTO_TEST_CASE(taxonomy_and_expression_labeled_boxes) {
    auto config = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Taxonomy name="emotion_tax" toName="image">
        <Choice value="Positive"><Choice value="Happy"/><Choice value="Surprised"/></Choice>
        <Choice value="Negative"><Choice value="Sad"/><Choice value="Angry"/><Choice value="Afraid"/></Choice>
        <Choice value="Other"><Choice value="Confused"/></Choice>
      </Taxonomy>
      <Taxonomy name="facs" toName="image">
        <Choice value="Upper face"><Choice value="AU1"/><Choice value="AU2"/></Choice>
        <Choice value="Lower face"><Choice value="AU12"/></Choice>
      </Taxonomy></View>)");
    BOOST_REQUIRE(config.expression);
    BOOST_TEST(config.expression->type() == "taxonomy");
    BOOST_TEST(config.config_expression("happy").value_or("") == "Happy");
    BOOST_TEST((config.expression->path_of("Sad") == std::vector<std::string>{"Negative", "Sad"}));
    // "Confused" is a leaf seke never predicts; the branches are not values of their own.
    BOOST_TEST((report_of(config, "emotion_tax")->unknown_values == std::vector<std::string>{"Confused"}));
    BOOST_REQUIRE(config.action_units);
    BOOST_TEST(config.action_units->name == "facs");
    BOOST_TEST((config.action_units->path_of("AU12") == std::vector<std::string>{"Lower face", "AU12"}));

    auto boxes = parse_ok(R"(<View><Image name="image" value="$image"/>
      <RectangleLabels name="label" toName="image">
        <Label value="Happy"/><Label value="Sad"/><Label value="Angry"/><Label value="Neutral"/><Label value="Surprise"/>
      </RectangleLabels>
      <Number name="valence" toName="image" perRegion="true"/></View>)");
    BOOST_REQUIRE(boxes.face);
    BOOST_TEST(boxes.face->labels_expression);
    BOOST_REQUIRE(boxes.expression);
    BOOST_TEST(boxes.expression->name == "label");
    BOOST_TEST(boxes.valence.has_value());  // per region: hangs on the expression's boxes
    BOOST_TEST((report_of(boxes, "label")->role == std::optional<Role>(Role::expression)));
}

BOOST_AUTO_TEST_CASE(every_control_seke_leaves_is_reported_with_why_and_the_option) {
    auto config = parse_ok(R"(<View>
      <Image name="image" value="$image"/>
      <Choices name="expression" toName="image"><Choice value="Happy"/><Choice value="Sad"/></Choices>
      <Rating name="quality" toName="image"/>
      <Number name="val" toName="image"/>
      <Polygon name="mask" toName="image"/>
      <Labels name="region_emotion" toName="image"><Label value="happy"/><Label value="sad"/></Labels>
      <Choices name="gender" toName="image"><Choice value="F"/><Choice value="M"/></Choices>
      <Text name="caption" value="$caption"/>
      <Choices name="topic" toName="caption"><Choice value="News"/></Choices>
    </View>)");
    BOOST_TEST(config.applicable());
    BOOST_TEST(config.unusable.empty());
    BOOST_TEST((report_of(config, "val")->role == std::optional<Role>(Role::valence)));
    const ControlReport* quality = report_of(config, "quality");
    BOOST_REQUIRE(quality);
    BOOST_TEST(!quality->role);
    BOOST_TEST(quality->reason.find("do not say which level") != std::string::npos, quality->reason);
    BOOST_TEST(quality->option == "--control-valence quality or --control-arousal quality");
    BOOST_TEST(report_of(config, "mask")->reason == "seke does not fill Polygon controls");
    BOOST_TEST(report_of(config, "mask")->option.empty());
    BOOST_TEST(report_of(config, "region_emotion")->reason.find("<RectangleLabels>") != std::string::npos);
    BOOST_TEST(report_of(config, "gender")->option.find("--control-expression gender") != std::string::npos);
    BOOST_TEST(report_of(config, "topic")->reason.find("labels \"caption\"") != std::string::npos);

    auto json = control_report_json(config);
    BOOST_TEST(json["usable"] == true);
    BOOST_TEST(json["filled"].size() == 2u);
    BOOST_TEST(json["unfilled"].size() == 5u);
    BOOST_TEST(json["unfilled"][0]["name"] == "quality");
    BOOST_TEST(json["unfilled"][0]["type"] == "Rating");
}

BOOST_AUTO_TEST_CASE(a_config_seke_cannot_use_says_why) {
    auto no_image = parse_ok(R"(<View><Text name="t" value="$t"/>
      <Choices name="sentiment" toName="t"><Choice value="Positive"/></Choices></View>)");
    BOOST_TEST(!no_image.applicable());
    BOOST_TEST(no_image.unusable.find("no <Image>") != std::string::npos);
    auto nothing = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Rating name="quality" toName="image"/></View>)");
    BOOST_TEST(!nothing.applicable());
    BOOST_TEST(!nothing.unusable.empty());
    const std::string message = unusable_message(nothing);
    BOOST_TEST(message.find("quality (Rating)") != std::string::npos, message);
    BOOST_TEST(message.find("--control-valence quality") != std::string::npos, message);
    // A config with no controls yet is not refused: Label Studio sends <View></View> before one is written.
    BOOST_TEST(parse_ok("<View></View>").unusable.empty());

    // perRegion controls need a rectangle to hang on.
    auto loose = parse_ok(R"(<View><Image name="image" value="$image"/>
      <Choices name="expression" toName="image" perRegion="true"><Choice value="Happy"/></Choices></View>)");
    BOOST_TEST(!loose.expression);
    BOOST_TEST(report_of(loose, "expression")->reason.find("perRegion") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_operators_mapping_wins_over_any_guess) {
    const char* xml = R"(<View><Image name="image" value="$image"/>
      <Choices name="emotion" toName="image"><Choice value="Happy"/><Choice value="Sad"/></Choices>
      <Choices name="mood" toName="image"><Choice value="Happy"/><Choice value="Sad"/></Choices>
      <Rating name="pleasure" toName="image" maxRating="7"/>
      <Number name="energy" toName="image" min="0" max="1"/>
      <Number name="valence" toName="image"/>
    </View>)";
    LabelStudioControls options;
    options.expression = "mood";
    options.valence = "pleasure";
    options.arousal = "energy:1..0";  // reversed: 0 is the most aroused
    auto config = parse_ok(xml, overrides_of(options));
    BOOST_TEST(config.expression->name == "mood");
    BOOST_TEST(config.valence->name == "pleasure");
    BOOST_TEST(config.valence->scale.to_control(1) == 7.0);
    BOOST_TEST(config.arousal->name == "energy");
    BOOST_TEST(config.arousal->scale.to_control(1) == 0.0);
    BOOST_TEST(!report_of(config, "emotion")->role);
    BOOST_TEST(!report_of(config, "valence")->role);  // the guess is not made
    BOOST_TEST(config.problems.empty());

    LabelStudioControls off;
    off.expression = "none";
    auto without = parse_ok(xml, overrides_of(off));
    BOOST_TEST(!without.expression);
    BOOST_TEST(report_of(without, "emotion")->reason == "label_studio.controls.expression is none");

    LabelStudioControls wrong;
    wrong.valence = "missing";
    wrong.arousal = "emotion";  // a Choices of expressions is no scale... but it is one: two choices
    wrong.expression = "energy";
    auto bad = parse_ok(xml, overrides_of(wrong));
    BOOST_TEST(bad.problems.size() == 2u);
    BOOST_TEST(bad.problems[0].find("\"energy\", a Number, which cannot hold expression") != std::string::npos,
               bad.problems[0]);
    BOOST_TEST(bad.problems[1].find("\"missing\", which is not a control") != std::string::npos, bad.problems[1]);
    BOOST_TEST(!bad.valence);
    BOOST_TEST(!bad.expression);
}

BOOST_AUTO_TEST_CASE(control_options_are_checked_when_read) {
    auto parse = [](const std::string& text, bool ranged) { return parse_control_override("opt", text, ranged); };
    BOOST_TEST(!parse("", true)->has_value());
    BOOST_TEST((*parse(" none ", false))->off);
    BOOST_TEST((*parse("sam:1..9", true))->control == "sam");
    BOOST_TEST((*parse("sam:1..9", true))->range->second == 9.0);
    BOOST_TEST((*parse("a:b", false))->control == "a:b");  // a name may hold ':'
    BOOST_TEST(!parse("sam:1..9", false).ok());
    BOOST_TEST(!parse("sam:1..x", true).ok());
    BOOST_TEST(!parse("sam:3..3", true).ok());
    BOOST_TEST(!parse(":1..9", true).ok());
    LabelStudioControls options;
    options.face = "box:1..2";
    BOOST_TEST(!control_overrides(options).ok());
}

BOOST_AUTO_TEST_SUITE_END()
