#pragma once
// CVAT's own acceptance rules (protocol notes §1.5, §2.1), applied by tests to what seke sends:
// which function objects CVAT lists, and which parts of a detector answer survive its mapping
// and attribute filters. A rule CVAT applies silently is a failure here, with a reason.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace seke::test {

// Problems CVAT would have with one function object (GET /api/functions/{name}): a skipped
// function, a rejected spec, a missing key its code indexes directly.
std::vector<std::string> cvat_function_problems(const nlohmann::json& function);

// What CVAT keeps of a detector answer, given the task's labels (as GET /api/labels lists them,
// or as `seke cvat spec --labels` defines them) and the default name-based mapping.
struct CvatFilterResult {
    nlohmann::json kept = nlohmann::json::array();  // elements with their surviving attributes
    std::vector<std::string> dropped;               // every element or attribute CVAT drops, and why
};
CvatFilterResult cvat_filter_detector_answer(const nlohmann::json& answer, const nlohmann::json& task_labels,
                                             const nlohmann::json& function_spec_labels);

}  // namespace seke::test
