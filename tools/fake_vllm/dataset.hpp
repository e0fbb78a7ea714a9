#pragma once
// `make-dataset`: a deterministic synthetic labeling set for tests, benchmarks and the demo.
//   DIR/images/<id>.jpg|png   the item's code image (see face_code.hpp)
//   DIR/truth.jsonl           ground truth for the fake VLLM and for FEAB scoring
//   DIR/manifest.jsonl        seke's input: {"id","image","known":{...}}, image relative to DIR
#include <cstdint>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/fake_vllm/truth.hpp"

namespace seke::fake {

struct DatasetOptions {
    std::filesystem::path out;
    int count = 100;
    std::uint64_t seed = 1;
    int size = 256;             // image side in px
    double known_fraction = 0;  // items given one or two known levels as prior labels
};

// The truth of `count` items: expressions balanced over the 8 classes, AUs = the EMFACS
// prototype with individual variation, VA inside the expression's region, difficulty mixed
// ~60% easy [0, .3), ~30% medium [.3, .6), ~10% hard [.6, .95). Same seed, same items.
std::vector<TruthItem> generate_truth(int count, std::uint64_t seed);

// The manifest line of an item; `known` levels (a deterministic choice) are copied from truth.
std::vector<nlohmann::json> make_manifest(const std::vector<TruthItem>& items, std::uint64_t seed,
                                          double known_fraction);

// Writes images, truth.jsonl and manifest.jsonl. Throws std::runtime_error on I/O failure.
void write_dataset(const DatasetOptions& options);

}  // namespace seke::fake
