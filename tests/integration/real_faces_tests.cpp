// Face detection on real photographs: the demo photos that the @vladmandic/face-api npm package
// ships (fetched by scripts/fetch-test-assets.sh into build/test-assets/).
#include <boost/test/unit_test.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "connectors/face_expert.hpp"
#include "connectors/image.hpp"
#include "plugin/labeling/knowledge_json.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;

namespace {

std::vector<std::filesystem::path> demo_photos() {
    auto dir = std::filesystem::path(SEKE_TEST_ASSETS_DIR) / "face-api" / "demo";
    std::vector<std::filesystem::path> photos;
    for (int i = 1; i <= 6; ++i) photos.push_back(dir / ("sample" + std::to_string(i) + ".jpg"));
    return photos;
}

using seke::test::face_options_with;

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_real_faces)

BOOST_AUTO_TEST_CASE(auto_mode_finds_faces_in_real_photos_and_crops_them) {
    FacePreparer preparer(face_options_with(FaceMode::auto_detect), ImageLimits{});
    int photos_with_faces = 0;
    int faces = 0;
    for (const auto& path : demo_photos()) {
        BOOST_TEST_REQUIRE(std::filesystem::exists(path), path << " missing: run scripts/fetch-test-assets.sh");
        auto bytes = fetch_image_bytes(path.string(), ImageLimits{});
        BOOST_TEST_REQUIRE(bytes.ok());
        auto prepared = preparer.prepare(*bytes);
        BOOST_TEST_REQUIRE(prepared.ok(), (prepared.ok() ? "" : prepared.error().message));
        cv::Mat decoded = cv::imread(path.string());
        BOOST_TEST(prepared->width == decoded.cols);
        BOOST_TEST(prepared->height == decoded.rows);
        BOOST_TEST_REQUIRE(!prepared->faces.empty());
        bool found = !prepared->faces.front().whole_image_fallback;
        photos_with_faces += found;
        BOOST_TEST_MESSAGE(path.filename() << ": " << (found ? prepared->faces.size() : 0) << " faces");
        for (const auto& face : prepared->faces) {
            if (face.whole_image_fallback) continue;
            ++faces;
            BOOST_TEST_REQUIRE(face.box.has_value());
            BOOST_TEST((face.box->x >= 0 && face.box->y >= 0));
            BOOST_TEST(face.box->x + face.box->w <= prepared->width);
            BOOST_TEST(face.box->y + face.box->h <= prepared->height);
            cv::Mat crop =
                cv::imdecode(std::vector<unsigned char>(face.jpeg.begin(), face.jpeg.end()), cv::IMREAD_COLOR);
            BOOST_TEST_REQUIRE(!crop.empty());
            BOOST_TEST(std::max(crop.cols, crop.rows) <= 512);
        }
    }
    // The photos hold 22 faces (counted by eye); the tiny detector finds about 20 of them here.
    BOOST_TEST(photos_with_faces == 6, photos_with_faces << " of 6 photos had a face found");
    BOOST_TEST(faces >= 18, faces << " faces found");
}

BOOST_AUTO_TEST_CASE(required_mode_agrees_with_auto_and_off_mode_keeps_the_whole_image) {
    FaceOptions required = face_options_with(FaceMode::required);
    FaceOptions off = face_options_with(FaceMode::off);
    FacePreparer auto_preparer(face_options_with(FaceMode::auto_detect), ImageLimits{});
    FacePreparer required_preparer(required, ImageLimits{});
    FacePreparer off_preparer(off, ImageLimits{});
    for (const auto& path : demo_photos()) {
        auto bytes = fetch_image_bytes(path.string(), ImageLimits{});
        BOOST_TEST_REQUIRE(bytes.ok());
        auto automatic = auto_preparer.prepare(*bytes);
        auto strict = required_preparer.prepare(*bytes);
        BOOST_TEST_REQUIRE(automatic.ok());
        if (automatic->faces.front().whole_image_fallback) {
            BOOST_TEST_REQUIRE(!strict.ok());
            BOOST_TEST((strict.error().code == errc::no_face));
        } else {
            BOOST_TEST_REQUIRE(strict.ok());
            BOOST_TEST(strict->faces.size() == automatic->faces.size());
        }
        auto whole = off_preparer.prepare(*bytes);
        BOOST_TEST_REQUIRE(whole.ok());
        BOOST_TEST_REQUIRE(whole->faces.size() == 1u);
        BOOST_TEST(!whole->faces.front().box.has_value());
    }
}

BOOST_AUTO_TEST_CASE(the_face_expert_agrees_with_face_apis_own_pipeline) {
    // tests/fixtures/expert/pipeline.json: face-api's JavaScript (tiny detector, landmarks,
    // expressions) on the same photos, on TensorFlow.js.
    const auto reference =
        nlohmann::json::parse(seke::test::read_file(seke::test::source_path("tests/fixtures/expert/pipeline.json")));
    auto expert = FaceExpert::load(seke::test::expert_model_paths());
    BOOST_TEST_REQUIRE(expert.ok(), (expert.ok() ? "" : expert.error().message));
    FaceOptions options = face_options_with(FaceMode::auto_detect);
    options.expert = *expert;
    FacePreparer preparer(options, ImageLimits{});
    auto knowledge = load_knowledge_file(seke::test::source_path("config/knowledge.json").string());
    BOOST_TEST_REQUIRE(knowledge.ok());
    int confident = 0, compared = 0;
    for (const auto& path : demo_photos()) {
        auto bytes = fetch_image_bytes(path.string(), ImageLimits{});
        BOOST_TEST_REQUIRE(bytes.ok(), path << " missing: run scripts/fetch-test-assets.sh");
        auto prepared = preparer.prepare(*bytes);
        BOOST_TEST_REQUIRE(prepared.ok());
        for (const auto& face : prepared->faces) {
            BOOST_TEST_REQUIRE(face.expert.has_value());  // every face found is read
            if (face.box)
                BOOST_TEST(face.expert->face_score >= 0.5, path.filename()
                                                               << ": a face scores " << face.expert->face_score);
        }
        for (const auto& js : reference) {
            if (js["photo"] != path.filename().string() || js["probability"].get<double>() < 0.9) continue;
            ++confident;
            const cv::Rect2d js_box(js["box"][0], js["box"][1], js["box"][2], js["box"][3]);
            const FaceCrop* match = nullptr;
            for (const auto& face : prepared->faces) {
                if (!face.box) continue;
                const cv::Rect2d box(face.box->x, face.box->y, face.box->w, face.box->h);
                const double overlap = (box & js_box).area() / (box | js_box).area();
                if (overlap >= 0.5) match = &face;
            }
            if (!match) continue;
            ++compared;
            const auto& p = match->expert->face_api_expression;
            const auto top = std::max_element(p.begin(), p.end()) - p.begin();
            BOOST_TEST(kFaceApiExpressionClasses[top] == js["top"].get<std::string>(),
                       path.filename() << " at " << js_box << ": " << kFaceApiExpressionClasses[top] << " " << p[top]
                                       << ", face-api " << js["top"] << " " << js["probability"]);
            // The whole expert (both classifiers, mapped to the shipped knowledge's classes) says the same.
            const ExpertOpinion opinion = interpret_expert(*match->expert, *knowledge);
            static const std::map<std::string, std::string> kToKnowledge = {
                {"angry", "anger"}, {"fearful", "fear"}, {"disgusted", "disgust"}, {"surprised", "surprise"}};
            std::string js_top = js["top"];
            if (auto renamed = kToKnowledge.find(js_top); renamed != kToKnowledge.end()) js_top = renamed->second;
            BOOST_TEST(opinion.labels.expression.value_or("(none)") == js_top,
                       path.filename() << " at " << js_box << ": the expert says "
                                       << opinion.labels.expression.value_or("(none)") << ", face-api " << js_top);
            // The landmarks land where face-api's do, up to the two detectors' different boxes.
            double distance = 0;
            for (int i = 0; i < 68; ++i)
                distance += std::hypot(match->expert->landmarks68[i].x - js["landmarks"][2 * i].get<double>(),
                                       match->expert->landmarks68[i].y - js["landmarks"][2 * i + 1].get<double>());
            BOOST_TEST_MESSAGE(path.filename() << ": mean landmark distance " << distance / 68 << " px");
            BOOST_TEST(distance / 68 < 0.02 * js_box.width, path.filename()
                                                                << ": mean landmark distance " << distance / 68);
        }
    }
    BOOST_TEST(confident == 11);
    BOOST_TEST(compared >= 10, compared << " of " << confident << " confident faces matched a face seke found");
}

BOOST_AUTO_TEST_SUITE_END()
