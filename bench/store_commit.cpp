// Faces committed per second by the store itself, on either engine: FACES one-face items with
// a FEID-record-sized record, written as `seke label` writes them (group commits of 64 items,
// durable). Prints one JSON line.
// Usage: seke-bench-store-commit TARGET FACES   (TARGET: a SQLite path or a postgresql:// URI)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "plugin/records/store.hpp"

int main(int argc, char** argv) try {
    if (argc != 3) {
        std::fprintf(stderr, "usage: seke-bench-store-commit TARGET FACES\n");
        return 2;
    }
    const std::string target = argv[1];
    const long faces = std::strtol(argv[2], nullptr, 10);
    auto store = seke::Store::open(target, 10000);
    if (!store) {
        std::fprintf(stderr, "%s\n", store.error().message.c_str());
        return 1;
    }
    // About the size of a real FEID record with its conversations (2 KiB).
    const std::string record = R"({"padding":")" + std::string(2000, 'x') + R"("})";
    constexpr long kBatch = 64;
    const auto start = std::chrono::steady_clock::now();
    for (long first = 0; first < faces; first += kBatch) {
        std::vector<seke::ItemOutcome> batch;
        for (long i = first; i < std::min(faces, first + kBatch); ++i) {
            seke::ItemOutcome outcome;
            outcome.item.id = "item" + std::to_string(i);
            outcome.item.image = outcome.item.id + ".jpg";
            outcome.item.status = seke::ItemStatus::done;
            seke::FaceRow face;
            face.id = outcome.item.id;
            face.item_id = outcome.item.id;
            face.model_version = "bench";
            face.overall = 0.3;
            face.record_json = record;
            face.trace_json = "{}";
            outcome.faces.push_back(std::move(face));
            batch.push_back(std::move(outcome));
        }
        if (auto saved = (*store)->save_outcomes(batch); !saved) {
            std::fprintf(stderr, "%s\n", saved.error().message.c_str());
            return 1;
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json line = {{"store", seke::describe_store(target)},
                           {"engine", (*store)->shared() ? "postgresql" : "sqlite"},
                           {"faces", faces},
                           {"seconds", seconds},
                           {"faces_per_s", static_cast<double>(faces) / seconds}};
    std::printf("%s\n", line.dump().c_str());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "seke-bench-store-commit: %s\n", e.what());
    return 1;
}
