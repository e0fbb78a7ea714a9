// JPEG headers, EXIF orientation and the scaled, region decode (connectors/jpeg_decode.*): any
// bytes give a header or none; a header's orientation is 1..8; a bounded image decodes (or is
// an image_error) to the size the request asks for, and the orientation maths maps the shown
// rectangle back inside the stored image.
#include <algorithm>

#include "connectors/jpeg_decode.hpp"
#include "fuzz/fuzz_support.hpp"

using namespace seke;

namespace {
// Larger headers are only read: a progressive JPEG keeps every coefficient of the image while it
// decodes, whatever the scale, and one run must stay under libFuzzer's memory limit.
constexpr long long kMaxPixels = 16'000'000;
constexpr long long kMaxDecodedPixels = 4'000'000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes = fuzz::as_text(data, size);
    auto header = read_jpeg_header(bytes);
    if (!header) return 0;
    SEKE_FUZZ_CHECK(header->orientation >= 1 && header->orientation <= 8);
    SEKE_FUZZ_CHECK(header->width >= 0 && header->height >= 0);
    const cv::Size stored(header->width, header->height);
    const long long pixels_stored = static_cast<long long>(stored.width) * stored.height;
    if (!header->decodable || pixels_stored <= 0) return 0;
    const cv::Size shown = oriented_size(stored, header->orientation);
    const cv::Rect middle(shown.width / 4, shown.height / 4, std::max(1, shown.width / 2),
                          std::max(1, shown.height / 2));
    const cv::Rect back = stored_rect(middle, stored, header->orientation);
    SEKE_FUZZ_CHECK((back & cv::Rect(cv::Point(), stored)) == back);
    if (pixels_stored > kMaxPixels) return 0;
    // The detection pass (1/8, grey, fast) and the crop pass (a region at full or half scale).
    JpegDecodeRequest small;
    small.scale_denominator = 8;
    small.gray = true;
    small.fast = true;
    auto pixels = decode_jpeg(bytes, small);
    if (!pixels) {
        SEKE_FUZZ_CHECK(pixels.error().code == errc::image_error);
        return 0;
    }
    SEKE_FUZZ_CHECK(pixels->cols == (stored.width + 7) / 8 && pixels->rows == (stored.height + 7) / 8);
    JpegDecodeRequest crop;
    crop.scale_denominator = static_cast<long long>(back.width) * back.height > kMaxDecodedPixels ? 8 : 2;
    crop.region = back;
    auto region = decode_jpeg(bytes, crop);
    if (region) {
        SEKE_FUZZ_CHECK(region->type() == CV_8UC3 && !region->empty());
        (void)apply_orientation(*region, header->orientation);
    }
    return 0;
}
