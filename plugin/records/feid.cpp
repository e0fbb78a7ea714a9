#include "plugin/records/feid.hpp"

#include <cmath>
#include <cstdio>
#include <functional>

namespace seke {
namespace {

using nlohmann::ordered_json;

// Questions vary in phrasing so a fine-tuned model learns the task, not one sentence. The pick
// is a hash of the record id: stable across runs and exports.
const std::vector<std::string> kExpressionQuestions = {
    "What facial expression does this person show?",
    "Which basic emotion is expressed by this face?",
    "Classify the facial expression in this image.",
    "How would you describe the emotion on this face in one word, and why?",
};
const std::vector<std::string> kVaQuestions = {
    "Estimate the valence and arousal of this face, each between -1 and 1.",
    "How pleasant (valence) and how activated (arousal) does this face look, on a -1 to 1 scale?",
    "Give the valence-arousal values of this facial expression.",
    "Rate this face on the circumplex model: valence and arousal from -1 to 1.",
};
const std::vector<std::string> kAuQuestions = {
    "Which facial action units are active on this face?",
    "List the FACS action units you can observe.",
    "Detect the action units present in this facial image.",
    "What facial muscle movements (action units) does this face show?",
};

const std::string& pick(const std::vector<std::string>& pool, const std::string& id, int salt) {
    std::size_t h = std::hash<std::string>{}(id + "#" + std::to_string(salt));
    return pool[h % pool.size()];
}

std::string two_decimals(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.2f", value);
    return buffer;
}

// JSON has no NaN/Inf: a non-finite number would break every consumer, so it becomes null.
ordered_json finite(double value) { return std::isfinite(value) ? ordered_json(value) : ordered_json(); }

std::string append_sentence(std::string text, const std::string& extra) {
    if (!extra.empty() && extra != text) text += " " + extra;
    return text;
}

ordered_json conversations(const Knowledge& knowledge, const std::string& id, const LabelSet& labels,
                           const Descriptions& d) {
    ordered_json turns = ordered_json::array();
    bool first = true;
    auto add = [&](const std::string& question, const std::string& answer) {
        turns.push_back({{"from", "human"}, {"value", (first ? "<image>\n" : "") + question}});
        turns.push_back({{"from", "gpt"}, {"value", answer}});
        first = false;
    };
    if (labels.expression)
        add(pick(kExpressionQuestions, id, 0),
            append_sentence("The facial expression is " + *labels.expression + ".", d.expression));
    if (labels.valence && labels.arousal)
        add(pick(kVaQuestions, id, 1),
            append_sentence("Valence is " + two_decimals(*labels.valence) + " and arousal is " +
                                two_decimals(*labels.arousal) + ".",
                            d.va));
    if (labels.action_units) {
        std::string list;
        for (const auto& code : *labels.action_units) {
            const ActionUnit* au = knowledge.find_action_unit(code);
            list += (list.empty() ? "" : ", ") + code + (au && !au->name.empty() ? " (" + au->name + ")" : "");
        }
        add(pick(kAuQuestions, id, 2),
            append_sentence(list.empty() ? "No action units are clearly active." : "Active action units: " + list + ".",
                            d.au));
    }
    return turns;
}

}  // namespace

ordered_json feid_conversations(const Knowledge& knowledge, const std::string& id, const LabelSet& labels,
                                const Descriptions& descriptions) {
    return conversations(knowledge, id, labels, descriptions);
}

ordered_json feid_record(const Knowledge& knowledge, const FeidInput& input) {
    const FaceResult& r = *input.result;
    ordered_json record;
    record["id"] = input.id;
    record["image"] = input.image;
    if (input.face)
        record["face"] = {{"x", input.face->x}, {"y", input.face->y}, {"w", input.face->w}, {"h", input.face->h}};
    else
        record["face"] = nullptr;
    ordered_json labels = ordered_json::object();
    labels["expression"] = r.labels.expression ? ordered_json(*r.labels.expression) : ordered_json();
    labels["valence"] = r.labels.valence ? finite(*r.labels.valence) : ordered_json();
    labels["arousal"] = r.labels.arousal ? finite(*r.labels.arousal) : ordered_json();
    labels["action_units"] = r.labels.action_units ? ordered_json(*r.labels.action_units) : ordered_json();
    record["labels"] = labels;
    record["descriptions"] = {{"expression", r.descriptions.expression},
                              {"va", r.descriptions.va},
                              {"au", r.descriptions.au}};
    record["provenance"] = {{"expression", provenance_name(r.provenance.expression)},
                            {"va", provenance_name(r.provenance.va)},
                            {"au", provenance_name(r.provenance.au)}};
    record["uncertainty"] = {{"expression", finite(r.uncertainty.expression)},
                             {"va", finite(r.uncertainty.va)},
                             {"au", finite(r.uncertainty.au)},
                             {"consistency", finite(r.uncertainty.consistency)},
                             {"overall", finite(r.uncertainty.overall)}};
    record["status"] = input.status;
    record["model_version"] = input.model_version;
    record["cost"] = {{"requests", r.cost.requests},
                      {"cached_requests", r.cost.cached_requests},
                      {"samples", r.cost.samples},
                      {"malformed", r.cost.malformed},
                      {"prompt_tokens", r.cost.prompt_tokens},
                      {"completion_tokens", r.cost.completion_tokens}};
    record["flags"] = input.whole_image_fallback ? ordered_json::array({"no_face_detected"}) : ordered_json::array();
    if (!input.phash.empty()) record["phash"] = input.phash;
    record["conversations"] = conversations(knowledge, input.id, r.labels, r.descriptions);
    return record;
}

ordered_json trace_json(const Trace& trace) {
    ordered_json out;
    out["rounds"] = trace.rounds;
    out["stop_reason"] = trace.stop_reason;
    ordered_json votes = ordered_json::object();
    for (const auto& [name, share] : trace.expression_votes) votes[name] = finite(share);
    out["expression_votes"] = votes;
    ordered_json requests = ordered_json::array();
    for (const auto& request : trace.requests) {
        ordered_json r;
        r["ordinal"] = request.ordinal;
        r["kind"] = request_kind_name(request.kind);
        r["n"] = request.n;
        r["temperature"] = finite(request.temperature);
        r["cached"] = request.cached;
        r["prompt_tokens"] = request.prompt_tokens;
        r["completion_tokens"] = request.completion_tokens;
        if (request.error) r["error"] = *request.error;
        ordered_json samples = ordered_json::array();
        for (const auto& sample : request.samples) {
            ordered_json s;
            s["raw"] = sample.raw;
            if (sample.error) s["error"] = *sample.error;
            if (sample.answer) {
                const LabelSet& l = sample.answer->labels;
                ordered_json labels = ordered_json::object();
                if (l.expression) labels["expression"] = *l.expression;
                if (l.valence) labels["valence"] = finite(*l.valence);
                if (l.arousal) labels["arousal"] = finite(*l.arousal);
                if (l.action_units) labels["action_units"] = *l.action_units;
                if (sample.answer->verdict)
                    labels["verdict"] = *sample.answer->verdict == Verdict::agree ? "agree" : "disagree";
                s["labels"] = labels;
            }
            samples.push_back(std::move(s));
        }
        r["samples"] = std::move(samples);
        requests.push_back(std::move(r));
    }
    out["requests"] = std::move(requests);
    return out;
}

RecordLabels read_record_labels(const ordered_json& record, bool model_labels) {
    RecordLabels out;
    // A const json's operator[] on a missing key is undefined behaviour: look members up.
    static const ordered_json kNull;
    auto member = [](const ordered_json& j, const char* key) -> const ordered_json& {
        if (!j.is_object()) return kNull;
        auto it = j.find(key);
        return it == j.end() ? kNull : *it;
    };
    const ordered_json& review = member(record, "review");
    const ordered_json* labels = &member(record, "labels");
    if (model_labels && member(review, "model_labels").is_object()) labels = &member(review, "model_labels");
    auto number = [](const ordered_json& j, const char* key) -> std::optional<double> {
        if (j.contains(key) && j[key].is_number()) return j[key].get<double>();
        return std::nullopt;
    };
    if (labels->is_object()) {
        if (labels->contains("expression") && (*labels)["expression"].is_string())
            out.labels.expression = (*labels)["expression"].get<std::string>();
        out.labels.valence = number(*labels, "valence");
        out.labels.arousal = number(*labels, "arousal");
        if (labels->contains("action_units") && (*labels)["action_units"].is_array()) {
            std::vector<std::string> units;
            for (const auto& code : (*labels)["action_units"])
                if (code.is_string()) units.push_back(code.get<std::string>());
            out.labels.action_units = std::move(units);
        }
    }
    const ordered_json* descriptions = &member(record, "descriptions");
    if (model_labels && member(review, "model_descriptions").is_object()) descriptions = &member(review, "model_descriptions");
    if (descriptions->is_object()) {
        const auto& d = *descriptions;
        out.descriptions = {d.value("expression", ""), d.value("va", ""), d.value("au", "")};
    }
    if (record.contains("provenance") && record["provenance"].is_object()) {
        for (Level level : kAllLevels) {
            std::string name(level_name(level));
            if (record["provenance"].contains(name) && record["provenance"][name].is_string())
                if (auto p = parse_provenance(record["provenance"][name].get<std::string>())) out.provenance.set(level, *p);
        }
    }
    if (record.contains("face") && record["face"].is_object()) {
        const auto& f = record["face"];
        out.face = Box{f.value("x", 0), f.value("y", 0), f.value("w", 0), f.value("h", 0)};
    }
    return out;
}

std::string face_id_for(const std::string& item_id, std::size_t index, std::size_t count) {
    return count == 1 ? item_id : item_id + "_face" + std::to_string(index + 1);
}

FaceRow face_row(const Knowledge& knowledge, const FeidInput& input, const std::string& item_id,
                 std::size_t face_index) {
    FaceRow row;
    row.id = input.id;
    row.item_id = item_id;
    row.face_index = static_cast<int>(face_index);
    row.status = input.status;
    row.model_version = input.model_version;
    row.overall = input.result->uncertainty.overall;
    row.record_json = feid_record(knowledge, input).dump();
    row.trace_json = trace_json(input.result->trace).dump();
    row.thumbnail_jpeg = input.thumbnail_jpeg;
    return row;
}

std::string face_failure_reason(const FaceResult& result) {
    return result.failure ? std::string(errc_name(result.failure->code)) + ": " + result.failure->message
                          : "malformed_answer: no usable answer";
}

std::optional<ExportFormat> parse_export_format(const std::string& text) {
    if (text == "feid-jsonl" || text == "feid") return ExportFormat::feid_jsonl;
    if (text == "llava") return ExportFormat::llava;
    if (text == "sharegpt") return ExportFormat::sharegpt;
    return std::nullopt;
}

ordered_json export_entry(const ordered_json& record, ExportFormat format) {
    switch (format) {
        case ExportFormat::feid_jsonl: return record;
        case ExportFormat::llava: {
            ordered_json entry;
            entry["id"] = record.at("id");
            entry["image"] = record.at("image");
            entry["conversations"] = record.at("conversations");
            return entry;
        }
        case ExportFormat::sharegpt: {
            // LLaMA-Factory's multimodal sharegpt layout: messages + images, "<image>" in text.
            ordered_json entry;
            ordered_json messages = ordered_json::array();
            for (const auto& turn : record.at("conversations"))
                messages.push_back({{"role", turn.at("from") == "human" ? "user" : "assistant"},
                                    {"content", turn.at("value")}});
            entry["messages"] = std::move(messages);
            entry["images"] = ordered_json::array({record.at("image")});
            return entry;
        }
    }
    return record;
}

}  // namespace seke
