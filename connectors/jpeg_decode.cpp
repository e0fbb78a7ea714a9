#include "connectors/jpeg_decode.hpp"

#include <algorithm>
#include <csetjmp>
#include <cstdint>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>

#include <opencv2/core.hpp>

namespace seke {
namespace {

// EXIF (TIFF) values in the byte order the block declares.
struct TiffReader {
    const unsigned char* tiff;  // the TIFF header inside the APP1 data
    std::size_t size;           // bytes from there to the end of the APP1 data
    bool little_endian;

    bool fits(std::size_t offset, std::size_t length) const { return offset + length <= size; }
    unsigned u16(std::size_t offset) const {
        const unsigned a = tiff[offset], b = tiff[offset + 1];
        return little_endian ? (b << 8) | a : (a << 8) | b;
    }
    std::uint32_t u32(std::size_t offset) const {
        const std::uint32_t a = u16(offset), b = u16(offset + 2);
        return little_endian ? (b << 16) | a : (a << 16) | b;
    }
};

// The orientation entry of an APP1 Exif block's first IFD; 0 when there is none or the block
// is not a readable Exif block.
int orientation_in_app1(const unsigned char* data, std::size_t length) {
    constexpr std::size_t kExifHeader = 6;  // "Exif\0\0"
    if (length < kExifHeader + 8 || std::memcmp(data, "Exif\0\0", kExifHeader) != 0) return 0;
    const unsigned char* tiff = data + kExifHeader;
    const bool little = tiff[0] == 'I' && tiff[1] == 'I';
    if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 0;
    TiffReader reader{tiff, length - kExifHeader, little};
    if (reader.u16(2) != 42) return 0;
    const std::uint32_t ifd = reader.u32(4);
    if (!reader.fits(ifd, 2)) return 0;
    const unsigned entries = reader.u16(ifd);
    constexpr unsigned kOrientationTag = 0x0112, kShortType = 3;
    for (unsigned i = 0; i < entries; ++i) {
        const std::size_t entry = ifd + 2 + static_cast<std::size_t>(i) * 12;
        if (!reader.fits(entry, 12)) return 0;
        if (reader.u16(entry) != kOrientationTag) continue;
        if (reader.u16(entry + 2) != kShortType) return 0;
        const unsigned value = reader.u16(entry + 8);
        return value >= 1 && value <= 8 ? static_cast<int>(value) : 0;
    }
    return 0;
}

struct ErrorManager {
    jpeg_error_mgr base{};
    std::jmp_buf jump{};
    char message[JMSG_LENGTH_MAX] = {0};
};

[[noreturn]] void jump_on_error(j_common_ptr info) {
    auto* manager = reinterpret_cast<ErrorManager*>(info->err);
    (*info->err->format_message)(info, manager->message);
    std::longjmp(manager->jump, 1);
}

void ignore_warning(j_common_ptr /*info*/) {}

}  // namespace

std::optional<JpegHeader> read_jpeg_header(const std::string& jpeg) {
    jpeg_decompress_struct info{};
    ErrorManager errors;
    info.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = jump_on_error;
    errors.base.output_message = ignore_warning;
    if (setjmp(errors.jump)) {
        jpeg_destroy_decompress(&info);
        return std::nullopt;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(jpeg.data()), static_cast<unsigned long>(jpeg.size()));
    // libjpeg walks the markers; it keeps the APP1 blocks for the EXIF orientation.
    jpeg_save_markers(&info, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&info, TRUE);
    JpegHeader header;
    for (jpeg_saved_marker_ptr marker = info.marker_list; marker && header.orientation == 1; marker = marker->next)
        if (int orientation = orientation_in_app1(marker->data, marker->data_length)) header.orientation = orientation;
    header.width = static_cast<int>(info.image_width);
    header.height = static_cast<int>(info.image_height);
    header.decodable = info.jpeg_color_space == JCS_GRAYSCALE || info.jpeg_color_space == JCS_YCbCr ||
                       info.jpeg_color_space == JCS_RGB;
    jpeg_destroy_decompress(&info);
    return header;
}

Result<cv::Mat> decode_jpeg(const std::string& jpeg, const JpegDecodeRequest& request) {
    const int denominator = request.scale_denominator;
    if (denominator != 1 && denominator != 2 && denominator != 4 && denominator != 8)
        return make_error(errc::internal, "JPEG scale denominator must be 1, 2, 4 or 8");
    // Everything that outlives a longjmp is declared before setjmp.
    jpeg_decompress_struct info{};
    ErrorManager errors;
    cv::Mat out;
    cv::Mat row;
    info.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = jump_on_error;
    errors.base.output_message = ignore_warning;
    if (setjmp(errors.jump)) {
        jpeg_destroy_decompress(&info);
        return make_error(errc::image_error, std::string("corrupt JPEG: ") + errors.message);
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(jpeg.data()), static_cast<unsigned long>(jpeg.size()));
    jpeg_read_header(&info, TRUE);
    info.scale_num = 1;
    info.scale_denom = static_cast<unsigned>(denominator);
    info.out_color_space = request.gray ? JCS_GRAYSCALE : JCS_EXT_BGR;
    if (request.fast) {
        info.dct_method = JDCT_IFAST;
        info.do_fancy_upsampling = FALSE;
    }
    jpeg_start_decompress(&info);
    const int full_width = static_cast<int>(info.output_width), full_height = static_cast<int>(info.output_height);
    // The wanted rows and columns in the scaled output.
    cv::Rect wanted(0, 0, full_width, full_height);
    if (request.region) {
        const cv::Rect& r = *request.region;
        int x0 = r.x / denominator, y0 = r.y / denominator;
        int x1 = (r.x + r.width + denominator - 1) / denominator, y1 = (r.y + r.height + denominator - 1) / denominator;
        wanted = cv::Rect(x0, y0, x1 - x0, y1 - y0) & cv::Rect(0, 0, full_width, full_height);
    }
    if (wanted.empty()) {
        jpeg_destroy_decompress(&info);
        return make_error(errc::internal, "JPEG decode region lies outside the image");
    }
    // libjpeg widens the column range to whole blocks; the copy below trims it again.
    auto first_column = static_cast<JDIMENSION>(wanted.x);
    auto columns = static_cast<JDIMENSION>(wanted.width);
    if (wanted.width < full_width) jpeg_crop_scanline(&info, &first_column, &columns);
    if (wanted.y > 0) jpeg_skip_scanlines(&info, static_cast<JDIMENSION>(wanted.y));
    const int channels = request.gray ? 1 : 3;
    const int type = request.gray ? CV_8UC1 : CV_8UC3;
    out.create(wanted.height, wanted.width, type);
    row.create(1, static_cast<int>(columns), type);
    const std::size_t skip = static_cast<std::size_t>(wanted.x - static_cast<int>(first_column)) * channels;
    const std::size_t copy = static_cast<std::size_t>(wanted.width) * channels;
    for (int y = 0; y < wanted.height; ++y) {
        JSAMPROW line = row.ptr<unsigned char>();
        jpeg_read_scanlines(&info, &line, 1);
        std::memcpy(out.ptr<unsigned char>(y), line + skip, copy);
    }
    // The rows below the region are never decoded.
    jpeg_destroy_decompress(&info);
    return out;
}

cv::Mat apply_orientation(const cv::Mat& stored, int orientation) {
    // The same transforms as cv::imdecode applies for each EXIF orientation.
    cv::Mat shown;
    switch (orientation) {
        case 2: cv::flip(stored, shown, 1); return shown;
        case 3: cv::flip(stored, shown, -1); return shown;
        case 4: cv::flip(stored, shown, 0); return shown;
        case 5: cv::transpose(stored, shown); return shown;
        case 6:
            cv::transpose(stored, shown);
            cv::flip(shown, shown, 1);
            return shown;
        case 7:
            cv::transpose(stored, shown);
            cv::flip(shown, shown, -1);
            return shown;
        case 8:
            cv::transpose(stored, shown);
            cv::flip(shown, shown, 0);
            return shown;
        default: return stored;
    }
}

cv::Size oriented_size(cv::Size stored, int orientation) {
    return orientation >= 5 && orientation <= 8 ? cv::Size(stored.height, stored.width) : stored;
}

cv::Rect stored_rect(const cv::Rect& shown, cv::Size stored, int orientation) {
    const int W = stored.width, H = stored.height;
    // A point on the shown image's pixel grid, back in stored coordinates.
    auto back = [&](int x, int y) -> cv::Point {
        switch (orientation) {
            case 2: return {W - x, y};
            case 3: return {W - x, H - y};
            case 4: return {x, H - y};
            case 5: return {y, x};
            case 6: return {y, H - x};
            case 7: return {W - y, H - x};
            case 8: return {W - y, x};
            default: return {x, y};
        }
    };
    cv::Point a = back(shown.x, shown.y), b = back(shown.x + shown.width, shown.y + shown.height);
    return cv::Rect(cv::Point(std::min(a.x, b.x), std::min(a.y, b.y)),
                    cv::Point(std::max(a.x, b.x), std::max(a.y, b.y)));
}

}  // namespace seke
