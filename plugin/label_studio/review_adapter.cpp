#include "plugin/label_studio/review_adapter.hpp"

namespace seke::label_studio {

ReviewedFace reviewed_face(const AnnotatedFace& face) {
    return ReviewedFace{face.region_id, face.box, face.labels, face.descriptions};
}

std::vector<ReviewedFace> reviewed_faces(const std::vector<AnnotatedFace>& annotated) {
    std::vector<ReviewedFace> reviewed;
    reviewed.reserve(annotated.size());
    for (const auto& face : annotated) reviewed.push_back(reviewed_face(face));
    return reviewed;
}

}  // namespace seke::label_studio
