#pragma once
// Label Studio's parsed annotation faces in the platform-neutral terms of learning/review.hpp.
#include <vector>

#include "plugin/label_studio/predictions.hpp"
#include "plugin/learning/review.hpp"

namespace seke::label_studio {

// One annotated face without its problem notes (the caller reports those).
ReviewedFace reviewed_face(const AnnotatedFace& face);
std::vector<ReviewedFace> reviewed_faces(const std::vector<AnnotatedFace>& annotated);

}  // namespace seke::label_studio
