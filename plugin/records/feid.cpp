#include "plugin/records/feid.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "plugin/records/crops.hpp"

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
ordered_json finite(double value) {
    return std::isfinite(value) ? ordered_json(value) : ordered_json();
}

std::string append_sentence(std::string text, const std::string& extra) {
    if (!extra.empty() && extra != text) text += " " + extra;
    return text;
}

}  // namespace

std::vector<ConversationTurn> feid_conversations(const Knowledge& knowledge, const std::string& id,
                                                 const LabelSet& labels, const Descriptions& d) {
    std::vector<ConversationTurn> turns;
    bool first = true;
    auto add = [&](const std::string& question, const std::string& answer) {
        turns.push_back({"human", (first ? "<image>\n" : "") + question});
        turns.push_back({"gpt", answer});
        first = false;
    };
    if (labels.expression)
        add(pick(kExpressionQuestions, id, 0),
            append_sentence("The facial expression is " + *labels.expression + ".", d.expression));
    if (labels.valence && labels.arousal)
        add(pick(kVaQuestions, id, 1), append_sentence("Valence is " + two_decimals(*labels.valence) +
                                                           " and arousal is " + two_decimals(*labels.arousal) + ".",
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

FeidRecord feid_record(const Knowledge& knowledge, const FeidInput& input) {
    const FaceResult& r = *input.result;
    FeidRecord record;
    record.id = input.id;
    record.image = input.image;
    record.source = input.source;
    record.source_id = input.source_id;
    record.face = input.face;
    record.labels = r.labels;
    record.descriptions = r.descriptions;
    record.provenance = r.provenance;
    // Per AU only where it says more than the level's provenance: a source coded some AUs.
    if (std::any_of(r.au_provenance.begin(), r.au_provenance.end(),
                    [&](const auto& au) { return au.second != r.provenance.au; }))
        record.au_provenance = r.au_provenance;
    record.uncertainty = RecordUncertainty::of(r.uncertainty);
    if (r.expert) record.expert = RecordExpert::of(*r.expert);
    // The disagreement is a feature only where a vision LLM labeled and the expert was compared.
    if (r.trace.expert && r.trace.expert->used && r.trace.stop_reason != kExpertStopReason)
        record.uncertainty.expert_disagreement = r.uncertainty.expert_disagreement;
    record.status = input.status;
    record.model_version = input.model_version;
    record.cost = r.cost;
    if (input.whole_image_fallback) record.flags.emplace_back(kNoFaceDetectedFlag);
    record.phash = input.phash;
    record.conversations = feid_conversations(knowledge, input.id, r.labels, r.descriptions);
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
        if (request.cached_prompt_tokens > 0) r["cached_prompt_tokens"] = request.cached_prompt_tokens;
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
    if (trace.expert) {
        const ExpertTrace& e = *trace.expert;
        ordered_json expert;
        expert["used"] = e.used;
        if (!e.abstain_reason.empty()) expert["abstain_reason"] = e.abstain_reason;
        if (!e.expression.empty()) {
            expert["expression"] = e.expression;
            expert["probability"] = finite(e.probability);
        }
        expert["disagreement"] = {{"expression", finite(e.disagreement_expression)},
                                  {"va", finite(e.disagreement_va)},
                                  {"au", finite(e.disagreement_au)}};
        expert["triggered_verification"] = e.triggered_verification;
        out["expert"] = std::move(expert);
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
    row.set_record(feid_record(knowledge, input));
    row.trace_json = trace_json(input.result->trace).dump();
    row.thumbnail_jpeg = input.thumbnail_jpeg;
    row.crop = input.crop;
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

namespace {

// The training views have no place of their own for where a label came from. When the built-in
// expert gave a level, its limits go with the entry: a class it never gives is not a negative,
// and an AU it cannot see is unknown, not absent.
void add_expert_limits(const FeidRecord& record, const ordered_json& stored, ordered_json& entry) {
    bool from_expert = false;
    for (Level level : kAllLevels) from_expert = from_expert || record.provenance.of(level) == Provenance::expert;
    if (!from_expert || !record.expert) return;
    entry["provenance"] = stored["provenance"];
    entry["not_covered"] = record.expert->not_covered;
    entry["au_unknown"] = record.expert->au_unknown;
}

}  // namespace

ordered_json export_entry(const FeidRecord& record, ExportFormat format, const std::string& crop) {
    ordered_json stored = record.to_json();
    switch (format) {
        case ExportFormat::feid_jsonl: {
            if (crop.empty()) return stored;
            ordered_json entry;
            for (auto& [key, value] : stored.items()) {
                entry[key] = std::move(value);
                if (key == "face") entry["crop"] = crop;
            }
            return entry;
        }
        case ExportFormat::llava: {
            ordered_json entry;
            entry["id"] = stored["id"];
            entry["image"] = crop.empty() ? stored["image"] : ordered_json(crop);
            entry["conversations"] = stored["conversations"];
            add_expert_limits(record, stored, entry);
            return entry;
        }
        case ExportFormat::sharegpt: {
            // LLaMA-Factory's multimodal sharegpt layout: messages + images, "<image>" in text.
            ordered_json entry;
            ordered_json messages = ordered_json::array();
            for (const auto& turn : record.conversations)
                messages.push_back({{"role", turn.from == "human" ? "user" : "assistant"}, {"content", turn.value}});
            entry["messages"] = std::move(messages);
            entry["images"] = ordered_json::array({crop.empty() ? record.image : crop});
            add_expert_limits(record, stored, entry);
            return entry;
        }
    }
    return stored;
}

Result<ExportCounts> write_export(Store& store, ExportFormat format, const std::string& out_path,
                                  const std::set<std::string>& statuses, CropWriter* crops) {
    constexpr std::size_t kUnreadableKept = 10;
    // The records of one item are held until its crops are cut (they are cut together, as
    // labeled): an item with more faces than this is cut in parts.
    constexpr std::size_t kMaxFacesPerCut = 64;
    const std::string temp_path = out_path + ".partial";
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(errc::io_error, "cannot write " + temp_path);
    const bool array = format != ExportFormat::feid_jsonl;  // LLaVA and LLaMA-Factory read one JSON array
    if (array) out << "[\n";
    ExportCounts counts;
    auto emit = [&](const FeidRecord& record, const std::string& crop) {
        auto entry = export_entry(record, format, crop);
        if (array && counts.records > 0) out << ",\n";
        out << entry.dump();
        if (!array) out << "\n";
        ++counts.records;
    };
    // With crops, the records of one item wait here until its image has been cut; without, each
    // is written as it is read. Faces are listed by id, so an item's are together unless another
    // item's id sorts between them ("a_face1" < "a_face1x" < "a_face2"): then it is cut in parts.
    std::vector<CropRecord> item_records;
    std::string item_id;
    auto flush_item = [&] {
        if (item_records.empty()) return;
        auto paths = crops->write_item(item_records);
        for (std::size_t i = 0; i < item_records.size(); ++i) emit(item_records[i].record, paths[i]);
        item_records.clear();
    };
    auto visited = store.for_each_face([&](const FaceRow& row) {
        // A rejected face is no label; a withdrawn one (its drawn shape deleted) no face.
        if (statuses.empty() ? row.status == "rejected" || row.status == "withdrawn" : statuses.count(row.status) == 0)
            return true;
        auto record = row.record();
        if (!record) {
            if (counts.unreadable++ < kUnreadableKept) counts.unreadable_first.push_back(record.error());
            return true;
        }
        record->status = row.status;
        if (!crops) {
            emit(*record, "");
            return true;
        }
        if (row.item_id != item_id || item_records.size() >= kMaxFacesPerCut ||
            (!item_records.empty() && item_records.front().record.image != record->image))
            flush_item();
        item_id = row.item_id;
        item_records.push_back({std::move(*record), row.crop});
        return true;
    });
    if (crops) flush_item();
    if (array) out << "\n]\n";
    out.close();
    std::error_code ec;
    if (!visited || !out) {
        std::filesystem::remove(temp_path, ec);
        if (!visited) return visited.error();
        return make_error(errc::io_error, "cannot write " + temp_path);
    }
    std::filesystem::rename(temp_path, out_path, ec);
    if (ec) return make_error(errc::io_error, "cannot rename to " + out_path + ": " + ec.message());
    return counts;
}

}  // namespace seke
