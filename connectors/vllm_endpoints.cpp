#include "connectors/vllm_endpoints.hpp"

#include <algorithm>
#include <cctype>

#include "connectors/url_origin.hpp"
#include "verify/text.hpp"

namespace seke {
namespace {

std::vector<std::string> split(std::string_view text, char separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        auto end = text.find(separator, start);
        parts.push_back(trim(text.substr(start, end == std::string_view::npos ? end : end - start)));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

bool variable_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::optional<int> concurrency_value(const std::string& text) {
    if (text.empty() || text.size() > 4 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        return std::nullopt;
    int value = std::stoi(text);
    if (value < 1 || value > kMaxEndpointConcurrency) return std::nullopt;
    return value;
}

}  // namespace

std::string endpoint_label(const std::string& base_url) {
    std::string label = redact_url(base_url);
    while (!label.empty() && label.back() == '/') label.pop_back();
    return label;
}

Result<std::vector<VllmEndpoint>> parse_endpoints(std::string_view spec, int default_concurrency,
                                                  const std::string& default_key, const EnvLookup& env) {
    std::vector<VllmEndpoint> endpoints;
    if (trim(spec).empty()) return endpoints;
    const auto entries = split(spec, ',');
    std::vector<std::string> labels;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        auto parts = split(entries[i], '|');
        const std::string& url = parts.front();
        // The URL only: a setting that is not name=value may be a pasted key.
        auto fail = [&](const std::string& why) -> Error {
            std::string where = "\"" + endpoint_label(url) + "\"";
            if (entries.size() > 1)
                where += " (entry " + std::to_string(i + 1) + " of " + std::to_string(entries.size()) + ")";
            return make_error(errc::config_error, where + ": " + why);
        };
        if (entries[i].empty()) return fail("empty entry");
        if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
            return fail("must start with http:// or https://");
        if (!parse_origin(url)) return fail("not a URL");
        VllmEndpoint endpoint{url, default_concurrency, default_key};
        bool concurrency_set = false;
        bool key_set = false;
        for (std::size_t s = 1; s < parts.size(); ++s) {
            const std::string& setting = parts[s];
            auto eq = setting.find('=');
            if (eq == std::string::npos)
                return fail("setting " + std::to_string(s) + " is not name=value (concurrency=N, key=env:NAME)");
            const std::string name = trim(setting.substr(0, eq));
            const std::string value = trim(setting.substr(eq + 1));
            if (name == "concurrency") {
                auto parsed = concurrency_value(value);
                if (!parsed)
                    return fail("concurrency \"" + value.substr(0, 20) + "\" must be a whole number from 1 to " +
                                std::to_string(kMaxEndpointConcurrency));
                if (concurrency_set) return fail("concurrency is given twice");
                concurrency_set = true;
                endpoint.max_concurrency = *parsed;
            } else if (name == "key") {
                if (key_set) return fail("key is given twice");
                key_set = true;
                if (value == "none") {
                    endpoint.api_key.clear();
                    continue;
                }
                // A key itself in the list would show in `seke config` and in errors: only a reference.
                if (value.rfind("env:", 0) != 0 || !variable_name(value.substr(4)))
                    return fail("key must be env:NAME (an environment variable holding the key) or none");
                const std::string variable = value.substr(4);
                auto found = env ? env(variable) : std::nullopt;
                if (!found || found->empty()) return fail("key=env:" + variable + ": the variable is not set");
                endpoint.api_key = *found;
            } else {
                return fail("unknown setting \"" + name.substr(0, 40) + "\" (concurrency, key)");
            }
        }
        std::string label = endpoint_label(url);
        if (auto same = std::find(labels.begin(), labels.end(), label); same != labels.end())
            return fail("the same endpoint as entry " + std::to_string(same - labels.begin() + 1));
        labels.push_back(std::move(label));
        endpoints.push_back(std::move(endpoint));
    }
    return endpoints;
}

}  // namespace seke
