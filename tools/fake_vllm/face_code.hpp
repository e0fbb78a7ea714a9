#pragma once
// A visual item code for synthetic test faces: a 6x6 grid of light/dark cells filling the image.
// 36 bits = 20-bit item code + 16-bit check, read back after seke's crop/resize/JPEG re-encode.
// The grid is coarse on purpose: each cell is >= 10 px even at 64 px, so JPEG blocking and
// resampling only blur the cell edges; decoding looks at the cell centres.
#include <cstdint>
#include <optional>

#include <opencv2/core.hpp>

namespace seke::fake {

inline constexpr int kCodeGrid = 6;
inline constexpr std::uint32_t kCodeBits = 20;
inline constexpr std::uint32_t kMaxCode = (1u << kCodeBits) - 1;

// The 16 check bits of a code (a mixing hash, so near-miss codes have unrelated checks).
std::uint16_t code_check(std::uint32_t code) noexcept;

// A size x size BGR image of the code (only the low 20 bits of `code` are used).
cv::Mat draw_code_image(std::uint32_t code, int size);

// The code shown in a BGR (or gray) image, or nullopt when the check bits do not match.
std::optional<std::uint32_t> read_code(const cv::Mat& bgr);

}  // namespace seke::fake
