#pragma once
// Structured JSON log lines on stderr: one object per line, so `jq` and log shippers read them
// as they are. Thread-safe; a line is written whole, never interleaved. A server logs buffered:
// lines are written in batches by a writer thread, so a request does not wait on stderr.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

namespace seke::server {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

std::string_view log_level_name(LogLevel level) noexcept;
// "debug", "info", "warn"/"warning", "error", "off" (case-insensitive); false when unknown.
bool parse_log_level(std::string_view text, LogLevel& level) noexcept;

class Logger {
  public:
    using Sink = std::function<void(const std::string& line)>;  // the line, without '\n'

    // Buffered lines are written at least this often, and at once when this many bytes wait.
    static constexpr auto kFlushInterval = std::chrono::milliseconds(50);
    static constexpr std::size_t kFlushBytes = 64u << 10;
    // Lines that would make the waiting batch larger than this are dropped (and counted in a
    // line of their own): a stalled stderr must not grow the process without bound.
    static constexpr std::size_t kMaxBufferedBytes = 8u << 20;

    Logger() = default;
    ~Logger();  // writes what is buffered
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    void set_level(LogLevel level) noexcept;
    [[nodiscard]] LogLevel level() const noexcept;
    [[nodiscard]] bool enabled(LogLevel level) const noexcept;
    // Replaces stderr (tests capture lines this way, unbuffered); an empty sink restores stderr.
    void set_sink(Sink sink);
    // On: debug and info lines to stderr are batched by a writer thread (at most kFlushInterval
    // late; lost on kill -9); a warning or an error writes the batch and itself at once. Off
    // (the default): every line is written as it is logged.
    void set_buffered(bool on);
    // Writes what is buffered now.
    void flush() noexcept;

    // {"ts":"2024-05-01T12:00:00.123Z","level":"info","component":"http","request_id":"..",
    //  "msg":"..", ...fields}. `fields` must be an object (anything else is stored under "fields");
    // it cannot override ts/level/component/request_id/msg. Never throws.
    void log(LogLevel level, std::string_view component, std::string_view msg,
             const nlohmann::json& fields = nlohmann::json::object(), std::string_view request_id = {}) noexcept;
    // A line formatted by the caller: log_line_head(...), its fields, and the closing '}' (no
    // '\n'). Written as log() writes (level filter, sink, buffering). Never throws.
    void write_line(LogLevel level, std::string line) noexcept;

  private:
    void write_batch(const std::string& batch) noexcept;  // under write_mutex_
    // Under write_mutex_: what waits, and a line counting the lines dropped since the last batch.
    std::string take_pending();
    // A written batch's buffer, kept to take the next lines without growing again.
    void recycle(std::string batch);
    void run_writer();

    std::atomic<LogLevel> level_{LogLevel::info};
    std::mutex write_mutex_;  // held while a batch goes to stderr: batches keep their order
    std::mutex mutex_;        // guards what follows
    Sink sink_;
    bool buffered_ = false;
    bool stop_writer_ = false;
    std::string pending_;
    std::string spare_;          // an empty buffer with room, for pending_ after a take
    bool writer_woken_ = false;  // told to flush and not yet there: tell it once
    std::size_t dropped_ = 0;
    std::condition_variable wake_writer_;
    std::thread writer_;
};

// The process-wide logger the server writes to.
Logger& logger();

// RFC 3339 UTC time with milliseconds, e.g. "2024-05-01T12:00:00.123Z".
std::string utc_timestamp();

// The start of every log line, without its closing brace:
// {"ts":"…","level":"info","component":"http","request_id":"…","msg":"…"
std::string log_line_head(LogLevel level, std::string_view component, std::string_view msg,
                          std::string_view request_id);
// Appends `text` as a JSON string literal; bytes that are not UTF-8 become U+FFFD.
void append_json_string(std::string& out, std::string_view text);

// True for header or field names that carry credentials: Authorization, Proxy-Authorization,
// Cookie, Set-Cookie, and names mentioning api-key/apikey/token/secret/password/session.
bool is_sensitive_name(std::string_view name) noexcept;
// "[redacted]" for a sensitive name; otherwise the value, unless it looks like a credential
// ("Bearer …", "Basic …", "Token …" keep the scheme and lose the rest).
std::string redact(std::string_view name, std::string_view value);
// A JSON object of the headers with every credential redacted, for debug logging.
nlohmann::json redacted_headers(const std::map<std::string, std::string>& headers);

}  // namespace seke::server
