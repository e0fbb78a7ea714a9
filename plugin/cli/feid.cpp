// `seke feid build CONFIG`: FEID from the source datasets in one resumable command — each source
// imported (`seke import`), every manifest labeled in one run (`seke label`), the store exported
// per format (`seke export`). The steps are those commands' own functions; docs/datasets.md has
// the CONFIG file.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "plugin/cli/commands.hpp"
#include "plugin/cli/label.hpp"
#include "plugin/config/config.hpp"
#include "plugin/config/yaml.hpp"
#include "plugin/datasets/import.hpp"
#include "plugin/labeling/manifest.hpp"
#include "plugin/labeling/model_setup.hpp"
#include "plugin/records/crops.hpp"
#include "plugin/records/feid.hpp"
#include "plugin/records/store.hpp"
#include "verify/text.hpp"

namespace seke {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

constexpr std::uintmax_t kMaxBuildConfigBytes = 1u << 20;
constexpr std::size_t kMaxSources = 64;

Error config_error(const std::string& path, const std::string& message) {
    return make_error(errc::invalid_argument, "seke feid build: " + path + ": " + message);
}

struct SourceSpec {                  // NOLINT(bugprone-exception-escape): its implicit constructor only allocates
    datasets::ImportOptions import;  // out set to the source's manifest
    ordered_json as_given;           // the entry, to know when a manifest is out of date
};

struct BuildConfig {
    fs::path out;
    fs::path images_out;  // each face's crop, as `seke export --images-out`; "" none
    std::vector<ExportFormat> formats;
    std::vector<std::string> format_names;
    std::vector<SourceSpec> sources;
    std::optional<std::string> settings_file;  // a seke config file
    std::optional<ordered_json> settings;      // or its sections inline
};

// A path in CONFIG: relative ones are relative to CONFIG's folder.
fs::path config_relative(const fs::path& folder, const std::string& path) {
    fs::path given(path);
    return given.is_absolute() ? given : (folder / given).lexically_normal();
}

// A manifest name per source: "<dataset>[-<split>][-every<N>].jsonl".
std::string manifest_name(const datasets::ImportOptions& import) {
    std::string name = import.dataset;
    if (!import.split.empty()) name += "-" + import.split;
    if (import.every != 1) name += "-every" + std::to_string(import.every);
    return name + ".jsonl";
}

Result<BuildConfig> read_build_config(const std::string& path) {
    std::error_code ec;
    const auto bytes = fs::file_size(path, ec);
    if (ec) return make_error(errc::not_found, "seke feid build: cannot read " + path);
    if (bytes > kMaxBuildConfigBytes) return config_error(path, "larger than 1 MiB");
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    ordered_json doc;
    if (is_yaml_path(path)) {
        // The same value the JSON text would give: everything below reads either alike.
        auto parsed = parse_yaml(text.str(), path);
        if (!parsed) return make_error(errc::invalid_argument, "seke feid build: " + parsed.error().message);
        if (!parsed->is_object()) return config_error(path, "not a YAML mapping");
        doc = std::move(*parsed);
    } else {
        if (!json_depth_within(text.str())) return config_error(path, "nested too deep");
        doc = ordered_json::parse(text.str(), nullptr, false);
        if (doc.is_discarded() || !doc.is_object()) return config_error(path, "not a JSON object");
    }
    const fs::path folder = fs::absolute(path).parent_path();

    BuildConfig config;
    for (const auto& [key, value] : doc.items()) {
        if (key == "out") {
            if (!value.is_string() || value.get<std::string>().empty())
                return config_error(path, "\"out\" must be a folder name");
            config.out = config_relative(folder, value.get<std::string>());
        } else if (key == "images_out") {
            if (!value.is_string() || value.get<std::string>().empty())
                return config_error(path, "\"images_out\" must be a folder name");
            config.images_out = config_relative(folder, value.get<std::string>());
        } else if (key == "formats") {
            if (!value.is_array() || value.empty()) return config_error(path, "\"formats\" must be a non-empty list");
            for (const auto& format : value) {
                auto parsed = format.is_string() ? parse_export_format(format.get<std::string>()) : std::nullopt;
                if (!parsed)
                    return config_error(path, "format " + format.dump() + " is not one of feid-jsonl, llava, sharegpt");
                config.formats.push_back(*parsed);
                config.format_names.push_back(format.get<std::string>());
            }
        } else if (key == "settings") {
            if (value.is_string()) config.settings_file = config_relative(folder, value.get<std::string>()).string();
            else if (value.is_object()) config.settings = value;
            else return config_error(path, "\"settings\" must be a seke config file or its sections as an object");
        } else if (key == "sources") {
            if (!value.is_array() || value.empty()) return config_error(path, "\"sources\" must be a non-empty list");
            if (value.size() > kMaxSources)
                return config_error(path, "more than " + std::to_string(kMaxSources) + " sources");
            for (const auto& entry : value) {
                if (!entry.is_object()) return config_error(path, "a source must be an object");
                SourceSpec source;
                source.as_given = entry;
                for (const auto& [field, v] : entry.items()) {
                    const bool is_text = v.is_string();
                    if (field == "dataset" && is_text) source.import.dataset = v.get<std::string>();
                    else if (field == "root" && is_text)
                        source.import.root = config_relative(folder, v.get<std::string>());
                    else if (field == "split" && is_text) source.import.split = v.get<std::string>();
                    else if (field == "frames_out" && is_text)
                        source.import.frames_out = config_relative(folder, v.get<std::string>());
                    else if (field == "images" && is_text) source.import.images = v.get<std::string>();
                    else if (field == "disfa_trace" && is_text) source.import.trace = v.get<std::string>();
                    else if (field == "every" && v.is_number_integer() && v.get<long long>() >= 1 &&
                             v.get<long long>() <= 1'000'000)
                        source.import.every = static_cast<int>(v.get<long long>());
                    else
                        return config_error(path, "source field \"" + field + "\": " + v.dump() +
                                                      " is not one of dataset, root, split, every (>= 1), "
                                                      "frames_out, images, disfa_trace (strings but every)");
                }
                if (source.import.dataset.empty() || source.import.root.empty())
                    return config_error(path, "a source needs \"dataset\" and \"root\"");
                config.sources.push_back(std::move(source));
            }
        } else {
            return config_error(path, "unknown key \"" + key + "\" (out, formats, images_out, settings, sources)");
        }
    }
    if (config.out.empty()) return config_error(path, "\"out\" is required");
    if (config.sources.empty()) return config_error(path, "\"sources\" is required");
    if (config.formats.empty()) {
        config.formats.push_back(ExportFormat::feid_jsonl);
        config.format_names.emplace_back("feid-jsonl");
    }
    std::set<std::string> names;
    for (auto& source : config.sources) {
        const std::string name = manifest_name(source.import);
        if (!names.insert(name).second)
            return config_error(path, "two sources import the same (" + name + "): give them different splits");
        source.import.out = config.out / "manifests" / name;
    }
    return config;
}

// defaults → CONFIG's settings → environment → flags, as load_config orders a config file.
Result<Config> build_settings(const BuildConfig& build, const std::vector<std::string>& flags) {
    for (const auto& flag : flags)
        if (flag == "--db" || flag.rfind("--db=", 0) == 0)
            return make_error(errc::invalid_argument,
                              "seke feid build: the store is always <out>/seke.db; --db is not taken");
    Config config;
    if (build.settings_file) {
        if (auto applied = apply_config_file(config, *build.settings_file); !applied) return applied.error();
    } else if (build.settings) {
        if (auto applied = apply_config_text(config, build.settings->dump(), "settings"); !applied)
            return applied.error();
    }
    const auto environment = process_environment();
    if (auto applied = apply_environment(config, environment); !applied) return applied.error();
    auto rest = apply_flags(config, flags);
    if (!rest) return rest.error();
    if (!rest->empty())
        return make_error(errc::invalid_argument, "seke feid build: unknown argument \"" + rest->front() + "\"");
    resolve_provider(config);
    if (auto resolved = resolve_endpoints(config, environment); !resolved) return resolved.error();
    config.run.db_path = (build.out / "seke.db").string();
    if (auto valid = validate(config); !valid) return valid.error();
    return config;
}

// The export file of a format.
std::string export_name(ExportFormat format) {
    switch (format) {
        case ExportFormat::feid_jsonl: return "feid.jsonl";
        case ExportFormat::llava: return "feid-llava.json";
        case ExportFormat::sharegpt: return "feid-sharegpt.json";
    }
    return "feid.jsonl";
}

// Imports one source unless its manifest is there from the same entry (written whole or not at
// all, beside a copy of the entry it came from).
Result<ordered_json> import_source(const SourceSpec& source, const Knowledge& knowledge) {
    const fs::path& manifest = source.import.out;
    const fs::path entry_path = manifest.string() + ".source.json";
    ordered_json report = {
        {"dataset", source.import.dataset}, {"split", source.import.split}, {"manifest", manifest.string()}};
    std::error_code ec;
    if (fs::is_regular_file(manifest, ec) && fs::is_regular_file(entry_path, ec)) {
        std::ifstream in(entry_path, std::ios::binary);
        ordered_json kept = ordered_json::parse(in, nullptr, false);
        if (!kept.is_discarded() && kept == source.as_given) {
            report["imported"] = "already";
            return report;
        }
    }
    fs::create_directories(manifest.parent_path(), ec);
    if (ec) return make_error(errc::io_error, "seke feid build: cannot create " + manifest.parent_path().string());
    fs::remove(entry_path, ec);
    auto summary = datasets::run_import(source.import, knowledge);
    if (!summary) return summary.error();
    std::ofstream out(entry_path, std::ios::binary | std::ios::trunc);
    out << source.as_given.dump() << "\n";
    if (!out) return make_error(errc::io_error, "seke feid build: cannot write " + entry_path.string());
    std::fprintf(stderr, "seke feid build: imported %s: %s\n", manifest.filename().string().c_str(),
                 datasets::summary_json(*summary).dump().c_str());
    report["imported"] = "now";
    report["items"] = summary->items;
    return report;
}

int run_build(const std::vector<std::string>& args) {
    if (args.empty() || args[0].rfind("--", 0) == 0)
        return report_error(
            make_error(errc::invalid_argument, "seke feid build: give CONFIG.json or CONFIG.yaml (see seke help)"),
            kExitUsage);
    auto build = read_build_config(args[0]);
    if (!build) return report_error(build.error(), kExitUsage);
    auto config = build_settings(*build, std::vector<std::string>(args.begin() + 1, args.end()));
    if (!config) return report_error(config.error(), kExitUsage);
    auto setup = load_model_setup(*config);
    if (!setup) return report_error(setup.error(), kExitUsage);

    std::error_code ec;
    fs::create_directories(build->out, ec);
    if (ec)
        return report_error(make_error(errc::io_error, "seke feid build: cannot create " + build->out.string()),
                            kExitFatal);
    ordered_json result;
    result["out"] = fs::absolute(build->out).string();
    result["sources"] = ordered_json::array();
    LabelInput all;  // every source's lines, labeled in one run
    for (const auto& source : build->sources) {
        auto imported = import_source(source, setup->knowledge);
        if (!imported) {
            const errc code = imported.error().code;
            return report_error(imported.error(),
                                code == errc::invalid_argument || code == errc::not_found ? kExitUsage : kExitFatal);
        }
        auto input = read_label_input(source.import.out.string(), setup->knowledge);
        if (!input) return report_error(input.error(), kExitFatal);
        for (const auto& problem : input->problems) {
            ordered_json line = {
                {"rejected_input",
                 {{"file", source.import.out.string()}, {"line", problem.line}, {"reason", problem.reason}}}};
            std::fprintf(stderr, "%s\n", line.dump().c_str());
        }
        (*imported)["lines"] = input->jobs.size();
        result["sources"].push_back(std::move(*imported));
        for (auto& job : input->jobs) all.jobs.push_back(std::move(job));
        for (auto& problem : input->problems) all.problems.push_back(std::move(problem));
    }

    auto labeled = label_jobs(*config, std::move(*setup), all, std::to_string(build->sources.size()) + " sources", "");
    if (labeled.summary.is_null()) return labeled.exit_code;
    result["label"] = std::move(labeled.summary);
    int exit_code = labeled.exit_code;
    if (exit_code != kExitInterrupted) {
        auto store = Store::open(config->run.db_path, config->run.db_wait_ms);
        if (!store) return report_error(store.error(), kExitFatal);
        std::optional<CropWriter> crops;  // one for every format: the first writes, the others find
        if (!build->images_out.empty()) {
            auto writer = CropWriter::open(build->images_out.string(), face_options(*config), config->image);
            if (!writer) return report_error(writer.error(), kExitFatal);
            crops.emplace(std::move(*writer));
        }
        result["exports"] = ordered_json::array();
        for (std::size_t i = 0; i < build->formats.size(); ++i) {
            const std::string path = (build->out / export_name(build->formats[i])).string();
            auto written = write_export(**store, build->formats[i], path, {}, crops ? &*crops : nullptr);
            if (!written)
                return report_error(make_error(written.error().code, "seke feid build: " + written.error().message),
                                    kExitFatal);
            for (const auto& error : written->unreadable_first) report_error(error, kExitPartial);
            if (written->unreadable > 0 && exit_code == kExitOk) exit_code = kExitPartial;
            result["exports"].push_back({{"format", build->format_names[i]},
                                         {"out", fs::absolute(path).string()},
                                         {"records", written->records},
                                         {"unreadable_records", written->unreadable}});
        }
        if (crops) {
            const CropCounts& counts = crops->counts();
            for (const auto& reason : counts.skipped_reasons)
                std::fprintf(stderr, "seke feid build: skipped-crop %s\n", reason.c_str());
            ordered_json crop_summary;
            add_crop_summary(crop_summary, build->images_out.string(), counts);
            result["crops"] = std::move(crop_summary);
            if (counts.skipped > 0 && exit_code == kExitOk) exit_code = kExitPartial;
        }
    }
    std::printf("%s\n", result.dump().c_str());
    return exit_code;
}

}  // namespace

int run_feid_command(const std::vector<std::string>& args) {
    if (args.empty() || args[0] != "build")
        return report_error(make_error(errc::invalid_argument, "seke feid: the subcommand is build (see seke help)"),
                            kExitUsage);
    return run_build(std::vector<std::string>(args.begin() + 1, args.end()));
}

}  // namespace seke
