#pragma once
// Helpers of the fake_vllm suites (kept here: the shared test support pulls in the whole app).
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/fake_vllm/fake_model.hpp"

namespace seke::fake::testing {

// A truth item of `expression` with its prototype AUs and the centre of its VA region.
inline TruthItem make_item(std::string id, std::string expression, double difficulty, std::string confusable) {
    TruthItem item;
    item.id = std::move(id);
    item.code = 1;
    item.expression = std::move(expression);
    item.difficulty = difficulty;
    item.confusable = std::move(confusable);
    const auto* facts = find_expression(item.expression);
    item.action_units = facts->prototype;
    item.valence = facts->valence_centre();
    item.arousal = facts->arousal_centre();
    return item;
}

// A sampling request at `temperature` for `keys` (default: the three levels' labels).
inline ChatRequest sample_request(double temperature, std::vector<std::string> keys = {}) {
    ChatRequest r;
    r.temperature = temperature;
    r.keys =
        keys.empty() ? std::vector<std::string>{"expression", "valence", "arousal", "action_units"} : std::move(keys);
    return r;
}

class ScratchDir {
  public:
    ScratchDir() {
        std::random_device rd;
        for (int i = 0; i < 100 && path_.empty(); ++i) {
            auto candidate = std::filesystem::temp_directory_path() / ("seke-fake-test-" + std::to_string(rd()));
            if (std::filesystem::create_directory(candidate)) path_ = candidate;
        }
        if (path_.empty()) throw std::runtime_error("cannot create a temp dir");
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

inline std::string base64(const std::string& bytes) {
    static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
        out += table[(n >> 18) & 63];
        out += table[(n >> 12) & 63];
        out += table[(n >> 6) & 63];
        out += table[n & 63];
    }
    if (i + 1 == bytes.size()) {
        const auto n = static_cast<unsigned char>(bytes[i]) << 16;
        out += table[(n >> 18) & 63];
        out += table[(n >> 12) & 63];
        out += "==";
    } else if (i + 2 == bytes.size()) {
        const auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
        out += table[(n >> 18) & 63];
        out += table[(n >> 12) & 63];
        out += table[(n >> 6) & 63];
        out += '=';
    }
    return out;
}

}  // namespace seke::fake::testing
