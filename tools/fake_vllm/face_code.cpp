#include "tools/fake_vllm/face_code.hpp"

#include <algorithm>
#include <array>

#include <opencv2/imgproc.hpp>

namespace seke::fake {
namespace {

// Gray levels instead of pure black/white keep JPEG ringing away from clipping.
constexpr unsigned char kLight = 215;
constexpr unsigned char kDark = 40;
constexpr int kCells = kCodeGrid * kCodeGrid;

std::uint64_t bits_of(std::uint32_t code) {
    code &= kMaxCode;
    return (static_cast<std::uint64_t>(code) << 16) | code_check(code);
}

}  // namespace

std::uint16_t code_check(std::uint32_t code) noexcept {
    // splitmix64 finaliser: every code bit affects every check bit.
    std::uint64_t z = static_cast<std::uint64_t>(code & kMaxCode) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<std::uint16_t>(z & 0xFFFFu);
}

cv::Mat draw_code_image(std::uint32_t code, int size) {
    size = std::max(size, kCodeGrid);
    cv::Mat image(size, size, CV_8UC3);
    const std::uint64_t bits = bits_of(code);
    for (int row = 0; row < kCodeGrid; ++row) {
        for (int col = 0; col < kCodeGrid; ++col) {
            const int index = row * kCodeGrid + col;  // MSB first, row-major
            const bool one = ((bits >> (kCells - 1 - index)) & 1u) != 0;
            const unsigned char v = one ? kDark : kLight;
            // Cell edges by rounding so the grid fills sizes not divisible by 6.
            const int x0 = col * size / kCodeGrid, x1 = (col + 1) * size / kCodeGrid;
            const int y0 = row * size / kCodeGrid, y1 = (row + 1) * size / kCodeGrid;
            cv::rectangle(image, cv::Rect(x0, y0, x1 - x0, y1 - y0), cv::Scalar(v, v, v), cv::FILLED);
        }
    }
    return image;
}

std::optional<std::uint32_t> read_code(const cv::Mat& bgr) {
    if (bgr.empty() || bgr.cols < kCodeGrid || bgr.rows < kCodeGrid) return std::nullopt;
    cv::Mat gray;
    if (bgr.channels() == 3) {
        cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    } else if (bgr.channels() == 4) {
        cv::cvtColor(bgr, gray, cv::COLOR_BGRA2GRAY);
    } else if (bgr.channels() == 1) {
        gray = bgr;
    } else {
        return std::nullopt;
    }
    if (gray.depth() != CV_8U) gray.convertTo(gray, CV_8U);

    // Mean of the middle half of each cell: edges are where resampling and JPEG smear.
    std::array<double, kCells> means{};
    for (int row = 0; row < kCodeGrid; ++row) {
        for (int col = 0; col < kCodeGrid; ++col) {
            const double cw = static_cast<double>(gray.cols) / kCodeGrid;
            const double ch = static_cast<double>(gray.rows) / kCodeGrid;
            const int x0 = static_cast<int>(col * cw + cw * 0.25);
            const int y0 = static_cast<int>(row * ch + ch * 0.25);
            const int w = std::max(1, static_cast<int>(cw * 0.5));
            const int h = std::max(1, static_cast<int>(ch * 0.5));
            const cv::Rect cell = cv::Rect(x0, y0, w, h) & cv::Rect(0, 0, gray.cols, gray.rows);
            if (cell.area() == 0) return std::nullopt;
            means[static_cast<std::size_t>(row) * kCodeGrid + static_cast<std::size_t>(col)] = cv::mean(gray(cell))[0];
        }
    }
    const auto [lo, hi] = std::minmax_element(means.begin(), means.end());
    if (*hi - *lo < 40.0) return std::nullopt;  // no contrast: not a code image
    const double threshold = (*hi + *lo) / 2.0;
    std::uint64_t bits = 0;
    for (double m : means) bits = (bits << 1) | (m < threshold ? 1u : 0u);
    const auto code = static_cast<std::uint32_t>(bits >> 16);
    const auto check = static_cast<std::uint16_t>(bits & 0xFFFFu);
    if (code > kMaxCode || code_check(code) != check) return std::nullopt;
    return code;
}

}  // namespace seke::fake
