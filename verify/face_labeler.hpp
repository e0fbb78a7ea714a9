#pragma once
// The sans-I/O SV-UAMC state machine for one face. It says what it needs next (a model request)
// and is fed the answers; it never blocks, owns no thread and does no I/O. A driver runs
// thousands of these over one event loop; tests feed scripted answers.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "verify/answer.hpp"
#include "verify/engine_config.hpp"
#include "verify/expert.hpp"
#include "verify/few_shot.hpp"
#include "verify/knowledge.hpp"
#include "verify/labels.hpp"
#include "verify/prompt.hpp"

namespace seke {

// One few-shot example as two earlier turns of the conversation: the question about the
// example's face (with its image) and the answer it should get. The image is named, not carried:
// the driver attaches the bytes of `examples[example]` from the set it gave the labeler.
struct ExampleTurn {
    std::size_t example = 0;  // index into the FewShotExamples the labeler was given
    std::string image_hash;   // that example's image_hash
    std::string user;         // the question, with the example's own facts when the face has some
    std::string assistant;    // example_answer(): a perfect answer to that question
};

struct ModelRequest {
    int ordinal = 0;  // 0, 1, 2… within this face: part of the cache key (rounds repeat prompts)
    RequestKind kind = RequestKind::sample;
    Prompt prompt;
    int n = 1;               // samples wanted from this one request
    double temperature = 0;  // 0 = greedy
    // Shown before the question, in order. Sample requests only: verify and describe requests
    // are about this face's own candidate labels, where another face's answer would only bias.
    std::vector<ExampleTurn> examples;
};

// What came back for one ModelRequest, after the connector's retries and fallbacks.
struct ModelReply {
    std::vector<std::string> contents;  // one per choice; may be fewer than n
    std::int64_t prompt_tokens = 0;
    std::int64_t cached_prompt_tokens = 0;  // of prompt_tokens: the provider's prefix cache
    std::int64_t completion_tokens = 0;
    bool cached = false;         // from the response cache: the tokens were paid by an earlier request
    std::optional<Error> error;  // the request failed for good
};

struct TraceSample {
    std::string raw;                   // the model's content, bounded in length
    std::optional<std::string> error;  // why it was dropped, if it was
    std::optional<Answer> answer;      // the parsed answer when usable
};

struct TraceRequest {
    int ordinal = 0;
    RequestKind kind = RequestKind::sample;
    int n = 0;
    double temperature = 0;
    bool cached = false;
    std::int64_t prompt_tokens = 0;
    std::int64_t cached_prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::optional<std::string> error;
    std::vector<TraceSample> samples;
};

// What the built-in face expert said about this face and what it changed.
struct ExpertTrace {
    bool used = false;           // its opinion was used (as evidence or as the provider)
    std::string abstain_reason;  // why it said nothing, when it abstained (then used = false)
    std::string expression;      // its top expression
    double probability = 0;      // its probability of that expression
    // Disagreement with the final aggregate per level, in [0, 1] (uamc.hpp); 0 for a level not
    // compared (known, not asked, or not covered by the expert).
    double disagreement_expression = 0;
    double disagreement_va = 0;
    double disagreement_au = 0;
    bool triggered_verification = false;  // a confident expert contradicted the vote leader
};

struct Trace {
    std::vector<TraceRequest> requests;
    int rounds = 0;
    std::string stop_reason;  // "known", "settled", "k_max", "greedy", "fixed", "failed"...
    std::vector<std::pair<std::string, double>> expression_votes;  // final vote shares
    int verifications = 0;                                         // verification answers that entered the vote
    bool verifier_disagreed = false;    // a verification said "disagree" with another expression
    std::optional<ExpertTrace> expert;  // set when the labeler was given an expert opinion
};

// Trace::stop_reason of a face the expert provider labeled.
inline constexpr const char* kExpertStopReason = "expert";

struct FaceResult {
    bool ok = false;
    std::optional<Error> failure;  // when !ok: why no label could be given
    LabelSet labels;               // complete when ok: known facts + model's answers
    Descriptions descriptions;
    LevelProvenance provenance;
    // When ok: who gave each AU. It differs from provenance.au only for a face whose source coded
    // some AUs (LabelSet::au_coded): those keep the source's provenance, the rest the engine's.
    AuProvenance au_provenance;
    Uncertainty uncertainty;
    Cost cost;
    Trace trace;
    std::optional<ExpertOpinion> expert;  // what the built-in expert said, when it read the face
};

using LabelerStep = std::variant<ModelRequest, FaceResult>;

class FaceLabeler {
  public:
    // `known` holds facts with their provenance (source or human); only missing levels are asked.
    // A partly known AU level (LabelSet::au_coded) asks only the AUs not coded, and the coded ones
    // stay as given; known_provenance.au is theirs.
    // `examples` (may be null) become the example turns of every sample request; examples that
    // cannot answer the face's question (a missing level, an unknown label) are left out.
    // `expert`: the built-in face expert's opinion of this face (interpret_expert). With
    // config.expert_only it is the provider: start() returns the result at once. Otherwise its
    // disagreement with the vote raises uncertainty and may trigger self-verification; an
    // abstained opinion is ignored (the trace says so). Without one, nothing changes.
    FaceLabeler(const Knowledge& knowledge, const EngineConfig& config, LabelSet known,
                LevelProvenance known_provenance, std::shared_ptr<const FewShotExamples> examples = nullptr,
                std::optional<ExpertOpinion> expert = std::nullopt);

    // The first step: a request, or the result at once (every level known and no description
    // wanted, or expert_only).
    LabelerStep start();
    // Feed the reply to the request last returned; returns the next step.
    LabelerStep feed(const ModelReply& reply);

  private:
    struct State;
    // implementation detail; see face_labeler.cpp
  public:
    ~FaceLabeler();
    FaceLabeler(FaceLabeler&&) noexcept;
    FaceLabeler& operator=(FaceLabeler&&) noexcept;
    FaceLabeler(const FaceLabeler&) = delete;
    FaceLabeler& operator=(const FaceLabeler&) = delete;

  private:
    std::unique_ptr<State> state_;
};

}  // namespace seke
