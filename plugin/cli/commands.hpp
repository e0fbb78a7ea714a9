#pragma once
// The `seke` command line: one function per subcommand, from arguments to an exit code.
#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "verify/errors.hpp"

namespace seke {

// Exit codes every subcommand shares.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFatal = 1;    // store, knowledge or another resource unusable
inline constexpr int kExitUsage = 2;    // bad flags, config or input path
inline constexpr int kExitPartial = 3;  // finished, but some items failed or were rejected
inline constexpr int kExitCapped = 4;   // seke label stopped at cost.max_cost or cost.max_requests
// seke label --batch-out/--batch-in wrote a round's requests and stopped: run them, then --batch-in.
inline constexpr int kExitBatchWritten = 5;
inline constexpr int kExitInterrupted = 130;

int run_label_command(const std::vector<std::string>& args);
int run_export_command(const std::vector<std::string>& args);
int run_config_command(const std::vector<std::string>& args);
int run_serve_command(const std::vector<std::string>& args);
int run_label_config_command(const std::vector<std::string>& args);
int run_fit_command(const std::vector<std::string>& args);
int run_cvat_command(const std::vector<std::string>& args);
int run_feab_command(const std::vector<std::string>& args);
int run_import_command(const std::vector<std::string>& args);
int run_feid_command(const std::vector<std::string>& args);

// Ctrl-C and SIGTERM from here on set the returned flag, which asks the running command to stop
// cleanly; a second one ends the process at once.
const std::atomic<bool>& stop_on_interrupt();

// The value of `flag` at args[i], written "--flag VALUE" (i then moves past VALUE) or
// "--flag=VALUE"; nullopt when args[i] is another argument.
std::optional<std::string> flag_value(const std::vector<std::string>& args, std::size_t& i, const std::string& flag);

// Prints {"error": {"code": ..., "message": ...}} on stderr; returns `exit_code`.
int report_error(const Error& error, int exit_code);

}  // namespace seke
