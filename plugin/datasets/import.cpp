#include "plugin/datasets/import.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "verify/text.hpp"

namespace seke::datasets {
namespace {

using nlohmann::ordered_json;

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view strip(std::string_view text) {
    while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
    return text;
}

// The index of `code` in the knowledge's AU list (its order is the manifest's).
std::size_t au_rank(const Knowledge& knowledge, const std::string& code) {
    for (std::size_t i = 0; i < knowledge.action_units.size(); ++i)
        if (knowledge.action_units[i].code == code) return i;
    return knowledge.action_units.size();
}

void sort_unique(std::vector<std::string>& codes, const Knowledge& knowledge) {
    std::sort(codes.begin(), codes.end(), [&](const std::string& a, const std::string& b) {
        return au_rank(knowledge, a) < au_rank(knowledge, b);
    });
    codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
}

bool has_label(const KnownLabels& known) {
    return known.expression || (known.valence && known.arousal) || !known.au_coded.empty();
}

// The default frames folder: beside the manifest, named after the dataset.
fs::path frames_dir_for(const ImportOptions& options) {
    if (!options.frames_out.empty()) return options.frames_out;
    fs::path folder = fs::absolute(options.out).parent_path();
    return folder / (options.dataset + "-frames");
}

std::string count_text(std::int64_t n) {
    return std::to_string(n);
}

}  // namespace

// --- the manifest writer ---

ManifestWriter::ManifestWriter(fs::path out, fs::path folder) : out_(std::move(out)), folder_(std::move(folder)) {}

Result<ManifestWriter> ManifestWriter::open(const fs::path& out) {
    fs::path absolute = fs::absolute(out).lexically_normal();
    ManifestWriter writer(out, absolute.parent_path());
    std::error_code ec;
    if (!writer.folder_.empty()) fs::create_directories(writer.folder_, ec);
    writer.file_.open(out.string() + ".partial", std::ios::binary | std::ios::trunc);
    if (!writer.file_) return make_error(errc::io_error, "cannot write " + out.string() + ".partial");
    return writer;
}

ordered_json ManifestWriter::line(const ManifestEntry& entry) const {
    fs::path image = fs::absolute(entry.image).lexically_normal();
    fs::path relative = image.lexically_relative(folder_);
    std::string written =
        !relative.empty() && *relative.begin() != ".." ? relative.generic_string() : image.generic_string();
    ordered_json out;
    out["id"] = entry.source + "/" + entry.source_id;
    out["image"] = written;
    ordered_json known = ordered_json::object();
    if (entry.known.expression) known["expression"] = *entry.known.expression;
    if (entry.known.valence && entry.known.arousal) {
        known["valence"] = *entry.known.valence;
        known["arousal"] = *entry.known.arousal;
    }
    if (!entry.known.au_coded.empty()) {
        known["action_units"] = entry.known.action_units;
        known["au_coded"] = entry.known.au_coded;
    }
    out["known"] = std::move(known);
    out["known_provenance"] = "source";
    out["source"] = entry.source;
    out["source_id"] = entry.source_id;
    if (!entry.subject.empty()) out["subject"] = entry.subject;
    out["split"] = entry.split;
    if (entry.box) out["box"] = {entry.box->x, entry.box->y, entry.box->w, entry.box->h};
    return out;
}

Result<bool> ManifestWriter::write(const ManifestEntry& entry) {
    file_ << line(entry).dump() << '\n';
    if (!file_) return make_error(errc::io_error, "cannot write " + out_.string() + ".partial");
    return true;
}

Result<bool> ManifestWriter::commit() {
    file_.close();
    if (!file_) return make_error(errc::io_error, "cannot write " + out_.string() + ".partial");
    std::error_code ec;
    fs::rename(out_.string() + ".partial", out_, ec);
    if (ec) return make_error(errc::io_error, "cannot rename to " + out_.string() + ": " + ec.message());
    return true;
}

// --- the sink ---

ImportSink::ImportSink(const Knowledge& knowledge, const ImportOptions& options, ManifestWriter& writer,
                       ImportSummary& summary)
    : knowledge_(knowledge), options_(options), writer_(writer), summary_(summary) {}

bool ImportSink::wants(const std::string& split) {
    splits_seen_.insert(split);
    return options_.split.empty() || options_.split == split;
}

bool ImportSink::sampled(std::int64_t position) {
    if (options_.every <= 1 || position % options_.every == 0) return true;
    ++summary_.thinned;
    return false;
}

void ImportSink::set_expression(KnownLabels& known, const std::string& target_name) const {
    auto name = knowledge_.canonical_expression(target_name);
    if (!name) unknown_level(known, "expression " + target_name + " is not in the knowledge");
    else known.expression = *name;
}

void ImportSink::code_au(KnownLabels& known, int number, bool present, const std::string& why) const {
    auto code = knowledge_.canonical_action_unit("AU" + std::to_string(number));
    if (!code) {
        drop_au(known, number, why);
        return;
    }
    known.au_coded.push_back(*code);
    if (present) known.action_units.push_back(*code);
}

void ImportSink::code_all_aus(KnownLabels& known) const {
    for (const auto& au : knowledge_.action_units) known.au_coded.push_back(au.code);
}

void ImportSink::drop_au(KnownLabels& known, int number, const std::string& why) {
    known.dropped_aus.push_back("AU" + std::to_string(number) + " (" + why + ")");
}

void ImportSink::unknown_level(KnownLabels& known, const std::string& reason) {
    known.unknown_reasons.push_back(reason);
}

void ImportSink::skip(const std::string& reason, std::int64_t count) {
    summary_.skipped[reason] += count;
}

Result<bool> ImportSink::add(ManifestEntry entry) {
    if (!wants(entry.split)) {
        other_split();
        return true;
    }
    KnownLabels& known = entry.known;
    if (!(known.valence && known.arousal)) known.valence = known.arousal = std::nullopt;
    sort_unique(known.au_coded, knowledge_);
    sort_unique(known.action_units, knowledge_);
    if (!has_label(known)) {
        skip("no usable label");
        return true;
    }
    if (summary_.items >= options_.limits.max_items)
        return make_error(errc::payload_too_large,
                          "more than " + std::to_string(options_.limits.max_items) + " items in one import");
    entry.source = options_.dataset;
    auto written = writer_.write(entry);
    if (!written) return written;
    ++summary_.items;
    ++summary_.splits[entry.split];
    if (known.expression) ++summary_.expressions[*known.expression];
    if (known.valence) ++summary_.with_va;
    for (const auto& reason : known.unknown_reasons) ++summary_.unknown_levels[reason];
    for (const auto& dropped : known.dropped_aus) ++summary_.au_dropped[dropped];
    for (auto& [code, counts] : summary_.action_units) {
        bool coded = std::find(known.au_coded.begin(), known.au_coded.end(), code) != known.au_coded.end();
        bool present =
            std::find(known.action_units.begin(), known.action_units.end(), code) != known.action_units.end();
        if (present) ++counts.present;
        else if (coded) ++counts.absent;
        else ++counts.uncoded;
    }
    return true;
}

// --- reading label files ---

LineReader::LineReader(fs::path path, const ImportLimits& limits) : path_(std::move(path)), limits_(&limits) {}

Result<LineReader> LineReader::open(const fs::path& path, const ImportLimits& limits) {
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) return make_error(errc::not_found, "cannot read " + path.string() + ": " + ec.message());
    if (size > limits.max_file_bytes)
        return make_error(errc::payload_too_large, path.string() + " has " + std::to_string(size) +
                                                       " bytes, over the limit of " +
                                                       std::to_string(limits.max_file_bytes));
    LineReader reader(path, limits);
    reader.in_.open(path, std::ios::binary);
    if (!reader.in_) return make_error(errc::io_error, "cannot open " + path.string());
    return reader;
}

Result<std::optional<std::string>> LineReader::next() {
    std::string line;
    bool any = false;
    for (int c = in_.get(); c != EOF; c = in_.get()) {
        any = true;
        if (c == '\n') break;
        if (line.size() >= limits_->max_line_bytes) {
            ++line_;
            return error("line longer than " + std::to_string(limits_->max_line_bytes) + " bytes");
        }
        line.push_back(static_cast<char>(c));
    }
    if (!any) return std::optional<std::string>();
    ++line_;
    if (line_ > limits_->max_lines) return error("more than " + std::to_string(limits_->max_lines) + " lines");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return std::optional<std::string>(std::move(line));
}

Error LineReader::error(const std::string& what) const {
    return make_error(errc::invalid_argument, path_.string() + ":" + std::to_string(line_) + ": " + what);
}

Result<bool> LineReader::for_each(const LineVisitor& visit, BlankLines blank) {
    for (;;) {
        auto line = next();
        if (!line) return line.error();
        if (!*line) return true;
        if (blank == BlankLines::skip && (*line)->find_first_not_of(" \t") == std::string::npos) continue;
        if (auto failed = visit(**line)) return *failed;
    }
}

std::vector<std::string_view> split_fields(std::string_view line, char separator) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    for (;;) {
        std::size_t end = line.find(separator, start);
        if (end == std::string_view::npos) {
            fields.push_back(line.substr(start));
            return fields;
        }
        fields.push_back(line.substr(start, end - start));
        start = end + 1;
    }
}

std::vector<std::string_view> split_whitespace(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_blank(line[i])) ++i;
        std::size_t start = i;
        while (i < line.size() && !is_blank(line[i])) ++i;
        if (i > start) fields.push_back(line.substr(start, i - start));
    }
    return fields;
}

std::optional<double> parse_number(std::string_view field) {
    field = strip(field);
    if (field.empty() || field.size() > 64) return std::nullopt;
    std::string text(field);
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
    return value;
}

std::optional<long long> parse_integer(std::string_view field) {
    field = strip(field);
    if (!field.empty() && field.front() == '+') field.remove_prefix(1);
    long long value = 0;
    auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (field.empty() || ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
    return value;
}

std::optional<long long> parse_whole_number(std::string_view field) {
    auto value = parse_number(field);
    if (!value || std::floor(*value) != *value || std::abs(*value) > 1e15) return std::nullopt;
    return static_cast<long long>(*value);
}

bool file_exists(const fs::path& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec);
}

Result<std::vector<fs::path>> list_entries(const fs::path& dir, EntryKind kind, const ImportLimits& limits) {
    std::error_code ec;
    std::vector<fs::path> out;
    std::size_t seen = 0;
    for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec)) {
        if (++seen > limits.max_dir_entries)
            return make_error(errc::payload_too_large,
                              dir.string() + " has more than " + std::to_string(limits.max_dir_entries) + " entries");
        std::error_code type_ec;
        bool wanted = kind == EntryKind::directories ? it->is_directory(type_ec) : it->is_regular_file(type_ec);
        if (wanted) out.push_back(it->path());
    }
    if (ec) return make_error(errc::io_error, "cannot list " + dir.string() + ": " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
}

std::optional<fs::path> find_child(const fs::path& dir, const std::vector<std::string>& names, EntryKind kind,
                                   const ImportLimits& limits) {
    auto entries = list_entries(dir, kind, limits);
    if (!entries) return std::nullopt;
    for (const auto& name : names)
        for (const auto& entry : *entries)
            if (iequals(entry.filename().string(), name)) return entry;
    return std::nullopt;
}

Result<std::map<long long, fs::path>> frames_by_number(const fs::path& dir, const ImportLimits& limits) {
    std::map<long long, fs::path> frames;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return frames;
    auto files = list_entries(dir, EntryKind::files, limits);
    if (!files) return files.error();
    for (const auto& file : *files) {
        std::string ext = to_lower(file.extension().string());
        if (ext != ".jpg" && ext != ".jpeg" && ext != ".png" && ext != ".bmp") continue;
        auto number = parse_integer(file.stem().string());
        if (number && !frames.count(*number)) frames.emplace(*number, file);
    }
    return frames;
}

// --- running an import ---

const std::vector<std::string>& dataset_names() {
    static const std::vector<std::string> names = {"ckplus", "rafdb", "affectnet", "disfa", "bp4d", "affwild2"};
    return names;
}

Result<ImportSummary> run_import(const ImportOptions& given, const Knowledge& knowledge) {
    ImportOptions options = given;
    const auto& names = dataset_names();
    if (std::find(names.begin(), names.end(), options.dataset) == names.end())
        return make_error(errc::invalid_argument, "unknown dataset \"" + options.dataset +
                                                      "\" (one of ckplus, rafdb, affectnet, disfa, bp4d, affwild2)");
    if (options.every < 1) return make_error(errc::invalid_argument, "--every must be 1 or more");
    bool video = options.dataset == "disfa" || options.dataset == "bp4d" || options.dataset == "affwild2";
    if (options.every > 1 && !video)
        return make_error(errc::invalid_argument,
                          "--every takes frames of video datasets (disfa, bp4d, affwild2), not " + options.dataset);
    if (options.images.empty()) options.images = "aligned";
    if (options.images != "aligned" && options.images != "original")
        return make_error(errc::invalid_argument, "--images must be aligned or original");
    if (options.images != "aligned" && options.dataset != "rafdb")
        return make_error(errc::invalid_argument,
                          "--images chooses RAF-DB's images; " + options.dataset + " has one set");
    if (options.trace.empty()) options.trace = "absent";
    if (options.trace != "absent" && options.trace != "unknown")
        return make_error(errc::invalid_argument, "--disfa-trace must be absent or unknown");
    if (options.trace != "absent" && options.dataset != "disfa")
        return make_error(errc::invalid_argument,
                          "--disfa-trace is DISFA's; " + options.dataset + " has no trace level");
    std::error_code ec;
    if (!fs::is_directory(options.root, ec))
        return make_error(errc::not_found, "dataset folder " + options.root.string() + " does not exist");
    if (options.out.empty()) return make_error(errc::invalid_argument, "--out manifest.jsonl is required");
    options.frames_out = frames_dir_for(options);

    ImportSummary summary;
    summary.dataset = options.dataset;
    summary.manifest = fs::absolute(options.out).lexically_normal().string();
    for (const auto& au : knowledge.action_units) summary.action_units.emplace_back(au.code, AuCounts{});
    auto writer = ManifestWriter::open(options.out);
    if (!writer) return writer.error();
    ImportSink sink(knowledge, options, *writer, summary);
    Result<bool> imported = true;
    if (options.dataset == "ckplus") imported = import_ckplus(sink);
    else if (options.dataset == "rafdb") imported = import_rafdb(sink);
    else if (options.dataset == "affectnet") imported = import_affectnet(sink);
    else if (options.dataset == "disfa") imported = import_disfa(sink);
    else if (options.dataset == "bp4d") imported = import_bp4d(sink);
    else imported = import_affwild2(sink);
    // A --split the dataset does not have is a mistake, not an empty manifest.
    if (imported && !options.split.empty() && !sink.splits_seen().count(options.split)) {
        std::string known;
        for (const auto& split : sink.splits_seen()) known += (known.empty() ? "" : ", ") + split;
        imported = make_error(errc::invalid_argument, "--split " + options.split + ": " + options.dataset +
                                                          " here has " + (known.empty() ? "no split" : known));
    }
    if (!imported) {
        fs::remove(options.out.string() + ".partial", ec);
        return imported.error();
    }
    auto committed = writer->commit();
    if (!committed) return committed.error();
    return summary;
}

ordered_json summary_json(const ImportSummary& s) {
    ordered_json out;
    out["dataset"] = s.dataset;
    out["manifest"] = s.manifest;
    out["items"] = s.items;
    out["splits"] = s.splits;
    out["expressions"] = s.expressions;
    ordered_json aus = ordered_json::object();
    for (const auto& [code, c] : s.action_units)
        aus[code] = {{"present", c.present}, {"absent", c.absent}, {"uncoded", c.uncoded}};
    out["action_units"] = std::move(aus);
    out["va"] = {{"items", s.with_va},
                 {"coverage", s.items > 0 ? static_cast<double>(s.with_va) / static_cast<double>(s.items) : 0.0}};
    std::int64_t skipped = 0;
    for (const auto& [reason, n] : s.skipped) skipped += n;
    out["skipped"] = {{"items", skipped}, {"reasons", s.skipped}};
    out["unknown_levels"] = s.unknown_levels;
    out["au_dropped"] = s.au_dropped;
    out["other_splits"] = s.other_splits;
    out["thinned"] = s.thinned;
    if (!s.frames_dir.empty())
        out["frames"] = {{"dir", s.frames_dir}, {"decoded", s.frames_decoded}, {"reused", s.frames_reused}};
    return out;
}

std::string summary_table(const ImportSummary& s) {
    std::string out;
    auto row = [&](const std::string& name, const std::string& value) {
        std::string padded = "  " + name;
        if (padded.size() < 44) padded.resize(44, ' ');
        out += padded + " " + value + "\n";
    };
    out += "seke import " + s.dataset + " → " + s.manifest + ": " + count_text(s.items) + " items\n";
    out += "splits\n";
    for (const auto& [split, n] : s.splits) row(split, count_text(n));
    out += "expressions\n";
    if (s.expressions.empty()) row("(none labeled)", "");
    for (const auto& [name, n] : s.expressions) row(name, count_text(n));
    char au_header[128];
    std::snprintf(au_header, sizeof au_header, "%-45s%8s %8s %8s\n", "action units", "present", "absent", "uncoded");
    out += au_header;
    for (const auto& [code, c] : s.action_units) {
        char line[128];
        std::snprintf(line, sizeof line, "%8lld %8lld %8lld", static_cast<long long>(c.present),
                      static_cast<long long>(c.absent), static_cast<long long>(c.uncoded));
        row(code, line);
    }
    char va[64];
    std::snprintf(va, sizeof va, "%lld items (%.1f %%)", static_cast<long long>(s.with_va),
                  s.items > 0 ? 100.0 * static_cast<double>(s.with_va) / static_cast<double>(s.items) : 0.0);
    out += "valence-arousal\n";
    row("labeled", va);
    out += "skipped\n";
    if (s.skipped.empty()) row("(none)", "");
    for (const auto& [reason, n] : s.skipped) row(reason, count_text(n));
    if (!s.unknown_levels.empty()) {
        out += "levels left unknown\n";
        for (const auto& [reason, n] : s.unknown_levels) row(reason, count_text(n));
    }
    if (!s.au_dropped.empty()) {
        out += "action units not kept\n";
        for (const auto& [reason, n] : s.au_dropped) row(reason, count_text(n));
    }
    if (s.other_splits > 0) row("items of other splits (--split)", count_text(s.other_splits));
    if (s.thinned > 0) row("frames left out by --every", count_text(s.thinned));
    if (!s.frames_dir.empty())
        row("frames in " + s.frames_dir,
            count_text(s.frames_decoded) + " decoded, " + count_text(s.frames_reused) + " already there");
    return out;
}

}  // namespace seke::datasets
