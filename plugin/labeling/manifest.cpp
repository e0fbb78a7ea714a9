#include "plugin/labeling/manifest.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "verify/au_prior.hpp"
#include "verify/text.hpp"

namespace seke {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_image_file(const fs::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    static const std::set<std::string> known = {".jpg", ".jpeg", ".png", ".webp", ".bmp",
                                                ".tif", ".tiff", ".jp2", ".pgm",  ".ppm"};
    return known.count(ext) > 0;
}

bool is_uri(const std::string& image) {
    return image.rfind("http://", 0) == 0 || image.rfind("https://", 0) == 0 || image.rfind("data:", 0) == 0 ||
           image.rfind("file://", 0) == 0;
}

Error line_error(const std::string& why) {
    return make_error(errc::invalid_argument, why);
}

Result<double> va_value(const json& known, const char* key) {
    const json& value = known.at(key);
    if (!value.is_number()) return line_error(std::string("known.") + key + " must be a number in [-1, 1]");
    double number = value.get<double>();
    if (!std::isfinite(number) || number < -1 || number > 1)
        return line_error(std::string("known.") + key + " must be a number in [-1, 1], got " + value.dump());
    return number;
}

// known.<key> as canonical AU codes, each once, in the order given.
Result<std::vector<std::string>> au_codes(const json& known, const char* key, const Knowledge& knowledge) {
    const json& value = known.at(key);
    const std::string name = std::string("known.") + key;
    if (!value.is_array()) return line_error(name + " must be an array of AU codes");
    std::vector<std::string> units;
    for (const auto& code : value) {
        if (!code.is_string()) return line_error(name + " must be an array of AU codes");
        auto canonical = knowledge.canonical_action_unit(code.get<std::string>());
        if (!canonical)
            return line_error(name + ": \"" + code.get<std::string>() + "\" is not one of the configured action units");
        if (std::find(units.begin(), units.end(), *canonical) == units.end()) units.push_back(*canonical);
    }
    return units;
}

// An optional string member of the line ("" when absent or null).
Result<std::string> optional_text(const json& entry, const char* key) {
    auto it = entry.find(key);
    if (it == entry.end() || it->is_null()) return std::string();
    if (!it->is_string()) return line_error(std::string("\"") + key + "\" must be a string");
    return it->get<std::string>();
}

// Far beyond any image seke decodes; keeps the pixel arithmetic of a box in range.
constexpr double kMaxBoxCoordinate = 1e6;

// "box": [x, y, width, height] in pixels, four finite numbers, width and height > 0.
Result<std::optional<PixelRegion>> box_member(const json& entry) {
    auto it = entry.find("box");
    if (it == entry.end() || it->is_null()) return std::optional<PixelRegion>();
    const char* expected = "\"box\" must be [x, y, width, height]: four finite numbers in pixels, width and height > 0";
    if (!it->is_array() || it->size() != 4) return line_error(expected);
    double values[4] = {};
    for (std::size_t i = 0; i < 4; ++i) {
        const json& value = (*it)[i];
        if (!value.is_number()) return line_error(expected);
        values[i] = value.get<double>();
        if (!std::isfinite(values[i]) || std::abs(values[i]) > kMaxBoxCoordinate) return line_error(expected);
    }
    if (values[2] <= 0 || values[3] <= 0) return line_error(expected);
    return std::optional<PixelRegion>(PixelRegion{values[0], values[1], values[2], values[3]});
}

Result<ItemOrigin> origin_members(const json& entry) {
    ItemOrigin origin;
    std::pair<const char*, std::string*> members[] = {{"source", &origin.source},
                                                      {"source_id", &origin.source_id},
                                                      {"subject", &origin.subject},
                                                      {"split", &origin.split}};
    for (auto& [key, target] : members) {
        auto text = optional_text(entry, key);
        if (!text) return text.error();
        *target = std::move(*text);
    }
    return origin;
}

}  // namespace

Result<LabelJob> parse_manifest_line(const std::string& line, const std::string& base_dir, const Knowledge& knowledge) {
    if (!json_depth_within(line))
        return make_error(errc::bad_json, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    json entry = json::parse(line, nullptr, false);
    if (entry.is_discarded()) return make_error(errc::bad_json, "not valid JSON");
    if (!entry.is_object()) return make_error(errc::bad_json, "not a JSON object");
    LabelJob job;
    if (!entry.contains("image") || !entry["image"].is_string() || entry["image"].get<std::string>().empty())
        return line_error("\"image\" must be a non-empty string");
    job.image = entry["image"].get<std::string>();
    if (entry.contains("id")) {
        if (entry["id"].is_string()) job.id = entry["id"].get<std::string>();
        else if (entry["id"].is_number_integer()) job.id = std::to_string(entry["id"].get<long long>());
        else return line_error("\"id\" must be a string or an integer");
    } else {
        job.id = job.image;
    }
    if (job.id.empty()) return line_error("\"id\" must not be empty");
    if (is_uri(job.image) || fs::path(job.image).is_absolute()) job.source = job.image;
    else job.source = (fs::path(base_dir) / job.image).lexically_normal().string();
    auto origin = origin_members(entry);
    if (!origin) return origin.error();
    job.origin = std::move(*origin);
    auto box = box_member(entry);
    if (!box) return box.error();
    job.box = *box;

    Provenance provenance = Provenance::source;
    if (entry.contains("known_provenance")) {
        auto parsed = entry["known_provenance"].is_string()
                          ? parse_provenance(entry["known_provenance"].get<std::string>())
                          : std::nullopt;
        if (!parsed || !is_fact(*parsed)) return line_error("\"known_provenance\" must be \"source\" or \"human\"");
        provenance = *parsed;
    }
    if (entry.contains("known") && !entry["known"].is_null()) {
        const json& known = entry["known"];
        if (!known.is_object()) return line_error("\"known\" must be an object");
        for (const auto& [key, value] : known.items()) {
            if (key != "expression" && key != "valence" && key != "arousal" && key != "action_units" &&
                key != "au_coded")
                return line_error("known." + key +
                                  " is not a label (expression, valence, arousal, action_units, au_coded)");
        }
        if (known.contains("expression")) {
            if (!known["expression"].is_string()) return line_error("known.expression must be a string");
            auto name = knowledge.canonical_expression(known["expression"].get<std::string>());
            if (!name)
                return line_error("known.expression \"" + known["expression"].get<std::string>() +
                                  "\" is not one of the configured expressions");
            job.known.expression = *name;
            job.known_provenance.expression = provenance;
        }
        if (known.contains("valence")) {
            auto v = va_value(known, "valence");
            if (!v) return v.error();
            job.known.valence = *v;
        }
        if (known.contains("arousal")) {
            auto a = va_value(known, "arousal");
            if (!a) return a.error();
            job.known.arousal = *a;
        }
        if (job.known.valence || job.known.arousal) job.known_provenance.va = provenance;
        if (known.contains("action_units")) {
            auto units = au_codes(known, "action_units", knowledge);
            if (!units) return units.error();
            job.known.action_units = std::move(*units);
        }
        if (known.contains("au_coded")) {
            // The AUs the source coded: those not listed present are absent, the others unknown.
            auto coded = au_codes(known, "au_coded", knowledge);
            if (!coded) return coded.error();
            for (const auto& present : job.known.action_units.value_or(std::vector<std::string>{}))
                if (std::find(coded->begin(), coded->end(), present) == coded->end())
                    return line_error("known.action_units: \"" + present +
                                      "\" is not in known.au_coded (a present AU must be one the source coded)");
            if (!job.known.action_units) job.known.action_units.emplace();
            job.known.au_coded = std::move(*coded);
            job.known = normalise_au_prior(knowledge, std::move(job.known));
        }
        if (job.known.action_units) job.known_provenance.au = provenance;
        job.known_json = known.dump();
    } else {
        job.known_json = "{}";
    }
    return job;
}

Result<LabelInput> read_label_input(const std::string& path, const Knowledge& knowledge) {
    std::error_code ec;
    LabelInput input;
    if (fs::is_directory(path, ec)) {
        std::vector<fs::path> files;
        for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_regular_file(ec) && is_image_file(it->path())) files.push_back(it->path());
        }
        if (ec) return make_error(errc::io_error, "cannot list " + path + ": " + ec.message());
        std::sort(files.begin(), files.end());
        for (const auto& file : files) {
            LabelJob job;
            job.id = fs::relative(file, path, ec).replace_extension().string();
            job.image = file.string();
            job.source = file.string();
            job.known_json = "{}";
            input.jobs.push_back(std::move(job));
        }
        return input;
    }
    std::ifstream in(path);
    if (!in) return make_error(errc::not_found, "input " + path + " is neither a folder nor a readable manifest");
    std::string base_dir = fs::path(path).parent_path().string();
    std::set<std::string> ids;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        auto job = parse_manifest_line(line, base_dir, knowledge);
        if (!job) {
            input.problems.push_back({number, "", job.error().message});
            continue;
        }
        if (!ids.insert(job->id).second) {
            input.problems.push_back({number, job->id, "duplicate id \"" + job->id + "\" (first one kept)"});
            continue;
        }
        input.jobs.push_back(std::move(*job));
    }
    return input;
}

}  // namespace seke
