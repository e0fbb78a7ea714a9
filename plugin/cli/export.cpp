#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "plugin/cli/commands.hpp"
#include "plugin/config/config.hpp"
#include "plugin/labeling/model_setup.hpp"
#include "plugin/records/crops.hpp"
#include "plugin/records/feid.hpp"
#include "plugin/records/pictures.hpp"
#include "plugin/records/store.hpp"

namespace seke {

int run_export_command(const std::vector<std::string>& args) {
    auto loaded = load_config(args, process_environment());
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    std::string format_text = "feid-jsonl";
    std::string out_path;
    std::string boxes_dir;           // the picture view instead of a file of records
    std::string images_out;          // each face's crop is written here and the records point to it
    std::set<std::string> statuses;  // empty: every status except rejected
    const auto& rest = loaded->rest;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        auto value = [&](const std::string& flag) { return flag_value(rest, i, flag); };
        if (auto v = value("--format")) format_text = *v;
        else if (auto o = value("--out")) out_path = *o;
        else if (auto b = value("--boxes")) boxes_dir = *b;
        else if (auto d = value("--images-out")) images_out = *d;
        else if (auto s = value("--status")) {
            std::stringstream list(*s);
            for (std::string item; std::getline(list, item, ',');) {
                if (item != "auto" && item != "accepted" && item != "corrected" && item != "rejected")
                    return report_error(
                        make_error(errc::invalid_argument, "seke export: --status \"" + item +
                                                               "\" is not one of auto, accepted, corrected, rejected"),
                        kExitUsage);
                statuses.insert(item);
            }
        } else
            return report_error(make_error(errc::invalid_argument, "seke export: unknown argument \"" + rest[i] + "\""),
                                kExitUsage);
    }
    auto format = parse_export_format(format_text);
    if (!format)
        return report_error(make_error(errc::invalid_argument, "seke export: --format \"" + format_text +
                                                                   "\" is not one of feid-jsonl, llava, sharegpt"),
                            kExitUsage);
    if (out_path.empty() == boxes_dir.empty())
        return report_error(
            make_error(errc::invalid_argument, "seke export: one of --out FILE or --boxes DIR is required"),
            kExitUsage);
    if (!store_may_exist(loaded->config.run.db_path))
        return report_error(
            make_error(errc::not_found, "seke export: no store at " + describe_store(loaded->config.run.db_path)),
            kExitUsage);
    if (!images_out.empty() && !boxes_dir.empty())
        return report_error(
            make_error(errc::invalid_argument, "seke export: --images-out goes with --out, not --boxes"), kExitUsage);
    auto store = Store::open(loaded->config.run.db_path, loaded->config.run.db_wait_ms);
    if (!store) return report_error(store.error(), kExitFatal);
    if (!boxes_dir.empty()) {
        auto pictures = write_pictures(**store, boxes_dir, loaded->config.image);
        if (!pictures) return report_error(pictures.error(), kExitFatal);
        for (const auto& problem : pictures->problems)
            std::fprintf(stderr, "seke export: no picture for %s\n", problem.c_str());
        nlohmann::ordered_json summary = {{"boxes", std::filesystem::absolute(boxes_dir).string()},
                                          {"pictures", pictures->pictures},
                                          {"problems", pictures->problems.size()}};
        std::printf("%s\n", summary.dump().c_str());
        return pictures->problems.empty() ? kExitOk : kExitPartial;
    }

    std::optional<CropWriter> crops;
    if (!images_out.empty()) {
        auto writer = CropWriter::open(images_out, face_options(loaded->config), loaded->config.image);
        if (!writer) return report_error(writer.error(), kExitFatal);
        crops.emplace(std::move(*writer));
    }
    auto written = write_export(**store, *format, out_path, statuses, crops ? &*crops : nullptr);
    if (!written)
        return report_error(make_error(written.error().code, "seke export: " + written.error().message), kExitFatal);
    // Named on stderr (the first few): the summary's count says how many were left out.
    for (const auto& error : written->unreadable_first) report_error(error, kExitPartial);
    nlohmann::ordered_json summary = {{"out", std::filesystem::absolute(out_path).string()},
                                      {"format", format_text},
                                      {"records", written->records},
                                      {"unreadable_records", written->unreadable}};
    std::size_t skipped_crops = 0;
    if (crops) {
        const CropCounts& counts = crops->counts();
        for (const auto& reason : counts.skipped_reasons)
            std::fprintf(stderr, "seke export: skipped-crop %s\n", reason.c_str());
        skipped_crops = counts.skipped;
        add_crop_summary(summary, images_out, counts);
    }
    std::printf("%s\n", summary.dump().c_str());
    return written->unreadable == 0 && skipped_crops == 0 ? kExitOk : kExitPartial;
}

int run_config_command(const std::vector<std::string>& args) {
    bool markdown = false;
    std::vector<std::string> rest_args;
    for (const auto& arg : args) {
        if (arg == "--markdown") markdown = true;
        else rest_args.push_back(arg);
    }
    if (markdown) {
        std::printf("%s", options_markdown().c_str());
        return kExitOk;
    }
    // The effective configuration after file, environment and flags; secrets are blanked.
    auto loaded = load_config(rest_args, process_environment());
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    if (!loaded->rest.empty())
        return report_error(
            make_error(errc::invalid_argument, "seke config: unknown argument \"" + loaded->rest.front() + "\""),
            kExitUsage);
    std::printf("%s", dump_config_json(loaded->config).c_str());
    return kExitOk;
}

}  // namespace seke
