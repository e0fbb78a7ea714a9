#include "tools/fake_vllm/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <unordered_set>

#include <opencv2/imgcodecs.hpp>

#include "tools/fake_vllm/face_code.hpp"
#include "tools/fake_vllm/rng.hpp"

namespace seke::fake {
namespace {

std::string item_id(int index) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "s%05d", index + 1);
    return buffer;
}

double round3(double v) {
    return std::round(v * 1000.0) / 1000.0;
}

void sort_aus(std::vector<std::string>& aus) {
    const auto codes = action_unit_codes();
    auto rank = [&](const std::string& au) { return std::find(codes.begin(), codes.end(), au) - codes.begin(); };
    std::sort(aus.begin(), aus.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
    aus.erase(std::unique(aus.begin(), aus.end()), aus.end());
}

std::vector<std::string> vary_aus(const ExpressionFacts& facts, Rng& rng) {
    std::vector<std::string> aus = facts.prototype;
    const double r = rng.uniform();
    if (r < 0.20 && !facts.variant_aus.empty()) {
        aus.push_back(facts.variant_aus[rng.index(facts.variant_aus.size())]);  // a common variant
    } else if (r < 0.35 && aus.size() >= 2) {
        aus.erase(aus.begin() + static_cast<std::ptrdiff_t>(rng.index(aus.size())));  // subtle face
    } else if (r < 0.45) {
        const auto codes = action_unit_codes();
        aus.push_back(codes[rng.index(codes.size())]);  // an idiosyncratic extra movement
    }
    sort_aus(aus);
    return aus;
}

double draw_difficulty(Rng& rng) {
    const double r = rng.uniform();
    if (r < 0.6) return rng.uniform(0.0, 0.3);
    if (r < 0.9) return rng.uniform(0.3, 0.6);
    return rng.uniform(0.6, 0.95);
}

}  // namespace

std::vector<TruthItem> generate_truth(int count, std::uint64_t seed) {
    if (count < 0 || count > 500000) throw std::runtime_error("count must be in [0, 500000]");
    Rng rng(hash_combine({seed, hash_string("dataset")}));
    const auto classes = expressions();

    // Balanced: each class count/8 times (+ remainder), then shuffled.
    std::vector<std::size_t> labels(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = i % classes.size();
    for (std::size_t i = labels.size(); i > 1; --i) std::swap(labels[i - 1], labels[rng.index(i)]);

    std::unordered_set<std::uint32_t> used;
    std::vector<TruthItem> items;
    items.reserve(labels.size());
    for (int i = 0; i < count; ++i) {
        const ExpressionFacts& facts = classes[labels[static_cast<std::size_t>(i)]];
        TruthItem item;
        item.id = item_id(i);
        item.image = "images/" + item.id + (i % 4 == 3 ? ".png" : ".jpg");
        do {
            item.code = static_cast<std::uint32_t>(rng.next() & kMaxCode);
        } while (!used.insert(item.code).second);
        item.expression = std::string(facts.name);
        item.action_units = vary_aus(facts, rng);
        // Inside the middle 70% of the region: a typical face, not a borderline one.
        const double vm = 0.15 * (facts.valence_max - facts.valence_min);
        const double am = 0.15 * (facts.arousal_max - facts.arousal_min);
        item.valence = round3(rng.uniform(facts.valence_min + vm, facts.valence_max - vm));
        item.arousal = round3(rng.uniform(facts.arousal_min + am, facts.arousal_max - am));
        item.difficulty = round3(draw_difficulty(rng));
        item.confusable = std::string(facts.confusables[rng.index(facts.confusables.size())]);
        items.push_back(std::move(item));
    }
    return items;
}

std::vector<nlohmann::json> make_manifest(const std::vector<TruthItem>& items, std::uint64_t seed,
                                          double known_fraction) {
    Rng rng(hash_combine({seed, hash_string("manifest")}));
    std::vector<nlohmann::json> lines;
    lines.reserve(items.size());
    for (const auto& item : items) {
        nlohmann::json known = nlohmann::json::object();
        if (rng.chance(known_fraction)) {
            std::vector<int> levels{0, 1, 2};  // expression, va, au
            for (std::size_t i = levels.size(); i > 1; --i) std::swap(levels[i - 1], levels[rng.index(i)]);
            const std::size_t how_many = rng.chance(0.5) ? 1 : 2;
            for (std::size_t k = 0; k < how_many; ++k) {
                switch (levels[k]) {
                    case 0: known["expression"] = item.expression; break;
                    case 1:
                        known["valence"] = item.valence;
                        known["arousal"] = item.arousal;
                        break;
                    default: known["action_units"] = item.action_units; break;
                }
            }
        }
        lines.push_back({{"id", item.id}, {"image", item.image}, {"known", known}});
    }
    return lines;
}

void write_dataset(const DatasetOptions& options) {
    if (options.size < 24 || options.size > 4096) throw std::runtime_error("--size must be in [24, 4096]");
    namespace fs = std::filesystem;
    const auto items = generate_truth(options.count, options.seed);
    fs::create_directories(options.out / "images");

    for (const auto& item : items) {
        const cv::Mat image = draw_code_image(item.code, options.size);
        const fs::path path = options.out / item.image;
        std::vector<int> params;
        if (path.extension() == ".jpg") params = {cv::IMWRITE_JPEG_QUALITY, 92};
        if (!cv::imwrite(path.string(), image, params)) throw std::runtime_error("cannot write " + path.string());
    }

    auto write_lines = [&](const fs::path& path, const std::vector<nlohmann::json>& lines) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        for (const auto& line : lines) out << line.dump() << '\n';
        if (!out) throw std::runtime_error("cannot write " + path.string());
    };
    std::vector<nlohmann::json> truth;
    truth.reserve(items.size());
    for (const auto& item : items) truth.push_back(to_json(item));
    write_lines(options.out / "truth.jsonl", truth);
    write_lines(options.out / "manifest.jsonl", make_manifest(items, options.seed, options.known_fraction));
}

}  // namespace seke::fake
