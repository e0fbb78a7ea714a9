// `seke import` then `seke label` (then `seke export --images-out`) end to end: a dataset fixture
// in its native layout (AffectNet's CSV lists, which ship a face box per row), the real binary,
// the fake VLLM on 127.0.0.1.
#include <boost/test/unit_test.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "plugin/records/crops.hpp"
#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;

BOOST_AUTO_TEST_SUITE(integration_import)

BOOST_AUTO_TEST_CASE(imported_lines_label_their_box_and_keep_their_source) {
    test::LabelFixture f;
    f.make_data(2);
    f.start_fake();
    auto truth = f.truth();
    const json& first = truth.at("s00001");
    const json& second = truth.at("s00002");

    // AffectNet as distributed: one photo whose face (the fake's code image) sits at (40, 50) in
    // a larger grey picture, and one whose face fills it.
    const auto root = f.dir / "affectnet";
    std::filesystem::create_directories(root / "Manually_Annotated_Images/7");
    std::filesystem::create_directories(root / "Manually_Annotated_file_lists");
    cv::Mat face = cv::imread((f.data() / first["image"].get<std::string>()).string());
    BOOST_TEST_REQUIRE(!face.empty());
    cv::Mat photo(300, 260, CV_8UC3, cv::Scalar::all(128));
    face.copyTo(photo(cv::Rect(40, 50, face.cols, face.rows)));
    BOOST_TEST_REQUIRE(cv::imwrite((root / "Manually_Annotated_Images/7/boxed.png").string(), photo));
    cv::Mat whole = cv::imread((f.data() / second["image"].get<std::string>()).string());
    BOOST_TEST_REQUIRE(cv::imwrite((root / "Manually_Annotated_Images/7/whole.png").string(), whole));
    std::string landmarks;
    for (int i = 0; i < 136; ++i) landmarks += (i ? ";" : "") + std::to_string(i);
    const std::string csv =
        "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n"
        "7/boxed.png,40,50," +
        std::to_string(face.cols) + "," + std::to_string(face.rows) + "," + landmarks +
        ",1,0.5,0.25\n"
        "7/whole.png,0,0," +
        std::to_string(whole.cols) + "," + std::to_string(whole.rows) + "," + landmarks +
        ",9,-2,-2\n"
        "7/whole.png,0,0,10,10," +
        landmarks + ",8,0.1,0.2\n";
    test::write_file(root / "Manually_Annotated_file_lists/training.csv", csv);

    // The manifest replaces the generated one, beside the fake's truth.
    auto imported = f.run_seke({"import", "affectnet", root.string(), "--out", f.manifest().string()});
    BOOST_TEST_REQUIRE(imported.exit_code == 0, imported.err);
    json summary = json::parse(imported.out);  // stdout is no terminal: the summary is JSON
    BOOST_TEST(summary["dataset"] == "affectnet");
    BOOST_TEST(summary["items"] == 2);
    BOOST_TEST(summary["skipped"]["reasons"]["no usable label"] == 1);
    BOOST_TEST(summary["expressions"]["happy"] == 1);
    BOOST_TEST(summary["va"]["items"] == 2);
    auto lines = f.manifest_lines();
    BOOST_TEST_REQUIRE(lines.size() == 2u);
    BOOST_TEST(lines[0]["id"] == "affectnet/7/boxed.png");
    BOOST_TEST(lines[0]["image"].get<std::string>().rfind("/", 0) == 0);  // not under the manifest's folder: absolute

    // The face box is the face: no detector (it is off here anyway), no margin, so the model is
    // shown exactly the box and the fake reads its code.
    auto labeled = f.label({"--face-margin", "0"});
    BOOST_TEST_REQUIRE(labeled.exit_code == 0, labeled.err);
    // The fake read the boxed face's code: the model saw the box, not the grey picture. The
    // 10 x 10 box is a corner of the other image, whose code cannot be read.
    const auto stats = f.server->stats();
    BOOST_TEST(stats.per_item.count("s00001") == 1u);
    BOOST_TEST(stats.per_item.count("s00002") == 0u);
    auto records = f.export_records();
    BOOST_TEST_REQUIRE(records.size() == 2u);
    std::map<std::string, json> by_id;
    for (auto& record : records) by_id[record["id"].get<std::string>()] = record;
    const json& boxed = by_id.at("affectnet/7/boxed.png");
    BOOST_TEST(boxed["source"] == "affectnet");
    BOOST_TEST(boxed["source_id"] == "7/boxed.png");
    BOOST_TEST(boxed["face"] == json({{"x", 40}, {"y", 50}, {"w", face.cols}, {"h", face.rows}}));
    BOOST_TEST(boxed["labels"]["expression"] == "happy");  // the source's label, kept
    BOOST_TEST(boxed["provenance"]["expression"] == "source");
    BOOST_TEST(boxed["labels"]["valence"] == 0.5);
    BOOST_TEST((boxed["flags"] == json::array()));
    const json& small = by_id.at("affectnet/7/whole.png");
    BOOST_TEST(small["source_id"] == "7/whole.png");
    BOOST_TEST(small["face"] == json({{"x", 0}, {"y", 0}, {"w", 10}, {"h", 10}}));

    // Exported with the face options it was labeled with, the training entry shows the face the
    // model read: the boxed face's own pixels, not the grey picture around it.
    const auto crops = f.dir / "crops";
    const auto llava = f.dir / "llava.json";
    auto exported = f.run_seke({"export", "--db", f.db().string(), "--format", "llava", "--out", llava.string(),
                                "--images-out", crops.string(), "--face-margin", "0"});
    BOOST_TEST_REQUIRE(exported.exit_code == 0, exported.err);
    std::map<std::string, std::string> images;
    for (const auto& entry : json::parse(test::read_file(llava))) images[entry["id"]] = entry["image"];
    BOOST_TEST(images.at("affectnet/7/boxed.png") == (crops / crop_file_name("affectnet/7/boxed.png")).string());
    cv::Mat crop = cv::imread(images.at("affectnet/7/boxed.png"));
    BOOST_TEST_REQUIRE((crop.size() == face.size()));
    const double mean_difference = cv::norm(crop, face, cv::NORM_L1) / static_cast<double>(face.total() * 3);
    BOOST_TEST(mean_difference < 6.0);
    BOOST_TEST((cv::imread(images.at("affectnet/7/whole.png")).size() == cv::Size(10, 10)));
}

BOOST_AUTO_TEST_CASE(a_malformed_label_file_fails_the_import_naming_its_line) {
    test::TempDir dir;
    const auto root = dir / "bp4d";
    std::filesystem::create_directories(root / "AUCoding/AU_OCC");
    std::filesystem::create_directories(root / "Sequences(2D+3D)/F001/T1");
    test::write_file(root / "AUCoding/AU_OCC/F001_T1.csv", "0,1,2\n1,0,1\n2,0,x\n");
    auto result =
        test::run_process({SEKE_BINARY, "import", "bp4d", root.string(), "--out", (dir / "m.jsonl").string()});
    BOOST_TEST(result.exit_code == 2);
    BOOST_TEST(result.err.find("F001_T1.csv:3: cell \\\"x\\\"") != std::string::npos, result.err);
    BOOST_TEST(!std::filesystem::exists(dir / "m.jsonl"));
    auto usage =
        test::run_process({SEKE_BINARY, "import", "nosuch", root.string(), "--out", (dir / "m.jsonl").string()});
    BOOST_TEST(usage.exit_code == 2);
}

BOOST_AUTO_TEST_SUITE_END()
