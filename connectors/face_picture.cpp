#include "connectors/face_picture.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "connectors/jpeg_decode.hpp"

namespace seke {
namespace {

// The pixels (a JPEG may come DCT-scaled) and the size of the image as shown, which the boxes
// are in.
struct Shown {
    cv::Mat pixels;
    cv::Size size;
};

Result<Shown> decode_shown(const std::string& encoded, const ImageLimits& limits, int longest_side) {
    auto too_large = [&](std::int64_t width, std::int64_t height) { return width * height > limits.max_pixels; };
    if (auto header = read_jpeg_header(encoded); header && header->decodable) {
        if (too_large(header->width, header->height))
            return make_error(errc::payload_too_large, "image has more pixels than image.max_pixels");
        // The largest DCT scaling that still leaves the longest side at least `longest_side`.
        const int longest = std::max(header->width, header->height);
        JpegDecodeRequest request;
        while (request.scale_denominator < 8 && longest / (request.scale_denominator * 2) >= longest_side)
            request.scale_denominator *= 2;
        auto pixels = decode_jpeg(encoded, request);
        if (!pixels) return pixels.error();
        return Shown{apply_orientation(*pixels, header->orientation),
                     oriented_size({header->width, header->height}, header->orientation)};
    }
    cv::Mat raw(1, static_cast<int>(encoded.size()), CV_8UC1, const_cast<char*>(encoded.data()));
    cv::Mat image = cv::imdecode(raw, cv::IMREAD_COLOR);
    if (image.empty()) return make_error(errc::unsupported_media, "not an image this build can decode");
    if (too_large(image.cols, image.rows))
        return make_error(errc::payload_too_large, "image has more pixels than image.max_pixels");
    return Shown{image, image.size()};
}

}  // namespace

Result<std::string> draw_labeled_boxes(const std::string& encoded, const std::vector<LabeledBox>& faces,
                                       const ImageLimits& limits, int longest_side) {
    if (encoded.size() > limits.max_bytes)
        return make_error(errc::payload_too_large, "image is larger than image.max_bytes");
    auto decoded = decode_shown(encoded, limits, longest_side);
    if (!decoded) return decoded.error();
    // The boxes are in full-size pixels; the decode may be smaller (DCT scaling): the scale is
    // taken from the image as shown.
    const cv::Size shown_size = decoded->size;
    cv::Mat picture = decoded->pixels;
    const int longest = std::max(picture.cols, picture.rows);
    if (longest > longest_side) {
        const double f = static_cast<double>(longest_side) / longest;
        cv::resize(picture, picture, {}, f, f, cv::INTER_AREA);
    } else {
        picture = picture.clone();
    }
    const double scale = static_cast<double>(picture.cols) / std::max(1, shown_size.width);
    const int thickness = std::max(2, longest_side / 600);
    const double font_scale = std::max(0.5, picture.cols / 1400.0);
    const cv::Scalar box_colour(60, 200, 60), text_colour(255, 255, 255), shade(30, 30, 30);
    for (const auto& face : faces) {
        cv::Rect rect = face.box ? cv::Rect(static_cast<int>(std::lround(face.box->x * scale)),
                                            static_cast<int>(std::lround(face.box->y * scale)),
                                            static_cast<int>(std::lround(face.box->w * scale)),
                                            static_cast<int>(std::lround(face.box->h * scale)))
                                 : cv::Rect(0, 0, picture.cols, picture.rows);
        rect &= cv::Rect(0, 0, picture.cols, picture.rows);
        // The lines go under the box, or above it when the box reaches the bottom; the box is
        // drawn last, so lines that do not fit beside it never hide it.
        int baseline = 0;
        const int line_height =
            cv::getTextSize("Ag", cv::FONT_HERSHEY_SIMPLEX, font_scale, 1, &baseline).height + baseline + 4;
        const int block = line_height * static_cast<int>(face.lines.size());
        int y = rect.br().y + 2;
        if (y + block > picture.rows) y = std::max(0, rect.y - block - 2);
        for (const auto& line : face.lines) {
            const cv::Size size = cv::getTextSize(line, cv::FONT_HERSHEY_SIMPLEX, font_scale, 1, &baseline);
            const cv::Rect backdrop(rect.x, y, size.width + 6, line_height);
            cv::rectangle(picture, backdrop & cv::Rect(0, 0, picture.cols, picture.rows), shade, cv::FILLED);
            cv::putText(picture, line, {rect.x + 3, y + line_height - baseline - 2}, cv::FONT_HERSHEY_SIMPLEX,
                        font_scale, text_colour, 1, cv::LINE_AA);
            y += line_height;
        }
        cv::rectangle(picture, rect, box_colour, thickness);
    }
    std::vector<unsigned char> jpeg;
    if (!cv::imencode(".jpg", picture, jpeg, {cv::IMWRITE_JPEG_QUALITY, 88}))
        return make_error(errc::internal, "JPEG encoding of the picture failed");
    return std::string(jpeg.begin(), jpeg.end());
}

}  // namespace seke
