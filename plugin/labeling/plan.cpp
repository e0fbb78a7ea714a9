#include "plugin/labeling/plan.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <variant>

#include "connectors/vllm_client.hpp"
#include "plugin/labeling/label_run.hpp"
#include "verify/face_labeler.hpp"
#include "verify/prompt.hpp"

namespace seke {
namespace {

// Text tokens as the rule of thumb for English text under BPE tokenizers counts them.
constexpr std::int64_t kCharsPerToken = 4;
// A provider's prefix cache holds whole blocks of this many tokens (OpenAI's).
constexpr std::int64_t kCacheBlockTokens = 128;
// Walks of each face under the agreement model; their mean is the face's expectation.
constexpr int kWalksPerFace = 8;
// A walk that asks more than this many requests has met a policy this plan does not understand.
constexpr int kMaxWalkRequests = 64;

// The stand-in model of a walk: answers that parse, written by the prompt code's example_answer
// from the knowledge's own picture of an expression (its VA region's centre, its prototype AUs).
class StandInModel {
  public:
    // `agreement` 1: every sample names the leading expression; 0: samples alternate between it and
    // its neighbour, so the vote never settles; between: each sample agrees with that probability.
    StandInModel(const Knowledge& knowledge, std::size_t lead, double agreement, std::uint64_t seed)
        : knowledge_(knowledge), lead_(lead % knowledge.expressions.size()),
          other_((lead + 1) % knowledge.expressions.size()), agreement_(agreement), random_(seed) {}

    std::string answer(const ModelRequest& request, const LabelSet& known) {
        const LabelSet leading = labels_of(lead_);
        PromptSpec spec;
        spec.kind = request.kind;
        spec.known = known;
        LabelSet said = leading;
        switch (request.kind) {
            case RequestKind::sample: said = labels_of(next_expression()); break;
            case RequestKind::verify: spec.candidates = leading; break;
            case RequestKind::describe: spec.known = leading; break;
        }
        return example_answer(knowledge_, spec, said, {}).value_or("{}");
    }

  private:
    std::size_t next_expression() {
        if (agreement_ >= 1) return lead_;
        if (agreement_ <= 0) return (samples_++ % 2 == 0) ? lead_ : other_;
        return std::uniform_real_distribution<double>(0, 1)(random_) < agreement_ ? lead_ : other_;
    }

    [[nodiscard]] LabelSet labels_of(std::size_t expression) const {
        const ExpressionKnowledge& e = knowledge_.expressions[expression];
        LabelSet labels;
        labels.expression = e.name;
        labels.valence = (e.va.valence_min + e.va.valence_max) / 2;
        labels.arousal = (e.va.arousal_min + e.va.arousal_max) / 2;
        labels.action_units = e.prototype;
        return labels;
    }

    const Knowledge& knowledge_;
    std::size_t lead_, other_;
    double agreement_;
    std::mt19937_64 random_;
    std::size_t samples_ = 0;
};

// Every figure of PlanFigures, for the arithmetic done on all of them alike.
constexpr double PlanFigures::*kFigures[] = {&PlanFigures::requests,          &PlanFigures::samples,
                                             &PlanFigures::prompt_tokens,     &PlanFigures::cached_prompt_tokens,
                                             &PlanFigures::completion_tokens, &PlanFigures::image_tokens};

PlanFigures& operator+=(PlanFigures& a, const PlanFigures& b) {
    for (auto figure : kFigures) a.*figure += b.*figure;
    return a;
}

PlanFigures scaled(PlanFigures f, double by) {
    for (auto figure : kFigures) f.*figure *= by;
    return f;
}

// One face's requests as the labeler makes them, answered by `model`: what each request's
// prompt holds is counted from the request itself (system, question, the few-shot turns the
// client would keep, one image each), so the plan counts the prompts the run would send.
PlanFigures walk_face(const PlanDeps& deps, const LabelJob& job, const FaceCrop& crop, StandInModel model,
                      std::int64_t tokens_per_image) {
    std::optional<ExpertOpinion> opinion;
    if (crop.expert) opinion = interpret_expert(*crop.expert, deps.knowledge, deps.expert);
    FaceLabeler labeler(deps.knowledge, deps.engine, job.known, job.known_provenance, deps.examples,
                        std::move(opinion));
    PlanFigures walked;
    LabelerStep step = labeler.start();
    for (int asked = 0; asked < kMaxWalkRequests; ++asked) {
        const auto* request = std::get_if<ModelRequest>(&step);
        if (!request) break;
        std::vector<ChatExample> turns;
        for (const auto& turn : request->examples)
            if (deps.examples && turn.example < deps.examples->size())
                turns.push_back(ChatExample{(*deps.examples)[turn.example].image_jpeg, {}, turn.user, turn.assistant});
        turns.resize(examples_within_bounds(turns));
        auto text = static_cast<std::int64_t>(request->prompt.system.size() + request->prompt.user.size());
        for (const auto& turn : turns) text += static_cast<std::int64_t>(turn.user.size() + turn.assistant.size());
        const std::int64_t images = tokens_per_image * static_cast<std::int64_t>(1 + turns.size());
        ModelReply reply;
        reply.prompt_tokens = text / kCharsPerToken + images;
        reply.cached_prompt_tokens =
            std::min(reply.prompt_tokens, static_cast<std::int64_t>(request->prompt.system.size()) / kCharsPerToken /
                                              kCacheBlockTokens * kCacheBlockTokens);
        std::int64_t completion_chars = 0;
        for (int i = 0; i < std::max(1, request->n); ++i) {
            reply.contents.push_back(model.answer(*request, job.known));
            completion_chars += static_cast<std::int64_t>(reply.contents.back().size());
        }
        reply.completion_tokens = completion_chars / kCharsPerToken;
        walked.requests += 1;
        walked.samples += static_cast<double>(reply.contents.size());
        walked.prompt_tokens += static_cast<double>(reply.prompt_tokens);
        walked.cached_prompt_tokens += static_cast<double>(reply.cached_prompt_tokens);
        walked.completion_tokens += static_cast<double>(reply.completion_tokens);
        walked.image_tokens += static_cast<double>(images);
        step = labeler.feed(reply);
    }
    return walked;
}

// What one worker planned.
struct PlanShare {
    std::int64_t unreadable = 0, faceless = 0, faces = 0;
    PlanFigures expected, low, high;
};

void plan_image(const PlanDeps& deps, const LabelJob& job, const PreparedImage& image, std::int64_t tokens_per_image,
                std::uint64_t seed, PlanShare& share) {
    const std::size_t expressions = deps.knowledge.expressions.size();
    for (std::size_t f = 0; f < image.faces.size(); ++f) {
        ++share.faces;
        const FaceCrop& crop = image.faces[f];
        // Faces lead with every expression in turn: answer lengths differ between them.
        const std::size_t lead = static_cast<std::size_t>(seed + f) % std::max<std::size_t>(1, expressions);
        PlanFigures mean;
        for (int w = 0; w < kWalksPerFace; ++w)
            mean += walk_face(deps, job, crop,
                              StandInModel(deps.knowledge, lead, kPlanAgreement, seed * 1000003 + f * 101 + w),
                              tokens_per_image);
        share.expected += scaled(mean, 1.0 / kWalksPerFace);
        share.low += walk_face(deps, job, crop, StandInModel(deps.knowledge, lead, 1, 0), tokens_per_image);
        share.high += walk_face(deps, job, crop, StandInModel(deps.knowledge, lead, 0, 0), tokens_per_image);
    }
}

// A figure's total over `n` faces from a history of per-face values: its mean times n, the range
// the normal approximation of a sum of n faces gives (two standard deviations, widened by the
// uncertainty of a mean read off `history.size()` faces), within n times the least and the most.
struct Spread {
    double expected = 0, low = 0, high = 0;
};
Spread total_from_history(const std::vector<double>& history, double n) {
    const auto h = static_cast<double>(history.size());
    double sum = 0, least = history.front(), most = history.front();
    for (double v : history) {
        sum += v;
        least = std::min(least, v);
        most = std::max(most, v);
    }
    const double mean = sum / h;
    double squares = 0;
    for (double v : history) squares += (v - mean) * (v - mean);
    const double variance = h > 1 ? squares / (h - 1) : 0;
    const double sd = std::sqrt(n * variance * (1 + n / h));
    return {n * mean, std::max(n * least, n * mean - 2 * sd), std::min(n * most, n * mean + 2 * sd)};
}

void plan_from_history(const std::vector<Cost>& history, RunPlan& plan) {
    const auto n = static_cast<double>(plan.faces);
    auto column = [&](auto read) {
        std::vector<double> values;
        values.reserve(history.size());
        for (const Cost& c : history) values.push_back(static_cast<double>(read(c)));
        return total_from_history(values, n);
    };
    const Spread requests = column([](const Cost& c) { return c.requests + c.cached_requests; });
    const Spread samples = column([](const Cost& c) { return c.samples; });
    const Spread prompt = column([](const Cost& c) { return c.prompt_tokens; });
    const Spread cached = column([](const Cost& c) { return c.cached_prompt_tokens; });
    const Spread completion = column([](const Cost& c) { return c.completion_tokens; });
    // The history does not tell images from text: the prompts' share of image tokens per request.
    const double image_per_request =
        plan.expected.requests > 0 ? plan.expected.image_tokens / plan.expected.requests : 0;
    auto set = [&](PlanFigures& f, double Spread::*which) {
        f.requests = requests.*which;
        f.samples = samples.*which;
        f.prompt_tokens = prompt.*which;
        f.cached_prompt_tokens = cached.*which;
        f.completion_tokens = completion.*which;
        f.image_tokens = image_per_request * f.requests;
    };
    set(plan.expected, &Spread::expected);
    set(plan.low, &Spread::low);
    set(plan.high, &Spread::high);
    plan.basis = PlanBasis::history;
    plan.history_faces = static_cast<std::int64_t>(history.size());
    plan.range =
        "the history's faces: the mean per face times the faces, +/- two standard deviations of such a sum "
        "(widened for a mean read off " +
        std::to_string(history.size()) + " faces), within the faces times the history's least and most";
}

}  // namespace

std::string_view plan_basis_name(PlanBasis basis) noexcept {
    return basis == PlanBasis::history ? "history" : "prompts";
}

std::int64_t image_tokens(int width, int height) noexcept {
    double w = std::max(1, width), h = std::max(1, height);
    if (const double fit = 2048 / std::max(w, h); fit < 1) w *= fit, h *= fit;
    if (const double shorter = 768 / std::min(w, h); shorter < 1) w *= shorter, h *= shorter;
    const auto tiles = static_cast<std::int64_t>(std::ceil(w / 512) * std::ceil(h / 512));
    return 85 + 170 * tiles;
}

Result<RunPlan> plan_run(const PlanDeps& deps, const std::vector<LabelJob>& jobs, const std::atomic<bool>& stop) {
    RunPlan plan;
    plan.items = static_cast<std::int64_t>(jobs.size());
    std::set<std::string> finished;
    if (deps.store) {
        auto ids = deps.store->finished_item_ids();
        if (!ids) return ids.error();
        finished.insert(ids->begin(), ids->end());
    }
    std::vector<const LabelJob*> open;
    for (const auto& job : jobs) {
        if (finished.count(job.id)) ++plan.already_done;
        else open.push_back(&job);
    }
    plan.planned = static_cast<std::int64_t>(open.size());
    if (deps.knowledge.expressions.empty())
        return make_error(errc::config_error, "plan: the knowledge has no expressions");

    FacePreparer preparer(deps.face, deps.config.image);
    if (auto ready = preparer.ready(); !ready) return ready.error();
    // The crop is at most face.longest_side on a side; priced as a square of that side.
    const std::int64_t tokens_per_image = image_tokens(deps.face.longest_side, deps.face.longest_side);

    std::mutex mutex;
    PlanShare total;
    std::atomic<std::size_t> next{0};
    auto work = [&] {
        PlanShare share;
        while (!stop.load()) {
            const std::size_t i = next.fetch_add(1);
            if (i >= open.size()) break;
            const LabelJob& job = *open[i];
            auto image = prepare_job(preparer, job, deps.config.image);
            if (!image) {
                if (image.error().code == errc::no_face) {
                    ++share.faceless;
                    continue;
                }
                ++share.unreadable;
                std::lock_guard lock(mutex);
                if (plan.failures.size() < 50)
                    plan.failures.emplace_back(
                        job.id, std::string(errc_name(image.error().code)) + ": " + image.error().message);
                continue;
            }
            if (image->faces.empty()) ++share.faceless;
            plan_image(deps, job, *image, tokens_per_image, i, share);
        }
        std::lock_guard lock(mutex);
        total.unreadable += share.unreadable;
        total.faceless += share.faceless;
        total.faces += share.faces;
        for (auto row : {&PlanShare::expected, &PlanShare::low, &PlanShare::high}) total.*row += share.*row;
    };
    const int threads =
        std::clamp(deps.config.run.image_threads > 0 ? deps.config.run.image_threads
                                                     : static_cast<int>(std::thread::hardware_concurrency()),
                   1, 64);
    {
        std::vector<std::jthread> pool;
        pool.reserve(static_cast<std::size_t>(threads));
        for (int t = 0; t < threads; ++t) pool.emplace_back(work);
    }
    plan.unreadable = total.unreadable;
    plan.faceless = total.faceless;
    plan.faces = total.faces;
    // The provider caches the opening system text once one request has carried it: the run's
    // first request pays for all of it.
    auto first_request_uncached = [&](PlanFigures& f) {
        if (f.requests <= 0 || plan.faces == 0) return;
        f.cached_prompt_tokens = std::max(0.0, f.cached_prompt_tokens - f.cached_prompt_tokens / f.requests);
    };
    plan.expected = total.expected;
    plan.low = total.low;
    plan.high = total.high;
    first_request_uncached(plan.expected);
    first_request_uncached(plan.low);
    first_request_uncached(plan.high);
    plan.range =
        "the sampling policy walked with answers that always agree (low) and that never settle (high); expected: "
        "each sample agrees with the leading expression with probability " +
        std::to_string(kPlanAgreement).substr(0, 4) + ", other levels the same in every answer";

    if (deps.store && plan.faces > 0) {
        auto history = deps.store->face_costs(deps.model_version, kMaxPlanHistoryFaces);
        if (!history) return history.error();
        if (static_cast<std::int64_t>(history->size()) >= kMinPlanHistoryFaces) plan_from_history(*history, plan);
    }
    return plan;
}

}  // namespace seke
