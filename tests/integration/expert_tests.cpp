// The built-in face expert end to end: `seke label` with no key and no base URL labels the real
// demo photos offline, says what it cannot see, exports it and draws it; on synthetic images
// (not faces) it abstains, alone and beside the fake VLLM.
#include <boost/test/unit_test.hpp>
#include <set>

#include <opencv2/imgcodecs.hpp>

#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;

namespace {

std::filesystem::path demo_photos() {
    return std::filesystem::path(SEKE_TEST_ASSETS_DIR) / "face-api" / "demo";
}

// No endpoint and no key, whatever the environment running the tests has.
std::map<std::string, std::string> offline_env() {
    return {{"OPENAI_BASE_URL", ""}, {"OPENAI_API_KEY", ""}, {"SEKE_PROGRESS_INTERVAL", "0.5"}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_expert)

BOOST_AUTO_TEST_CASE(with_no_key_the_expert_labels_real_photos_and_says_what_it_cannot_see) {
    BOOST_TEST_REQUIRE(std::filesystem::exists(demo_photos() / "sample1.jpg"), "run scripts/fetch-test-assets.sh");
    test::TempDir dir;
    // The six photographs (the folder also holds screenshots and a drawing of the mesh).
    std::filesystem::create_directories(dir / "photos");
    for (int i = 1; i <= 6; ++i) {
        const std::string name = "sample" + std::to_string(i) + ".jpg";
        std::filesystem::copy_file(demo_photos() / name, dir / "photos" / name);
    }
    auto db = (dir / "seke.db").string();
    auto run = test::run_process(
        {SEKE_BINARY, "label", "--input", (dir / "photos").string(), "--db", db, "--boxes", (dir / "boxes").string()},
        offline_env(), 300);
    BOOST_TEST_REQUIRE(run.exit_code == 0, run.err);
    BOOST_TEST(run.err.find("built-in face expert") != std::string::npos, run.err);  // the one line saying which
    json summary = test::LabelFixture::summary(run);
    BOOST_TEST(summary["model_requests"] == 0);
    BOOST_TEST(summary["faces"].get<int>() >= 18);
    BOOST_TEST(summary["pictures"] == 6);
    for (int i = 1; i <= 6; ++i) {
        cv::Mat picture = cv::imread((dir / "boxes" / ("sample" + std::to_string(i) + ".jpg")).string());
        BOOST_TEST(!picture.empty(), "sample" << i);
    }

    auto out = dir / "feid.jsonl";
    auto exported = test::run_process(
        {SEKE_BINARY, "export", "--db", db, "--format", "feid-jsonl", "--out", out.string()}, offline_env());
    BOOST_TEST_REQUIRE(exported.exit_code == 0, exported.err);
    auto records = test::read_jsonl(out);
    BOOST_TEST_REQUIRE(records.size() >= 18u);
    std::set<std::string> expressions;
    for (const auto& r : records) {
        BOOST_TEST(r["provenance"] == json({{"expression", "expert"}, {"va", "expert"}, {"au", "expert"}}), r["id"]);
        const json& expert = r["expert"];
        BOOST_TEST_REQUIRE(expert.is_object(), r.dump());
        BOOST_TEST(expert["abstained"] == false);
        BOOST_TEST(expert["not_covered"] == json({"contempt"}));
        std::set<std::string> unknown(expert["au_unknown"].begin(), expert["au_unknown"].end());
        for (const char* au : {"AU6", "AU9", "AU14"}) BOOST_TEST(unknown.count(au) == 1u, au);
        for (const auto& au : r["labels"]["action_units"]) BOOST_TEST(unknown.count(au.get<std::string>()) == 0u);
        std::string expression = r["labels"]["expression"];
        BOOST_TEST(expression != "contempt");
        expressions.insert(expression);
        BOOST_TEST(std::abs(r["labels"]["valence"].get<double>()) <= 1.0);
        BOOST_TEST(r["descriptions"]["expression"].get<std::string>().find("expert") != std::string::npos);
        BOOST_TEST(r["cost"]["requests"] == 0);
    }
    BOOST_TEST(expressions.count("happy") == 1u);  // the demo photos are mostly smiling

    for (const std::string format : {"llava", "sharegpt"}) {
        auto view = dir / ("view-" + format);
        auto result = test::run_process({SEKE_BINARY, "export", "--db", db, "--format", format, "--out", view.string()},
                                        offline_env());
        BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
        json entries = json::parse(test::read_file(view));
        BOOST_TEST_REQUIRE(entries.size() == records.size());
        BOOST_TEST(entries[0]["provenance"]["au"] == "expert", format);
        BOOST_TEST(entries[0]["not_covered"] == json({"contempt"}), format);
        BOOST_TEST(entries[0]["au_unknown"].size() >= 3u, format);
    }
}

BOOST_AUTO_TEST_CASE(on_synthetic_images_the_expert_alone_abstains_and_labels_nothing) {
    test::LabelFixture f;
    f.make_data(6);
    auto env = offline_env();
    auto run = test::run_process({SEKE_BINARY, "label", "--provider", "expert", "--input", f.manifest().string(),
                                  "--db", f.db().string(), "--face-detection", "off"},
                                 env, 120);
    BOOST_TEST(run.exit_code != 0);  // every item failed: the run is partial, not invented
    json summary = test::LabelFixture::summary(run);
    BOOST_TEST(summary["failed"] == 6);
    BOOST_TEST(summary["store_faces_total"] == 0);
    BOOST_TEST(run.err.find("no_face") != std::string::npos, run.err);
}

BOOST_AUTO_TEST_CASE(beside_the_fake_vllm_the_expert_abstains_on_synthetic_images_and_the_labels_are_the_vllms) {
    test::LabelFixture f;
    f.make_data(8);
    f.start_fake();
    auto run = f.label();
    BOOST_TEST_REQUIRE(run.exit_code == 0, run.err);
    BOOST_TEST(run.err.find("second opinion") != std::string::npos, run.err);
    auto records = f.export_records();
    BOOST_TEST_REQUIRE(records.size() == 8u);
    for (const auto& r : records) {
        BOOST_TEST(r["provenance"]["expression"] == "model");
        BOOST_TEST_REQUIRE(r["expert"].is_object(), r.dump());
        BOOST_TEST(r["expert"]["abstained"] == true);
        BOOST_TEST(r["expert"]["reason"].get<std::string>().find("face") != std::string::npos);
    }
    // --expert off: no expert block at all, and the model version says the setup changed.
    test::LabelFixture g;
    g.make_data(8);
    g.start_fake();
    auto off = g.label({"--expert", "off"});
    BOOST_TEST_REQUIRE(off.exit_code == 0, off.err);
    auto plain = g.export_records();
    BOOST_TEST_REQUIRE(plain.size() == 8u);
    BOOST_TEST(!plain[0].contains("expert"));
    BOOST_TEST(plain[0]["model_version"] != records[0]["model_version"]);
}

BOOST_AUTO_TEST_CASE(missing_expert_weights_are_a_start_up_error_that_says_how_to_get_them) {
    test::LabelFixture f;
    f.make_data(2);
    test::TempDir empty;
    auto alone = test::run_process({SEKE_BINARY, "label", "--input", f.manifest().string(), "--db", f.db().string(),
                                    "--expert-models", empty.path().string()},
                                   offline_env(), 60);
    BOOST_TEST(alone.exit_code != 0);
    BOOST_TEST(alone.err.find("fetch-models.sh") != std::string::npos, alone.err);
    BOOST_TEST(!std::filesystem::exists(f.db()));  // nothing was labeled or stored
    // Beside a VLLM the message also says how to go on without the expert.
    f.start_fake();
    auto beside = f.label({"--expert-models", empty.path().string()});
    BOOST_TEST(beside.exit_code != 0);
    BOOST_TEST(beside.err.find("--expert off") != std::string::npos, beside.err);
    BOOST_TEST(f.label({"--expert-models", empty.path().string(), "--expert", "off"}).exit_code == 0);
}

BOOST_AUTO_TEST_SUITE_END()
