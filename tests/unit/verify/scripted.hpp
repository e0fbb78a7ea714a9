#pragma once
// Scripted model answers for the verify/ suites: build answer JSON, read the asked keys from a
// prompt, and drive a FaceLabeler step by step.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "tests/support/test_support.hpp"
#include "verify/face_labeler.hpp"
#include "verify/prompt.hpp"

namespace seke::test {

struct Fake {
    std::string expression = "happy";
    std::vector<std::string> aus{"AU6", "AU12"};
    double valence = 0.6;
    double arousal = 0.3;
    std::string verdict = "agree";
    std::string description = "desc";  // prefix of the three descriptions
};

// The keys listed on the "Answer keys: " line of a prompt's user text.
inline std::vector<std::string> asked_keys(const Prompt& prompt) {
    std::vector<std::string> keys;
    const std::string marker = kAnswerKeysMarker;
    auto pos = prompt.user.find(marker);
    if (pos == std::string::npos) return keys;
    auto end = prompt.user.find('\n', pos);
    std::string line = prompt.user.substr(pos + marker.size(), end - pos - marker.size());
    std::stringstream in(line);
    std::string key;
    while (std::getline(in, key, ',')) {
        while (!key.empty() && key.front() == ' ') key.erase(0, 1);
        if (!key.empty()) keys.push_back(key);
    }
    return keys;
}

// A full answer with every canonical key (extra keys are ignored by the parser).
// An empty `description` gives blank descriptions.
inline std::string full_answer(const Fake& f) {
    auto describe = [&](const char* level) {
        return f.description.empty() ? std::string() : f.description + " " + level;
    };
    nlohmann::json j = {{"action_units", f.aus},
                        {"expression", f.expression},
                        {"valence", f.valence},
                        {"arousal", f.arousal},
                        {"au_description", describe("au")},
                        {"expression_description", describe("expression")},
                        {"va_description", describe("va")},
                        {"verdict", f.verdict}};
    return j.dump();
}

// An answer holding only the keys the prompt asks (what a schema-following model sends).
inline std::string answer_for(const Prompt& prompt, const Fake& f) {
    nlohmann::json full = nlohmann::json::parse(full_answer(f));
    nlohmann::json out = nlohmann::json::object();
    for (const auto& key : asked_keys(prompt)) out[key] = full[key];
    return out.dump();
}

inline ModelReply reply_of(std::vector<std::string> contents, std::int64_t prompt_tokens = 100,
                           std::int64_t completion_tokens = 20) {
    ModelReply reply;
    reply.contents = std::move(contents);
    reply.prompt_tokens = prompt_tokens;
    reply.completion_tokens = completion_tokens;
    return reply;
}

inline ModelReply error_reply(errc code = errc::upstream_error) {
    ModelReply reply;
    reply.error = make_error(code, "boom");
    return reply;
}

// n answers for a request, cycling through `fakes`.
inline ModelReply answers(const ModelRequest& request, const std::vector<Fake>& fakes) {
    std::vector<std::string> contents;
    for (int i = 0; i < request.n; ++i)
        contents.push_back(answer_for(request.prompt, fakes[static_cast<std::size_t>(i) % fakes.size()]));
    return reply_of(std::move(contents));
}

inline ModelRequest as_request(const LabelerStep& step) {
    BOOST_REQUIRE(std::holds_alternative<ModelRequest>(step));
    return std::get<ModelRequest>(step);
}

inline FaceResult as_result(const LabelerStep& step) {
    BOOST_REQUIRE(std::holds_alternative<FaceResult>(step));
    return std::get<FaceResult>(step);
}

inline Fake fake(std::string expression, std::vector<std::string> aus, double v, double a) {
    Fake f;
    f.expression = std::move(expression);
    f.aus = std::move(aus);
    f.valence = v;
    f.arousal = a;
    return f;
}

}  // namespace seke::test
