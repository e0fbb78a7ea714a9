// seke's config file (config/config.*): any text applies cleanly or is a config_error, and so
// does its endpoint list; a config that applies and validates dumps to JSON that applies again
// to the same dump.
#include "fuzz/fuzz_support.hpp"
#include "plugin/config/config.hpp"

using namespace seke;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Config config;
    auto applied = apply_config_text(config, fuzz::as_text(data, size), "fuzz.json");
    if (!applied) {
        SEKE_FUZZ_CHECK(applied.error().code == errc::config_error);
        return 0;
    }
    // The endpoint list too: any base_url parses or is a config_error.
    if (auto resolved = resolve_endpoints(config, {{"FUZZ_KEY", "k"}}); !resolved) {
        SEKE_FUZZ_CHECK(resolved.error().code == errc::config_error);
        return 0;
    }
    if (!validate(config)) return 0;
    const std::string dumped = dump_config_json(config);
    Config again;
    auto reapplied = apply_config_text(again, dumped, "dump.json");
    SEKE_FUZZ_CHECK(reapplied.ok());
    SEKE_FUZZ_CHECK(dump_config_json(again) == dumped);
    return 0;
}
