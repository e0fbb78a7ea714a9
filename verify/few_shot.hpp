#pragma once
// Few-shot examples: faces a human accepted or corrected, shown to the model before the face it
// is asked about, as earlier turns of the same conversation. Chosen by the fit (plugin/), used
// by the prompt builder; bounded in count and image size by whoever builds them.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "verify/labels.hpp"

namespace seke {

struct FewShotExample {
    std::string id;             // the FEID record it came from
    LabelSet labels;            // complete: the human-approved labels
    Descriptions descriptions;  // may be empty: the example's answer then states its labels
    std::string image_jpeg;     // a small JPEG of the face
    std::string image_hash;     // sha256 hex of image_jpeg (cache keys)
};

using FewShotExamples = std::vector<FewShotExample>;

// What one model request carries at most; the VLLM client keeps the longest prefix of a
// request's examples within both bounds and drops the rest.
inline constexpr std::size_t kMaxFewShotExamples = 8;
inline constexpr std::size_t kMaxFewShotImageBytes = std::size_t{256} * 1024;  // sum of image_jpeg sizes

}  // namespace seke
