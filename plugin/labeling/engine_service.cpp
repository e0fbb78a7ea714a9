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
struct LimitSpending {
    SpendLimits limits;
    std::optional<Price> price;
};
using Event = std::variant<Submitted, Answered, CancelAll, Shutdown, LimitSpending>;

struct Running {
    FaceJob job;
    std::shared_ptr<const FewShotExamples> examples;  // the labeler's example turns index into it
    FaceLabeler labeler;
    EngineService::Done done;
    bool waiting = false;                 // a model request is in flight
    bool cancelled = false;               // finish as soon as the model request comes back
    bool held = false;                    // its next request waits for the spending cap to make room
    SpendCap::Reservation reservation{};  // of the request in flight, under a spending cap
    int reserved_n = 1;
};

// Under a spending cap, before the first answer is seen: the most a request may cost. Prompt
// text at 3 bytes a token (tokenizers do better on prose), a generous 1500 tokens per image, and
// every sample at max_tokens.
TokenCounts upper_guess(const ChatRequest& chat, int max_tokens) {
    std::size_t text = chat.prompt.system.size() + chat.prompt.user.size();
    for (const auto& example : chat.examples) text += example.user.size() + example.assistant.size();
    const auto images = static_cast<std::int64_t>(1 + chat.examples.size());
    return {static_cast<std::int64_t>(text / 3) + 1500 * images, 0,
            static_cast<std::int64_t>(std::max(1, chat.n)) * std::max(1, max_tokens)};
}

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
    std::optional<SpendCap> cap;
    std::deque<std::pair<std::uint64_t, ChatRequest>> held;  // requests waiting for the cap, in order
    std::string stopped_by;                                  // guarded by `mutex`
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
            send_within_cap(id, std::move(chat));
            return;
        }
        finish(id, std::move(std::get<FaceResult>(step)));
    }

    void send(std::uint64_t id, ChatRequest chat) {
        Running& face = running.at(id);
        face.held = false;
        face.waiting = true;
        ++requests_in_flight;
        client.submit(std::move(chat), [this, id](ChatResult result) { push(Answered{id, std::move(result)}); });
    }

    // Sends, holds or refuses the request as the cap says; without a cap, sends.
    void send_within_cap(std::uint64_t id, ChatRequest chat) {
        if (!cap) return send(id, std::move(chat));
        Running& face = running.at(id);
        if (!held.empty()) {  // first come, first served: others wait already
            face.held = true;
            held.emplace_back(id, std::move(chat));
            return;
        }
        switch (cap->reserve(chat.n, upper_guess(chat, client.settings().max_tokens), face.reservation)) {
            case SpendCap::Verdict::send: face.reserved_n = chat.n; return send(id, std::move(chat));
            case SpendCap::Verdict::wait:
                face.held = true;
                held.emplace_back(id, std::move(chat));
                return;
            case SpendCap::Verdict::stop: return refuse_from_now(id);
        }
    }

    // The cap is reached: this face and every held one finish, as will every later request.
    void refuse_from_now(std::uint64_t id) {
        {
            std::lock_guard lock(mutex);
            stopped_by = cap->stopped_by();
        }
        finish(id, capped_result());
        release_held();
    }

    [[nodiscard]] FaceResult capped_result() const {
        FaceResult result = cancelled_result();
        result.failure = make_error(errc::cancelled,
                                    "stopped before the face was finished: the next model request "
                                    "would pass the run's " +
                                        cap->stopped_by() + " cap");
        return result;
    }

    // Held requests in order while the cap lets them go; all refused once it stops.
    void release_held() {
        while (!held.empty()) {
            auto& [id, chat] = held.front();
            if (!running.count(id)) {
                held.pop_front();
                continue;
            }
            Running& face = running.at(id);
            const auto verdict =
                cap->reserve(chat.n, upper_guess(chat, client.settings().max_tokens), face.reservation);
            if (verdict == SpendCap::Verdict::wait) return;
            auto [face_id, request] = std::move(held.front());
            held.pop_front();
            if (verdict == SpendCap::Verdict::send) {
                face.reserved_n = request.n;
                send(face_id, std::move(request));
            } else {
                {
                    std::lock_guard lock(mutex);
                    stopped_by = cap->stopped_by();
                }
                finish(face_id, capped_result());
            }
        }
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
            if (cap) {
                const ChatResult& r = answered->result;
                const bool sent = !r.cached && r.http_requests > 0;
                const TokenCounts paid =
                    r.cached ? TokenCounts{}
                             : TokenCounts{r.prompt_tokens, r.cached_prompt_tokens, r.completion_tokens};
                cap->settle(found->second.reservation, found->second.reserved_n, paid, sent);
                found->second.reservation = {};
            }
            // A request the client cancelled never reached the model (a stop, or file mode's round
            // written): the face is unfinished, not labeled with fewer answers.
            const bool request_cancelled = answered->result.error && answered->result.error->code == errc::cancelled;
            if (found->second.cancelled || cancelling || request_cancelled) {
                finish(answered->id, cancelled_result());
                return;
            }
            ModelReply reply;
            reply.contents = std::move(answered->result.contents);
            reply.prompt_tokens = answered->result.prompt_tokens;
            reply.cached_prompt_tokens = answered->result.cached_prompt_tokens;
            reply.completion_tokens = answered->result.completion_tokens;
            reply.cached = answered->result.cached;
            reply.error = std::move(answered->result.error);
            advance(answered->id, found->second.labeler.feed(reply));
            if (cap) release_held();  // the answer settled: room for what waits, or the stop
            return;
        }
        if (auto* limit = std::get_if<LimitSpending>(&event)) {
            cap.emplace(limit->limits, limit->price);
            return;
        }
        if (std::holds_alternative<CancelAll>(event)) {
            // Faces waiting on the model finish when the client's cancellation reaches them;
            // faces submitted later run normally.
            client.cancel_all();
            std::vector<std::uint64_t> idle;
            for (auto& [id, face] : running) {
                face.cancelled = true;
                if (!face.waiting) idle.push_back(id);  // held ones too: nothing is in flight
            }
            held.clear();
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

void EngineService::limit_spending(SpendLimits limits, std::optional<Price> price) {
    impl_->push(LimitSpending{limits, std::move(price)});
}

std::string EngineService::spending_stopped() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->stopped_by;
}

std::size_t EngineService::active() const {
    return impl_->running_count.load();
}

}  // namespace seke
