// Face detection on real photographs: the demo photos that the @vladmandic/face-api npm package
// ships (fetched by scripts/fetch-test-assets.sh into build/test-assets/).
#include <boost/test/unit_test.hpp>
#include <opencv2/imgcodecs.hpp>

#include "connectors/image.hpp"
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

BOOST_AUTO_TEST_SUITE_END()
