// Label Studio projects as their users configure them: abbreviated control names, the SAM's
// 9-point ratings, Choices scales, a taxonomy and boxes labeled by expression, through /setup,
// /predict, the real editor and a review webhook back into FEID; a control seke cannot fill is
// reported in the /setup answer, the log, the dashboard and `seke label-config --check`.
#include <signal.h>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <map>
#include <string>

#include "tests/integration/editor.hpp"
#include "tests/integration/serve_fixture.hpp"
#include "verify/text.hpp"

using namespace seke;
using nlohmann::json;
using test::ServeFixture;
namespace tt = boost::test_tools;

namespace {

std::string choices_of_knowledge(bool expressions) {
    std::string out;
    const auto& knowledge = test::test_knowledge();
    if (expressions)
        for (const auto& e : knowledge.expressions) out += "<Choice value=\"" + e.name + "\"/>";
    else
        for (const auto& a : knowledge.action_units) out += "<Choice value=\"" + a.code + "\"/>";
    return out;
}

// Whole-image, abbreviated names, and one control seke has no level for.
std::string abbreviated_config() {
    return "<View><Image name=\"img\" value=\"$image\"/>"
           "<Choices name=\"fer\" toName=\"img\" choice=\"single\">" +
           choices_of_knowledge(true) +
           "</Choices>"
           "<Number name=\"val\" toName=\"img\" min=\"-1\" max=\"1\" step=\"0.01\"/>"
           "<Number name=\"aro\" toName=\"img\" min=\"-1\" max=\"1\" step=\"0.01\"/>"
           "<Choices name=\"aus\" toName=\"img\" choice=\"multiple\">" +
           choices_of_knowledge(false) +
           "</Choices>"
           "<TextArea name=\"desc\" toName=\"img\"/>"
           "<Rating name=\"quality\" toName=\"img\"/></View>";
}

// The Self-Assessment Manikin's 9 points as a Rating and as Choices, expressions as a taxonomy.
std::string sam_config() {
    std::string nine;
    for (int i = 1; i <= 9; ++i) nine += "<Choice value=\"" + std::to_string(i) + "\"/>";
    return "<View><Image name=\"image\" value=\"$image\"/>"
           "<Taxonomy name=\"emotion\" toName=\"image\">"
           "<Choice value=\"Positive\"><Choice value=\"happy\"/><Choice value=\"surprise\"/></Choice>"
           "<Choice value=\"Negative\"><Choice value=\"sad\"/><Choice value=\"fear\"/><Choice value=\"disgust\"/>"
           "<Choice value=\"anger\"/><Choice value=\"contempt\"/></Choice>"
           "<Choice value=\"Neither\"><Choice value=\"neutral\"/></Choice></Taxonomy>"
           "<Rating name=\"valence_sam\" toName=\"image\" maxRating=\"9\"/>"
           "<Choices name=\"arousal_sam\" toName=\"image\">" +
           nine + "</Choices></View>";
}

// Each face's box labeled with its expression, valence and arousal per box.
std::string boxes_config() {
    std::string labels;
    for (const auto& e : test::test_knowledge().expressions) labels += "<Label value=\"" + e.name + "\"/>";
    return "<View><Image name=\"image\" value=\"$image\"/>"
           "<RectangleLabels name=\"emotion\" toName=\"image\">" +
           labels +
           "</RectangleLabels>"
           "<Number name=\"v\" toName=\"image\" perRegion=\"true\" min=\"-1\" max=\"1\"/>"
           "<Number name=\"a\" toName=\"image\" perRegion=\"true\" min=\"-1\" max=\"1\"/></View>";
}

const json* result_of(const json& results, const std::string& from_name) {
    for (const auto& r : results)
        if (r["from_name"] == from_name) return &r;
    return nullptr;
}

// A result's value without the region's geometry: what the control holds.
json control_value(json value) {
    for (const char* key : {"x", "y", "width", "height", "rotation"}) value.erase(key);
    return value;
}

std::map<std::string, json> records_by_id(const ServeFixture& f) {
    std::map<std::string, json> out;
    for (auto& r : f.export_records()) out[r["id"].get<std::string>()] = r;
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_user_configs)

BOOST_AUTO_TEST_CASE(setup_says_what_is_filled_and_refuses_a_config_it_cannot_use) {
    ServeFixture f;
    f.make_data(1);
    f.start_fake();
    f.start_serve();
    const std::string xml = abbreviated_config();
    for (int i = 0; i < 3; ++i) {  // Label Studio calls /setup before every batch
        auto setup = f.post("/setup", {{"project", "71.1"}, {"schema", xml}});
        BOOST_TEST_REQUIRE(setup.status == 200, setup.body);
        json controls = parse(setup)["controls"];
        BOOST_TEST(controls["usable"] == true);
        BOOST_TEST(controls["filled"].size() == 5u, controls.dump());
        BOOST_TEST_REQUIRE(controls["unfilled"].size() == 1u, controls.dump());
        BOOST_TEST(controls["unfilled"][0]["name"] == "quality");
        BOOST_TEST(controls["unfilled"][0]["type"] == "Rating");
        BOOST_TEST(controls["unfilled"][0]["option"] == "--control-valence quality or --control-arousal quality");
    }
    // Warned once for the project, with the control's name, type and the option.
    const std::string log = f.serve_log();
    std::size_t warnings = 0;
    for (auto at = log.find("controls seke leaves unfilled"); at != std::string::npos;
         at = log.find("controls seke leaves unfilled", at + 1))
        ++warnings;
    BOOST_TEST(warnings == 1u, log);
    BOOST_TEST(log.find("--control-valence quality") != std::string::npos);
    BOOST_TEST(log.find("\"level\":\"warn\"") != std::string::npos);

    // The dashboard lists it.
    json ui = parse(f.get("/ui/data"));
    BOOST_TEST_REQUIRE(ui["projects"].size() == 1u, ui["projects"].dump());
    BOOST_TEST(ui["projects"][0]["project"] == "71");
    BOOST_TEST(ui["projects"][0]["unfilled"][0]["name"] == "quality");

    // Nothing seke can fill: an error that says why (Label Studio shows it when connecting).
    auto refused = f.post("/setup", {{"project", "72"}, {"schema", R"(<View><Image name="image" value="$image"/>
                                       <Rating name="quality" toName="image"/></View>)"}});
    BOOST_TEST(refused.status == 400);
    const std::string reason = parse(refused)["error"]["message"].get<std::string>();
    BOOST_TEST(reason.find("quality (Rating)") != std::string::npos, reason);
    BOOST_TEST(reason.find("--control-valence quality") != std::string::npos, reason);
    auto text_project = f.post("/setup", {{"project", "73"}, {"schema", R"(<View><Text name="t" value="$t"/>
                                            <Choices name="c" toName="t"><Choice value="x"/></Choices></View>)"}});
    BOOST_TEST(text_project.status == 400);
    // An empty config (a project not configured yet) is no error.
    BOOST_TEST(f.post("/setup", {{"project", "74"}, {"schema", "<View></View>"}}).status == 200);

    // The operator maps it: the Rating becomes the valence, on its own 1..5.
    f.serve->signal(SIGTERM);
    BOOST_TEST_REQUIRE(f.serve->wait(20).has_value());
    f.start_serve({"--control-valence", "quality", "--control-arousal", "val"});
    json mapped = parse(f.post("/setup", {{"project", "71.1"}, {"schema", xml}}))["controls"];
    BOOST_TEST(mapped["unfilled"].size() == 1u, mapped.dump());  // aro now has no level
    BOOST_TEST(mapped["unfilled"][0]["name"] == "aro");
    auto predicted = parse(f.post("/predict", {{"tasks", json::array({ServeFixture::task(1, "s00001.jpg")})},
                                               {"label_config", xml},
                                               {"project", "71.1"}}))["results"][0]["result"];
    const json* quality = result_of(predicted, "quality");
    BOOST_TEST_REQUIRE(quality, predicted.dump());
    BOOST_TEST((*quality)["type"] == "rating");
    BOOST_TEST((*quality)["value"]["rating"].get<int>() >= 1);
    BOOST_TEST((*quality)["value"]["rating"].get<int>() <= 5);
}

BOOST_AUTO_TEST_CASE(the_editor_loads_users_configs_and_their_reviews_come_back_into_feid) {
    BOOST_TEST_REQUIRE(std::filesystem::exists("/usr/bin/chromium"),
                       "install Debian's chromium (scripts/test.sh does)");
    ServeFixture f;
    f.make_data(3);
    f.start_fake();
    f.start_serve();
    struct Case {
        std::string project;
        std::string xml;
        long long task;
        std::string image;
        std::vector<std::string> controls;  // each gets a result
    };
    const std::vector<Case> cases = {
        {"81", abbreviated_config(), 1, "s00001.jpg", {"fer", "val", "aro", "aus", "desc"}},
        {"82", sam_config(), 2, "s00002.jpg", {"emotion", "valence_sam", "arousal_sam"}},
        {"83", boxes_config(), 3, "s00003.jpg", {"emotion", "v", "a"}},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT("project " << c.project) {
            auto setup = f.post("/setup", {{"project", c.project}, {"schema", c.xml}});
            BOOST_TEST_REQUIRE(setup.status == 200, setup.body);
            json prediction = parse(f.post("/predict", {{"tasks", json::array({ServeFixture::task(c.task, c.image)})},
                                                        {"label_config", c.xml},
                                                        {"project", c.project}}))["results"][0];
            BOOST_TEST_REQUIRE(prediction.is_object());
            const json& result = prediction["result"];
            for (const auto& name : c.controls)
                BOOST_TEST(result_of(result, name) != nullptr, name << ": " << result.dump());
            for (const auto& r : result) BOOST_TEST(r.contains("score"), r.dump());

            // The editor takes every result with the value seke sent.
            json loaded = test::load_in_editor(f.dir, prediction, c.xml, f.data() / "images" / c.image);
            BOOST_TEST_MESSAGE(c.project << ": " << loaded.dump());
            BOOST_TEST(loaded["predictions"] == 1);
            const bool regions = c.project == "83";
            BOOST_TEST(test::result_keys(loaded["results"], regions) == test::result_keys(result, regions),
                       tt::per_element());
            for (const auto& shown : loaded["values"]) {
                const std::string key = shown["key"];
                const json* sent = result_of(result, key.substr(0, key.find(':')));
                BOOST_TEST_REQUIRE(sent, key);
                BOOST_TEST(control_value(shown["value"]) == control_value((*sent)["value"]), key);
            }
            if (regions) BOOST_TEST(loaded["regions"] == 1);

            // An annotator changes what the scale and the taxonomy say; the review reads it back.
            json edited = result;
            std::string expect_expression;
            double expect_valence = 0, expect_arousal = 0;
            // Each edit moves far from what seke said, so the review is a correction whatever the fake answered.
            auto other = [](const json& said, const std::string& a, const std::string& b) {
                return said.dump().find('"' + a + '"') == std::string::npos ? a : b;
            };
            for (auto& r : edited) {
                const std::string name = r["from_name"];
                json& value = r["value"];
                if (c.project == "81" && name == "fer") {
                    expect_expression = other(value, "sad", "happy");
                    value["choices"] = json::array({expect_expression});
                } else if (c.project == "81" && name == "val") {
                    expect_valence = value["number"].get<double>() > 0 ? -0.9 : 0.9;
                    value["number"] = expect_valence;
                } else if (c.project == "81" && name == "aro") {
                    expect_arousal = value["number"].get<double>();
                } else if (c.project == "82" && name == "emotion") {
                    expect_expression = other(value, "fear", "happy");
                    value["taxonomy"] = json::array(
                        {json::array({expect_expression == "fear" ? "Negative" : "Positive", expect_expression})});
                } else if (c.project == "82" && name == "valence_sam") {
                    const bool high = value["rating"].get<int>() > 5;
                    value["rating"] = high ? 2 : 8;  // on 1..9: -0.75 or +0.75
                    expect_valence = high ? -0.75 : 0.75;
                } else if (c.project == "82" && name == "arousal_sam") {
                    const bool high = std::stoi(value["choices"][0].get<std::string>()) > 5;
                    value["choices"] = json::array({high ? "1" : "9"});
                    expect_arousal = high ? -1.0 : 1.0;
                } else if (c.project == "83" && name == "emotion") {
                    expect_expression = other(value, "anger", "happy");
                    value["rectanglelabels"] = json::array({expect_expression});
                } else if (c.project == "83" && name == "v") {
                    expect_valence = value["number"].get<double>() > 0 ? -0.9 : 0.9;
                    value["number"] = expect_valence;
                } else if (c.project == "83" && name == "a") {
                    expect_arousal = value["number"].get<double>();
                }
            }
            json project = {{"id", std::stoll(c.project)}, {"label_config", c.xml}};
            auto review = f.post("/webhook", ServeFixture::review_event(project, c.task, edited));
            BOOST_TEST_REQUIRE(review.status == 201, review.body);
            BOOST_TEST(parse(review)["result"]["review"]["corrected"] == 1, review.body);
            auto records = records_by_id(f);
            BOOST_TEST_REQUIRE(records.count("ls/" + c.project + "/" + std::to_string(c.task)) == 1u);
            const json& record = records["ls/" + c.project + "/" + std::to_string(c.task)];
            BOOST_TEST(record["status"] == "corrected");
            BOOST_TEST(to_lower(record["labels"]["expression"].get<std::string>()) == expect_expression);
            BOOST_TEST(record["labels"]["valence"].get<double>() == expect_valence, tt::tolerance(1e-9));
            BOOST_TEST(record["labels"]["arousal"].get<double>() == expect_arousal, tt::tolerance(1e-9));
            BOOST_TEST(record["provenance"]["va"] == "human");
        }
    }
}

// `seke label-config --check FILE` for a config on disk: 0 when every control is filled, 3 when
// some are not, 2 when seke can fill nothing; the options are taken into account.
BOOST_AUTO_TEST_CASE(label_config_check_reports_a_config_on_disk) {
    test::TempDir dir;
    auto check = [&](const std::string& xml, std::vector<std::string> extra = {}) {
        test::write_file(dir / "config.xml", xml);
        std::vector<std::string> args = {SEKE_BINARY, "label-config", "--check", (dir / "config.xml").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return test::run_process(args, {}, 60);
    };
    auto shipped = check(ServeFixture::faces_config());
    BOOST_TEST(shipped.exit_code == 0, shipped.err);
    BOOST_TEST(json::parse(shipped.out)["unfilled"].empty());

    auto partial = check(abbreviated_config());
    BOOST_TEST(partial.exit_code == 3, partial.err);
    json report = json::parse(partial.out);
    BOOST_TEST(report["unfilled"][0]["name"] == "quality");
    BOOST_TEST(report["filled"].size() == 5u);

    auto mapped = check(abbreviated_config(), {"--control-arousal", "quality:1..5", "--control-valence", "val"});
    BOOST_TEST(json::parse(mapped.out)["unfilled"][0]["name"] == "aro", mapped.out);

    auto unusable =
        check(R"(<View><Image name="image" value="$image"/><Rating name="quality" toName="image"/></View>)");
    BOOST_TEST(unusable.exit_code == 2);
    BOOST_TEST(unusable.err.find("quality (Rating)") != std::string::npos, unusable.err);

    auto bad_option = check(abbreviated_config(), {"--control-face", "box:1..2"});
    BOOST_TEST(bad_option.exit_code == 2);
    BOOST_TEST(bad_option.err.find("label_studio.controls.face") != std::string::npos, bad_option.err);

    auto not_xml = check("<View><Image");
    BOOST_TEST(not_xml.exit_code == 2);
    auto missing = test::run_process({SEKE_BINARY, "label-config", "--check", (dir / "absent.xml").string()}, {}, 60);
    BOOST_TEST(missing.exit_code == 2);
}

BOOST_AUTO_TEST_SUITE_END()
