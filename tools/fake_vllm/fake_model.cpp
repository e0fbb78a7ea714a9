#include "tools/fake_vllm/fake_model.hpp"
#include "verify/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <set>

namespace seke::fake {
namespace {

constexpr std::array<std::string_view, 3> kDescriptionKeys{"expression_description", "va_description",
                                                           "au_description"};

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// The rest of the line that starts with `marker` (at the start of any line), if present.
std::optional<std::string> marker_line(const std::string& text, std::string_view marker) {
    std::size_t pos = 0;
    while ((pos = text.find(marker, pos)) != std::string::npos) {
        if (pos == 0 || text[pos - 1] == '\n') {
            const auto start = pos + marker.size();
            const auto end = text.find('\n', start);
            return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        }
        pos += marker.size();
    }
    return std::nullopt;
}

nlohmann::json marker_json(const std::string& text, std::string_view marker) {
    auto line = marker_line(text, marker);
    if (!line) return nlohmann::json::object();
    auto parsed = nlohmann::json::parse(*line, nullptr, false);
    return parsed.is_object() ? parsed : nlohmann::json::object();
}

double round2(double v) {
    return std::round(v * 100.0) / 100.0;
}

std::size_t class_index(std::string_view name) {
    const auto classes = expressions();
    for (std::size_t i = 0; i < classes.size(); ++i)
        if (classes[i].name == name) return i;
    return 0;
}

double noise_scale(double temperature) {
    return std::clamp(temperature, 0.3, 2.0);
}

std::vector<std::string> json_aus(const nlohmann::json& j) {
    std::vector<std::string> out;
    if (!j.is_array()) return out;
    for (const auto& v : j)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

std::optional<std::string> json_expression(const nlohmann::json& obj) {
    auto it = obj.find("expression");
    if (it == obj.end() || !it->is_string()) return std::nullopt;
    const auto name = it->get<std::string>();
    if (!find_expression(name)) return std::nullopt;
    return name;
}

std::optional<std::pair<double, double>> json_va(const nlohmann::json& obj) {
    auto v = obj.find("valence");
    auto a = obj.find("arousal");
    if (v == obj.end() || a == obj.end() || !v->is_number() || !a->is_number()) return std::nullopt;
    return std::pair{v->get<double>(), a->get<double>()};
}

double jaccard(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    std::set<std::string> sa(a.begin(), a.end()), sb(b.begin(), b.end());
    if (sa.empty() && sb.empty()) return 1.0;
    std::size_t inter = 0;
    for (const auto& x : sa) inter += sb.count(x);
    return static_cast<double>(inter) / static_cast<double>(sa.size() + sb.size() - inter);
}

std::string other_class(std::string_view not_this, Rng& rng) {
    const auto classes = expressions();
    for (;;) {
        const auto& c = classes[rng.index(classes.size())];
        if (c.name != not_this) return std::string(c.name);
    }
}

struct Answer {
    std::string expression;
    double valence = 0, arousal = 0;
    std::vector<std::string> aus;
    std::optional<std::string> verdict;
};

Answer confused_answer(const ChatRequest& request, Rng& rng) {
    Answer a;
    const auto classes = expressions();
    a.expression = std::string(classes[rng.index(classes.size())].name);
    a.valence = rng.uniform(-1, 1);
    a.arousal = rng.uniform(-1, 1);
    for (const auto& au : action_unit_codes())
        if (rng.chance(0.3)) a.aus.push_back(au);
    if (request.kind == AskKind::verify) a.verdict = rng.chance(0.5) ? "agree" : "disagree";
    return a;
}

// The verification decision: the answered expression and the verdict.
std::pair<std::string, std::string> verify_expression(const TruthItem& truth, const ChatRequest& request, Rng& rng,
                                                      const ModelProfile& profile) {
    const double d = truth.difficulty;
    const auto candidate = json_expression(request.candidates);
    // A model stuck on a wrong class sees it again when checking: it backs its own wrong answer
    // and doubts the right one.
    if (const auto stuck = stuck_class(truth, profile); stuck && candidate) {
        if (*candidate == *stuck) return {*stuck, rng.chance(profile.stuck_agree) ? "agree" : "disagree"};
        if (*candidate == truth.expression && rng.chance(profile.stuck_agree)) return {*stuck, "disagree"};
    }
    bool right = true;
    if (candidate) {
        right = *candidate == truth.expression;
    } else {
        if (request.candidates.contains("action_units"))
            right = right && jaccard(json_aus(request.candidates["action_units"]), truth.action_units) >= 0.5;
        if (auto va = json_va(request.candidates))
            right = right && std::abs(va->first - truth.valence) <= 0.3 && std::abs(va->second - truth.arousal) <= 0.3;
    }
    // Without a candidate expression the model's own reading stands in for it.
    const std::string shown = candidate ? *candidate : truth.expression;
    if (right) {
        if (rng.chance(0.9 - 0.3 * d)) return {shown, "agree"};
        return {truth.confusable != shown ? truth.confusable : other_class(shown, rng), "disagree"};
    }
    if (rng.chance(0.85 - 0.5 * d)) {
        std::string fix = rng.chance(0.8) ? truth.expression : truth.confusable;
        if (fix == shown) fix = truth.expression;
        return {fix, "disagree"};
    }
    return {shown, "agree"};
}

// The verbal confidence in the answered expression, drawn last so that asking for it changes no
// other part of the answer.
double verbal_confidence(const TruthItem* truth, std::string_view answered, const ModelProfile& profile, Rng& rng) {
    switch (profile.confidence) {
        case VerbalConfidence::overconfident: return rng.uniform(0.9, 0.99);
        case VerbalConfidence::calibrated: {
            if (!truth) return rng.uniform(0.1, 0.3);
            const auto p = expression_distribution(*truth, 1.0, profile);
            return std::clamp(p[class_index(answered)] + 0.05 * rng.normal(), 0.0, 1.0);
        }
        case VerbalConfidence::uninformative: break;
    }
    return rng.uniform(0.7, 0.95);
}

}  // namespace

std::string_view ask_kind_name(AskKind kind) noexcept {
    switch (kind) {
        case AskKind::sample: return "sample";
        case AskKind::verify: return "verify";
        case AskKind::describe: return "describe";
    }
    return "sample";
}

// ---- request parsing ---------------------------------------------------------------------

std::optional<std::string> base64_decode(std::string_view text) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+' || c == '-') return 62;
        if (c == '/' || c == '_') return 63;
        return -1;
    };
    std::string out;
    out.reserve(text.size() / 4 * 3);
    std::uint32_t buffer = 0;
    int bits = 0;
    bool padding = false;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        const int v = value(c);
        if (v < 0 || padding) return std::nullopt;  // junk, or data after padding
        buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xFFu));
        }
    }
    if (bits >= 6) return std::nullopt;  // a lone sextet cannot end a valid encoding
    return out;
}

std::optional<std::string> decode_data_uri(std::string_view uri) {
    if (uri.substr(0, 5) != "data:") return std::nullopt;
    const auto comma = uri.find(',');
    if (comma == std::string_view::npos) return std::nullopt;
    const auto header = uri.substr(0, comma);
    if (header.size() < 7 || header.substr(header.size() - 7) != ";base64") return std::nullopt;
    return base64_decode(uri.substr(comma + 1));
}

ChatRequest parse_chat_request(const nlohmann::json& body) {
    if (!body.is_object()) throw std::invalid_argument("request body must be a JSON object");
    ChatRequest r;
    if (auto it = body.find("model"); it != body.end() && it->is_string() && !it->empty())
        r.model = it->get<std::string>();

    auto messages = body.find("messages");
    if (messages == body.end() || !messages->is_array() || messages->empty())
        throw std::invalid_argument("'messages' must be a non-empty array");
    std::string user_text;
    int user_turns = 0;
    bool leading_system = true;  // still in the system messages that open the conversation
    for (const auto& message : *messages) {
        if (!message.is_object()) throw std::invalid_argument("each message must be an object");
        const bool user = message.value("role", std::string{}) == "user";
        auto content = message.find("content");
        if (content == message.end()) continue;
        leading_system = leading_system && message.value("role", std::string{}) == "system" && content->is_string();
        if (leading_system) r.system_prefix += content->get_ref<const std::string&>();
        // Earlier user turns are few-shot examples: the question is the last user message.
        if (user) {
            ++user_turns;
            user_text.clear();
            r.image_url.reset();
        }
        if (content->is_string()) {
            const auto& s = content->get_ref<const std::string&>();
            r.text_chars += s.size();
            if (user) user_text += s + "\n";
        } else if (content->is_array()) {
            for (const auto& part : *content) {
                if (!part.is_object()) continue;
                const auto type = part.value("type", std::string{});
                if (type == "text" && part.contains("text") && part["text"].is_string()) {
                    const auto& s = part["text"].get_ref<const std::string&>();
                    r.text_chars += s.size();
                    if (user) user_text += s + "\n";
                } else if (type == "image_url" && part.contains("image_url")) {
                    ++r.image_count;
                    const auto& iu = part["image_url"];
                    std::optional<std::string> url;
                    if (iu.is_string()) url = iu.get<std::string>();
                    else if (iu.is_object() && iu.contains("url") && iu["url"].is_string())
                        url = iu["url"].get<std::string>();
                    if (url && !r.image_url) r.image_url = std::move(url);
                }
            }
        } else if (!content->is_null()) {
            throw std::invalid_argument("message content must be a string or an array");
        }
    }
    r.example_turns = std::max(0, user_turns - 1);

    if (auto t = body.find("temperature"); t != body.end() && !t->is_null()) {
        if (!t->is_number()) throw std::invalid_argument("'temperature' must be a number");
        r.temperature = std::clamp(t->get<double>(), 0.0, 2.0);
    }
    if (auto n = body.find("n"); n != body.end() && !n->is_null()) {
        // 3.0 is accepted as 3 (JSON writers differ); 2.5 and "3" are not.
        if (!n->is_number() || std::floor(n->get<double>()) != n->get<double>())
            throw std::invalid_argument("'n' must be an integer");
        const double value = n->get<double>();
        if (value < 1 || value > kMaxChoices)
            throw std::invalid_argument("'n' must be between 1 and " + std::to_string(kMaxChoices));
        r.n = static_cast<int>(value);
    }

    // What is asked: the schema's properties, else the plain-text key list.
    if (auto rf = body.find("response_format"); rf != body.end() && rf->is_object()) {
        if (rf->value("type", std::string{}) == "json_schema") {
            r.json_schema = true;
            const auto& js = rf->contains("json_schema") ? (*rf)["json_schema"] : nlohmann::json{};
            if (js.is_object() && js.contains("schema") && js["schema"].is_object()) {
                const auto& schema = js["schema"];
                if (schema.contains("properties") && schema["properties"].is_object())
                    for (const auto& [key, value] : schema["properties"].items()) r.keys.push_back(key);
            }
        }
    }
    if (r.keys.empty()) {
        if (auto line = marker_line(user_text, kAnswerKeysMarker)) {
            std::string_view rest = *line;
            while (!rest.empty()) {
                const auto comma = rest.find(',');
                auto key = trim(rest.substr(0, comma));
                if (!key.empty() && !contains(r.keys, key)) r.keys.push_back(std::move(key));
                if (comma == std::string_view::npos) break;
                rest.remove_prefix(comma + 1);
            }
        }
    }
    if (r.keys.empty())  // nothing said: a plain "label this face"
        r.keys = {"expression",     "valence",       "arousal", "action_units", "expression_description",
                  "va_description", "au_description"};

    r.known = marker_json(user_text, kKnownMarker);
    r.candidates = marker_json(user_text, kCandidateMarker);
    if (contains(r.keys, "verdict")) {
        r.kind = AskKind::verify;
    } else if (std::all_of(r.keys.begin(), r.keys.end(), [](const std::string& k) {
                   return std::find(kDescriptionKeys.begin(), kDescriptionKeys.end(), k) != kDescriptionKeys.end();
               })) {
        r.kind = AskKind::describe;
    }
    return r;
}

// ---- the model ---------------------------------------------------------------------------

TruthItem as_perceived(const TruthItem& truth, const ModelProfile& profile) {
    TruthItem seen = truth;
    if (!profile.pair_confusions) return seen;
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kPairs{
        {{"fear", "surprise"}, {"disgust", "anger"}, {"contempt", "neutral"}}};
    for (const auto& [a, b] : kPairs) {
        if (truth.expression != a && truth.expression != b) continue;
        seen.confusable = std::string(truth.expression == a ? b : a);
        seen.difficulty = std::min(0.95, truth.difficulty + profile.pair_extra_difficulty);
    }
    return seen;
}

double effective_temperature(double temperature, const ModelProfile& profile) {
    if (!profile.temperature_sensitive) return 1.0;
    return temperature * profile.temperature_scale;
}

std::optional<std::string> stuck_class(const TruthItem& truth, const ModelProfile& profile) {
    if (profile.stuck_rate <= 0 || truth.confusable == truth.expression) return std::nullopt;
    Rng stuck(hash_string(truth.id + "#stuck"));
    if (!stuck.chance(profile.stuck_rate * std::clamp(truth.difficulty, 0.0, 1.0))) return std::nullopt;
    return truth.confusable;
}

std::vector<double> expression_distribution(const TruthItem& truth, double temperature, const ModelProfile& profile) {
    const auto classes = expressions();
    const std::size_t k = classes.size();
    const double d = std::clamp(truth.difficulty, 0.0, 1.0);
    const std::size_t t = class_index(truth.expression);
    std::size_t c = class_index(truth.confusable);
    std::vector<double> p(k, 0.0);
    if (stuck_class(truth, profile)) {
        const double spread = (1.0 - profile.stuck_mass - profile.stuck_truth) / static_cast<double>(k - 2);
        for (std::size_t i = 0; i < k; ++i) p[i] = spread;
        p[c] = profile.stuck_mass;
        p[t] = profile.stuck_truth;
    } else {
        const double rest = 1.0 - std::clamp(profile.truth_base - profile.error_mass * d, 0.05, 1.0);
        if (c == t) {  // no usable confusable: the rest is spread evenly
            for (std::size_t i = 0; i < k; ++i) p[i] = rest / static_cast<double>(k - 1);
        } else {
            const double share = profile.confusable_share;
            for (std::size_t i = 0; i < k; ++i) p[i] = (1.0 - share) * rest / static_cast<double>(k - 2);
            p[c] = share * rest;
        }
        p[t] = 1.0 - rest;
    }

    temperature = effective_temperature(temperature, profile);
    if (temperature <= 0.0) {
        const auto best = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
        std::vector<double> onehot(k, 0.0);
        onehot[best] = 1.0;
        return onehot;
    }
    // p^(1/T) in log space: small T must not underflow to all zeros.
    std::vector<double> logits(k);
    for (std::size_t i = 0; i < k; ++i) logits[i] = std::log(std::max(p[i], 1e-300)) / temperature;
    const double top = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (std::size_t i = 0; i < k; ++i) sum += (p[i] = std::exp(logits[i] - top));
    for (auto& x : p) x /= sum;
    return p;
}

std::string perceive_expression(const TruthItem& truth, double temperature, Rng& rng, const ModelProfile& profile) {
    // Greedy decoding of a whole answer is not the mode of the sampled answers: it is one fixed
    // path per input. Modelled as a draw at a low temperature from an RNG seeded by the item
    // alone, so it is deterministic per item, right where the model is sure, and a coin flip
    // where two classes are close.
    constexpr double kGreedyPathTemperature = 0.35;
    const auto p = expression_distribution(truth, temperature > 0 ? temperature : kGreedyPathTemperature, profile);
    double u = rng.uniform();
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (u < p[i]) return std::string(expressions()[i].name);
        u -= p[i];
    }
    return std::string(expressions()[static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin())].name);
}

namespace {

// What the model believes about each AU of this face, fixed per item: a real model's misses and
// false alarms are systematic (the same face fools it every time), so a greedy answer carries
// them and sampling shows the doubt where a belief sits near one half.
std::vector<double> au_beliefs(const TruthItem& truth) {
    Rng belief(hash_string(truth.id + "#au-belief"));
    const double d = std::clamp(truth.difficulty, 0.0, 1.0);
    const auto codes = action_unit_codes();
    std::vector<double> p(codes.size());
    for (std::size_t i = 0; i < codes.size(); ++i)
        p[i] = contains(truth.action_units, codes[i]) ? 1.0 - (0.08 + 0.25 * d) * 2.2 * belief.uniform()
                                                      : (0.02 + 0.06 * d) * 2.0 * belief.uniform();
    // Often one absent AU looks half-present (AU6 vs AU7, AU25 vs AU26...).
    if (belief.chance(0.2 + 0.5 * d)) {
        std::size_t i = belief.index(codes.size());
        if (!contains(truth.action_units, codes[i])) p[i] = belief.uniform(0.3, 0.6);
    }
    return p;
}

}  // namespace

std::vector<std::string> perceive_action_units(const TruthItem& truth, std::string_view answered, double temperature,
                                               Rng& rng, const ModelProfile& profile) {
    const auto codes = action_unit_codes();
    const auto belief = au_beliefs(truth);
    std::vector<std::string> out;
    temperature = effective_temperature(temperature, profile);
    if (temperature <= 0.0) {  // greedy: present iff the model believes it more likely than not
        for (std::size_t i = 0; i < codes.size(); ++i)
            if (belief[i] > 0.5) out.push_back(codes[i]);
        return out;
    }
    if (answered != truth.expression && rng.chance(profile.confabulation)) {
        if (const auto* wrong = find_expression(answered)) return wrong->prototype;
    }
    // Temperature on the log-odds: below 1 sharpens the belief, above 1 flattens it.
    const double s = noise_scale(temperature) * profile.noise_gain;
    for (std::size_t i = 0; i < codes.size(); ++i) {
        const double p = std::clamp(belief[i], 1e-6, 1.0 - 1e-6);
        const double logit = std::log(p / (1.0 - p)) / s;
        if (rng.chance(1.0 / (1.0 + std::exp(-logit)))) out.push_back(codes[i]);
    }
    return out;
}

std::pair<double, double> perceive_va(const TruthItem& truth, std::string_view answered, double temperature, Rng& rng,
                                      const ModelProfile& profile) {
    const double d = std::clamp(truth.difficulty, 0.0, 1.0);
    double v = truth.valence, a = truth.arousal;
    if (answered != truth.expression) {
        if (const auto* wrong = find_expression(answered)) {
            v += profile.va_pull * (wrong->valence_centre() - v);
            a += profile.va_pull * (wrong->arousal_centre() - a);
        }
    }
    const double sigma =
        (0.08 + 0.25 * d) * std::max(effective_temperature(temperature, profile), 0.3) * profile.noise_gain;
    v += sigma * rng.normal();
    a += sigma * rng.normal();
    return {std::clamp(v, -1.0, 1.0), std::clamp(a, -1.0, 1.0)};
}

std::string describe_expression(std::string_view expression) {
    const auto* facts = find_expression(expression);
    if (!facts) return "The expression is unclear.";
    return "The face shows " + std::string(facts->noun) + ": " + std::string(facts->cue) + ".";
}

std::string describe_va(double valence, double arousal) {
    const char* v = valence > 0.15 ? "positive" : valence < -0.15 ? "negative" : "neutral";
    const char* a = arousal > 0.4 ? "high" : arousal < -0.2 ? "low" : "moderate";
    char buffer[128];
    std::snprintf(buffer, sizeof buffer, "Valence is %s (%.2f) and arousal %s (%.2f).", v, valence, a, arousal);
    return buffer;
}

std::string describe_action_units(const std::vector<std::string>& aus) {
    if (aus.empty()) return "No action units are clearly active.";
    std::string out = "Active units: ";
    for (std::size_t i = 0; i < aus.size(); ++i) {
        if (i) out += ", ";
        out += aus[i];
        const auto name = action_unit_name(aus[i]);
        if (!name.empty()) out += " (" + std::string(name) + ")";
    }
    return out + ".";
}

nlohmann::json simulate_answer(const TruthItem* seen_truth, const ChatRequest& request, std::uint64_t global_seed,
                               std::uint64_t request_counter, int choice, const ModelProfile& profile) {
    const std::uint64_t id_hash = hash_string(seen_truth ? seen_truth->id : std::string{"?"});
    const bool greedy = effective_temperature(request.temperature, profile) <= 0.0;
    std::optional<TruthItem> perceived;
    if (seen_truth) perceived = as_perceived(*seen_truth, profile);
    const TruthItem* truth = perceived ? &*perceived : nullptr;
    Rng rng(greedy ? hash_combine({global_seed, id_hash, hash_string("greedy")})
                   : hash_combine({global_seed, id_hash, request_counter, static_cast<std::uint64_t>(choice)}));

    Answer ans;
    if (!truth) {
        ans = confused_answer(request, rng);
    } else {
        const double temp = request.temperature;
        if (auto known = json_expression(request.known)) {
            ans.expression = *known;  // a fact: trusted
            if (request.kind == AskKind::verify) ans.verdict = "agree";
        } else if (request.kind == AskKind::verify) {
            auto [expression, verdict] = verify_expression(*truth, request, rng, profile);
            ans.expression = std::move(expression);
            ans.verdict = std::move(verdict);
        } else {
            ans.expression = perceive_expression(*truth, temp, rng, profile);
        }
        // A fully known AU level is trusted. With only some AUs coded ("au_coded") the fake lists
        // every AU it sees, coded or not, as a model that ignores the facts would: seke must keep them.
        if (request.known.contains("action_units") && !request.known.contains("au_coded"))
            ans.aus = json_aus(request.known["action_units"]);
        else ans.aus = perceive_action_units(*truth, ans.expression, temp, rng, profile);
        if (auto va = json_va(request.known)) {
            std::tie(ans.valence, ans.arousal) = *va;
        } else {
            std::tie(ans.valence, ans.arousal) = perceive_va(*truth, ans.expression, temp, rng, profile);
        }
    }

    nlohmann::json out = nlohmann::json::object();
    for (const auto& key : request.keys) {
        if (key == "expression") out[key] = ans.expression;
        else if (key == "valence") out[key] = round2(ans.valence);
        else if (key == "arousal") out[key] = round2(ans.arousal);
        else if (key == "action_units") out[key] = ans.aus;
        else if (key == "verdict") out[key] = ans.verdict.value_or("agree");
        else if (key == "expression_description") out[key] = describe_expression(ans.expression);
        else if (key == "va_description") out[key] = describe_va(round2(ans.valence), round2(ans.arousal));
        else if (key == "au_description") out[key] = describe_action_units(ans.aus);
        else if (key == "confidence") out[key] = round2(verbal_confidence(truth, ans.expression, profile, rng));
        // Unknown keys: a real model would invent something; leaving it out is more useful.
    }
    return out;
}

}  // namespace seke::fake
