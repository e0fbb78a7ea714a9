#pragma once
// The plan of a `seke label` run before it starts: its items and faces found as the run would
// find them, and the model requests, samples and tokens to expect under the current sampling
// settings, with a range. No model is asked and nothing is written.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "connectors/image.hpp"
#include "plugin/config/config.hpp"
#include "plugin/labeling/manifest.hpp"
#include "plugin/records/store.hpp"
#include "verify/engine_config.hpp"
#include "verify/expert.hpp"
#include "verify/few_shot.hpp"
#include "verify/knowledge.hpp"

namespace seke {

// Totals over the planned faces.
struct PlanFigures {
    double requests = 0;
    double samples = 0;
    double prompt_tokens = 0;         // images included
    double cached_prompt_tokens = 0;  // of prompt_tokens: the provider's prefix cache
    double completion_tokens = 0;
    double image_tokens = 0;  // of prompt_tokens: the images shown (the face and its few-shot examples)
};

// Where the expected figures come from.
enum class PlanBasis {
    history,  // the store's faces labeled by this model version: their cost per face
    prompts,  // the prompts the labeler would send, walked through the sampling policy
};
std::string_view plan_basis_name(PlanBasis basis) noexcept;

struct RunPlan {
    std::int64_t items = 0;         // jobs given
    std::int64_t already_done = 0;  // finished in the store: a run skips them
    std::int64_t planned = 0;       // items the run would label
    std::int64_t unreadable = 0;    // of planned: the image could not be read (the run fails them)
    std::int64_t faceless = 0;      // of planned: no face found (the run skips them)
    std::int64_t faces = 0;         // faces found in the planned items
    PlanBasis basis = PlanBasis::prompts;
    std::int64_t history_faces = 0;  // faces of the history read (0 without one)
    PlanFigures expected, low, high;
    std::string range;                                          // how low and high are made
    std::vector<std::pair<std::string, std::string>> failures;  // id, why the image could not be read (first 50)
};

// What a plan looks with; everything must outlive the call.
struct PlanDeps {
    const Config& config;
    const Knowledge& knowledge;
    const FaceOptions& face;  // the runtime's: the detector model and the expert filled in
    const EngineConfig& engine;
    ExpertSettings expert;
    std::shared_ptr<const FewShotExamples> examples;  // the few-shot examples the faces would be shown
    Store* store = nullptr;                           // read only; null when there is none yet
    std::string model_version;                        // whose history is read
};

// The fewest faces of history a plan trusts; with fewer, it plans from the prompts.
inline constexpr std::int64_t kMinPlanHistoryFaces = 20;
// The newest faces of history read.
inline constexpr std::size_t kMaxPlanHistoryFaces = 5000;
// The cold plan's model of answers: a sample names the face's leading expression with this
// probability (else its neighbour), and every other level is the same in every answer.
inline constexpr double kPlanAgreement = 0.9;

// Tokens a provider counts for one image of `width` × `height` px: OpenAI's high-detail rule
// (fitted within 2048 px, the shorter side at most 768 px, 170 per 512-px tile plus 85).
std::int64_t image_tokens(int width, int height) noexcept;

// Prepares every job not finished in the store, as the run would (face detection, or the
// manifest's box), and plans its faces. Stops early, with what it has, when `stop` is set.
Result<RunPlan> plan_run(const PlanDeps& deps, const std::vector<LabelJob>& jobs, const std::atomic<bool>& stop);

}  // namespace seke
