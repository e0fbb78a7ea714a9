#pragma once
// JPEG decoding that does only the work the image path needs: libjpeg's DCT scaling gives a
// 1/2, 1/4 or 1/8 size image almost for the cost of entropy decoding, and a region decode skips
// the colour work outside the face. EXIF orientation is read here and applied by the caller,
// as cv::imdecode would.
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "verify/errors.hpp"

namespace seke {

struct JpegHeader {
    int width = 0, height = 0;  // as stored, before orientation
    bool decodable = false;     // a colour space this decoder handles (grey, YCbCr, RGB)
    int orientation = 1;        // EXIF orientation 1..8 (1: as stored, or no readable EXIF block)
};
// The frame header and EXIF orientation; none when libjpeg cannot read the header.
std::optional<JpegHeader> read_jpeg_header(const std::string& jpeg);

struct JpegDecodeRequest {
    int scale_denominator = 1;       // 1, 2, 4 or 8
    std::optional<cv::Rect> region;  // stored (unoriented) pixels at full scale; none = all
    bool gray = false;
    bool fast = false;  // integer DCT without fancy upsampling: for detection only
};

// BGR (or grey) pixels of the request: the region, scaled by 1/scale_denominator. Errors:
// image_error when libjpeg rejects the data.
Result<cv::Mat> decode_jpeg(const std::string& jpeg, const JpegDecodeRequest& request);

// Orientation helpers, EXIF numbering.
cv::Mat apply_orientation(const cv::Mat& stored, int orientation);
cv::Size oriented_size(cv::Size stored, int orientation);
// The stored-pixel rectangle that shows as `shown` once oriented; stored is the stored size.
cv::Rect stored_rect(const cv::Rect& shown, cv::Size stored, int orientation);

}  // namespace seke
