#pragma once
// A picture a person looks at: the image with each face's box and a few lines of what seke said
// about it, so the labels can be checked by eye.
#include <optional>
#include <string>
#include <vector>

#include "connectors/image.hpp"
#include "verify/errors.hpp"

namespace seke {

struct LabeledBox {
    std::optional<Box> box;          // pixels of the EXIF-corrected image; null: the whole image
    std::vector<std::string> lines;  // drawn beside the box, first line first
};

// Decodes `encoded` (EXIF orientation applied), scales it so its longest side is at most
// `longest_side`, draws every box with its lines and returns the JPEG. Errors: as
// FacePreparer::prepare for undecodable or oversized images.
Result<std::string> draw_labeled_boxes(const std::string& encoded, const std::vector<LabeledBox>& faces,
                                       const ImageLimits& limits, int longest_side = 1600);

}  // namespace seke
