#include "connectors/vllm_batch.hpp"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "connectors/curl_easy.hpp"
#include "connectors/vllm_client.hpp"
#include "verify/text.hpp"

namespace seke {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxErrorText = 300;

std::string bounded(std::string text) {
    if (text.size() > kMaxErrorText) {
        text.resize(kMaxErrorText);
        text += "...";
    }
    return text;
}

// message.content as text: a string, an array of text parts, or "" (null, refusal, absent) so
// that the engine counts the sample as malformed and the number of samples stays right.
std::string choice_content(const json& choice) {
    if (!choice.is_object()) return {};
    auto message = choice.find("message");
    if (message == choice.end() || !message->is_object()) return {};
    auto content = message->find("content");
    if (content == message->end()) return {};
    if (content->is_string()) return content->get<std::string>();
    if (content->is_array()) {
        std::string text;
        for (const auto& part : *content)
            if (part.is_object() && part.contains("text") && part["text"].is_string())
                text += part["text"].get<std::string>();
        return text;
    }
    return {};
}

json parse_bounded(std::string_view text) {
    return json_depth_within(text) ? json::parse(text, nullptr, false) : json(json::value_t::discarded);
}

// An error object's message ({"message": ...}, also inside {"error": ...} a few levels down), or
// the whole value's text, bounded.
std::string error_text(const json& error) {
    constexpr int kMaxNesting = 8;
    const json* at = &error;
    for (int level = 0; level < kMaxNesting && at->is_object(); ++level) {
        if (auto m = at->find("message"); m != at->end() && m->is_string()) return bounded(m->get<std::string>());
        auto e = at->find("error");
        if (e == at->end()) break;
        at = &*e;
    }
    if (at->is_string()) return bounded(at->get<std::string>());
    return bounded(at->dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string string_field(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Provider ids go into URL paths: letters, digits, '-', '_' and '.' only, bounded.
bool id_safe(const std::string& id) {
    if (id.empty() || id.size() > 200) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
}

int progress_abort(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* flag = static_cast<const std::atomic<bool>*>(stop);
    return flag && flag->load() ? 1 : 0;
}

}  // namespace

std::optional<Completion> read_completion(const json& body, int n) {
    if (!body.is_object()) return std::nullopt;
    auto choices = body.find("choices");
    if (choices == body.end() || !choices->is_array()) return std::nullopt;
    Completion completion;
    for (const auto& choice : *choices) {
        if (static_cast<int>(completion.contents.size()) >= n) break;
        completion.contents.push_back(choice_content(choice));
    }
    if (auto usage = body.find("usage"); usage != body.end()) completion.usage = read_usage(*usage);
    return completion;
}

std::string batch_request_line(const std::string& custom_id, const std::string& body) {
    return R"({"custom_id":)" + json(custom_id).dump() + R"(,"method":"POST","url":"/v1/chat/completions","body":)" +
           body + "}";
}

std::optional<BatchLineResult> parse_batch_output_line(std::string_view line, int n) {
    const json parsed = parse_bounded(line);
    if (!parsed.is_object()) return std::nullopt;
    const std::string custom_id = string_field(parsed, "custom_id");
    if (custom_id.empty() || custom_id.size() > kMaxCustomIdBytes) return std::nullopt;
    BatchLineResult result;
    result.custom_id = custom_id;
    if (auto error = parsed.find("error"); error != parsed.end() && !error->is_null()) {
        result.error = "the batch line failed: " + error_text(*error);
        return result;
    }
    auto response = parsed.find("response");
    if (response == parsed.end() || !response->is_object()) {
        result.error = "the batch line has no response";
        return result;
    }
    auto status = response->find("status_code");
    if (status == response->end() || !status->is_number_integer()) {
        result.error = "the batch line's response has no status_code";
        return result;
    }
    auto body = response->find("body");
    if (status->get<std::int64_t>() != 200) {
        result.error = "the batch line answered HTTP " + std::to_string(status->get<std::int64_t>()) +
                       (body != response->end() ? ": " + error_text(*body) : std::string());
        return result;
    }
    if (body == response->end()) {
        result.error = "the batch line's response has no body";
        return result;
    }
    // vLLM's runner writes the body as an object; some proxies as its text.
    const json completion_body = body->is_string() ? parse_bounded(body->get<std::string>()) : *body;
    result.answer = read_completion(completion_body, std::max(1, n));
    if (!result.answer) result.error = "the batch line's body is not a chat completion";
    return result;
}

std::optional<std::string> batch_request_custom_id(std::string_view line) {
    // Request lines carry images: only the opening is read (custom_id is written first).
    const auto start = line.find("\"custom_id\"");
    if (start == std::string_view::npos || start > 64) return std::nullopt;
    const auto colon = line.find(':', start);
    if (colon == std::string_view::npos) return std::nullopt;
    const auto open = line.find('"', colon);
    if (open == std::string_view::npos) return std::nullopt;
    const auto close = line.find('"', open + 1);
    if (close == std::string_view::npos || close - open - 1 > kMaxCustomIdBytes || close == open + 1)
        return std::nullopt;
    return std::string(line.substr(open + 1, close - open - 1));
}

bool BatchStatus::finished() const {
    return status == "completed" || status == "failed" || status == "expired" || status == "cancelled";
}

Result<BatchStatus> read_batch_status(std::string_view body) {
    const json parsed = parse_bounded(body);
    if (!parsed.is_object() || !parsed.contains("status") || !parsed["status"].is_string())
        return make_error(errc::upstream_error, "the provider's batch answer has no status: " +
                                                    bounded(std::string(body.substr(0, kMaxErrorText))));
    BatchStatus status;
    status.status = parsed["status"].get<std::string>();
    status.output_file_id = string_field(parsed, "output_file_id");
    status.error_file_id = string_field(parsed, "error_file_id");
    if (auto errors = parsed.find("errors"); errors != parsed.end() && !errors->is_null())
        status.errors = bounded(errors->dump(-1, ' ', false, json::error_handler_t::replace));
    return status;
}

BatchApi::BatchApi(BatchApiSettings settings, const std::atomic<bool>* stop)
    : settings_(std::move(settings)), stop_(stop) {
    while (!settings_.base_url.empty() && settings_.base_url.back() == '/') settings_.base_url.pop_back();
}

Result<std::string> BatchApi::call(const std::string& method, const std::string& path, const std::string& body,
                                   const std::string& jsonl, bool transfer) {
    auto easy = make_curl_easy();
    if (!easy) return make_error(errc::internal, "cannot start an HTTP transfer");
    CURL* h = easy.get();
    CurlResponse response;
    response.reset(settings_.max_download_bytes);
    TransferOptions options;
    options.timeout_ms = transfer ? settings_.transfer_timeout_ms : settings_.timeout_ms;
    options.connect_timeout_ms = std::min(10'000, settings_.timeout_ms);
    const std::string url = settings_.base_url + path;
    set_transfer_options(h, url, response, options);
    curl_slist* headers = nullptr;
    if (!settings_.api_key.empty())
        headers = curl_slist_append(headers, ("Authorization: Bearer " + settings_.api_key).c_str());
    headers = curl_slist_append(headers, "Expect:");
    curl_mime* mime = nullptr;
    if (!jsonl.empty()) {
        mime = curl_mime_init(h);
        curl_mimepart* purpose = curl_mime_addpart(mime);
        curl_mime_name(purpose, "purpose");
        curl_mime_data(purpose, "batch", CURL_ZERO_TERMINATED);
        curl_mimepart* file = curl_mime_addpart(mime);
        curl_mime_name(file, "file");
        curl_mime_filename(file, "seke-batch.jsonl");
        curl_mime_type(file, "application/jsonl");
        curl_mime_data(file, jsonl.data(), jsonl.size());
        curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    } else if (method == "POST") {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &progress_abort);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(stop_));
    ++requests_;
    const CURLcode code = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    if (mime) curl_mime_free(mime);
    if (code == CURLE_ABORTED_BY_CALLBACK) return make_error(errc::cancelled, "stopped during " + method + " " + path);
    if (response.over_cap(code))
        return make_error(errc::upstream_error, method + " " + path + ": the answer is over " +
                                                    std::to_string(settings_.max_download_bytes) + " bytes");
    if (code != CURLE_OK)
        return make_error(code == CURLE_OPERATION_TIMEDOUT ? errc::upstream_timeout : errc::upstream_error,
                          method + " " + path + ": " + response.failure(code));
    if (status < 200 || status >= 300)
        return make_error(status == 429 || status >= 500 ? errc::upstream_error : errc::invalid_argument,
                          method + " " + path + " answered HTTP " + std::to_string(status) + ": " +
                              error_text(parse_bounded(response.body).is_discarded() ? json(trim(response.body))
                                                                                     : parse_bounded(response.body)));
    return std::move(response.body);
}

Result<std::string> BatchApi::upload(const std::string& jsonl) {
    if (jsonl.empty()) return make_error(errc::invalid_argument, "an empty batch file");
    auto body = call("POST", "/files", {}, jsonl, true);
    if (!body) return body.error();
    const json parsed = parse_bounded(*body);
    std::string id = parsed.is_object() ? string_field(parsed, "id") : std::string();
    if (id.empty()) return make_error(errc::upstream_error, "the file upload's answer has no id");
    return id;
}

Result<std::string> BatchApi::create(const std::string& input_file_id) {
    const json request{
        {"input_file_id", input_file_id}, {"endpoint", "/v1/chat/completions"}, {"completion_window", "24h"}};
    auto body = call("POST", "/batches", request.dump(), {}, false);
    if (!body) return body.error();
    const json parsed = parse_bounded(*body);
    std::string id = parsed.is_object() ? string_field(parsed, "id") : std::string();
    if (id.empty()) return make_error(errc::upstream_error, "the batch create answer has no id");
    return id;
}

Result<BatchStatus> BatchApi::status(const std::string& batch_id) {
    if (!id_safe(batch_id)) return make_error(errc::upstream_error, "a batch id seke cannot put in a URL");
    auto body = call("GET", "/batches/" + batch_id, {}, {}, false);
    if (!body) return body.error();
    return read_batch_status(*body);
}

Result<std::string> BatchApi::download(const std::string& file_id) {
    if (!id_safe(file_id)) return make_error(errc::upstream_error, "a file id seke cannot put in a URL");
    return call("GET", "/files/" + file_id + "/content", {}, {}, true);
}

}  // namespace seke
