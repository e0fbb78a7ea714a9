#include "plugin/labeling/engine_service.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

namespace seke {
namespace {

struct Submitted {
    std::uint64_t id = 0;
    FaceJob job;
    EngineService::Done done;
    std::shared_ptr<const FewShotExamples> examples;  // the set current when it was submitted
};
struct Answered {
    std::uint64_t id = 0;
    ChatResult result;
};
struct CancelAll {};
struct Shutdown {};
using Event = std::variant<Submitted, Answered, CancelAll, Shutdown>;

struct Running {
    FaceJob job;
    std::shared_ptr<const FewShotExamples> examples;  // the labeler's example turns index into it
    FaceLabeler labeler;
    EngineService::Done done;
    bool waiting = false;    // a model request is in flight
    bool cancelled = false;  // finish as soon as the model request comes back
};

FaceResult cancelled_result() {
    FaceResult result;
    result.ok = false;
    result.failure = make_error(errc::cancelled, "stopped before the face was finished");
    result.trace.stop_reason = "cancelled";
    return result;
}

}  // namespace

struct EngineService::Impl {
    const Knowledge& knowledge;
    const EngineConfig& config;
    VllmClient& client;
    const ExpertSettings expert_settings;

    mutable std::mutex mutex;
    std::condition_variable wake;
    std::deque<Event> events;
    std::atomic<std::uint64_t> next_id{1};
    std::atomic<std::size_t> running_count{0};
    std::shared_ptr<const FewShotExamples> examples;  // guarded by `mutex`

    // Owned by the service thread only.
    std::unordered_map<std::uint64_t, Running> running;
    std::size_t requests_in_flight = 0;
    bool cancelling = false;
    std::thread thread;

    Impl(const Knowledge& k, const EngineConfig& c, VllmClient& v, ExpertSettings e)
        : knowledge(k), config(c), client(v), expert_settings(e) {
        thread = std::thread([this] { loop(); });
    }

    void push(Event event) {
        {
            std::lock_guard lock(mutex);
            events.push_back(std::move(event));
        }
        wake.notify_one();
    }

    void finish(std::uint64_t id, FaceResult result) {
        auto node = running.extract(id);
        running_count.store(running.size());
        node.mapped().done(std::move(result));
    }

    // Submits the machine's next request or delivers its result.
    void advance(std::uint64_t id, LabelerStep step) {
        if (auto* request = std::get_if<ModelRequest>(&step)) {
            Running& face = running.at(id);
            if (face.cancelled || cancelling) {
                finish(id, cancelled_result());
                return;
            }
            ChatRequest chat;
            chat.prompt = std::move(request->prompt);
            chat.image_jpeg = face.job.jpeg;
            chat.image_hash = face.job.crop_hash;
            chat.ordinal = request->ordinal;
            chat.n = request->n;
            chat.temperature = request->temperature;
            // The labeler names each example's image; the bytes come from the set it was given.
            for (auto& turn : request->examples) {
                if (!face.examples || turn.example >= face.examples->size()) continue;
                const FewShotExample& example = (*face.examples)[turn.example];
                chat.examples.push_back(ChatExample{example.image_jpeg, std::move(turn.image_hash),
                                                    std::move(turn.user), std::move(turn.assistant)});
            }
            face.waiting = true;
            ++requests_in_flight;
            client.submit(std::move(chat), [this, id](ChatResult result) { push(Answered{id, std::move(result)}); });
            return;
        }
        finish(id, std::move(std::get<FaceResult>(step)));
    }

    void handle(Event& event) {
        if (auto* submitted = std::get_if<Submitted>(&event)) {
            if (cancelling) {
                submitted->done(cancelled_result());
                return;
            }
            std::optional<ExpertOpinion> opinion;
            if (submitted->job.expert) opinion = interpret_expert(*submitted->job.expert, knowledge, expert_settings);
            FaceLabeler labeler(knowledge, config, submitted->job.known, submitted->job.known_provenance,
                                submitted->examples, std::move(opinion));
            auto [it, inserted] =
                running.emplace(submitted->id, Running{std::move(submitted->job), std::move(submitted->examples),
                                                       std::move(labeler), std::move(submitted->done)});
            running_count.store(running.size());
            advance(it->first, it->second.labeler.start());
            return;
        }
        if (auto* answered = std::get_if<Answered>(&event)) {
            --requests_in_flight;
            auto found = running.find(answered->id);
            if (found == running.end()) return;
            found->second.waiting = false;
            if (found->second.cancelled || cancelling) {
                finish(answered->id, cancelled_result());
                return;
            }
            ModelReply reply;
            reply.contents = std::move(answered->result.contents);
            reply.prompt_tokens = answered->result.prompt_tokens;
            reply.completion_tokens = answered->result.completion_tokens;
            reply.cached = answered->result.cached;
            reply.error = std::move(answered->result.error);
            advance(answered->id, found->second.labeler.feed(reply));
            return;
        }
        if (std::holds_alternative<CancelAll>(event)) {
            // Faces waiting on the model finish when the client's cancellation reaches them;
            // faces submitted later run normally.
            client.cancel_all();
            std::vector<std::uint64_t> idle;
            for (auto& [id, face] : running) {
                face.cancelled = true;
                if (!face.waiting) idle.push_back(id);
            }
            for (auto id : idle) finish(id, cancelled_result());
        }
    }

    void loop() {
        for (;;) {
            std::deque<Event> batch;
            {
                std::unique_lock lock(mutex);
                wake.wait(lock, [&] { return !events.empty(); });
                batch.swap(events);
            }
            for (auto& event : batch) {
                if (std::holds_alternative<Shutdown>(event)) {
                    drain_and_stop();
                    return;
                }
                handle(event);
            }
        }
    }

    // Cancel everything and wait for every callback the client still owes, so none outlives us.
    void drain_and_stop() {
        cancelling = true;
        client.cancel_all();
        while (requests_in_flight > 0) {
            std::deque<Event> batch;
            {
                std::unique_lock lock(mutex);
                wake.wait(lock, [&] { return !events.empty(); });
                batch.swap(events);
            }
            for (auto& event : batch) {
                if (auto* answered = std::get_if<Answered>(&event)) {
                    --requests_in_flight;
                    if (running.count(answered->id)) finish(answered->id, cancelled_result());
                } else if (auto* submitted = std::get_if<Submitted>(&event)) {
                    submitted->done(cancelled_result());
                }
            }
        }
        std::vector<std::uint64_t> left;
        for (const auto& [id, face] : running) left.push_back(id);
        for (auto id : left) finish(id, cancelled_result());
    }
};

EngineService::EngineService(const Knowledge& knowledge, const EngineConfig& config, VllmClient& client,
                             ExpertSettings expert)
    : impl_(std::make_unique<Impl>(knowledge, config, client, expert)) {}

EngineService::~EngineService() {
    impl_->push(Shutdown{});
    impl_->thread.join();
}

void EngineService::submit(FaceJob job, Done done) {
    // The set is taken now, not when the service thread gets to the face: a set_examples()
    // after this call must not change what this face is shown.
    std::shared_ptr<const FewShotExamples> examples;
    {
        std::lock_guard lock(impl_->mutex);
        examples = impl_->examples;
    }
    impl_->push(Submitted{impl_->next_id.fetch_add(1), std::move(job), std::move(done), std::move(examples)});
}

void EngineService::set_examples(std::shared_ptr<const FewShotExamples> examples) {
    std::lock_guard lock(impl_->mutex);
    impl_->examples = std::move(examples);
}

void EngineService::cancel_all() {
    impl_->push(CancelAll{});
}

std::size_t EngineService::active() const {
    return impl_->running_count.load();
}

}  // namespace seke
