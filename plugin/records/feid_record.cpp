#include "plugin/records/feid_record.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace seke {
namespace {

using nlohmann::ordered_json;

// JSON has no NaN/Inf: a non-finite number would break every consumer, so it becomes null.
ordered_json finite_or_null(const std::optional<double>& value) {
    return value && std::isfinite(*value) ? ordered_json(*value) : ordered_json();
}

std::optional<double> finite(double value) {
    return std::isfinite(value) ? std::optional<double>(value) : std::nullopt;
}

ordered_json labels_json(const LabelSet& labels) {
    ordered_json out = ordered_json::object();
    out["expression"] = labels.expression ? ordered_json(*labels.expression) : ordered_json();
    out["valence"] = finite_or_null(labels.valence);
    out["arousal"] = finite_or_null(labels.arousal);
    out["action_units"] = labels.action_units ? ordered_json(*labels.action_units) : ordered_json();
    return out;
}

ordered_json descriptions_json(const Descriptions& d) {
    return {{"expression", d.expression}, {"va", d.va}, {"au", d.au}};
}

ordered_json provenance_json(const LevelProvenance& provenance) {
    return {{"expression", provenance_name(provenance.expression)},
            {"va", provenance_name(provenance.va)},
            {"au", provenance_name(provenance.au)}};
}

ordered_json au_provenance_json(const AuProvenance& provenance) {
    ordered_json out = ordered_json::object();
    for (const auto& [code, by] : provenance) out[code] = provenance_name(by);
    return out;
}

ordered_json review_json(const RecordReview& review) {
    ordered_json out = ordered_json::object();
    out["status"] = review.status;
    if (review.levels) {
        ordered_json levels = ordered_json::object();
        for (Level level : kAllLevels)
            levels[std::string(level_name(level))] = std::string(level_verdict_name(review.levels->of(level)));
        out["levels"] = std::move(levels);
    }
    out["reviewer"] = review.reviewer;
    out["at"] = review.at;
    if (review.model_labels) out["model_labels"] = labels_json(*review.model_labels);
    if (review.model_descriptions) out["model_descriptions"] = descriptions_json(*review.model_descriptions);
    if (review.model_provenance) out["model_provenance"] = provenance_json(*review.model_provenance);
    if (review.model_au_provenance) out["model_au_provenance"] = au_provenance_json(*review.model_au_provenance);
    if (review.box) out["box"] = *review.box;
    if (review.cvat_shape_id) out["cvat_shape_id"] = *review.cvat_shape_id;
    if (review.cvat_source) out["cvat_source"] = *review.cvat_source;
    return out;
}

ordered_json expert_json(const RecordExpert& expert) {
    ordered_json out = ordered_json::object();
    out["abstained"] = expert.abstained;
    if (expert.abstained) {
        out["reason"] = expert.abstain_reason;
        return out;
    }
    out["expression"] = expert.expression ? ordered_json(*expert.expression) : ordered_json();
    ordered_json probabilities = ordered_json::object();
    for (const auto& [name, p] : expert.probabilities) probabilities[name] = finite_or_null(p);
    out["probabilities"] = std::move(probabilities);
    out["classifier_agreement"] = finite_or_null(expert.classifier_agreement);
    out["valence"] = finite_or_null(expert.valence);
    out["arousal"] = finite_or_null(expert.arousal);
    out["va"] = "derived";
    out["action_units"] = expert.action_units;
    out["au_judged"] = expert.au_judged;
    out["au_unknown"] = expert.au_unknown;
    out["not_covered"] = expert.not_covered;
    return out;
}

// Members of the record this type reads; every other member is kept in FeidRecord::other.
constexpr std::array<std::string_view, 18> kMembers = {
    "id",         "image",         "source",        "source_id", "face",   "labels",        "descriptions",
    "provenance", "au_provenance", "uncertainty",   "expert",    "status", "model_version", "cost",
    "flags",      "phash",         "conversations", "review"};

// Reads members of one record; the first member of the wrong type is the error.
class Reader {
  public:
    [[nodiscard]] const std::optional<Error>& error() const { return error_; }

    // The member `key` of `object`, or null when it is absent or null.
    static const ordered_json* at(const ordered_json& object, std::string_view key) {
        auto it = object.find(key);
        return it == object.end() || it->is_null() ? nullptr : &*it;
    }

    // A member of the wrong JSON type.
    void wrong(const ordered_json& value, const std::string& path, const char* expected) {
        fail(path + " is " + std::string(value.type_name()) + ", not " + expected);
    }
    // A name that is none of the ones allowed.
    void unknown(const std::string& value, const std::string& path, const char* expected) {
        fail(path + " is \"" + value + "\", not " + expected);
    }

    // The member as an object; null when it is absent, null or not an object (an error then).
    const ordered_json* child(const ordered_json& parent, const char* key, const std::string& path) {
        const ordered_json* value = at(parent, key);
        if (value && !value->is_object()) {
            wrong(*value, path, "an object");
            return nullptr;
        }
        return value;
    }

    void text(const ordered_json& object, const char* key, const std::string& path, std::string& out) {
        std::optional<std::string> value;
        text(object, key, path, value);
        if (value) out = std::move(*value);
    }
    void text(const ordered_json& object, const char* key, const std::string& path, std::optional<std::string>& out) {
        const ordered_json* value = at(object, key);
        if (!value) return;
        if (value->is_string()) out = value->get<std::string>();
        else wrong(*value, path, "a string");
    }

    void number(const ordered_json& object, const char* key, const std::string& path, std::optional<double>& out) {
        const ordered_json* value = at(object, key);
        if (!value) return;
        if (value->is_number()) out = value->get<double>();
        else wrong(*value, path, "a number");
    }

    template <class Int>
    void integer(const ordered_json& object, const char* key, const std::string& path, Int& out) {
        std::optional<long long> value;
        integer(object, key, path, value);
        if (!value) return;
        if (*value < std::numeric_limits<Int>::min() || *value > std::numeric_limits<Int>::max())
            wrong(*at(object, key), path, "an integer in range");
        else out = static_cast<Int>(*value);
    }
    void integer(const ordered_json& object, const char* key, const std::string& path, std::optional<long long>& out) {
        const ordered_json* value = at(object, key);
        if (!value) return;
        if (value->is_number_unsigned() &&
            value->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<long long>::max()))
            wrong(*value, path, "an integer in range");
        else if (value->is_number_integer()) out = value->get<long long>();
        else wrong(*value, path, "an integer");
    }

    void strings(const ordered_json& object, const char* key, const std::string& path,
                 std::optional<std::vector<std::string>>& out) {
        const ordered_json* value = at(object, key);
        if (!value) return;
        if (!value->is_array()) return wrong(*value, path, "a list of strings");
        std::vector<std::string> items;
        items.reserve(value->size());
        for (const auto& item : *value) {
            if (!item.is_string()) return wrong(item, path + "[]", "a string");
            items.push_back(item.get<std::string>());
        }
        out = std::move(items);
    }

    LabelSet labels(const ordered_json& object, const std::string& path) {
        LabelSet out;
        text(object, "expression", path + ".expression", out.expression);
        number(object, "valence", path + ".valence", out.valence);
        number(object, "arousal", path + ".arousal", out.arousal);
        strings(object, "action_units", path + ".action_units", out.action_units);
        return out;
    }

    Descriptions descriptions(const ordered_json& object, const std::string& path) {
        Descriptions out;
        text(object, "expression", path + ".expression", out.expression);
        text(object, "va", path + ".va", out.va);
        text(object, "au", path + ".au", out.au);
        return out;
    }

    LevelProvenance provenance(const ordered_json& object, const std::string& path) {
        LevelProvenance out;
        for (Level level : kAllLevels) {
            std::string name(level_name(level));
            std::optional<std::string> value;
            text(object, name.c_str(), path + "." + name, value);
            if (!value) continue;
            if (auto parsed = parse_provenance(*value)) out.set(level, *parsed);
            else unknown(*value, path + "." + name, "model, expert, source or human");
        }
        return out;
    }

    AuProvenance au_provenance(const ordered_json& object, const std::string& path) {
        AuProvenance out;
        for (const auto& [code, value] : object.items()) {
            if (!value.is_string()) {
                wrong(value, path + "." + code, "a string");
                break;
            }
            auto parsed = parse_provenance(value.get_ref<const std::string&>());
            if (!parsed) {
                unknown(value.get<std::string>(), path + "." + code, "model, expert, source or human");
                break;
            }
            out.emplace_back(code, *parsed);
        }
        return out;
    }

    LevelVerdicts verdicts(const ordered_json& object, const std::string& path) {
        LevelVerdicts out;
        for (Level level : kAllLevels) {
            std::string name(level_name(level));
            std::optional<std::string> value;
            text(object, name.c_str(), path + "." + name, value);
            if (!value) continue;
            if (auto parsed = parse_level_verdict(*value)) out.set(level, *parsed);
            else unknown(*value, path + "." + name, "accepted, corrected or absent");
        }
        return out;
    }

    RecordUncertainty uncertainty(const ordered_json& object, const std::string& path) {
        RecordUncertainty out;
        number(object, "expression", path + ".expression", out.expression);
        number(object, "va", path + ".va", out.va);
        number(object, "au", path + ".au", out.au);
        number(object, "consistency", path + ".consistency", out.consistency);
        number(object, "overall", path + ".overall", out.overall);
        number(object, "expert_disagreement", path + ".expert_disagreement", out.expert_disagreement);
        return out;
    }

    Box box(const ordered_json& object, const std::string& path) {
        Box out;
        integer(object, "x", path + ".x", out.x);
        integer(object, "y", path + ".y", out.y);
        integer(object, "w", path + ".w", out.w);
        integer(object, "h", path + ".h", out.h);
        return out;
    }

    Cost cost(const ordered_json& object, const std::string& path) {
        Cost out;
        integer(object, "requests", path + ".requests", out.requests);
        integer(object, "cached_requests", path + ".cached_requests", out.cached_requests);
        integer(object, "samples", path + ".samples", out.samples);
        integer(object, "malformed", path + ".malformed", out.malformed);
        integer(object, "prompt_tokens", path + ".prompt_tokens", out.prompt_tokens);
        integer(object, "completion_tokens", path + ".completion_tokens", out.completion_tokens);
        integer(object, "cached_prompt_tokens", path + ".cached_prompt_tokens", out.cached_prompt_tokens);
        return out;
    }

    std::vector<ConversationTurn> conversations(const ordered_json& record) {
        std::vector<ConversationTurn> out;
        const ordered_json* turns = at(record, "conversations");
        if (!turns) return out;
        if (!turns->is_array()) {
            wrong(*turns, "conversations", "a list");
            return out;
        }
        out.reserve(turns->size());
        for (const auto& turn : *turns) {
            if (!turn.is_object()) {
                wrong(turn, "conversations[]", "an object");
                return out;
            }
            ConversationTurn t;
            text(turn, "from", "conversations[].from", t.from);
            text(turn, "value", "conversations[].value", t.value);
            out.push_back(std::move(t));
        }
        return out;
    }

    std::vector<std::string> string_list(const ordered_json& object, const char* key, const std::string& path) {
        std::optional<std::vector<std::string>> out;
        strings(object, key, path, out);
        return out.value_or(std::vector<std::string>{});
    }

    RecordExpert expert(const ordered_json& object) {
        RecordExpert out;
        if (const ordered_json* abstained = at(object, "abstained")) {
            if (abstained->is_boolean()) out.abstained = abstained->get<bool>();
            else wrong(*abstained, "expert.abstained", "true or false");
        }
        text(object, "reason", "expert.reason", out.abstain_reason);
        text(object, "expression", "expert.expression", out.expression);
        if (const ordered_json* p = child(object, "probabilities", "expert.probabilities")) {
            for (const auto& [name, value] : p->items()) {
                if (!value.is_number()) {
                    wrong(value, "expert.probabilities." + name, "a number");
                    return out;
                }
                out.probabilities.emplace_back(name, value.get<double>());
            }
        }
        number(object, "classifier_agreement", "expert.classifier_agreement", out.classifier_agreement);
        number(object, "valence", "expert.valence", out.valence);
        number(object, "arousal", "expert.arousal", out.arousal);
        out.action_units = string_list(object, "action_units", "expert.action_units");
        out.au_judged = string_list(object, "au_judged", "expert.au_judged");
        out.au_unknown = string_list(object, "au_unknown", "expert.au_unknown");
        out.not_covered = string_list(object, "not_covered", "expert.not_covered");
        return out;
    }

    RecordReview review(const ordered_json& object) {
        RecordReview out;
        text(object, "status", "review.status", out.status);
        if (const ordered_json* levels = child(object, "levels", "review.levels"))
            out.levels = verdicts(*levels, "review.levels");
        text(object, "reviewer", "review.reviewer", out.reviewer);
        text(object, "at", "review.at", out.at);
        if (const ordered_json* model = child(object, "model_labels", "review.model_labels"))
            out.model_labels = labels(*model, "review.model_labels");
        if (const ordered_json* d = child(object, "model_descriptions", "review.model_descriptions"))
            out.model_descriptions = descriptions(*d, "review.model_descriptions");
        if (const ordered_json* p = child(object, "model_provenance", "review.model_provenance"))
            out.model_provenance = provenance(*p, "review.model_provenance");
        if (const ordered_json* p = child(object, "model_au_provenance", "review.model_au_provenance"))
            out.model_au_provenance = au_provenance(*p, "review.model_au_provenance");
        text(object, "box", "review.box", out.box);
        integer(object, "cvat_shape_id", "review.cvat_shape_id", out.cvat_shape_id);
        text(object, "cvat_source", "review.cvat_source", out.cvat_source);
        return out;
    }

  private:
    void fail(std::string message) {
        if (!error_) error_ = make_error(errc::bad_json, "FEID record: " + std::move(message));
    }

    std::optional<Error> error_;
};

}  // namespace

std::string_view level_verdict_name(LevelVerdict verdict) noexcept {
    switch (verdict) {
        case LevelVerdict::accepted: return "accepted";
        case LevelVerdict::corrected: return "corrected";
        case LevelVerdict::absent: return "absent";
    }
    return "absent";
}

std::optional<LevelVerdict> parse_level_verdict(std::string_view text) noexcept {
    if (text == "accepted") return LevelVerdict::accepted;
    if (text == "corrected") return LevelVerdict::corrected;
    if (text == "absent") return LevelVerdict::absent;
    return std::nullopt;
}

RecordUncertainty RecordUncertainty::of(const Uncertainty& u) {
    // The expert disagreement is set by whoever knows it was measured (feid_record).
    return {finite(u.expression), finite(u.va), finite(u.au), finite(u.consistency), finite(u.overall), std::nullopt};
}

RecordExpert RecordExpert::of(const ExpertOpinion& opinion) {
    RecordExpert out;
    out.abstained = opinion.abstained;
    out.abstain_reason = opinion.abstain_reason;
    if (opinion.abstained) return out;
    out.expression = opinion.labels.expression;
    out.probabilities = opinion.expression_probabilities;
    out.classifier_agreement = finite(opinion.classifier_agreement);
    out.valence = opinion.labels.valence;
    out.arousal = opinion.labels.arousal;
    out.action_units = opinion.labels.action_units.value_or(std::vector<std::string>{});
    for (const auto& judged : opinion.action_units) out.au_judged.push_back(judged.code);
    out.au_unknown = opinion.au_unknown;
    out.not_covered = opinion.not_covered;
    return out;
}

Uncertainty RecordUncertainty::values() const {
    Uncertainty u;
    u.expression = expression.value_or(0);
    u.va = va.value_or(0);
    u.au = au.value_or(0);
    u.consistency = consistency.value_or(0);
    u.overall = overall.value_or(0);
    u.expert_disagreement = expert_disagreement.value_or(0);
    return u;
}

const LabelSet& FeidRecord::model_labels() const {
    return review && review->model_labels ? *review->model_labels : labels;
}

const Descriptions& FeidRecord::model_descriptions() const {
    return review && review->model_descriptions ? *review->model_descriptions : descriptions;
}

LevelProvenance FeidRecord::model_provenance() const {
    if (review && review->model_provenance) return *review->model_provenance;
    LevelProvenance out = provenance;
    for (Level level : kAllLevels)
        if (out.of(level) == Provenance::human && review && review->levels &&
            review->levels->of(level) != LevelVerdict::absent)
            out.set(level, Provenance::model);
    return out;
}

ordered_json FeidRecord::to_json() const {
    ordered_json out;
    out["id"] = id;
    out["image"] = image;
    if (!source.empty()) out["source"] = source;
    if (!source_id.empty()) out["source_id"] = source_id;
    out["face"] = face ? ordered_json{{"x", face->x}, {"y", face->y}, {"w", face->w}, {"h", face->h}} : ordered_json();
    out["labels"] = labels_json(labels);
    out["descriptions"] = descriptions_json(descriptions);
    out["provenance"] = provenance_json(provenance);
    if (!au_provenance.empty()) out["au_provenance"] = au_provenance_json(au_provenance);
    out["uncertainty"] = {{"expression", finite_or_null(uncertainty.expression)},
                          {"va", finite_or_null(uncertainty.va)},
                          {"au", finite_or_null(uncertainty.au)},
                          {"consistency", finite_or_null(uncertainty.consistency)},
                          {"overall", finite_or_null(uncertainty.overall)}};
    if (uncertainty.expert_disagreement)
        out["uncertainty"]["expert_disagreement"] = finite_or_null(uncertainty.expert_disagreement);
    if (expert) out["expert"] = expert_json(*expert);
    out["status"] = status;
    out["model_version"] = model_version;
    out["cost"] = {{"requests", cost.requests},
                   {"cached_requests", cost.cached_requests},
                   {"samples", cost.samples},
                   {"malformed", cost.malformed},
                   {"prompt_tokens", cost.prompt_tokens},
                   {"completion_tokens", cost.completion_tokens}};
    // Written only when the provider's prefix cache held some: records before it read the same.
    if (cost.cached_prompt_tokens > 0) out["cost"]["cached_prompt_tokens"] = cost.cached_prompt_tokens;
    out["flags"] = flags.empty() ? ordered_json::array() : ordered_json(flags);
    if (!phash.empty()) out["phash"] = phash;
    ordered_json turns = ordered_json::array();
    for (const auto& turn : conversations) turns.push_back({{"from", turn.from}, {"value", turn.value}});
    out["conversations"] = std::move(turns);
    if (review) out["review"] = review_json(*review);
    for (const auto& [key, value] : other.items()) out[key] = value;
    return out;
}

Result<FeidRecord> FeidRecord::from_json(const ordered_json& json) {
    if (!json.is_object())
        return make_error(errc::bad_json, "FEID record: " + std::string(json.type_name()) + ", not a JSON object");
    Reader read;
    FeidRecord record;
    read.text(json, "id", "id", record.id);
    read.text(json, "image", "image", record.image);
    read.text(json, "source", "source", record.source);
    read.text(json, "source_id", "source_id", record.source_id);
    if (const ordered_json* face = read.child(json, "face", "face")) record.face = read.box(*face, "face");
    if (const ordered_json* labels = read.child(json, "labels", "labels"))
        record.labels = read.labels(*labels, "labels");
    if (const ordered_json* d = read.child(json, "descriptions", "descriptions"))
        record.descriptions = read.descriptions(*d, "descriptions");
    if (const ordered_json* p = read.child(json, "provenance", "provenance"))
        record.provenance = read.provenance(*p, "provenance");
    if (const ordered_json* p = read.child(json, "au_provenance", "au_provenance"))
        record.au_provenance = read.au_provenance(*p, "au_provenance");
    if (const ordered_json* u = read.child(json, "uncertainty", "uncertainty"))
        record.uncertainty = read.uncertainty(*u, "uncertainty");
    if (const ordered_json* expert = read.child(json, "expert", "expert")) record.expert = read.expert(*expert);
    read.text(json, "status", "status", record.status);
    read.text(json, "model_version", "model_version", record.model_version);
    if (const ordered_json* cost = read.child(json, "cost", "cost")) record.cost = read.cost(*cost, "cost");
    std::optional<std::vector<std::string>> flags;
    read.strings(json, "flags", "flags", flags);
    if (flags) record.flags = std::move(*flags);
    read.text(json, "phash", "phash", record.phash);
    record.conversations = read.conversations(json);
    if (const ordered_json* review = read.child(json, "review", "review")) record.review = read.review(*review);
    if (read.error()) return *read.error();
    for (const auto& [key, value] : json.items())
        if (std::find(kMembers.begin(), kMembers.end(), key) == kMembers.end()) record.other[key] = value;
    return record;
}

Result<FeidRecord> FeidRecord::parse(std::string_view text) {
    ordered_json json = ordered_json::parse(text, nullptr, false);
    if (json.is_discarded()) return make_error(errc::bad_json, "FEID record: not JSON");
    return from_json(json);
}

}  // namespace seke
