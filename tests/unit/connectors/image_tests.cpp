#include <boost/test/unit_test.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <atomic>
#include <thread>

#include "connectors/image.hpp"
#include "tests/support/scripted_http_server.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using seke::test::HttpReply;
using seke::test::HttpRequest;
using seke::test::ScriptedHttpServer;
using seke::test::TempDir;

namespace {

// A smooth gradient with a few shapes: nothing a face detector should fire on.
cv::Mat make_image(int width, int height) {
    cv::Mat image(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x * 255 / std::max(1, width - 1)),
                                                  static_cast<uchar>(y * 255 / std::max(1, height - 1)), 128);
    return image;
}

std::string encode(const cv::Mat& image, const std::string& ext) {
    std::vector<uchar> bytes;
    BOOST_REQUIRE(cv::imencode(ext, image, bytes));
    return std::string(bytes.begin(), bytes.end());
}

cv::Mat decode(const std::string& bytes) {
    std::vector<uchar> data(bytes.begin(), bytes.end());
    return cv::imdecode(data, cv::IMREAD_COLOR);
}

// Inserts an APP1 Exif segment holding only an orientation tag right after SOI.
std::string with_exif_orientation(const std::string& jpeg, std::uint16_t orientation) {
    std::string exif("Exif\0\0", 6);
    exif += std::string("II*\0\x08\0\0\0", 8);           // little-endian TIFF, IFD0 at 8
    exif += std::string("\x01\0", 2);                    // one entry
    exif += std::string("\x12\x01\x03\0\x01\0\0\0", 8);  // 0x0112 Orientation, SHORT, 1
    exif += static_cast<char>(orientation & 0xff);
    exif += static_cast<char>(orientation >> 8);
    exif += std::string("\0\0", 2);
    exif += std::string("\0\0\0\0", 4);  // no next IFD
    auto length = static_cast<std::uint16_t>(exif.size() + 2);
    std::string segment("\xFF\xE1", 2);
    segment += static_cast<char>(length >> 8);
    segment += static_cast<char>(length & 0xff);
    segment += exif;
    return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

template <class T>
std::string why(const Result<T>& result) {
    return result.ok() ? std::string() : std::string(errc_name(result.error().code)) + ": " + result.error().message;
}

using seke::test::face_options_with;

}  // namespace

BOOST_AUTO_TEST_SUITE(connectors_image_fetch)

BOOST_AUTO_TEST_CASE(reads_files_and_file_uris) {
    TempDir dir;
    std::string bytes = encode(make_image(32, 16), ".png");
    seke::test::write_file(dir / "a b.png", bytes);
    auto direct = fetch_image_bytes((dir / "a b.png").string(), {});
    BOOST_REQUIRE(direct.ok());
    BOOST_TEST((*direct == bytes));
    auto uri = fetch_image_bytes("file://" + (dir / "a%20b.png").string(), {});
    BOOST_REQUIRE_MESSAGE(uri.ok(), why(uri));
    BOOST_TEST((*uri == bytes));

    auto missing = fetch_image_bytes((dir / "nope.png").string(), {});
    BOOST_REQUIRE(!missing.ok());
    BOOST_TEST((missing.error().code == errc::not_found));

    ImageLimits small;
    small.max_bytes = 10;
    auto too_big = fetch_image_bytes((dir / "a b.png").string(), small);
    BOOST_REQUIRE(!too_big.ok());
    BOOST_TEST((too_big.error().code == errc::payload_too_large));

    auto scheme = fetch_image_bytes("ftp://example.com/x.png", {});
    BOOST_REQUIRE(!scheme.ok());
    BOOST_TEST((scheme.error().code == errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(file_uris_with_nul_or_malformed_escapes_are_refused) {
    TempDir dir;
    std::string bytes = encode(make_image(8, 8), ".png");
    seke::test::write_file(dir / "a", bytes);  // what a path cut at the NUL would name
    for (const std::string tail : {"a%00b.png", "a%zz.png", "a.png%2"}) {
        auto uri = fetch_image_bytes("file://" + (dir / tail).string(), {});
        BOOST_REQUIRE_MESSAGE(!uri.ok(), tail);
        BOOST_TEST((uri.error().code == errc::invalid_argument), why(uri));
        BOOST_TEST(uri.error().message.find("percent-escape") != std::string::npos, why(uri));
    }
}

BOOST_AUTO_TEST_CASE(decodes_data_uris) {
    std::string bytes = encode(make_image(8, 8), ".png");
    auto ok = fetch_image_bytes("data:image/png;base64," + base64_encode(bytes), {});
    BOOST_REQUIRE(ok.ok());
    BOOST_TEST((*ok == bytes));

    auto bad = fetch_image_bytes("data:image/png;base64,@@@@", {});
    BOOST_REQUIRE(!bad.ok());
    BOOST_TEST((bad.error().code == errc::invalid_argument));
    auto not_image = fetch_image_bytes("data:text/plain;base64," + base64_encode("hi"), {});
    BOOST_REQUIRE(!not_image.ok());
    BOOST_TEST((not_image.error().code == errc::invalid_argument));
    auto not_base64 = fetch_image_bytes("data:image/png,rawbytes", {});
    BOOST_REQUIRE(!not_base64.ok());
    BOOST_TEST((not_base64.error().code == errc::invalid_argument));

    ImageLimits small;
    small.max_bytes = 16;
    auto too_big = fetch_image_bytes("data:image/png;base64," + base64_encode(bytes), small);
    BOOST_REQUIRE(!too_big.ok());
    BOOST_TEST((too_big.error().code == errc::payload_too_large));
}

BOOST_AUTO_TEST_CASE(downloads_over_http) {
    std::string bytes = encode(make_image(16, 16), ".jpg");
    ScriptedHttpServer server([&](const HttpRequest& request) {
        if (request.path() == "/img.jpg") return HttpReply::json(bytes).with_header("Content-Type", "image/jpeg");
        if (request.path() == "/moved") return HttpReply::text("", 302).with_header("Location", "/img.jpg");
        if (request.path() == "/loop") return HttpReply::text("", 302).with_header("Location", "/loop");
        if (request.path() == "/big") return HttpReply::text(std::string(100000, 'x'));
        if (request.path() == "/slow") {
            HttpReply reply;
            reply.hang = true;
            return reply;
        }
        return HttpReply::text("not here", 404);
    });
    ImageLimits limits;
    limits.download_timeout_ms = 400;

    auto ok = fetch_image_bytes(server.base_url() + "/img.jpg", limits);
    BOOST_REQUIRE_MESSAGE(ok.ok(), why(ok));
    BOOST_TEST((*ok == bytes));

    auto redirected = fetch_image_bytes(server.base_url() + "/moved", limits);
    BOOST_REQUIRE(redirected.ok());
    BOOST_TEST((*redirected == bytes));

    auto loop = fetch_image_bytes(server.base_url() + "/loop", limits);
    BOOST_REQUIRE(!loop.ok());
    BOOST_TEST((loop.error().code == errc::upstream_error));

    auto missing = fetch_image_bytes(server.base_url() + "/none.jpg", limits);
    BOOST_REQUIRE(!missing.ok());
    BOOST_TEST((missing.error().code == errc::upstream_error));
    BOOST_TEST(missing.error().message.find("404") != std::string::npos);

    ImageLimits small = limits;
    small.max_bytes = 1000;
    auto big = fetch_image_bytes(server.base_url() + "/big", small);
    BOOST_REQUIRE(!big.ok());
    BOOST_TEST((big.error().code == errc::payload_too_large));

    auto started = std::chrono::steady_clock::now();
    auto slow = fetch_image_bytes(server.base_url() + "/slow", limits);
    BOOST_REQUIRE(!slow.ok());
    BOOST_TEST((slow.error().code == errc::upstream_timeout));
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(3)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(connectors_face_prepare)

BOOST_AUTO_TEST_CASE(face_mode_names) {
    BOOST_TEST((parse_face_mode("auto") == FaceMode::auto_detect));
    BOOST_TEST((parse_face_mode("off") == FaceMode::off));
    BOOST_TEST((parse_face_mode("required") == FaceMode::required));
    BOOST_TEST(!parse_face_mode("sometimes").has_value());
    for (auto mode : {FaceMode::auto_detect, FaceMode::off, FaceMode::required})
        BOOST_TEST((parse_face_mode(face_mode_name(mode)) == mode));
}

BOOST_AUTO_TEST_CASE(mode_off_uses_the_whole_image_resized) {
    FaceOptions options = face_options_with(FaceMode::off);
    options.longest_side = 128;
    FacePreparer preparer(options, {});
    std::string bytes = encode(make_image(400, 200), ".png");
    auto prepared = preparer.prepare(bytes);
    BOOST_REQUIRE_MESSAGE(prepared.ok(), why(prepared));
    BOOST_TEST(prepared->width == 400);
    BOOST_TEST(prepared->height == 200);
    BOOST_TEST(prepared->content_hash == sha256_hex(bytes));
    BOOST_REQUIRE(prepared->faces.size() == 1u);
    BOOST_TEST(!prepared->faces[0].box.has_value());
    BOOST_TEST(!prepared->faces[0].whole_image_fallback);
    cv::Mat crop = decode(prepared->faces[0].jpeg);
    BOOST_TEST(crop.cols == 128);
    BOOST_TEST(crop.rows == 64);

    // Never upscaled.
    auto small = preparer.prepare(encode(make_image(60, 30), ".jpg"));
    BOOST_REQUIRE(small.ok());
    cv::Mat small_crop = decode(small->faces[0].jpeg);
    BOOST_TEST(small_crop.cols == 60);
    BOOST_TEST(small_crop.rows == 30);
}

BOOST_AUTO_TEST_CASE(decodes_common_formats) {
    FacePreparer preparer(face_options_with(FaceMode::off), {});
    cv::Mat color = make_image(40, 30);
    cv::Mat gray;
    cv::cvtColor(color, gray, cv::COLOR_BGR2GRAY);
    cv::Mat alpha;
    cv::cvtColor(color, alpha, cv::COLOR_BGR2BGRA);
    for (const auto& bytes : {encode(color, ".jpg"), encode(color, ".png"), encode(color, ".bmp"), encode(gray, ".png"),
                              encode(alpha, ".png"), encode(color, ".tiff")}) {
        auto prepared = preparer.prepare(bytes);
        BOOST_REQUIRE_MESSAGE(prepared.ok(), why(prepared));
        BOOST_TEST(prepared->width == 40);
        BOOST_TEST(prepared->height == 30);
    }
}

BOOST_AUTO_TEST_CASE(gif_and_webp) {
    FacePreparer preparer(face_options_with(FaceMode::off), {});
    // A valid 1x1 GIF: OpenCV 4.6 has no GIF decoder, so it is reported as unsupported.
    const std::string gif(
        "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02"
        "D\x01\x00;",
        35);
    auto gif_result = preparer.prepare(gif);
    if (!gif_result.ok()) BOOST_TEST((gif_result.error().code == errc::unsupported_media));
    if (cv::haveImageWriter("x.webp")) {
        auto webp = preparer.prepare(encode(make_image(40, 30), ".webp"));
        BOOST_REQUIRE_MESSAGE(webp.ok(), why(webp));
        BOOST_TEST(webp->width == 40);
        ImageLimits limits;
        limits.max_pixels = 100;
        FacePreparer strict(face_options_with(FaceMode::off), limits);
        auto big = strict.prepare(encode(make_image(40, 30), ".webp"));
        BOOST_REQUIRE(!big.ok());
        BOOST_TEST((big.error().code == errc::payload_too_large));
    }
}

BOOST_AUTO_TEST_CASE(auto_mode_without_a_face_falls_back_to_the_whole_image) {
    FacePreparer preparer(face_options_with(FaceMode::auto_detect), {});
    auto prepared = preparer.prepare(encode(make_image(320, 240), ".jpg"));
    BOOST_REQUIRE_MESSAGE(prepared.ok(), why(prepared));
    BOOST_REQUIRE(prepared->faces.size() == 1u);
    BOOST_TEST(prepared->faces[0].whole_image_fallback);
    BOOST_TEST(!prepared->faces[0].box.has_value());
    BOOST_TEST(!decode(prepared->faces[0].jpeg).empty());
}

BOOST_AUTO_TEST_CASE(required_mode_without_a_face_is_no_face) {
    FacePreparer preparer(face_options_with(FaceMode::required), {});
    auto prepared = preparer.prepare(encode(make_image(320, 240), ".png"));
    BOOST_REQUIRE(!prepared.ok());
    BOOST_TEST((prepared.error().code == errc::no_face));
}

BOOST_AUTO_TEST_CASE(missing_cascade_is_a_config_error) {
    FaceOptions options = face_options_with(FaceMode::auto_detect);
    options.detector = FaceDetectorKind::cascade;
    options.cascade_path = "/nonexistent/cascade.xml";
    FacePreparer preparer(options, {});
    auto prepared = preparer.prepare(encode(make_image(64, 64), ".png"));
    BOOST_REQUIRE(!prepared.ok());
    BOOST_TEST((prepared.error().code == errc::config_error));
    BOOST_TEST(!preparer.ready().ok());
}

BOOST_AUTO_TEST_CASE(missing_detector_model_is_a_config_error_at_start) {
    FaceOptions options = face_options_with(FaceMode::auto_detect);
    options.detector_model = "/nonexistent/tiny_face_detector_model-weights_manifest.json";
    FacePreparer preparer(options, {});
    auto ready = preparer.ready();
    BOOST_REQUIRE(!ready.ok());
    BOOST_TEST((ready.error().code == errc::config_error));
    BOOST_TEST(ready.error().message.find("fetch-models.sh") != std::string::npos);
    auto prepared = preparer.prepare(encode(make_image(64, 64), ".jpg"));
    BOOST_REQUIRE(!prepared.ok());
    BOOST_TEST((prepared.error().code == errc::config_error));
    // Without detection the model is not needed.
    options.mode = FaceMode::off;
    BOOST_TEST(FacePreparer(options, {}).ready().ok());
}

BOOST_AUTO_TEST_CASE(both_detectors_are_ready_with_their_files) {
    FaceOptions tiny = face_options_with(FaceMode::auto_detect);
    BOOST_TEST(FacePreparer(tiny, {}).ready().ok());
    FaceOptions cascade = face_options_with(FaceMode::required);
    cascade.detector = FaceDetectorKind::cascade;
    BOOST_TEST(FacePreparer(cascade, {}).ready().ok());
}

BOOST_AUTO_TEST_CASE(concurrent_detection_is_safe) {
    FacePreparer preparer(face_options_with(FaceMode::auto_detect), {});
    std::string bytes = encode(make_image(200, 150), ".jpg");
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&] {
            for (int k = 0; k < 3; ++k)
                if (preparer.prepare(bytes).ok()) ++ok;
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(ok.load() == 12);
}

BOOST_AUTO_TEST_CASE(non_images_are_unsupported_media) {
    FacePreparer preparer(face_options_with(FaceMode::off), {});
    for (const std::string& bytes :
         {std::string("hello, I am not an image"), std::string(), std::string("%PDF-1.4\n..."),
          std::string("<svg xmlns='http://www.w3.org/2000/svg'/>")}) {
        auto prepared = preparer.prepare(bytes);
        BOOST_REQUIRE(!prepared.ok());
        BOOST_TEST((prepared.error().code == errc::unsupported_media));
    }
}

BOOST_AUTO_TEST_CASE(truncated_images_are_image_errors) {
    FacePreparer preparer(face_options_with(FaceMode::off), {});
    std::string jpeg = encode(make_image(120, 90), ".jpg");
    std::string png = encode(make_image(120, 90), ".png");
    for (const auto& bytes : {jpeg.substr(0, jpeg.size() / 2), jpeg.substr(0, jpeg.size() - 2),
                              png.substr(0, png.size() / 2), png.substr(0, png.size() - 12)}) {
        auto prepared = preparer.prepare(bytes);
        BOOST_REQUIRE(!prepared.ok());
        BOOST_TEST((prepared.error().code == errc::image_error));
    }
    // Trailing bytes after EOI (camera trailers) are fine.
    BOOST_TEST(preparer.prepare(jpeg + "trailer").ok());
}

BOOST_AUTO_TEST_CASE(pixel_and_byte_limits) {
    ImageLimits limits;
    limits.max_pixels = 50 * 50;
    FacePreparer preparer(face_options_with(FaceMode::off), limits);
    BOOST_TEST(preparer.prepare(encode(make_image(50, 50), ".png")).ok());
    for (const auto& ext : {".png", ".jpg", ".bmp", ".tiff"}) {
        auto prepared = preparer.prepare(encode(make_image(51, 50), ext));
        BOOST_REQUIRE(!prepared.ok());
        BOOST_TEST((prepared.error().code == errc::payload_too_large), ext);
    }
    ImageLimits bytes_limit;
    bytes_limit.max_bytes = 100;
    FacePreparer small(face_options_with(FaceMode::off), bytes_limit);
    auto prepared = small.prepare(encode(make_image(64, 64), ".png"));
    BOOST_REQUIRE(!prepared.ok());
    BOOST_TEST((prepared.error().code == errc::payload_too_large));
}

BOOST_AUTO_TEST_CASE(exif_orientation_is_applied) {
    FacePreparer preparer(face_options_with(FaceMode::off), {});
    std::string jpeg = encode(make_image(2, 1), ".jpg");
    auto upright = preparer.prepare(with_exif_orientation(jpeg, 1));
    BOOST_REQUIRE(upright.ok());
    BOOST_TEST(upright->width == 2);
    BOOST_TEST(upright->height == 1);
    auto rotated = preparer.prepare(with_exif_orientation(jpeg, 6));
    BOOST_REQUIRE_MESSAGE(rotated.ok(), why(rotated));
    BOOST_TEST(rotated->width == 1);
    BOOST_TEST(rotated->height == 2);
    cv::Mat crop = decode(rotated->faces[0].jpeg);
    BOOST_TEST(crop.cols == 1);
    BOOST_TEST(crop.rows == 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(connectors_face_regions)

BOOST_AUTO_TEST_CASE(given_regions_replace_detection) {
    FaceOptions options;
    options.margin = 0;
    FacePreparer preparer(options, ImageLimits{});
    std::string png = encode(make_image(200, 100), ".png");
    auto prepared = preparer.prepare_regions(png, {{0.25, 0.1, 0.5, 0.6}, {0.9, 0.5, 0.5, 0.9}});
    BOOST_TEST_REQUIRE(prepared.ok(), why(prepared));
    BOOST_TEST_REQUIRE(prepared->faces.size() == 2u);
    const Box& first = *prepared->faces[0].box;
    BOOST_TEST((first.x == 50 && first.y == 10 && first.w == 100 && first.h == 60));
    const Box& clipped = *prepared->faces[1].box;  // clipped to the image
    BOOST_TEST((clipped.x == 180 && clipped.y == 50 && clipped.w == 20 && clipped.h == 50));
    cv::Mat crop = decode(prepared->faces[0].jpeg);
    BOOST_TEST((crop.cols == 100 && crop.rows == 60));

    auto outside = preparer.prepare_regions(png, {{1.5, 0.1, 0.2, 0.2}});
    BOOST_TEST_REQUIRE(!outside.ok());
    BOOST_TEST((outside.error().code == errc::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()
