#pragma once
// How CVAT things are named in the store: one spelling shared by the REST worker and the sync.
#include <string>

#include "verify/text.hpp"

namespace seke::cvat {

// The CVAT base URL as recorded with shapes: trimmed, without trailing slashes.
inline std::string store_url(const std::string& url) {
    std::string out = trim(url);
    while (!out.empty() && out.back() == '/') out.pop_back();
    return out;
}

// What the store items of one task's frames start with.
inline std::string task_item_prefix(long long task_id) {
    return "cvat/" + std::to_string(task_id) + "/";
}

// The store item of one task frame.
inline std::string frame_item_id(long long task_id, long long frame) {
    return task_item_prefix(task_id) + std::to_string(frame);
}

// Where a frame can be fetched again (with CVAT credentials): the FEID record's image.
inline std::string frame_image_url(const std::string& cvat_url, long long task_id, long long frame) {
    return store_url(cvat_url) + "/api/tasks/" + std::to_string(task_id) +
           "/data?type=frame&number=" + std::to_string(frame) + "&quality=original";
}

// A face a human drew in CVAT (no prediction of seke's): named after its shape.
inline std::string added_face_id(long long task_id, long long frame, long long shape_id) {
    return frame_item_id(task_id, frame) + "_cvat" + std::to_string(shape_id);
}

}  // namespace seke::cvat
