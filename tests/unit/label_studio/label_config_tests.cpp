#include <boost/test/unit_test.hpp>
#include <string>
#include <thread>
#include <vector>

#include "plugin/label_studio/label_config.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using namespace seke::label_studio;

namespace {

LabelingConfig parse_ok(const std::string& xml, const LabelStudioNames& names = {}) {
    auto parsed = parse_label_config(xml, test::test_knowledge(), names);
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

    LabelStudioNames names;
    names.expression = "fer_label";
    names.valence = "v";
    auto configured = parse_ok(R"(<View>
      <Image name="image" value="$image"/>
      <Choices name="fer_label" toName="image"><Choice value="Happy"/></Choices>
      <Number name="v" toName="image"/>
    </View>)",
                               names);
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

BOOST_AUTO_TEST_SUITE_END()
