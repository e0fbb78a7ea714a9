#pragma once
// A response body with a byte cap, filled by libcurl: every download seke makes is bounded.
#include <cstddef>
#include <string>

namespace seke {

struct BoundedBody {
    std::string body;
    std::size_t max_bytes = 0;
    bool too_large = false;  // the cap was hit and the transfer aborted
};

// CURLOPT_WRITEFUNCTION for a BoundedBody* (CURLOPT_WRITEDATA): returning short aborts the transfer.
inline std::size_t append_bounded(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<BoundedBody*>(user);
    std::size_t bytes = size * count;
    if (sink->body.size() + bytes > sink->max_bytes) {
        sink->too_large = true;
        return 0;
    }
    sink->body.append(data, bytes);
    return bytes;
}

}  // namespace seke
