#include "tools/fake_vllm/fake_batch.hpp"

#include <chrono>
#include <ctime>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/fake_vllm/rng.hpp"

namespace seke::fake {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxParts = 16;

FakeReply json_reply(int status, const json& body) {
    FakeReply r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = body.dump();
    return r;
}

FakeReply error_reply(int status, const std::string& message, const std::string& code = {}) {
    json error{{"message", message}, {"type", "invalid_request_error"}, {"param", nullptr}};
    error["code"] = code.empty() ? json(nullptr) : json(code);
    return json_reply(status, {{"error", error}});
}

std::int64_t unix_now() {
    return static_cast<std::int64_t>(std::time(nullptr));
}

// A header parameter's value: name="value" or name=value, within `header`.
std::string header_parameter(std::string_view header, std::string_view name) {
    std::size_t at = 0;
    while ((at = header.find(name, at)) != std::string_view::npos) {
        const bool starts = at == 0 || header[at - 1] == ' ' || header[at - 1] == ';';
        at += name.size();
        if (!starts || at >= header.size() || header[at] != '=') continue;
        ++at;
        if (at < header.size() && header[at] == '"') {
            const auto end = header.find('"', at + 1);
            if (end == std::string_view::npos) return {};
            return std::string(header.substr(at + 1, end - at - 1));
        }
        const auto end = header.find_first_of("; ", at);
        return std::string(header.substr(at, end == std::string_view::npos ? end : end - at));
    }
    return {};
}

struct StoredFile {
    std::string id, purpose, filename, bytes;
    std::int64_t created_at = 0;
};

enum class BatchStatus { validating, in_progress, finalizing, completed, failed, expired, cancelling, cancelled };

const char* status_name(BatchStatus status) {
    switch (status) {
        case BatchStatus::validating: return "validating";
        case BatchStatus::in_progress: return "in_progress";
        case BatchStatus::finalizing: return "finalizing";
        case BatchStatus::completed: return "completed";
        case BatchStatus::failed: return "failed";
        case BatchStatus::expired: return "expired";
        case BatchStatus::cancelling: return "cancelling";
        case BatchStatus::cancelled: return "cancelled";
    }
    return "failed";
}

struct Line {
    std::string custom_id;
    std::string body;  // the chat request body, as JSON text
};

struct Batch {
    std::string id, input_file_id, endpoint, completion_window;
    BatchStatus status = BatchStatus::validating;
    std::vector<Line> lines;
    json errors;  // validation errors: {"object":"list","data":[{code,message,line}]}
    Clock::time_point due{};
    std::int64_t created_at = 0, in_progress_at = 0, completed_at = 0, cancelled_at = 0;
    std::uint64_t ordinal = 0;  // which batch of this desk it is: seeds its failures
    bool answering = false;     // a thread is answering its lines now
    std::string output_file_id, error_file_id;
    std::size_t completed = 0, failed = 0;
};

}  // namespace

std::map<std::string, std::string> parse_multipart(std::string_view content_type, std::string_view body) {
    std::map<std::string, std::string> parts;
    const std::string boundary = header_parameter(content_type, "boundary");
    if (boundary.empty() || boundary.size() > 200) return parts;
    const std::string delimiter = "--" + boundary;
    std::size_t at = body.find(delimiter);
    if (at == std::string_view::npos) return parts;
    std::map<std::string, std::string> found;
    while (found.size() < kMaxParts) {
        at += delimiter.size();
        if (body.substr(at, 2) == "--") return found;  // the closing delimiter
        if (body.substr(at, 2) != "\r\n") return parts;
        at += 2;
        const auto headers_end = body.find("\r\n\r\n", at);
        if (headers_end == std::string_view::npos) return parts;
        const std::string_view headers = body.substr(at, headers_end - at);
        const auto content_start = headers_end + 4;
        const auto next = body.find("\r\n" + delimiter, content_start);
        if (next == std::string_view::npos) return parts;
        std::string name;
        std::size_t line_start = 0;
        while (line_start <= headers.size()) {
            auto line_end = headers.find("\r\n", line_start);
            if (line_end == std::string_view::npos) line_end = headers.size();
            const auto line = headers.substr(line_start, line_end - line_start);
            std::string lower(line.substr(0, std::min<std::size_t>(line.size(), 20)));
            for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (lower.rfind("content-disposition:", 0) == 0) name = header_parameter(line, "name");
            line_start = line_end + 2;
        }
        if (!name.empty()) found[name] = std::string(body.substr(content_start, next - content_start));
        at = next + 2;
    }
    return parts;  // too many parts
}

struct BatchDesk::Impl {
    BatchLimits limits;
    std::uint64_t seed = 1;
    int delay_ms = 0;
    double fail_rate = 0;
    ChatAnswerer answer;

    mutable std::mutex mutex;
    std::map<std::string, StoredFile> files;
    std::map<std::string, Batch> batches;
    std::size_t total_bytes = 0;
    std::uint64_t next_id = 1;
    BatchCounts counts;

    std::string make_id(const char* prefix) { return std::string(prefix) + std::to_string(next_id++); }

    // Under the lock. nullopt: no room.
    std::optional<std::string> store_file(const std::string& purpose, const std::string& filename, std::string bytes) {
        if (files.size() >= limits.max_files || bytes.size() > limits.max_total_bytes - total_bytes)
            return std::nullopt;
        StoredFile file{make_id("file-"), purpose, filename, std::move(bytes), unix_now()};
        total_bytes += file.bytes.size();
        ++counts.files;
        auto id = file.id;
        files.emplace(id, std::move(file));
        return id;
    }

    static json file_object(const StoredFile& f) {
        return {{"id", f.id},
                {"object", "file"},
                {"bytes", f.bytes.size()},
                {"created_at", f.created_at},
                {"filename", f.filename},
                {"purpose", f.purpose}};
    }

    static json batch_object(const Batch& b) {
        auto time_or_null = [](std::int64_t t) { return t > 0 ? json(t) : json(nullptr); };
        return {{"id", b.id},
                {"object", "batch"},
                {"endpoint", b.endpoint},
                {"errors", b.errors},
                {"input_file_id", b.input_file_id},
                {"completion_window", b.completion_window},
                {"status", status_name(b.status)},
                {"output_file_id", b.output_file_id.empty() ? json(nullptr) : json(b.output_file_id)},
                {"error_file_id", b.error_file_id.empty() ? json(nullptr) : json(b.error_file_id)},
                {"created_at", b.created_at},
                {"in_progress_at", time_or_null(b.in_progress_at)},
                {"completed_at", time_or_null(b.completed_at)},
                {"cancelled_at", time_or_null(b.cancelled_at)},
                {"request_counts", {{"total", b.lines.size()}, {"completed", b.completed}, {"failed", b.failed}}},
                {"metadata", nullptr}};
    }

    FakeReply upload(std::string_view content_type, const std::string& body) {
        auto parts = parse_multipart(content_type, body);
        if (parts.empty()) return error_reply(400, "expected a multipart/form-data body with purpose and file");
        if (parts["purpose"] != "batch") return error_reply(400, "purpose must be \"batch\"");
        if (!parts.count("file")) return error_reply(400, "the body has no file part");
        if (parts["file"].size() > limits.max_file_bytes)
            return error_reply(413, "the file is over " + std::to_string(limits.max_file_bytes) + " bytes");
        std::lock_guard lock(mutex);
        auto id = store_file("batch", "input.jsonl", std::move(parts["file"]));
        if (!id) return error_reply(429, "the fake's file space is full", "files_full");
        return json_reply(200, file_object(files.at(*id)));
    }

    // The input lines of `bytes`, or the validation errors OpenAI would give.
    std::vector<Line> read_lines(const std::string& bytes, json& errors) const {
        std::vector<Line> lines;
        json data = json::array();
        std::size_t start = 0, number = 0;
        while (start < bytes.size() && data.size() < 10) {
            auto end = bytes.find('\n', start);
            if (end == std::string::npos) end = bytes.size();
            const std::string text = bytes.substr(start, end - start);
            start = end + 1;
            ++number;
            if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
            auto fail = [&](const std::string& message) {
                data.push_back({{"code", "invalid_request"}, {"message", message}, {"line", number}});
            };
            if (text.size() > limits.max_line_bytes) {
                fail("the line is over " + std::to_string(limits.max_line_bytes) + " bytes");
                continue;
            }
            if (lines.size() >= limits.max_lines) {
                fail("the file has more than " + std::to_string(limits.max_lines) + " requests");
                break;
            }
            auto parsed = json::parse(text, nullptr, false);
            if (parsed.is_discarded() || !parsed.is_object()) {
                fail("the line is not a JSON object");
                continue;
            }
            const auto custom_id = parsed.find("custom_id");
            const auto method = parsed.find("method");
            const auto url = parsed.find("url");
            const auto body = parsed.find("body");
            if (custom_id == parsed.end() || !custom_id->is_string() || custom_id->get<std::string>().empty())
                fail("custom_id must be a non-empty string");
            else if (method == parsed.end() || *method != "POST") fail("method must be \"POST\"");
            else if (url == parsed.end() || *url != "/v1/chat/completions")
                fail("url must be \"/v1/chat/completions\"");
            else if (body == parsed.end() || !body->is_object()) fail("body must be an object");
            else lines.push_back({custom_id->get<std::string>(), body->dump()});
        }
        std::map<std::string, int> seen;
        for (std::size_t i = 0; i < lines.size() && data.size() < 10; ++i)
            if (seen[lines[i].custom_id]++ == 1)
                data.push_back({{"code", "duplicate_custom_id"},
                                {"message", "custom_id \"" + lines[i].custom_id + "\" is used more than once"},
                                {"line", nullptr}});
        if (lines.empty() && data.empty()) data.push_back({{"code", "empty_file"}, {"message", "no requests"}});
        if (!data.empty()) errors = {{"object", "list"}, {"data", std::move(data)}};
        return lines;
    }

    FakeReply create(const std::string& body) {
        auto parsed = json::parse(body, nullptr, false);
        if (parsed.is_discarded() || !parsed.is_object()) return error_reply(400, "request body is not a JSON object");
        const auto input = parsed.find("input_file_id");
        const auto endpoint = parsed.find("endpoint");
        const auto window = parsed.find("completion_window");
        if (input == parsed.end() || !input->is_string()) return error_reply(400, "input_file_id is required");
        if (endpoint == parsed.end() || *endpoint != "/v1/chat/completions")
            return error_reply(400, "endpoint must be \"/v1/chat/completions\"");
        if (window == parsed.end() || *window != "24h") return error_reply(400, "completion_window must be \"24h\"");
        std::lock_guard lock(mutex);
        const auto file = files.find(input->get<std::string>());
        if (file == files.end()) return error_reply(404, "no file " + input->get<std::string>(), "not_found");
        if (file->second.purpose != "batch") return error_reply(400, "the input file's purpose is not batch");
        Batch batch;
        batch.id = make_id("batch_");
        batch.input_file_id = file->second.id;
        batch.endpoint = "/v1/chat/completions";
        batch.completion_window = "24h";
        batch.created_at = unix_now();
        batch.due = Clock::now() + std::chrono::milliseconds(delay_ms);
        batch.ordinal = counts.batches++;
        batch.lines = read_lines(file->second.bytes, batch.errors);
        if (!batch.errors.is_null()) {
            batch.status = BatchStatus::failed;
            batch.lines.clear();
        }
        auto id = batch.id;
        auto [it, inserted] = batches.emplace(id, std::move(batch));
        return json_reply(200, batch_object(it->second));
    }

    // The output and error lines of a batch whose time has come; outside the lock (the model is slow).
    void answer_lines(const std::vector<Line>& lines, std::uint64_t ordinal, std::string& output, std::string& errors,
                      std::size_t& completed, std::size_t& failed) const {
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const auto& line = lines[i];
            const std::string request_id = "req_" + std::to_string(ordinal) + "_" + std::to_string(i);
            json out{{"id", "batch_req_" + std::to_string(ordinal) + "_" + std::to_string(i)},
                     {"custom_id", line.custom_id}};
            Rng rng(hash_combine({seed, hash_string("batch-line"), ordinal, static_cast<std::uint64_t>(i)}));
            if (rng.chance(fail_rate)) {
                ++failed;
                if (rng.chance(0.5)) {
                    out["response"] = nullptr;
                    out["error"] = {{"code", "server_error"}, {"message", "the line failed (fake)"}};
                    errors += out.dump() + "\n";
                } else {
                    out["response"] = {
                        {"status_code", 500},
                        {"request_id", request_id},
                        {"body", {{"error", {{"message", "the line failed (fake)"}, {"type", "server_error"}}}}}};
                    out["error"] = nullptr;
                    output += out.dump() + "\n";
                }
                continue;
            }
            FakeReply reply = answer(line.body);
            const int status = reply.hang ? 500 : reply.status;
            auto body = json::parse(reply.body, nullptr, false);
            if (body.is_discarded()) body = {{"error", {{"message", "no answer"}, {"type", "server_error"}}}};
            out["response"] = {{"status_code", status}, {"request_id", request_id}, {"body", std::move(body)}};
            out["error"] = nullptr;
            if (status == 200) ++completed;
            else ++failed;
            output += out.dump() + "\n";
        }
    }

    // Moves `id` on as time says; answers its lines once they are due. Takes the lock itself.
    void advance(const std::string& id) {
        std::vector<Line> lines;
        std::uint64_t ordinal = 0;
        {
            std::lock_guard lock(mutex);
            auto it = batches.find(id);
            if (it == batches.end()) return;
            Batch& b = it->second;
            if (b.status == BatchStatus::validating) {
                b.status = BatchStatus::in_progress;
                b.in_progress_at = unix_now();
            }
            if (b.status != BatchStatus::in_progress || b.answering || Clock::now() < b.due) return;
            b.answering = true;
            lines = b.lines;
            ordinal = b.ordinal;
        }
        std::string output, errors;
        std::size_t completed = 0, failed = 0;
        answer_lines(lines, ordinal, output, errors, completed, failed);
        std::lock_guard lock(mutex);
        Batch& b = batches.at(id);
        b.answering = false;
        if (b.status != BatchStatus::in_progress) return;  // cancelled meanwhile: the answers are dropped
        b.completed = completed;
        b.failed = failed;
        counts.lines += completed;
        counts.failed_lines += failed;
        auto out_id = store_file("batch_output", "output.jsonl", std::move(output));
        auto err_id = errors.empty() ? std::optional<std::string>(std::string())
                                     : store_file("batch_output", "errors.jsonl", std::move(errors));
        if (!out_id || !err_id) {
            b.status = BatchStatus::failed;
            b.errors = {{"object", "list"},
                        {"data", {{{"code", "files_full"}, {"message", "no room for the output"}}}}};
            return;
        }
        b.output_file_id = *out_id;
        b.error_file_id = *err_id;
        b.status = BatchStatus::completed;
        b.completed_at = unix_now();
    }

    FakeReply status(const std::string& id) {
        advance(id);
        std::lock_guard lock(mutex);
        auto it = batches.find(id);
        if (it == batches.end()) return error_reply(404, "no batch " + id, "not_found");
        return json_reply(200, batch_object(it->second));
    }

    FakeReply cancel(const std::string& id) {
        std::lock_guard lock(mutex);
        auto it = batches.find(id);
        if (it == batches.end()) return error_reply(404, "no batch " + id, "not_found");
        Batch& b = it->second;
        if (b.status == BatchStatus::validating || b.status == BatchStatus::in_progress) {
            b.status = BatchStatus::cancelled;
            b.cancelled_at = unix_now();
            ++counts.cancelled;
        }
        return json_reply(200, batch_object(b));
    }

    FakeReply content(const std::string& id) {
        std::lock_guard lock(mutex);
        auto it = files.find(id);
        if (it == files.end()) return error_reply(404, "no file " + id, "not_found");
        FakeReply r;
        r.status = 200;
        r.headers.emplace_back("Content-Type", "application/octet-stream");
        r.body = it->second.bytes;
        return r;
    }
};

BatchDesk::BatchDesk(BatchLimits limits, std::uint64_t seed, int delay_ms, double fail_rate, ChatAnswerer answer)
    : impl_(std::make_unique<Impl>()) {
    impl_->limits = limits;
    impl_->seed = seed;
    impl_->delay_ms = delay_ms;
    impl_->fail_rate = fail_rate;
    impl_->answer = std::move(answer);
}

BatchDesk::~BatchDesk() = default;

bool BatchDesk::routes(std::string_view path) {
    return path.rfind("/v1/files", 0) == 0 || path.rfind("/v1/batches", 0) == 0;
}

FakeReply BatchDesk::handle(std::string_view method, std::string_view path, std::string_view content_type,
                            const std::string& body) {
    try {
        const bool post = method == "POST", get = method == "GET";
        if (path == "/v1/files") return post ? impl_->upload(content_type, body) : error_reply(405, "use POST");
        if (path == "/v1/batches") return post ? impl_->create(body) : error_reply(405, "use POST");
        constexpr std::string_view files = "/v1/files/", batches = "/v1/batches/";
        if (path.rfind(files, 0) == 0) {
            auto rest = path.substr(files.size());
            constexpr std::string_view tail = "/content";
            if (rest.size() > tail.size() && rest.substr(rest.size() - tail.size()) == tail && get)
                return impl_->content(std::string(rest.substr(0, rest.size() - tail.size())));
        }
        if (path.rfind(batches, 0) == 0) {
            auto rest = path.substr(batches.size());
            constexpr std::string_view tail = "/cancel";
            if (rest.size() > tail.size() && rest.substr(rest.size() - tail.size()) == tail && post)
                return impl_->cancel(std::string(rest.substr(0, rest.size() - tail.size())));
            if (!rest.empty() && rest.find('/') == std::string_view::npos && get)
                return impl_->status(std::string(rest));
        }
        return error_reply(404, "no route " + std::string(path), "not_found");
    } catch (const std::exception& e) {
        return json_reply(500, {{"error", {{"message", std::string("fake server bug: ") + e.what()}}}});
    }
}

BatchCounts BatchDesk::counts() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->counts;
}

}  // namespace seke::fake
