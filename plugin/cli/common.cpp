#include <csignal>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "plugin/cli/commands.hpp"
#include "plugin/server/log.hpp"

namespace seke {
namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) {
    g_stop.store(true);
    // A second Ctrl-C ends the process at once; the first one stops cleanly.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
}

}  // namespace

const std::atomic<bool>& stop_on_interrupt() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    return g_stop;
}

std::optional<std::string> flag_value(const std::vector<std::string>& args, std::size_t& i, const std::string& flag) {
    if (args[i] == flag && i + 1 < args.size()) return args[++i];
    if (args[i].rfind(flag + "=", 0) == 0) return args[i].substr(flag.size() + 1);
    return std::nullopt;
}

int report_error(const Error& error, int exit_code) {
    nlohmann::json body = {{"error", {{"code", errc_name(error.code)}, {"message", error.message}}}};
    server::logger().flush();  // after the log lines that led here
    std::fprintf(stderr, "%s\n", body.dump().c_str());
    return exit_code;
}

}  // namespace seke
