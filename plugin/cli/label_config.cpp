// `seke label-config`: the shipped labeling configs, and `--check FILE`: what seke fills of a
// project's own config, with the options (label_studio.controls.*) taken into account.
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "plugin/cli/commands.hpp"
#include "plugin/config/config.hpp"
#include "plugin/label_studio/label_config.hpp"
#include "plugin/labeling/model_setup.hpp"

namespace seke {
namespace {

Result<std::string> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::not_found, "cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Prints the report; 0 when every control is filled, 3 when some are not or an option names
// none, 2 when seke can fill nothing.
int check_config(const Config& config, const std::string& path) {
    auto xml = read_text(path);
    if (!xml)
        return report_error(make_error(errc::not_found, "seke label-config --check: " + xml.error().message),
                            kExitUsage);
    auto setup = load_model_setup(config);
    if (!setup) return report_error(setup.error(), kExitUsage);
    auto overrides = label_studio::control_overrides(config.label_studio_controls);
    if (!overrides) return report_error(overrides.error(), kExitUsage);
    auto parsed = label_studio::parse_label_config(*xml, setup->knowledge, *overrides);
    if (!parsed) return report_error(parsed.error(), kExitUsage);
    nlohmann::json report = label_studio::control_report_json(*parsed);
    std::printf("%s\n", report.dump(2).c_str());
    if (!parsed->applicable()) {
        std::fprintf(stderr, "%s\n", label_studio::unusable_message(*parsed).c_str());
        return kExitUsage;
    }
    return report["unfilled"].empty() && report["problems"].empty() ? kExitOk : kExitPartial;
}

}  // namespace

int run_label_config_command(const std::vector<std::string>& args) {
    auto loaded = load_config(args, process_environment());
    if (!loaded) return report_error(loaded.error(), kExitUsage);
    std::string which = "faces";
    std::string check;
    const auto& rest = loaded->rest;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        if (auto file = flag_value(rest, i, "--check")) check = *file;
        else if (rest[i] == "--whole-image") which = "faces-whole-image";
        else if (rest[i] == "--per-face") which = "faces";
        else
            return report_error(
                make_error(errc::invalid_argument, "seke label-config: unknown argument \"" + rest[i] +
                                                       "\" (use --per-face, --whole-image or --check FILE)"),
                kExitUsage);
    }
    if (!check.empty()) return check_config(loaded->config, check);
    auto text = read_text(data_dir() + "/config/label_studio/" + which + ".xml");
    if (!text)
        return report_error(make_error(errc::not_found, "seke label-config: " + text.error().message), kExitFatal);
    std::printf("%s", text->c_str());
    return kExitOk;
}

}  // namespace seke
