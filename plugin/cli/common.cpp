#include <cstdio>

#include <nlohmann/json.hpp>

#include "plugin/cli/commands.hpp"

namespace seke {

int report_error(const Error& error, int exit_code) {
    nlohmann::json body = {{"error", {{"code", errc_name(error.code)}, {"message", error.message}}}};
    std::fprintf(stderr, "%s\n", body.dump().c_str());
    return exit_code;
}

}  // namespace seke
