#include "connectors/image.hpp"
#include "connectors/curl_easy.hpp"
#include "connectors/face_detector.hpp"
#include "connectors/face_expert.hpp"
#include "connectors/jpeg_decode.hpp"
#include "verify/text.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

namespace seke {
namespace {

// ---- sources ------------------------------------------------------------------------------

Result<std::string> read_image_file(const std::string& path, const ImageLimits& limits) {
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) return make_error(errc::not_found, "no such image file: " + path);
    if (!std::filesystem::is_regular_file(status))
        return make_error(errc::invalid_argument, "not a regular file: " + path);
    auto size = std::filesystem::file_size(path, ec);
    if (ec) return make_error(errc::io_error, "cannot stat " + path + ": " + ec.message());
    if (size > limits.max_bytes)
        return make_error(errc::payload_too_large, "image file " + path + " has " + std::to_string(size) +
                                                       " bytes, over the limit of " + std::to_string(limits.max_bytes));
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::io_error, "cannot open " + path);
    std::string bytes(static_cast<std::size_t>(size), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (static_cast<std::uintmax_t>(in.gcount()) != size) return make_error(errc::io_error, "short read on " + path);
    return bytes;
}

Result<std::string> decode_data_uri(const std::string& uri, const ImageLimits& limits) {
    auto comma = uri.find(',');
    if (comma == std::string::npos) return make_error(errc::invalid_argument, "data URI without a comma");
    std::string meta = uri.substr(5, comma - 5);
    for (auto& c : meta) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (meta.rfind("image/", 0) != 0) return make_error(errc::invalid_argument, "data URI is not an image/* type");
    if (meta.size() < 7 || meta.compare(meta.size() - 7, 7, ";base64") != 0)
        return make_error(errc::invalid_argument, "data URI is not base64-encoded");
    std::size_t payload = uri.size() - comma - 1;
    // Reject before decoding: base64 is 4/3 the size of what it carries.
    if (payload / 4 * 3 > limits.max_bytes + 3)
        return make_error(errc::payload_too_large,
                          "data URI image over the limit of " + std::to_string(limits.max_bytes) + " bytes");
    auto bytes = base64_decode(uri.substr(comma + 1));
    if (!bytes) return make_error(errc::invalid_argument, "data URI has invalid base64");
    if (bytes->size() > limits.max_bytes)
        return make_error(errc::payload_too_large,
                          "data URI image over the limit of " + std::to_string(limits.max_bytes) + " bytes");
    return std::move(*bytes);
}

Result<std::string> download(const std::string& url, const ImageLimits& limits) {
    auto curl = make_curl_easy();
    if (!curl) return make_error(errc::internal, "curl_easy_init failed");
    CurlResponse sink;
    sink.max_bytes = limits.max_bytes;
    CURL* h = curl.get();
    TransferOptions options;
    options.timeout_ms = limits.download_timeout_ms;
    set_transfer_options(h, url, sink, options);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    CURLcode code = curl_easy_perform(h);
    if (sink.over_cap(code))
        return make_error(errc::payload_too_large,
                          "image at " + url + " is over the limit of " + std::to_string(limits.max_bytes) + " bytes");
    if (code == CURLE_OPERATION_TIMEDOUT) return make_error(errc::upstream_timeout, "timed out downloading " + url);
    if (code != CURLE_OK) return make_error(errc::upstream_error, "cannot download " + url + ": " + sink.failure(code));
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299)
        return make_error(errc::upstream_error, "downloading " + url + " answered HTTP " + std::to_string(status));
    return std::move(sink.body);
}

// ---- format sniffing and structure checks -------------------------------------------------

enum class Format { unknown, jpeg, png, gif, webp, bmp, tiff };

const char* format_name(Format format) {
    switch (format) {
        case Format::jpeg: return "JPEG";
        case Format::png: return "PNG";
        case Format::gif: return "GIF";
        case Format::webp: return "WebP";
        case Format::bmp: return "BMP";
        case Format::tiff: return "TIFF";
        case Format::unknown: break;
    }
    return "unknown";
}

bool has_prefix(const std::string& bytes, std::string_view magic, std::size_t at = 0) {
    return bytes.size() >= at + magic.size() && std::memcmp(bytes.data() + at, magic.data(), magic.size()) == 0;
}

Format sniff(const std::string& bytes) {
    using namespace std::string_view_literals;
    if (has_prefix(bytes, "\xFF\xD8\xFF"sv)) return Format::jpeg;
    if (has_prefix(bytes, "\x89PNG\r\n\x1A\n"sv)) return Format::png;
    if (has_prefix(bytes, "GIF87a"sv) || has_prefix(bytes, "GIF89a"sv)) return Format::gif;
    if (has_prefix(bytes, "RIFF"sv) && has_prefix(bytes, "WEBP"sv, 8)) return Format::webp;
    if (has_prefix(bytes, "BM"sv) && bytes.size() >= 26) return Format::bmp;
    if (has_prefix(bytes, "II*\0"sv) || has_prefix(bytes, "MM\0*"sv)) return Format::tiff;
    return Format::unknown;
}

std::uint32_t be16(const std::string& b, std::size_t at) {
    return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 8) | static_cast<unsigned char>(b[at + 1]);
}
std::uint32_t be32(const std::string& b, std::size_t at) {
    return (be16(b, at) << 16) | be16(b, at + 2);
}
std::uint32_t le16(const std::string& b, std::size_t at) {
    return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8) | static_cast<unsigned char>(b[at]);
}
std::uint32_t le24(const std::string& b, std::size_t at) {
    return le16(b, at) | (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16);
}
std::uint32_t le32(const std::string& b, std::size_t at) {
    return le16(b, at) | (le16(b, at + 2) << 16);
}

struct Structure {
    std::optional<Error> error;                                 // truncated / corrupt
    std::optional<std::pair<std::int64_t, std::int64_t>> size;  // width, height from the header
};

// Walks the JPEG markers up to EOI. libjpeg "decodes" a truncated file by padding it with grey
// and only warns, so completeness is checked here instead.
Structure check_jpeg(const std::string& b) {
    Structure out;
    std::size_t pos = 2;
    const std::size_t n = b.size();
    auto truncated = [&] {
        out.error = make_error(errc::image_error, "truncated JPEG (no end-of-image marker)");
        return out;
    };
    while (true) {
        // Tolerate junk before a marker, as libjpeg does.
        while (pos < n && static_cast<unsigned char>(b[pos]) != 0xFF) ++pos;
        while (pos < n && static_cast<unsigned char>(b[pos]) == 0xFF) ++pos;  // fill bytes
        if (pos >= n) return truncated();
        unsigned marker = static_cast<unsigned char>(b[pos++]);
        if (marker == 0xD9) return out;  // EOI: complete
        if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 || marker == 0xD8) continue;
        if (pos + 2 > n) return truncated();
        std::size_t length = be16(b, pos);
        if (length < 2) {
            out.error = make_error(errc::image_error, "corrupt JPEG (bad segment length)");
            return out;
        }
        if (pos + length > n) return truncated();
        bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof && length >= 7 && !out.size)
            out.size = std::pair<std::int64_t, std::int64_t>{be16(b, pos + 5), be16(b, pos + 3)};
        pos += length;
        if (marker != 0xDA) continue;
        // Entropy-coded data after SOS: runs to the next marker other than stuffing / RSTn.
        while (true) {
            if (pos + 1 >= n) return truncated();
            if (static_cast<unsigned char>(b[pos]) != 0xFF) {
                const void* next_ff = std::memchr(b.data() + pos, 0xFF, n - pos);
                pos = next_ff ? static_cast<std::size_t>(static_cast<const char*>(next_ff) - b.data()) : n;
                continue;
            }
            unsigned next = static_cast<unsigned char>(b[pos + 1]);
            if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
                pos += 2;
            } else if (next == 0xFF) {
                ++pos;
            } else {
                break;  // a real marker: back to the segment walk
            }
        }
    }
}

Structure check_png(const std::string& b) {
    Structure out;
    std::size_t pos = 8;
    const std::size_t n = b.size();
    bool first = true;
    while (true) {
        if (pos + 12 > n) {
            out.error = make_error(errc::image_error, "truncated PNG (no IEND chunk)");
            return out;
        }
        std::size_t length = be32(b, pos);
        if (length > 0x7FFFFFFFu) {
            out.error = make_error(errc::image_error, "corrupt PNG (bad chunk length)");
            return out;
        }
        std::string type = b.substr(pos + 4, 4);
        if (first) {
            if (type != "IHDR" || length < 8) {
                out.error = make_error(errc::image_error, "corrupt PNG (no IHDR chunk)");
                return out;
            }
            out.size = std::pair<std::int64_t, std::int64_t>{be32(b, pos + 8), be32(b, pos + 12)};
            first = false;
        }
        if (pos + 12 + length > n) {
            out.error = make_error(errc::image_error, "truncated PNG (no IEND chunk)");
            return out;
        }
        if (type == "IEND") return out;
        pos += 12 + length;
    }
}

Structure check_other(Format format, const std::string& b) {
    Structure out;
    if (format == Format::bmp) {
        auto width = static_cast<std::int32_t>(le32(b, 18));
        auto height = static_cast<std::int32_t>(le32(b, 22));
        out.size = std::pair<std::int64_t, std::int64_t>{std::abs(static_cast<std::int64_t>(width)),
                                                         std::abs(static_cast<std::int64_t>(height))};
    } else if (format == Format::webp && b.size() >= 30) {
        std::string chunk = b.substr(12, 4);
        if (chunk == "VP8X") {
            out.size = std::pair<std::int64_t, std::int64_t>{le24(b, 24) + 1, le24(b, 27) + 1};
        } else if (chunk == "VP8 ") {
            out.size = std::pair<std::int64_t, std::int64_t>{le16(b, 26) & 0x3FFF, le16(b, 28) & 0x3FFF};
        } else if (chunk == "VP8L") {
            std::uint32_t bits = le32(b, 21);
            out.size = std::pair<std::int64_t, std::int64_t>{(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
        }
    } else if (format == Format::gif && b.size() >= 10) {
        out.size = std::pair<std::int64_t, std::int64_t>{le16(b, 6), le16(b, 8)};
    }
    return out;
}

std::optional<Error> check_pixels(std::int64_t width, std::int64_t height, const ImageLimits& limits) {
    if (width <= 0 || height <= 0) return make_error(errc::image_error, "image has no pixels");
    if (width > limits.max_pixels / height)
        return make_error(errc::payload_too_large, "image is " + std::to_string(width) + "x" + std::to_string(height) +
                                                       ", over the limit of " + std::to_string(limits.max_pixels) +
                                                       " pixels");
    return std::nullopt;
}

// ---- faces --------------------------------------------------------------------------------

double overlap(const cv::Rect& a, const cv::Rect& b) {
    double inter = (a & b).area();
    if (inter <= 0) return 0;
    // Intersection over the smaller box: also drops a box nested in a bigger one.
    return inter / std::min(a.area(), b.area());
}

std::vector<cv::Rect> suppress_and_order(std::vector<cv::Rect> boxes, int max_faces) {
    std::sort(boxes.begin(), boxes.end(), [](const cv::Rect& a, const cv::Rect& b) { return a.area() > b.area(); });
    std::vector<cv::Rect> kept;
    for (const auto& box : boxes) {
        bool duplicate =
            std::any_of(kept.begin(), kept.end(), [&](const cv::Rect& k) { return overlap(k, box) > 0.5; });
        if (!duplicate) kept.push_back(box);
        if (static_cast<int>(kept.size()) >= max_faces) break;  // biggest faces win the cap
    }
    // Reading order: rows by centre y (a face whose centre is within half the row leader's
    // height belongs to that row), then left to right inside a row.
    std::sort(kept.begin(), kept.end(),
              [](const cv::Rect& a, const cv::Rect& b) { return a.y + a.height / 2 < b.y + b.height / 2; });
    std::vector<cv::Rect> ordered;
    std::size_t i = 0;
    while (i < kept.size()) {
        int row_centre = kept[i].y + kept[i].height / 2;
        int tolerance = kept[i].height / 2;
        std::size_t j = i;
        while (j < kept.size() && kept[j].y + kept[j].height / 2 - row_centre <= tolerance) ++j;
        std::sort(kept.begin() + static_cast<std::ptrdiff_t>(i), kept.begin() + static_cast<std::ptrdiff_t>(j),
                  [](const cv::Rect& a, const cv::Rect& b) { return a.x < b.x; });
        ordered.insert(ordered.end(), kept.begin() + static_cast<std::ptrdiff_t>(i),
                       kept.begin() + static_cast<std::ptrdiff_t>(j));
        i = j;
    }
    return ordered;
}

}  // namespace

Result<std::string> fetch_image_bytes(const std::string& source, const ImageLimits& limits) {
    try {
        if (source.empty()) return make_error(errc::invalid_argument, "empty image source");
        if (starts_with_icase(source, "data:")) return decode_data_uri(source, limits);
        if (starts_with_icase(source, "http://") || starts_with_icase(source, "https://"))
            return download(source, limits);
        if (starts_with_icase(source, "file://")) {
            std::string rest = source.substr(7);
            if (starts_with_icase(rest, "localhost/")) rest = rest.substr(9);
            if (rest.empty() || rest[0] != '/')
                return make_error(errc::invalid_argument, "file URI must be file:///absolute/path: " + source);
            auto path = percent_decode(rest, false);
            if (!path)
                return make_error(errc::invalid_argument,
                                  "file URI has a malformed or NUL (%00) percent-escape: " + source);
            return read_image_file(*path, limits);
        }
        auto scheme_end = source.find("://");
        if (scheme_end != std::string::npos && source.find('/') > scheme_end)
            return make_error(errc::invalid_argument, "unsupported image URI scheme: " + source.substr(0, scheme_end));
        return read_image_file(source, limits);
    } catch (const std::exception& e) {
        return make_error(errc::internal, std::string("fetching image: ") + e.what());
    }
}

std::optional<FaceMode> parse_face_mode(const std::string& text) {
    if (text == "auto" || text == "auto_detect") return FaceMode::auto_detect;
    if (text == "off" || text == "none") return FaceMode::off;
    if (text == "required") return FaceMode::required;
    return std::nullopt;
}

std::string face_mode_name(FaceMode mode) {
    switch (mode) {
        case FaceMode::auto_detect: return "auto";
        case FaceMode::off: return "off";
        case FaceMode::required: return "required";
    }
    return "auto";
}

namespace {

// The decoded pixels of one image, produced no larger than each step needs. Rectangles are in
// the shown (EXIF-oriented) image at full size.
class PixelSource {
  public:
    virtual ~PixelSource() = default;
    virtual cv::Size size() const = 0;
    // The whole image, its longest side at least `min_longest` where the image is that large.
    virtual Result<cv::Mat> whole(int min_longest, bool gray) = 0;
    // The pixels of `rect`, its longest side at least `min_longest` where it is that large.
    virtual Result<cv::Mat> region(const cv::Rect& rect, int min_longest) = 0;
};

// Anything OpenCV decodes, decoded once at full size.
class DecodedImage final : public PixelSource {
  public:
    explicit DecodedImage(cv::Mat image) : image_(std::move(image)) {}
    cv::Size size() const override { return image_.size(); }
    Result<cv::Mat> whole(int /*min_longest*/, bool gray) override {
        if (!gray) return image_;
        cv::Mat out;
        cv::cvtColor(image_, out, cv::COLOR_BGR2GRAY);
        return out;
    }
    Result<cv::Mat> region(const cv::Rect& rect, int /*min_longest*/) override { return image_(rect); }

  private:
    cv::Mat image_;
};

// A baseline or progressive JPEG: libjpeg decodes only the scale and rows each step asks for,
// which is most of the image path's time saved on large photos.
class JpegImage final : public PixelSource {
  public:
    JpegImage(const std::string& bytes, const JpegHeader& header)
        : bytes_(bytes), stored_(header.width, header.height), orientation_(header.orientation) {}
    cv::Size size() const override { return oriented_size(stored_, orientation_); }
    Result<cv::Mat> whole(int min_longest, bool gray) override {
        JpegDecodeRequest request;
        request.scale_denominator = denominator(std::max(stored_.width, stored_.height), min_longest);
        request.gray = gray;
        request.fast = true;  // detection only
        auto pixels = decode_jpeg(bytes_, request);
        if (!pixels) return pixels.error();
        return apply_orientation(*pixels, orientation_);
    }
    Result<cv::Mat> region(const cv::Rect& rect, int min_longest) override {
        JpegDecodeRequest request;
        request.scale_denominator = denominator(std::max(rect.width, rect.height), min_longest);
        request.region = stored_rect(rect, stored_, orientation_);
        auto pixels = decode_jpeg(bytes_, request);
        if (!pixels) return pixels.error();
        return apply_orientation(*pixels, orientation_);
    }

  private:
    // The largest DCT scaling that keeps `longest` pixels at or above `min_longest`.
    static int denominator(int longest, int min_longest) {
        int d = 8;
        while (d > 1 && longest / d < min_longest) d /= 2;
        return d;
    }
    const std::string& bytes_;
    cv::Size stored_;
    int orientation_;
};

// Halves with a Gaussian pyramid while the image is at least twice too big, then bilinear:
// within a grey level of INTER_AREA's result, at a third of its cost on non-integer ratios.
cv::Mat shrink(const cv::Mat& image, int longest_side) {
    int longest = std::max(image.cols, image.rows);
    if (longest_side <= 0 || longest <= longest_side) return image;
    double f = static_cast<double>(longest_side) / longest;
    cv::Size size(std::max(1, static_cast<int>(std::lround(image.cols * f))),
                  std::max(1, static_cast<int>(std::lround(image.rows * f))));
    cv::Mat current = image;
    while (std::max(current.cols, current.rows) >= 2 * longest_side) {
        cv::Mat half;
        cv::pyrDown(current, half);
        current = half;
    }
    if (current.size() == size) return current;
    cv::Mat resized;
    cv::resize(current, resized, size, 0, 0, cv::INTER_LINEAR);
    return resized;
}

Result<std::string> encode_jpeg(const cv::Mat& image, int quality) {
    std::vector<uchar> jpeg;
    if (!cv::imencode(".jpg", image, jpeg, {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)}))
        return make_error(errc::internal, "JPEG encoding of the face crop failed");
    return std::string(jpeg.begin(), jpeg.end());
}

// dHash: 9x8 gray thumbnail, one bit per horizontal neighbour comparison.
std::string difference_hash(const cv::Mat& image) {
    cv::Mat gray, small;
    cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
    cv::resize(gray, small, cv::Size(9, 8), 0, 0, cv::INTER_AREA);
    std::uint64_t bits = 0;
    for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x) bits = (bits << 1) | (small.at<uchar>(y, x) < small.at<uchar>(y, x + 1) ? 1u : 0u);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(bits));
    return hex;
}

// One face to crop: the box it was found at (none = the whole image) and the area cut out.
struct FaceCut {
    std::optional<cv::Rect> box;
    cv::Rect area;
};

}  // namespace

struct FacePreparer::Impl {
    FaceOptions options;
    ImageLimits limits;
    std::unique_ptr<FaceDetector> detector;

    cv::Rect with_margin(const cv::Rect& box, cv::Size size) const {
        const int mx = static_cast<int>(box.width * options.margin);
        const int my = static_cast<int>(box.height * options.margin);
        return cv::Rect(box.x - mx, box.y - my, box.width + 2 * mx, box.height + 2 * my) & cv::Rect(cv::Point(), size);
    }

    Result<std::vector<cv::Rect>> detect(PixelSource& source) const {
        auto pixels = source.whole(options.detect_longest_side, detector->wants_gray());
        if (!pixels) return pixels.error();
        auto found = detector->detect(*pixels, static_cast<double>(source.size().width) / pixels->cols);
        if (!found) return found.error();
        std::vector<cv::Rect> boxes;
        for (cv::Rect box : *found) {
            box &= cv::Rect(cv::Point(), source.size());
            if (box.width < options.min_face_px || box.height < options.min_face_px) continue;
            boxes.push_back(box);
        }
        return suppress_and_order(std::move(boxes), std::max(1, options.max_faces));
    }

    Result<FaceCrop> encode(const cv::Mat& pixels, const FaceCut& cut, bool whole_image_fallback) const {
        cv::Mat face = shrink(pixels, options.longest_side);
        FaceCrop out;
        if (cut.box) out.box = Box{cut.box->x, cut.box->y, cut.box->width, cut.box->height};
        out.whole_image_fallback = whole_image_fallback;
        auto jpeg = encode_jpeg(face, options.jpeg_quality);
        if (!jpeg) return jpeg.error();
        out.jpeg = std::move(*jpeg);
        // The hash only needs 9x8 pixels: the thumbnail gives them for less work.
        cv::Mat small = face;
        if (options.thumbnail_side > 0) {
            small = shrink(face, options.thumbnail_side);
            auto thumbnail = encode_jpeg(small, 80);
            if (!thumbnail) return thumbnail.error();
            out.thumbnail_jpeg = std::move(*thumbnail);
        }
        out.phash = difference_hash(small);
        return out;
    }

    // An error leaves the reading out rather than failing the image.
    std::optional<ExpertReading> expert_reading(const cv::Mat& area, const cv::Rect2f& face) const {
        if (!options.expert) return std::nullopt;
        auto reading = options.expert->read(area, face);
        if (!reading) return std::nullopt;
        return std::move(*reading);
    }

    // Decodes the area covering every cut once, at the smallest scale that still gives each
    // face its full crop size, then cuts and encodes the faces.
    Result<std::vector<FaceCrop>> crop(PixelSource& source, const std::vector<FaceCut>& cuts,
                                       bool whole_image_fallback) const {
        cv::Rect cover = cuts.front().area;
        int smallest = std::max(cover.width, cover.height);
        for (const auto& cut : cuts) {
            cover |= cut.area;
            smallest = std::min(smallest, std::max(cut.area.width, cut.area.height));
        }
        // Scaling the cover by the smallest face's own reduction keeps every face at least that size.
        const int cover_longest = std::max(cover.width, cover.height);
        const int min_longest = static_cast<int>(std::ceil(
            static_cast<double>(cover_longest) * std::min(1.0, static_cast<double>(options.longest_side) / smallest)));
        auto pixels = source.region(cover, min_longest);
        if (!pixels) return pixels.error();
        const double sx = static_cast<double>(pixels->cols) / cover.width,
                     sy = static_cast<double>(pixels->rows) / cover.height;
        std::vector<FaceCrop> faces;
        for (const auto& cut : cuts) {
            cv::Rect local(static_cast<int>(std::lround((cut.area.x - cover.x) * sx)),
                           static_cast<int>(std::lround((cut.area.y - cover.y) * sy)),
                           std::max(1, static_cast<int>(std::lround(cut.area.width * sx))),
                           std::max(1, static_cast<int>(std::lround(cut.area.height * sy))));
            local &= cv::Rect(0, 0, pixels->cols, pixels->rows);
            if (local.empty()) return make_error(errc::internal, "a face crop fell outside the decoded area");
            auto face = encode((*pixels)(local), cut, whole_image_fallback);
            if (!face) return face.error();
            // The expert sees the decoded area with the face box in its pixels (all of it when
            // the whole image is the face).
            const cv::Rect2f box =
                cut.box ? cv::Rect2f(static_cast<float>((cut.box->x - cover.x) * sx - local.x),
                                     static_cast<float>((cut.box->y - cover.y) * sy - local.y),
                                     static_cast<float>(cut.box->width * sx), static_cast<float>(cut.box->height * sy))
                        : cv::Rect2f(0, 0, static_cast<float>(local.width), static_cast<float>(local.height));
            face->expert = expert_reading((*pixels)(local), box);
            if (face->expert) {
                // Back from the decoded area's pixels to the image's, where the box is.
                auto to_image = [&](Point3& p) {
                    p = {cover.x + (p.x + local.x) / sx, cover.y + (p.y + local.y) / sy, p.z / sx};
                };
                for (auto& p : face->expert->landmarks68) to_image(p);
                for (auto& p : face->expert->mesh) to_image(p);
            }
            faces.push_back(std::move(*face));
        }
        return faces;
    }
};

CropSettings crop_settings(const FaceOptions& options) {
    return CropSettings{options.margin, options.longest_side, options.jpeg_quality};
}

FaceOptions with_crop_settings(FaceOptions options, const CropSettings& crop) {
    options.margin = crop.margin;
    options.longest_side = crop.longest_side;
    options.jpeg_quality = crop.jpeg_quality;
    return options;
}

FacePreparer::FacePreparer(FaceOptions options, ImageLimits limits) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    impl_->limits = limits;
    impl_->detector = std::make_unique<FaceDetector>(impl_->options);
}

FacePreparer::~FacePreparer() = default;

const FaceOptions& FacePreparer::options() const noexcept {
    return impl_->options;
}

Result<bool> FacePreparer::ready() const {
    if (impl_->options.mode == FaceMode::off) return true;
    return impl_->detector->ready();
}

Result<PreparedImage> FacePreparer::prepare(const std::string& encoded_bytes) const {
    return prepare_faces(encoded_bytes, {}, false);
}

Result<PreparedImage> FacePreparer::prepare_regions(const std::string& encoded_bytes,
                                                    const std::vector<RegionFraction>& regions) const {
    return prepare_faces(encoded_bytes, regions, false);
}

Result<PreparedImage> FacePreparer::prepare_pixel_regions(const std::string& encoded_bytes,
                                                          const std::vector<PixelRegion>& regions) const {
    std::vector<RegionFraction> given;
    given.reserve(regions.size());
    for (const auto& region : regions) given.push_back({region.x, region.y, region.w, region.h});
    return prepare_faces(encoded_bytes, given, true);
}

Result<PreparedImage> FacePreparer::prepare_faces(const std::string& encoded_bytes,
                                                  const std::vector<RegionFraction>& regions, bool in_pixels) const {
    const auto& limits = impl_->limits;
    const auto& options = impl_->options;
    try {
        if (encoded_bytes.size() > limits.max_bytes)
            return make_error(errc::payload_too_large, "image has " + std::to_string(encoded_bytes.size()) +
                                                           " bytes, over the limit of " +
                                                           std::to_string(limits.max_bytes));
        Format format = sniff(encoded_bytes);
        if (format == Format::unknown) return make_error(errc::unsupported_media, "not an image (unrecognised format)");
        Structure structure = format == Format::jpeg  ? check_jpeg(encoded_bytes)
                              : format == Format::png ? check_png(encoded_bytes)
                                                      : check_other(format, encoded_bytes);
        if (structure.error) return *structure.error;
        // Refuse decompression bombs before decoding when the header tells the size cheaply.
        if (structure.size) {
            if (auto error = check_pixels(structure.size->first, structure.size->second, limits)) return *error;
        }

        std::unique_ptr<PixelSource> source;
        std::optional<JpegHeader> header;
        if (format == Format::jpeg) header = read_jpeg_header(encoded_bytes);
        if (header && header->decodable) {
            if (auto error = check_pixels(header->width, header->height, limits)) return *error;
            source = std::make_unique<JpegImage>(encoded_bytes, *header);
        } else {
            // IMREAD_COLOR applies the EXIF orientation (OpenCV 4.x) and drops alpha / 16-bit depth.
            cv::Mat raw(1, static_cast<int>(encoded_bytes.size()), CV_8UC1, const_cast<char*>(encoded_bytes.data()));
            cv::Mat image = cv::imdecode(raw, cv::IMREAD_COLOR);
            if (image.empty()) {
                if (format == Format::gif || format == Format::webp || format == Format::tiff)
                    return make_error(errc::unsupported_media, std::string("cannot decode ") + format_name(format) +
                                                                   " images (unsupported or corrupt)");
                return make_error(errc::image_error, std::string("corrupt ") + format_name(format) + " image");
            }
            if (auto error = check_pixels(image.cols, image.rows, limits)) return *error;
            source = std::make_unique<DecodedImage>(std::move(image));
        }

        PreparedImage prepared;
        prepared.crop = crop_settings(options);
        const cv::Size size = source->size();
        prepared.width = size.width;
        prepared.height = size.height;
        prepared.content_hash = sha256_hex(encoded_bytes);
        const cv::Rect everything(cv::Point(), size);

        std::vector<FaceCut> cuts;
        bool fallback = false;
        if (!regions.empty()) {
            const double sx = in_pixels ? 1.0 : size.width;
            const double sy = in_pixels ? 1.0 : size.height;
            for (const auto& region : regions) {
                cv::Rect rect(
                    static_cast<int>(std::lround(region.x * sx)), static_cast<int>(std::lround(region.y * sy)),
                    static_cast<int>(std::lround(region.w * sx)), static_cast<int>(std::lround(region.h * sy)));
                rect &= everything;
                if (rect.width < 2 || rect.height < 2)
                    return make_error(errc::invalid_argument, "a given face region lies outside the image or is empty");
                cuts.push_back({rect, impl_->with_margin(rect, size)});
            }
        } else if (options.mode == FaceMode::off) {
            cuts.push_back({std::nullopt, everything});
        } else {
            auto boxes = impl_->detect(*source);
            if (!boxes) return boxes.error();
            if (boxes->empty()) {
                if (options.mode == FaceMode::required) return make_error(errc::no_face, "no face found in the image");
                cuts.push_back({std::nullopt, everything});
                fallback = true;
            }
            for (const auto& box : *boxes) cuts.push_back({box, impl_->with_margin(box, size)});
        }
        auto faces = impl_->crop(*source, cuts, fallback);
        if (!faces) return faces.error();
        prepared.faces = std::move(*faces);
        return prepared;
    } catch (const cv::Exception& e) {
        return make_error(errc::image_error, std::string("OpenCV: ") + e.what());
    } catch (const std::exception& e) {
        return make_error(errc::internal, std::string("preparing image: ") + e.what());
    }
}

}  // namespace seke
