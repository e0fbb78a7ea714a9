#pragma once
// Structured JSON log lines on stderr: one object per line, so `jq` and log shippers read them
// as they are. Thread-safe; a line is written with one call under a lock, never interleaved.
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace seke::server {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

std::string_view log_level_name(LogLevel level) noexcept;
// "debug", "info", "warn"/"warning", "error", "off" (case-insensitive); false when unknown.
bool parse_log_level(std::string_view text, LogLevel& level) noexcept;

class Logger {
  public:
    using Sink = std::function<void(const std::string& line)>;  // the line, without '\n'

    Logger() = default;
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    void set_level(LogLevel level) noexcept;
    [[nodiscard]] LogLevel level() const noexcept;
    [[nodiscard]] bool enabled(LogLevel level) const noexcept;
    // Replaces stderr (tests capture lines this way); an empty sink restores stderr.
    void set_sink(Sink sink);

    // {"ts":"2024-05-01T12:00:00.123Z","level":"info","component":"http","request_id":"..",
    //  "msg":"..", ...fields}. `fields` must be an object (anything else is stored under "fields");
    // it cannot override ts/level/component/request_id/msg. Never throws.
    void log(LogLevel level, std::string_view component, std::string_view msg,
             const nlohmann::json& fields = nlohmann::json::object(), std::string_view request_id = {}) noexcept;

  private:
    mutable std::mutex mutex_;
    LogLevel level_ = LogLevel::info;
    Sink sink_;
};

// The process-wide logger the server writes to.
Logger& logger();

// RFC 3339 UTC time with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
std::string utc_timestamp();

// True for header or field names that carry credentials: Authorization, Proxy-Authorization,
// Cookie, Set-Cookie, and names mentioning api-key/apikey/token/secret/password/session.
bool is_sensitive_name(std::string_view name) noexcept;
// "[redacted]" for a sensitive name; otherwise the value, unless it looks like a credential
// ("Bearer …", "Basic …", "Token …" keep the scheme and lose the rest).
std::string redact(std::string_view name, std::string_view value);
// A JSON object of the headers with every credential redacted, for debug logging.
nlohmann::json redacted_headers(const std::map<std::string, std::string>& headers);

}  // namespace seke::server
