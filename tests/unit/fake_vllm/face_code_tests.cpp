#include <boost/test/unit_test.hpp>

#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tools/fake_vllm/face_code.hpp"
#include "tools/fake_vllm/rng.hpp"

using namespace seke::fake;

namespace {

cv::Mat reencode(const cv::Mat& image, const std::string& ext, int quality) {
    std::vector<uchar> bytes;
    std::vector<int> params;
    if (ext == ".jpg") params = {cv::IMWRITE_JPEG_QUALITY, quality};
    BOOST_REQUIRE(cv::imencode(ext, image, bytes, params));
    return cv::imdecode(bytes, cv::IMREAD_COLOR);
}

cv::Mat resized(const cv::Mat& image, int side) {
    cv::Mat out;
    const int interp = side < image.cols ? cv::INTER_AREA : cv::INTER_LINEAR;
    cv::resize(image, out, cv::Size(side, side), 0, 0, interp);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fake_vllm_face_code)

BOOST_AUTO_TEST_CASE(round_trips_through_resize_and_jpeg) {
    Rng rng(11);
    const std::vector<std::uint32_t> codes{0,
                                           1,
                                           kMaxCode,
                                           0x55555,
                                           0xAAAAA,
                                           static_cast<std::uint32_t>(rng.next() & kMaxCode),
                                           static_cast<std::uint32_t>(rng.next() & kMaxCode)};
    for (const auto code : codes) {
        for (const int drawn : {256, 512}) {
            const cv::Mat original = reencode(draw_code_image(code, drawn), ".jpg", 92);
            for (const int side : {64, 100, 224, 256, 384, 512, 1024}) {
                for (const int quality : {50, 60, 75, 90, 95}) {
                    const auto read = read_code(reencode(resized(original, side), ".jpg", quality));
                    BOOST_TEST_CONTEXT("code " << code << " drawn " << drawn << " side " << side << " q" << quality) {
                        BOOST_REQUIRE(read.has_value());
                        BOOST_TEST(*read == code);
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(round_trips_through_png_and_gray) {
    const cv::Mat image = draw_code_image(123456, 256);
    BOOST_TEST(read_code(reencode(image, ".png", 0)).value_or(0) == 123456u);
    cv::Mat gray;
    cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
    BOOST_TEST(read_code(gray).value_or(0) == 123456u);
    // Sizes not divisible by 6 still fill the square.
    BOOST_TEST(read_code(draw_code_image(777, 100)).value_or(0) == 777u);
}

BOOST_AUTO_TEST_CASE(rejects_what_is_not_a_code) {
    BOOST_TEST(!read_code(cv::Mat()).has_value());
    BOOST_TEST(!read_code(cv::Mat(64, 64, CV_8UC3, cv::Scalar(128, 128, 128))).has_value());
    BOOST_TEST(!read_code(cv::Mat(3, 3, CV_8UC3, cv::Scalar(0, 0, 0))).has_value());

    // A flipped cell breaks the check bits.
    cv::Mat image = draw_code_image(4242, 240);
    const cv::Mat cell = image(cv::Rect(0, 0, 40, 40));
    cv::bitwise_not(cell, cell);  // a view: flips the cell in `image`
    BOOST_TEST(!read_code(image).has_value());

    // Random 6x6 patterns (a photo-like mess at grid scale) almost never pass the 16-bit check.
    Rng rng(5);
    int accepted = 0;
    for (int i = 0; i < 300; ++i) {
        cv::Mat noise(6, 6, CV_8UC1);
        for (int p = 0; p < 36; ++p) noise.data[p] = static_cast<uchar>(rng.index(256));
        cv::Mat big;
        cv::resize(noise, big, cv::Size(120, 120), 0, 0, cv::INTER_NEAREST);
        if (read_code(big)) ++accepted;
    }
    BOOST_TEST(accepted <= 1);
}

BOOST_AUTO_TEST_SUITE_END()
