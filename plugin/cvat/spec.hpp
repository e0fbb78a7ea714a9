#pragma once
// How seke's labels look in CVAT (protocol notes §1.3–§1.5, §2): the function spec CVAT maps
// by name, the detector answer, the label definitions for a project, and the way back from a
// CVAT shape's attributes to labels. Pure: no I/O.
//
// CVAT keeps an attribute only when its value passes the task attribute's filter, so every
// value here is a string that does: numbers are digits only (valence and arousal are sent as
// round(v*scale)+scale), checkboxes are "true"/"false", select values are the task's own.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/cvat_settings.hpp"
#include "connectors/image.hpp"
#include "plugin/records/feid_record.hpp"
#include "verify/errors.hpp"
#include "verify/knowledge.hpp"
#include "verify/labels.hpp"

namespace seke::cvat {

// One attribute as CVAT's function spec and label API write it.
struct AttributeSpec {
    std::string name;
    std::string input_type;           // select | number | checkbox | text
    std::vector<std::string> values;  // number: {min, max, step}; checkbox: {"false"}; text: {""}
    bool mutable_across_frames = false;
};

struct LabelSpec {
    std::string name;
    std::string type;  // rectangle | tag
    std::vector<AttributeSpec> attributes;
};

// The attribute names seke writes, fixed so a task's labels can be created to match.
inline constexpr const char* kExpressionAttribute = "expression";
inline constexpr const char* kValenceAttribute = "valence";
inline constexpr const char* kArousalAttribute = "arousal";
inline constexpr const char* kFacesVisibleAttribute = "faces_visible";
inline constexpr const char* kNoFaceValue = "no_face";

// What the function offers CVAT, from config and the knowledge file.
struct FunctionSpec {
    CvatSettings settings;
    std::vector<LabelSpec> labels;                        // the face rectangle, then the tag if any
    std::vector<std::string> expression_values;           // as sent, in spec order
    std::map<std::string, std::string> expression_value;  // canonical expression → value sent
    std::vector<std::string> action_units;                // AU codes, one checkbox each
};

// Errors name the setting: an expression value the knowledge file does not know, an empty
// label name, a function name CVAT cannot route to.
Result<FunctionSpec> make_function_spec(const CvatSettings& settings, const Knowledge& knowledge);

// valence/arousal v in [-1, 1] ↔ digits: round(v*scale)+scale, clamped to 0..2*scale.
std::string encode_va(double value, int scale);
std::optional<double> decode_va(const std::string& digits, int scale);

// The spec array (metadata.annotations.spec holds it as a JSON string).
nlohmann::json spec_labels_json(const FunctionSpec& spec);
// One function object as GET /api/functions/{name} returns it (§2.1, §2.3).
nlohmann::json function_object(const FunctionSpec& spec, const std::string& model_version, int http_port);
// function.yaml for users who deploy seke's function on Nuclio itself.
std::string function_yaml(const FunctionSpec& spec, const std::string& model_version);
// Label definitions to paste into a CVAT project's raw label editor (or POST with a project).
nlohmann::json project_labels_json(const FunctionSpec& spec);

// One labeled face, ready to be written as CVAT attributes.
struct LabeledFace {
    std::optional<Box> box;  // null: the whole image
    LabelSet labels;
    double confidence = 0;  // 1 − overall uncertainty
};

// A stored FEID record as a face to send: its current labels (a human's once reviewed), its
// box, and confidence 1 − uncertainty.overall. Used to answer from the store without the model.
LabeledFace labeled_face_from_record(const FeidRecord& record);

// Attribute name → value for one face, in spec order. Levels the labels lack are left out.
std::vector<std::pair<std::string, std::string>> face_attributes(const FunctionSpec& spec, const LabeledFace& face,
                                                                 const std::string& model_version);
// The detector answer (§1.3): one rectangle per face with confidence ≥ threshold, plus the frame
// tag when configured. `width`/`height`: the image, for whole-image faces.
nlohmann::json detector_response(const FunctionSpec& spec, const std::vector<LabeledFace>& faces, int width, int height,
                                 double threshold, const std::string& model_version);

// The face a frame tag speaks for: the largest one (a whole-image face counts as the frame);
// none without faces.
std::optional<std::size_t> frame_tag_face(const std::vector<LabeledFace>& faces);
// The frame tag's attributes by name: that face's expression in the spelling of
// `expression_value` (canonical → value; "no_face" without one) and the number of faces. The
// one description of the tag, for the function's answer and the REST worker alike.
std::vector<std::pair<std::string, std::string>> frame_tag_attributes(
    const std::vector<LabeledFace>& faces, const std::map<std::string, std::string>& expression_value);

// A task's own label, as GET /api/labels lists it, bound to the spec: ids for writing shapes
// and the task's spelling of every expression.
struct TaskBinding {
    long long face_label_id = -1;
    long long tag_label_id = -1;                     // -1: the task has no frame tag label
    std::map<std::string, long long> face_spec_ids;  // attribute name → spec_id
    std::map<std::string, long long> tag_spec_ids;
    std::map<std::string, std::string> expression_value;  // canonical → the task's value
    std::vector<std::string> problems;                    // what will not be written, and why
};
// `labels`: the `results` of GET /api/labels?task_id=N (or the list itself). Error when the
// task has no rectangle-compatible label named like the spec's face label.
Result<TaskBinding> bind_task_labels(const FunctionSpec& spec, const Knowledge& knowledge,
                                     const nlohmann::json& labels);

// The REST shape (§4.4) for one face on `frame`; attributes by spec_id.
nlohmann::json rest_shape(const FunctionSpec& spec, const TaskBinding& binding, const LabeledFace& face,
                          long long frame, int width, int height, const std::string& model_version);

// The REST tag (§4.4) of `frame` carrying its faces' frame tag, attributes by spec_id in the
// task's spelling; none when the spec or the task has no tag label.
std::optional<nlohmann::json> rest_tag(const FunctionSpec& spec, const TaskBinding& binding,
                                       const std::vector<LabeledFace>& faces, long long frame);

// Labels read back from a face shape's attributes (name → value). Levels whose attributes are
// absent or unreadable are left out and named in `problems`.
struct ReadLabels {
    LabelSet labels;
    std::vector<std::string> problems;
};
ReadLabels labels_from_attributes(const FunctionSpec& spec, const Knowledge& knowledge,
                                  const std::vector<std::pair<std::string, std::string>>& attributes);

}  // namespace seke::cvat
