#include "plugin/feab/input.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "verify/labels.hpp"
#include "verify/text.hpp"

namespace seke::feab {
namespace {

using nlohmann::ordered_json;

const ordered_json kNull;

// A const json's operator[] on a missing key is undefined behaviour: look members up.
const ordered_json& member(const ordered_json& object, const char* key) {
    if (!object.is_object()) return kNull;
    auto it = object.find(key);
    return it == object.end() ? kNull : *it;
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
    return out;
}

std::string quoted(const ordered_json& value) {
    std::string text = value.dump();
    return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

// Reads the four label fields of `object` (a truth line, a plain prediction, or a FEID record's
// labels). Bad fields are reported and dropped; the rest of the line still counts.
struct FieldContext {
    InputFile file;
    int line;
    const std::string& id;
    Vocabulary& vocabulary;
    ProblemLog& problems;

    void report(ProblemKind kind, std::string reason) const { problems.add({file, line, id, kind, std::move(reason)}); }
};

std::optional<double> read_unit_value(const ordered_json& object, const char* key, const FieldContext& context) {
    const ordered_json& value = member(object, key);
    if (value.is_null()) return std::nullopt;
    if (!value.is_number()) {
        context.report(ProblemKind::bad_value,
                       std::string(key) + " is " + quoted(value) + ", not a number: not scored");
        return std::nullopt;
    }
    double number = value.get<double>();
    if (number < -1.0 || number > 1.0) {
        context.report(ProblemKind::out_of_range,
                       std::string(key) + " " + quoted(value) + " is outside [-1, 1]: not scored");
        return std::nullopt;
    }
    return number;
}

// The AU indices of a list of codes ("AU12", "12", 12), sorted and unique. Codes outside the AU
// set are left out, and named in `unknown` when it is given.
std::vector<int> action_unit_indices(const ordered_json& codes, Vocabulary& vocabulary,
                                     std::vector<std::string>* unknown = nullptr) {
    std::vector<int> indices;
    if (!codes.is_array()) return indices;
    for (const auto& code : codes) {
        std::string text = code.is_string()           ? code.get<std::string>()
                           : code.is_number_integer() ? std::to_string(code.get<long long>())
                                                      : code.dump();
        if (auto index = vocabulary.action_unit_index(text)) indices.push_back(*index);
        else if (unknown) unknown->push_back(std::move(text));
    }
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
    return indices;
}

FaceLabels read_labels(const ordered_json& object, const FieldContext& context) {
    FaceLabels labels;
    const ordered_json& expression = member(object, "expression");
    if (expression.is_string()) {
        labels.expression = context.vocabulary.expression_index(expression.get<std::string>());
        if (!labels.expression)
            context.report(ProblemKind::unknown_expression,
                           "expression " + quoted(expression) + " is not one of the classes (" +
                               joined(context.vocabulary.classes()) + "): expression not scored");
    } else if (!expression.is_null()) {
        context.report(ProblemKind::bad_value, "expression is " + quoted(expression) + ", not a string: not scored");
    }

    const ordered_json& units = member(object, "action_units");
    if (units.is_array()) {
        std::vector<std::string> unknown;
        labels.action_units = action_unit_indices(units, context.vocabulary, &unknown);
        if (!unknown.empty())
            context.report(ProblemKind::unknown_action_unit,
                           "action units not in the AU set, ignored: " + joined(unknown));
    } else if (!units.is_null()) {
        context.report(ProblemKind::bad_value, "action_units is " + quoted(units) + ", not a list: not scored");
    }

    labels.valence = read_unit_value(object, "valence", context);
    labels.arousal = read_unit_value(object, "arousal", context);
    return labels;
}

// A truth line's `au_coded`: the AUs its source coded. `action_units` lists the present ones
// among them (none listed: all absent); the AUs outside it are uncoded.
void read_au_coded(const ordered_json& object, FaceLabels& labels, std::vector<int>& uncoded,
                   const FieldContext& context) {
    const ordered_json& coded_json = member(object, "au_coded");
    if (coded_json.is_null()) return;
    if (!coded_json.is_array()) {
        context.report(ProblemKind::bad_value,
                       "au_coded is " + quoted(coded_json) + ", not a list: action units not scored");
        labels.action_units.reset();
        return;
    }
    std::vector<std::string> unknown;
    std::vector<int> coded = action_unit_indices(coded_json, context.vocabulary, &unknown);
    if (!unknown.empty())
        context.report(ProblemKind::unknown_action_unit,
                       "au_coded names codes not in the AU set, ignored: " + joined(unknown));
    if (!labels.action_units) labels.action_units.emplace();
    std::vector<std::string> uncoded_present;
    for (int a : *labels.action_units)
        if (!std::binary_search(coded.begin(), coded.end(), a))
            uncoded_present.push_back(context.vocabulary.action_units()[static_cast<std::size_t>(a)]);
    if (!uncoded_present.empty()) {
        context.report(ProblemKind::bad_value,
                       "action units present but not in au_coded, counted as coded: " + joined(uncoded_present));
        coded.insert(coded.end(), labels.action_units->begin(), labels.action_units->end());
        std::sort(coded.begin(), coded.end());
        coded.erase(std::unique(coded.begin(), coded.end()), coded.end());
    }
    if (coded.empty()) {  // nothing coded: no AU level to score
        labels.action_units.reset();
        return;
    }
    const int all = static_cast<int>(context.vocabulary.action_units().size());
    for (int a = 0; a < all; ++a)
        if (!std::binary_search(coded.begin(), coded.end(), a)) uncoded.push_back(a);
}

bool has_any_level(const FaceLabels& labels) {
    return labels.expression || labels.action_units || labels.valence || labels.arousal;
}

// "id" as a string; an integer id is taken as its decimal text.
std::optional<std::string> read_id(const ordered_json& object) {
    const ordered_json& id = member(object, "id");
    if (id.is_string() && !id.get<std::string>().empty()) return id.get<std::string>();
    if (id.is_number_integer()) return std::to_string(id.get<long long>());
    return std::nullopt;
}

std::optional<double> read_number(const ordered_json& value) {
    if (value.is_number()) return value.get<double>();
    return std::nullopt;
}

PredictedUncertainty read_uncertainty(const ordered_json& value) {
    PredictedUncertainty out;
    if (value.is_number()) {
        out.overall = value.get<double>();
    } else if (value.is_object()) {
        out.expression = read_number(member(value, "expression"));
        out.va = read_number(member(value, "va"));
        out.au = read_number(member(value, "au"));
        out.overall = read_number(member(value, "overall"));
    }
    return out;
}

// A record's "cost" as tokens: whole non-negative counts; nullopt when it carries none.
std::optional<TokenCounts> read_tokens(const ordered_json& cost) {
    constexpr std::int64_t kMaxTokens = std::int64_t{1} << 50;
    auto count = [&](const char* key) -> std::optional<std::int64_t> {
        const ordered_json& value = member(cost, key);
        if (value.is_number_unsigned() && value.get<std::uint64_t>() <= static_cast<std::uint64_t>(kMaxTokens))
            return static_cast<std::int64_t>(value.get<std::uint64_t>());
        if (value.is_number_integer() && value.get<std::int64_t>() >= 0 && value.get<std::int64_t>() <= kMaxTokens)
            return value.get<std::int64_t>();
        return std::nullopt;
    };
    if (!cost.is_object()) return std::nullopt;
    auto prompt = count("prompt_tokens");
    auto completion = count("completion_tokens");
    if (!prompt && !completion) return std::nullopt;
    TokenCounts tokens{prompt.value_or(0), count("cached_prompt_tokens").value_or(0), completion.value_or(0)};
    tokens.cached_prompt = std::min(tokens.cached_prompt, tokens.prompt);
    return tokens;
}

// Parts of a FEID record scoring never reads. Most of a record's bytes are its conversations and
// descriptions; leaving them out before parsing is what keeps 100,000 records within seconds.
bool is_unused_record_part(std::string_view key) {
    return key == "conversations" || key == "descriptions" || key == "trace" || key == "flags" || key == "face" ||
           key == "image";
}

constexpr std::size_t kMalformed = std::string_view::npos;

std::size_t skip_space(std::string_view text, std::size_t pos) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r' || text[pos] == '\n'))
        ++pos;
    return pos;
}

// `text[pos]` opens a string; returns the position after its closing quote.
std::size_t skip_string(std::string_view text, std::size_t pos) {
    const std::size_t start = pos + 1;
    for (pos = start; pos < text.size();) {
        const void* found = std::memchr(text.data() + pos, '"', text.size() - pos);
        if (!found) return kMalformed;
        auto quote = static_cast<std::size_t>(static_cast<const char*>(found) - text.data());
        // A quote after an odd number of backslashes is escaped and does not end the string.
        std::size_t backslashes = 0;
        while (quote - backslashes > start && text[quote - backslashes - 1] == '\\') ++backslashes;
        if (backslashes % 2 == 0) return quote + 1;
        pos = quote + 1;
    }
    return kMalformed;
}

// Skips the JSON value at `pos` by its structure only (strings and brackets); the parts kept are
// parsed properly later.
std::size_t skip_value(std::string_view text, std::size_t pos) {
    if (pos >= text.size()) return kMalformed;
    if (text[pos] == '"') return skip_string(text, pos);
    if (text[pos] == '{' || text[pos] == '[') {
        int depth = 0;
        while (pos < text.size()) {
            char c = text[pos];
            if (c == '"') {
                pos = skip_string(text, pos);
                if (pos == kMalformed) return kMalformed;
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            if ((c == '}' || c == ']') && --depth == 0) return pos + 1;
            ++pos;
        }
        return kMalformed;
    }
    while (pos < text.size() && text[pos] != ',' && text[pos] != '}' && text[pos] != ']' && text[pos] != ' ' &&
           text[pos] != '\t' && text[pos] != '\r' && text[pos] != '\n')
        ++pos;
    return pos;
}

// The object on `line` without its unused top-level members; nullopt when the line does not have
// the shape of one JSON object (it is then parsed whole, which reports it).
std::optional<std::string> without_unused_parts(std::string_view line) {
    std::size_t pos = skip_space(line, 0);
    if (pos >= line.size() || line[pos] != '{') return std::nullopt;
    std::string kept = "{";
    pos = skip_space(line, pos + 1);
    if (pos < line.size() && line[pos] == '}') {
        pos = skip_space(line, pos + 1);
        return pos == line.size() ? std::optional<std::string>("{}") : std::nullopt;
    }
    for (;;) {
        if (pos >= line.size() || line[pos] != '"') return std::nullopt;
        std::size_t member_start = pos;
        std::size_t key_end = skip_string(line, pos);
        if (key_end == kMalformed) return std::nullopt;
        std::string_view key = line.substr(pos + 1, key_end - pos - 2);
        pos = skip_space(line, key_end);
        if (pos >= line.size() || line[pos] != ':') return std::nullopt;
        std::size_t value_end = skip_value(line, skip_space(line, pos + 1));
        if (value_end == kMalformed) return std::nullopt;
        if (!is_unused_record_part(key)) {
            if (kept.size() > 1) kept += ',';
            kept.append(line.substr(member_start, value_end - member_start));
        }
        pos = skip_space(line, value_end);
        if (pos < line.size() && line[pos] == ',') {
            pos = skip_space(line, pos + 1);
            continue;
        }
        if (pos < line.size() && line[pos] == '}') break;
        return std::nullopt;
    }
    if (skip_space(line, pos + 1) != line.size()) return std::nullopt;
    kept += '}';
    return kept;
}

ordered_json parse_record_text(std::string_view line) {
    if (!json_depth_within(line)) return ordered_json::value_t::discarded;
    if (auto kept = without_unused_parts(line)) {
        ordered_json value = ordered_json::parse(*kept, nullptr, false);
        if (!value.is_discarded()) return value;
    }
    return ordered_json::parse(line.begin(), line.end(), nullptr, false);
}

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

template <class LineHandler>
Result<bool> for_each_line(const std::string& path, LineHandler&& handle) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return make_error(errc::not_found, "no such file: " + path);
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::io_error, "cannot read " + path);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (is_blank(line)) continue;
        handle(std::string_view(line), number);
    }
    if (in.bad()) return make_error(errc::io_error, "error while reading " + path);
    return true;
}

}  // namespace

std::string_view input_file_name(InputFile file) noexcept {
    switch (file) {
        case InputFile::truth: return "truth";
        case InputFile::predictions: return "predictions";
        case InputFile::store: return "store";
    }
    return "?";
}

std::string_view problem_kind_name(ProblemKind kind) noexcept {
    switch (kind) {
        case ProblemKind::not_json: return "not_json";
        case ProblemKind::missing_id: return "missing_id";
        case ProblemKind::duplicate_id: return "duplicate_id";
        case ProblemKind::no_labels: return "no_labels";
        case ProblemKind::unknown_expression: return "unknown_expression";
        case ProblemKind::unknown_action_unit: return "unknown_action_unit";
        case ProblemKind::bad_value: return "bad_value";
        case ProblemKind::out_of_range: return "out_of_range";
        case ProblemKind::not_in_truth: return "not_in_truth";
        case ProblemKind::no_prediction: return "no_prediction";
        case ProblemKind::other_model_version: return "other_model_version";
    }
    return "?";
}

bool problem_skips_item(ProblemKind kind) noexcept {
    switch (kind) {
        case ProblemKind::not_json:
        case ProblemKind::missing_id:
        case ProblemKind::duplicate_id:
        case ProblemKind::no_labels:
        case ProblemKind::not_in_truth:
        case ProblemKind::no_prediction:
        case ProblemKind::other_model_version: return true;
        case ProblemKind::unknown_expression:
        case ProblemKind::unknown_action_unit:
        case ProblemKind::bad_value:
        case ProblemKind::out_of_range: return false;
    }
    return false;
}

void ProblemLog::add(Problem problem) {
    ++total_;
    std::size_t& seen = counts_[{problem.file, problem.kind}];
    if (seen++ < kept_per_kind_) kept_.push_back(std::move(problem));
}

std::size_t ProblemLog::count(InputFile file, ProblemKind kind) const {
    auto it = counts_.find({file, kind});
    return it == counts_.end() ? 0 : it->second;
}

Vocabulary::Vocabulary(const Knowledge& knowledge) : knowledge_(knowledge) {
    for (const auto& expression : knowledge.expressions) classes_.push_back(expression.name);
    for (const auto& unit : knowledge.action_units) action_units_.push_back(unit.code);
}

std::optional<int> Vocabulary::expression_index(const std::string& label) {
    auto [it, inserted] = expression_memo_.try_emplace(label);
    if (inserted)
        if (auto name = knowledge_.canonical_expression(label))
            it->second = static_cast<int>(std::find(classes_.begin(), classes_.end(), *name) - classes_.begin());
    return it->second;
}

std::optional<int> Vocabulary::action_unit_index(const std::string& code) {
    auto [it, inserted] = action_unit_memo_.try_emplace(code);
    if (inserted)
        if (auto canonical = knowledge_.canonical_action_unit(code))
            it->second = static_cast<int>(std::find(action_units_.begin(), action_units_.end(), *canonical) -
                                          action_units_.begin());
    return it->second;
}

std::optional<TruthItem> parse_truth_line(std::string_view line, int line_number, Vocabulary& vocabulary,
                                          ProblemLog& problems) {
    ordered_json value = json_depth_within(line) ? ordered_json::parse(line.begin(), line.end(), nullptr, false)
                                                 : ordered_json(ordered_json::value_t::discarded);
    if (value.is_discarded() || !value.is_object()) {
        problems.add({InputFile::truth, line_number, "", ProblemKind::not_json, "not a JSON object: line skipped"});
        return std::nullopt;
    }
    auto id = read_id(value);
    if (!id) {
        problems.add({InputFile::truth, line_number, "", ProblemKind::missing_id,
                      "no \"id\" (a non-empty string): line skipped"});
        return std::nullopt;
    }
    TruthItem item;
    item.id = *id;
    item.line = line_number;
    FieldContext context{InputFile::truth, line_number, item.id, vocabulary, problems};
    item.labels = read_labels(value, context);
    read_au_coded(value, item.labels, item.action_units_uncoded, context);
    const ordered_json& source = member(value, "source");
    if (source.is_string()) item.source = source.get<std::string>();
    else if (!source.is_null())
        context.report(ProblemKind::bad_value, "source is " + quoted(source) + ", not a string: ignored");
    if (const ordered_json& image = member(value, "image"); image.is_string()) item.image = image.get<std::string>();
    if (!has_any_level(item.labels)) {
        context.report(ProblemKind::no_labels, "no usable expression, action_units, valence or arousal: line skipped");
        return std::nullopt;
    }
    return item;
}

TruthSet read_truth_text(std::string_view text, Vocabulary& vocabulary, ProblemLog& problems) {
    TruthSet truth;
    int number = 0;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        ++number;
        if (is_blank(line)) continue;
        ++truth.lines;
        if (auto item = parse_truth_line(line, number, vocabulary, problems)) {
            auto [it, inserted] = truth.index_of.try_emplace(item->id, truth.items.size());
            if (!inserted) {
                problems.add(
                    {InputFile::truth, number, item->id, ProblemKind::duplicate_id,
                     "id already on line " + std::to_string(truth.items[it->second].line) + ": this line is skipped"});
                continue;
            }
            truth.items.push_back(std::move(*item));
        }
    }
    return truth;
}

Result<TruthSet> read_truth_file(const std::string& path, Vocabulary& vocabulary, ProblemLog& problems) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return make_error(errc::not_found, "no such truth file: " + path);
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::io_error, "cannot read the truth file " + path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return make_error(errc::io_error, "error while reading the truth file " + path);
    return read_truth_text(text, vocabulary, problems);
}

std::optional<Prediction> parse_prediction(const ordered_json& value, InputFile file, int line_number,
                                           RecordLabels which, Vocabulary& vocabulary, ProblemLog& problems) {
    if (!value.is_object()) {
        problems.add({file, line_number, "", ProblemKind::not_json, "not a JSON object: skipped"});
        return std::nullopt;
    }
    auto id = read_id(value);
    if (!id) {
        problems.add({file, line_number, "", ProblemKind::missing_id, "no \"id\" (a non-empty string): skipped"});
        return std::nullopt;
    }
    Prediction prediction;
    prediction.id = *id;
    prediction.line = line_number;
    FieldContext context{file, line_number, prediction.id, vocabulary, problems};
    const ordered_json& record_labels = member(value, "labels");
    if (record_labels.is_object()) {
        // A FEID record: the same choice of labels as FeidRecord::model_labels makes.
        const ordered_json& model_labels = member(member(value, "review"), "model_labels");
        const ordered_json& chosen =
            which == RecordLabels::model && model_labels.is_object() ? model_labels : record_labels;
        prediction.labels = read_labels(chosen, context);
        const ordered_json& provenance = member(value, "provenance");
        auto is_prior = [](const ordered_json& name) {
            if (!name.is_string()) return false;
            auto parsed = parse_provenance(name.get_ref<const std::string&>());
            return parsed && is_fact(*parsed);
        };
        for (const char* level : {"expression", "va", "au"})
            prediction.prior_levels += is_prior(member(provenance, level));
        // An AU level whose source coded some AUs (au_provenance) holds priors too: counted once.
        const ordered_json& per_au = member(value, "au_provenance");
        if (!is_prior(member(provenance, "au")) && per_au.is_object())
            prediction.prior_levels += std::any_of(per_au.begin(), per_au.end(), is_prior);
        // AUs the built-in expert could not see are unknown where its AUs are the ones scored.
        const ordered_json& model_provenance = member(member(value, "review"), "model_provenance");
        const ordered_json& au_source =
            &chosen == &model_labels && model_provenance.is_object() ? model_provenance : provenance;
        const ordered_json& au_by = member(au_source, "au");
        if (au_by.is_string() && au_by.get_ref<const std::string&>() == "expert")
            prediction.labels.action_units_unknown =
                action_unit_indices(member(member(value, "expert"), "au_unknown"), vocabulary);
    } else {
        prediction.labels = read_labels(value, context);
        prediction.labels.action_units_unknown = action_unit_indices(member(value, "au_unknown"), vocabulary);
    }
    prediction.uncertainty = read_uncertainty(member(value, "uncertainty"));
    prediction.tokens = read_tokens(member(value, "cost"));
    return prediction;
}

std::optional<Prediction> parse_prediction_line(std::string_view line, int line_number, RecordLabels which,
                                                Vocabulary& vocabulary, ProblemLog& problems) {
    ordered_json value = parse_record_text(line);
    if (value.is_discarded()) {
        problems.add(
            {InputFile::predictions, line_number, "", ProblemKind::not_json, "not a JSON object: line skipped"});
        return std::nullopt;
    }
    return parse_prediction(value, InputFile::predictions, line_number, which, vocabulary, problems);
}

PredictionMatcher::PredictionMatcher(const TruthSet& truth) : truth_(truth) {
    matched_.by_truth_item.resize(truth.items.size());
}

void PredictionMatcher::add(Prediction prediction, InputFile file, ProblemLog& problems) {
    auto it = truth_.index_of.find(prediction.id);
    if (it == truth_.index_of.end()) {
        problems.add({file, prediction.line, prediction.id, ProblemKind::not_in_truth,
                      "id is not in the truth file: not scored"});
        return;
    }
    auto& slot = matched_.by_truth_item[it->second];
    if (slot) {
        problems.add({file, prediction.line, prediction.id, ProblemKind::duplicate_id,
                      "a prediction for this id came first (" + std::string(input_file_name(file)) + " " +
                          std::to_string(slot->line) + "): this one is skipped"});
        return;
    }
    slot = std::move(prediction);
}

MatchedPredictions PredictionMatcher::finish(ProblemLog& problems,
                                             const std::unordered_map<std::string, std::string>& known_reasons) && {
    for (std::size_t i = 0; i < truth_.items.size(); ++i) {
        if (matched_.by_truth_item[i]) continue;
        std::string reason = "no prediction for this id: left out of every metric";
        if (auto known = known_reasons.find(truth_.items[i].id); known != known_reasons.end())
            reason += " (" + known->second + ")";
        problems.add({InputFile::truth, truth_.items[i].line, truth_.items[i].id, ProblemKind::no_prediction,
                      std::move(reason)});
    }
    return std::move(matched_);
}

Result<bool> read_prediction_file(const std::string& path, RecordLabels which, Vocabulary& vocabulary,
                                  PredictionMatcher& matcher, ProblemLog& problems) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
        return make_error(errc::not_found, "no such predictions file: " + path);
    return for_each_line(path, [&](std::string_view line, int number) {
        matcher.count_record();
        if (auto prediction = parse_prediction_line(line, number, which, vocabulary, problems))
            matcher.add(std::move(*prediction), InputFile::predictions, problems);
    });
}

Result<bool> read_store_predictions(Store& store, const std::optional<std::string>& model_version, RecordLabels which,
                                    Vocabulary& vocabulary, PredictionMatcher& matcher, ProblemLog& problems) {
    int row = 0;
    auto visited = store.for_each_face([&](const FaceRow& face) {
        ++row;
        matcher.count_record();
        // Match by face id; a face found inside a benchmark image carries its item's id too.
        std::string id = face.id;
        if (!matcher.knows(id) && matcher.knows(face.item_id)) id = face.item_id;
        if (model_version && face.model_version != *model_version) {
            if (matcher.knows(id))
                problems.add(
                    {InputFile::store, row, id, ProblemKind::other_model_version,
                     "stored by model version " + face.model_version + ", not " + *model_version + ": not scored"});
            return true;
        }
        ordered_json record = parse_record_text(face.record_json);
        if (record.is_discarded()) {
            problems.add({InputFile::store, row, face.id, ProblemKind::not_json, "stored record is not JSON: skipped"});
            return true;
        }
        auto prediction = parse_prediction(record, InputFile::store, row, which, vocabulary, problems);
        if (prediction) {
            prediction->id = id;
            matcher.add(std::move(*prediction), InputFile::store, problems);
        }
        return true;
    });
    if (!visited) return visited.error();
    return true;
}

}  // namespace seke::feab
