#include "plugin/server/log.hpp"
#include "verify/text.hpp"

#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace seke::server {

namespace {}  // namespace

std::string_view log_level_name(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warn: return "warn";
        case LogLevel::error: return "error";
        case LogLevel::off: return "off";
    }
    return "info";
}

bool parse_log_level(std::string_view text, LogLevel& level) noexcept {
    std::string name = to_lower(text);
    if (name == "debug") level = LogLevel::debug;
    else if (name == "info") level = LogLevel::info;
    else if (name == "warn" || name == "warning") level = LogLevel::warn;
    else if (name == "error") level = LogLevel::error;
    else if (name == "off" || name == "none") level = LogLevel::off;
    else return false;
    return true;
}

void Logger::set_level(LogLevel level) noexcept {
    level_ = level;
}

LogLevel Logger::level() const noexcept {
    return level_.load(std::memory_order_relaxed);
}

bool Logger::enabled(LogLevel level) const noexcept {
    return level != LogLevel::off && static_cast<int>(level) >= static_cast<int>(this->level());
}

void Logger::set_sink(Sink sink) {
    flush();
    std::lock_guard lock(mutex_);
    sink_ = std::move(sink);
}

Logger::~Logger() {
    set_buffered(false);
}

void Logger::set_buffered(bool on) {
    std::thread stopped;
    {
        std::lock_guard lock(mutex_);
        if (on == buffered_) return;
        buffered_ = on;
        if (on) {
            stop_writer_ = false;
            writer_ = std::thread([this] { run_writer(); });
        } else {
            stop_writer_ = true;
            stopped = std::move(writer_);
        }
    }
    wake_writer_.notify_all();
    if (stopped.joinable()) stopped.join();
    flush();
}

void Logger::run_writer() {
    std::unique_lock lock(mutex_);
    while (!stop_writer_) {
        wake_writer_.wait_for(lock, kFlushInterval, [this] { return stop_writer_ || pending_.size() >= kFlushBytes; });
        lock.unlock();
        flush();
        lock.lock();
    }
}

void Logger::flush() noexcept {
    std::lock_guard write_lock(write_mutex_);
    std::string batch = take_pending();
    write_batch(batch);
    recycle(std::move(batch));
}

std::string Logger::take_pending() {
    std::lock_guard lock(mutex_);
    std::string batch;
    batch.swap(pending_);
    pending_.swap(spare_);
    writer_woken_ = false;
    if (dropped_ > 0) {
        batch += log_line_head(LogLevel::warn, "log", "log lines dropped", {}) + R"(,"dropped":)" +
                 std::to_string(dropped_) + "}\n";
        dropped_ = 0;
    }
    return batch;
}

void Logger::recycle(std::string batch) {
    // Only a buffer of the usual size: one grown by a burst is let go.
    if (batch.capacity() > 4 * kFlushBytes) return;
    batch.clear();
    std::lock_guard lock(mutex_);
    if (spare_.capacity() < batch.capacity()) spare_.swap(batch);
}

void Logger::write_batch(const std::string& batch) noexcept {
    if (batch.empty()) return;
    std::fwrite(batch.data(), 1, batch.size(), stderr);
    std::fflush(stderr);
}

void Logger::log(LogLevel level, std::string_view component, std::string_view msg, const nlohmann::json& fields,
                 std::string_view request_id) noexcept {
    if (!enabled(level)) return;
    try {
        std::string line = log_line_head(level, component, msg, request_id);
        auto fixed = [](const std::string& key) {
            return key == "ts" || key == "level" || key == "component" || key == "msg";
        };
        auto add = [&line](std::string_view key, const nlohmann::json& value) {
            line += ',';
            append_json_string(line, key);
            line += ':';
            // Bytes from the network may be invalid UTF-8: replace them rather than throw.
            line += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        };
        if (fields.is_object()) {
            for (const auto& [key, value] : fields.items())
                if (!fixed(key) && !(key == "request_id" && !request_id.empty())) add(key, value);
        } else if (!fields.is_null()) {
            add("fields", fields);
        }
        line += '}';
        write_line(level, std::move(line));
    } catch (...) {
        // Logging must never take a request down.
    }
}

void Logger::write_line(LogLevel level, std::string line) noexcept {
    if (!enabled(level)) return;
    try {
        line.push_back('\n');
        {
            std::lock_guard lock(mutex_);
            if (sink_) {
                line.pop_back();
                return sink_(line);
            }
            if (buffered_ && level < LogLevel::warn) {
                if (pending_.size() + line.size() > kMaxBufferedBytes) ++dropped_;
                else pending_ += line;
                if (pending_.size() >= kFlushBytes && !writer_woken_) {
                    writer_woken_ = true;
                    wake_writer_.notify_one();
                }
                return;
            }
        }
        // Unbuffered, or a warning or worse: what waits goes first, then this line, at once.
        std::lock_guard write_lock(write_mutex_);
        std::string batch = take_pending();
        batch += line;
        write_batch(batch);
        recycle(std::move(batch));
    } catch (...) {
        // Logging must never take a request down.
    }
}

std::string log_line_head(LogLevel level, std::string_view component, std::string_view msg,
                          std::string_view request_id) {
    std::string line;
    line.reserve(256);
    line += R"({"ts":")";
    line += utc_timestamp();
    line += R"(","level":")";
    line += log_level_name(level);
    line += R"(","component":)";
    append_json_string(line, component);
    if (!request_id.empty()) {
        line += R"(,"request_id":)";
        append_json_string(line, request_id);
    }
    line += R"(,"msg":)";
    append_json_string(line, msg);
    return line;
}

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    std::size_t i = 0;
    while (i < text.size()) {
        // Most text needs no escape: copy each such run whole.
        std::size_t run = i;
        while (run < text.size()) {
            auto c = static_cast<unsigned char>(text[run]);
            if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
            ++run;
        }
        out.append(text.data() + i, run - i);
        i = run;
        if (i == text.size()) break;
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            std::size_t length = utf8_sequence_length(text.substr(i));
            if (length == 0) {
                out += "\xEF\xBF\xBD";  // U+FFFD
                ++i;
            } else {
                out.append(text.substr(i, length));
                i += length;
            }
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out += kHex[c >> 4];
                out += kHex[c & 0xF];
        }
        ++i;
    }
    out += '"';
}

Logger& logger() {
    static Logger instance;
    return instance;
}

std::string utc_timestamp() {
    auto now = std::chrono::system_clock::now();
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    // The seconds part is formatted once a second per thread, not once a line.
    thread_local std::time_t formatted_second = -1;
    thread_local std::array<char, 24> seconds_text{};
    thread_local std::size_t seconds_length = 0;
    if (seconds != formatted_second) {
        std::tm tm{};
        gmtime_r(&seconds, &tm);
        seconds_length = std::strftime(seconds_text.data(), seconds_text.size(), "%Y-%m-%dT%H:%M:%S", &tm);
        formatted_second = seconds;
    }
    std::string out(seconds_text.data(), seconds_length);
    out += '.';
    out += static_cast<char>('0' + millis / 100);
    out += static_cast<char>('0' + millis / 10 % 10);
    out += static_cast<char>('0' + millis % 10);
    out += 'Z';
    return out;
}

bool is_sensitive_name(std::string_view name) noexcept {
    std::string key = to_lower(name);
    if (key == "authorization" || key == "proxy-authorization" || key == "cookie" || key == "set-cookie") return true;
    for (std::string_view word : {"api-key", "api_key", "apikey", "token", "secret", "password", "passwd", "session"})
        if (key.find(word) != std::string::npos) return true;
    return false;
}

std::string redact(std::string_view name, std::string_view value) {
    if (is_sensitive_name(name)) return "[redacted]";
    std::string head = to_lower(value.substr(0, 7));
    for (std::string_view scheme : {"bearer ", "basic ", "token "})
        if (head.starts_with(scheme)) return std::string(value.substr(0, scheme.size())) + "[redacted]";
    return std::string(value);
}

nlohmann::json redacted_headers(const std::map<std::string, std::string>& headers) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, value] : headers) out[name] = redact(name, value);
    return out;
}

}  // namespace seke::server
