// The scaled / region JPEG decoder and the tiny face network, each checked against OpenCV's own
// implementation of the same thing (cv::imdecode, cv::dnn).
#include <boost/test/unit_test.hpp>

#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "connectors/image.hpp"
#include "connectors/jpeg_decode.hpp"
#include "connectors/tiny_face_net.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;

namespace {

// Colour detail everywhere, so a wrong pixel offset or orientation shows in the comparison.
cv::Mat make_pattern(int width, int height) {
    cv::Mat image(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((x * 7 + y * 3) % 256),
                                                  static_cast<uchar>((x * y) % 251), static_cast<uchar>((y * 5) % 256));
    cv::circle(image, {width / 3, height / 2}, std::min(width, height) / 5, cv::Scalar(20, 200, 90), -1);
    return image;
}

std::string encode_jpeg(const cv::Mat& image, bool progressive = false) {
    std::vector<uchar> bytes;
    BOOST_REQUIRE(
        cv::imencode(".jpg", image, bytes, {cv::IMWRITE_JPEG_QUALITY, 95, cv::IMWRITE_JPEG_PROGRESSIVE, progressive}));
    return std::string(bytes.begin(), bytes.end());
}

cv::Mat opencv_decode(const std::string& bytes) {
    return cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR);
}

// An APP1 Exif segment with one orientation entry, in either byte order, right after SOI.
std::string with_orientation(const std::string& jpeg, int orientation, bool big_endian) {
    auto u16 = [&](unsigned v) {
        return big_endian ? std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}
                          : std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
    };
    auto u32 = [&](unsigned v) { return big_endian ? u16(v >> 16) + u16(v & 0xffff) : u16(v & 0xffff) + u16(v >> 16); };
    std::string tiff = (big_endian ? std::string("MM") : std::string("II")) + u16(42) + u32(8);
    tiff += u16(1) + u16(0x0112) + u16(3) + u32(1) + u16(static_cast<unsigned>(orientation)) + u16(0) + u32(0);
    std::string exif = std::string("Exif\0\0", 6) + tiff;
    const auto length = static_cast<unsigned>(exif.size() + 2);
    std::string segment =
        std::string("\xFF\xE1", 2) + static_cast<char>(length >> 8) + static_cast<char>(length & 0xff) + exif;
    return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

int orientation_of(const std::string& jpeg) {
    auto header = read_jpeg_header(jpeg);
    BOOST_TEST_REQUIRE(header.has_value());
    return header->orientation;
}

double mean_difference(const cv::Mat& a, const cv::Mat& b) {
    BOOST_REQUIRE(a.size() == b.size());
    cv::Mat diff;
    cv::absdiff(a, b, diff);
    cv::Scalar m = cv::mean(diff);
    return (m[0] + m[1] + m[2]) / 3;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connectors_jpeg_decode)

BOOST_AUTO_TEST_CASE(reads_the_exif_orientation_in_both_byte_orders) {
    const std::string jpeg = encode_jpeg(make_pattern(40, 30));
    BOOST_TEST(orientation_of(jpeg) == 1);
    for (int orientation = 1; orientation <= 8; ++orientation) {
        BOOST_TEST(orientation_of(with_orientation(jpeg, orientation, false)) == orientation);
        BOOST_TEST(orientation_of(with_orientation(jpeg, orientation, true)) == orientation);
    }
    // Out of range, or a block cut short: as stored.
    BOOST_TEST(orientation_of(with_orientation(jpeg, 9, false)) == 1);
    std::string cut = with_orientation(jpeg, 6, false);
    cut[5] = 12;  // APP1 length shorter than its IFD
    BOOST_TEST(orientation_of(cut) == 1);
}

BOOST_AUTO_TEST_CASE(full_decode_matches_opencv_for_every_orientation) {
    const std::string base = encode_jpeg(make_pattern(64, 40));
    for (int orientation = 1; orientation <= 8; ++orientation) {
        const std::string jpeg = with_orientation(base, orientation, orientation % 2 == 0);
        auto stored = decode_jpeg(jpeg, {});
        BOOST_TEST_REQUIRE(stored.ok());
        cv::Mat shown = apply_orientation(*stored, orientation_of(jpeg));
        cv::Mat expected = opencv_decode(jpeg);
        BOOST_TEST_REQUIRE((shown.size() == expected.size()), "orientation " << orientation);
        BOOST_TEST(cv::norm(shown, expected, cv::NORM_INF) == 0.0, "orientation " << orientation);
        BOOST_TEST((oriented_size(stored->size(), orientation) == expected.size()));
    }
}

BOOST_AUTO_TEST_CASE(grey_jpegs_decode_to_bgr_like_opencv) {
    cv::Mat grey;
    cv::cvtColor(make_pattern(48, 32), grey, cv::COLOR_BGR2GRAY);
    std::vector<uchar> bytes;
    BOOST_REQUIRE(cv::imencode(".jpg", grey, bytes));
    const std::string jpeg(bytes.begin(), bytes.end());
    auto header = read_jpeg_header(jpeg);
    BOOST_TEST_REQUIRE(header.has_value());
    BOOST_TEST(header->decodable);
    auto decoded = decode_jpeg(jpeg, {});
    BOOST_TEST_REQUIRE(decoded.ok());
    BOOST_TEST(decoded->channels() == 3);
    BOOST_TEST(cv::norm(*decoded, opencv_decode(jpeg), cv::NORM_INF) == 0.0);
}

BOOST_AUTO_TEST_CASE(stored_rect_maps_a_shown_region_back_for_every_orientation) {
    const cv::Mat stored = make_pattern(50, 30);
    std::mt19937 random(7);
    for (int orientation = 1; orientation <= 8; ++orientation) {
        const cv::Mat shown = apply_orientation(stored, orientation);
        for (int trial = 0; trial < 20; ++trial) {
            std::uniform_int_distribution<int> x(0, shown.cols - 2), y(0, shown.rows - 2);
            const int x0 = x(random), y0 = y(random);
            const cv::Rect rect(x0, y0, std::uniform_int_distribution<int>(1, shown.cols - x0)(random),
                                std::uniform_int_distribution<int>(1, shown.rows - y0)(random));
            const cv::Rect back = stored_rect(rect, stored.size(), orientation);
            BOOST_TEST_REQUIRE(((back & cv::Rect(cv::Point(), stored.size())) == back));
            cv::Mat expected = shown(rect);
            cv::Mat got = apply_orientation(stored(back), orientation);
            BOOST_TEST_REQUIRE((got.size() == expected.size()));
            BOOST_TEST(cv::norm(got, expected, cv::NORM_INF) == 0.0);
        }
    }
}

BOOST_AUTO_TEST_CASE(region_decode_matches_a_crop_of_the_full_decode) {
    const cv::Mat pattern = make_pattern(333, 250);
    for (bool progressive : {false, true}) {
        const std::string jpeg = encode_jpeg(pattern, progressive);
        const cv::Mat full = opencv_decode(jpeg);
        for (const cv::Rect& region : {cv::Rect(0, 0, 333, 250), cv::Rect(37, 21, 100, 90), cv::Rect(250, 200, 83, 50),
                                       cv::Rect(1, 249, 40, 1)}) {
            JpegDecodeRequest request;
            request.region = region;
            auto got = decode_jpeg(jpeg, request);
            BOOST_TEST_REQUIRE(got.ok());
            // Chroma upsampling at the cut edge may differ by a level or two.
            BOOST_TEST(mean_difference(*got, full(region)) < 0.5, region << (progressive ? " progressive" : ""));
        }
    }
}

BOOST_AUTO_TEST_CASE(scaled_decodes_are_close_to_a_resized_full_decode) {
    const std::string jpeg = encode_jpeg(make_pattern(320, 240));
    const cv::Mat full = opencv_decode(jpeg);
    for (int denominator : {2, 4, 8}) {
        for (bool fast : {false, true}) {
            JpegDecodeRequest request;
            request.scale_denominator = denominator;
            request.fast = fast;
            auto got = decode_jpeg(jpeg, request);
            BOOST_TEST_REQUIRE(got.ok());
            BOOST_TEST((got->size() == cv::Size(320 / denominator, 240 / denominator)));
            cv::Mat expected;
            cv::resize(full, expected, got->size(), 0, 0, cv::INTER_AREA);
            // The pattern has fine detail, so the two downscalers differ a little; a misplaced or
            // mis-scaled image differs by tens of levels.
            BOOST_TEST(mean_difference(*got, expected) < 12, denominator << (fast ? " fast" : ""));
        }
        JpegDecodeRequest gray;
        gray.scale_denominator = denominator;
        gray.gray = true;
        auto got = decode_jpeg(jpeg, gray);
        BOOST_TEST_REQUIRE(got.ok());
        BOOST_TEST(got->channels() == 1);
    }
}

BOOST_AUTO_TEST_CASE(corrupt_data_is_an_image_error) {
    std::string jpeg = encode_jpeg(make_pattern(40, 30));
    // Zero the frame's width in SOF0.
    auto sof = jpeg.find("\xFF\xC0");
    BOOST_TEST_REQUIRE(sof != std::string::npos);
    jpeg[sof + 7] = 0;
    jpeg[sof + 8] = 0;
    auto decoded = decode_jpeg(jpeg, {});
    BOOST_TEST_REQUIRE(!decoded.ok());
    BOOST_TEST((decoded.error().code == errc::image_error));
    BOOST_TEST(!read_jpeg_header(jpeg).has_value());
    JpegDecodeRequest bad_scale;
    bad_scale.scale_denominator = 3;
    BOOST_TEST(!decode_jpeg(encode_jpeg(make_pattern(40, 30)), bad_scale).ok());
}

BOOST_AUTO_TEST_CASE(prepared_crops_match_the_opencv_path) {
    // The same pixels as a JPEG (scaled and region decodes) and as a PNG (OpenCV decodes it
    // whole): the crops of the same regions must agree.
    const cv::Mat pattern = make_pattern(1600, 900);
    const std::string jpeg = encode_jpeg(pattern);
    std::vector<uchar> png_bytes;
    BOOST_REQUIRE(cv::imencode(".png", opencv_decode(jpeg), png_bytes));
    const std::string png(png_bytes.begin(), png_bytes.end());
    FaceOptions options;
    options.longest_side = 256;
    FacePreparer preparer(options, ImageLimits{});
    // A small region (decoded at full scale) with a big one (which alone would be decoded at 1/2).
    const std::vector<RegionFraction> regions = {{0.05, 0.1, 0.1, 0.15}, {0.4, 0.2, 0.5, 0.7}};
    for (const auto& wanted : {regions, std::vector<RegionFraction>{regions[1]}}) {
        auto from_jpeg = preparer.prepare_regions(jpeg, wanted);
        auto from_png = preparer.prepare_regions(png, wanted);
        BOOST_TEST_REQUIRE(from_jpeg.ok());
        BOOST_TEST_REQUIRE(from_png.ok());
        BOOST_TEST_REQUIRE(from_jpeg->faces.size() == from_png->faces.size());
        for (std::size_t i = 0; i < from_jpeg->faces.size(); ++i) {
            cv::Mat a = opencv_decode(from_jpeg->faces[i].jpeg), b = opencv_decode(from_png->faces[i].jpeg);
            BOOST_TEST_REQUIRE((a.size() == b.size()));
            BOOST_TEST(std::max(a.cols, a.rows) <= 256);
            BOOST_TEST(mean_difference(a, b) < 10, "face " << i);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

const std::string& model_path() {
    static const std::string path = seke::test::face_model_path();
    return path;
}

// The same network built layer by layer in OpenCV's DNN module, from the same weights.
cv::dnn::Net reference_net(const TinyFaceNet::Weights& w) {
    cv::dnn::Net net;
    int id = 0;
    auto add = [&](const std::string& type, cv::dnn::LayerParams params) {
        params.name = type + std::to_string(id++);
        params.type = type;
        net.addLayerToPrev(params.name, type, params);
    };
    // HWIO (TensorFlow) to OIHW (OpenCV).
    auto oihw = [](const std::vector<float>& hwio, int k, int in, int out) {
        const int shape[4] = {out, in, k, k};
        cv::Mat m(4, shape, CV_32F);
        for (int y = 0; y < k; ++y)
            for (int x = 0; x < k; ++x)
                for (int i = 0; i < in; ++i)
                    for (int o = 0; o < out; ++o)
                        m.ptr<float>()[((o * in + i) * k + y) * k + x] = hwio[((y * k + x) * in + i) * out + o];
        return m;
    };
    auto conv = [&](cv::Mat weights, const std::vector<float>* bias, int k, int pad, int out, int group, bool leaky) {
        cv::dnn::LayerParams p;
        p.set("kernel_size", k);
        p.set("pad", pad);
        p.set("stride", 1);
        p.set("num_output", out);
        p.set("group", group);
        p.set("bias_term", bias != nullptr);
        p.blobs.push_back(weights);
        if (bias)
            p.blobs.push_back(
                cv::Mat(1, static_cast<int>(bias->size()), CV_32F, const_cast<float*>(bias->data())).clone());
        add("Convolution", p);
        if (leaky) {
            cv::dnn::LayerParams relu;
            relu.set("negative_slope", 0.1);
            add("ReLU", relu);
        }
    };
    auto pool = [&](int stride) {
        cv::dnn::LayerParams p;
        p.set("pool", "max");
        p.set("kernel_size", 2);
        p.set("stride", stride);
        p.set("pad_mode", "SAME");
        add("Pooling", p);
    };
    conv(oihw(w.conv0_filters, 3, 3, 16), &w.conv0_bias, 3, 0, 16, 1, true);
    pool(2);
    for (std::size_t layer = 0; layer < w.separable.size(); ++layer) {
        const auto& l = w.separable[layer];
        const int shape[4] = {l.in_channels, 1, 3, 3};
        cv::Mat depthwise(4, shape, CV_32F);
        for (int k = 0; k < 9; ++k)
            for (int c = 0; c < l.in_channels; ++c)
                depthwise.ptr<float>()[c * 9 + k] = l.depthwise[k * l.in_channels + c];
        conv(depthwise, nullptr, 3, 1, l.in_channels, l.in_channels, false);
        conv(oihw(l.pointwise, 1, l.in_channels, l.out_channels), &l.bias, 1, 0, l.out_channels, 1, true);
        pool(layer + 1 == w.separable.size() ? 1 : 2);
    }
    conv(oihw(w.conv8_filters, 1, 512, 25), &w.conv8_bias, 1, 0, 25, 1, false);
    return net;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connectors_tiny_face_net)

BOOST_AUTO_TEST_CASE(forward_matches_opencv_dnn_on_the_same_weights) {
    BOOST_TEST_REQUIRE(std::filesystem::exists(model_path()), model_path() << " missing: run scripts/fetch-models.sh");
    auto net = TinyFaceNet::load(model_path());
    BOOST_TEST_REQUIRE(net.ok(), (net.ok() ? "" : net.error().message));
    cv::dnn::Net reference = reference_net(net->weights());
    cv::setNumThreads(1);
    // Sizes that are and are not whole cells, so the padding and the "same" pooling both count.
    for (const cv::Size& size : {cv::Size(416, 256), cv::Size(160, 96), cv::Size(100, 70)}) {
        const cv::Mat image = make_pattern(size.width, size.height);
        const TinyFaceNet::Tensor out = net->forward(TinyFaceNet::input_from(image));
        cv::Mat blob =
            cv::dnn::blobFromImage(image, 1.0 / 255, cv::Size(), cv::Scalar(117.001, 114.697, 97.404), true, false);
        reference.setInput(blob);
        cv::Mat expected = reference.forward();
        BOOST_TEST_REQUIRE(expected.size[1] == out.channels);
        BOOST_TEST_REQUIRE(expected.size[2] == out.height);
        BOOST_TEST_REQUIRE(expected.size[3] == out.width);
        double worst = 0;
        for (int c = 0; c < out.channels; ++c)
            for (int y = 0; y < out.height; ++y)
                for (int x = 0; x < out.width; ++x)
                    worst = std::max(
                        worst, static_cast<double>(std::abs(
                                   expected.ptr<float>()[(c * out.height + y) * out.width + x] - out.at(y, x, c))));
        BOOST_TEST(worst < 1e-3, size << ": largest difference " << worst);
    }
}

BOOST_AUTO_TEST_CASE(a_pattern_without_faces_has_no_detections) {
    auto net = TinyFaceNet::load(model_path());
    BOOST_TEST_REQUIRE(net.ok());
    cv::Mat flat(300, 400, CV_8UC3, cv::Scalar(120, 130, 140));
    BOOST_TEST(net->detect(flat, 416, 0.5f).empty());
}

BOOST_AUTO_TEST_CASE(bad_model_files_are_config_errors) {
    seke::test::TempDir dir;
    auto missing = TinyFaceNet::load((dir.path() / "absent.json").string());
    BOOST_TEST_REQUIRE(!missing.ok());
    BOOST_TEST((missing.error().code == errc::not_found));

    const auto original = nlohmann::json::parse(seke::test::read_file(model_path()));
    const auto folder = std::filesystem::path(model_path()).parent_path();
    std::filesystem::copy_file(folder / "tiny_face_detector_model.bin", dir.path() / "tiny_face_detector_model.bin");
    auto try_manifest = [&](const nlohmann::json& manifest) {
        const auto path = dir.path() / "manifest.json";
        seke::test::write_file(path, manifest.dump());
        return TinyFaceNet::load(path.string());
    };
    BOOST_TEST(try_manifest(original).ok());

    auto not_array = try_manifest(nlohmann::json::object());
    BOOST_TEST_REQUIRE(!not_array.ok());
    BOOST_TEST((not_array.error().code == errc::config_error));

    nlohmann::json renamed = original;
    renamed[0]["weights"][0]["name"] = "conv0/kernel";
    auto missing_weight = try_manifest(renamed);
    BOOST_TEST_REQUIRE(!missing_weight.ok());
    BOOST_TEST(missing_weight.error().message.find("conv0/filters") != std::string::npos);

    nlohmann::json reshaped = original;
    reshaped[0]["weights"][0]["shape"] = {3, 3, 16, 3};
    BOOST_TEST(!try_manifest(reshaped).ok());

    nlohmann::json longer = original;
    longer[0]["weights"][18]["shape"] = {4096};
    auto short_file = try_manifest(longer);
    BOOST_TEST_REQUIRE(!short_file.ok());
    BOOST_TEST((short_file.error().code == errc::config_error));

    nlohmann::json odd_type = original;
    odd_type[0]["weights"][1]["quantization"]["dtype"] = "int4";
    BOOST_TEST(!try_manifest(odd_type).ok());
}

BOOST_AUTO_TEST_SUITE_END()
