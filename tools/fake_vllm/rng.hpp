#pragma once
// A small deterministic RNG (splitmix64 + xoshiro256**) with our own distributions, so a seed
// gives the same draws with any standard library (std:: distributions are implementation-defined).
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <numbers>
#include <string_view>

namespace seke::fake {

constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

constexpr std::uint64_t hash_string(std::string_view text) noexcept {  // FNV-1a
    std::uint64_t h = 0xCBF29CE484222325ull;
    for (char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001B3ull;
    }
    return h;
}

// Combines several values into one seed; order matters.
constexpr std::uint64_t hash_combine(std::initializer_list<std::uint64_t> parts) noexcept {
    std::uint64_t state = 0x5EC0FA4Eull;
    std::uint64_t h = 0;
    for (std::uint64_t p : parts) {
        state ^= p + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
        h = splitmix64(state);
    }
    return h;
}

class Rng {
  public:
    explicit Rng(std::uint64_t seed) noexcept {
        for (auto& word : s_) word = splitmix64(seed);
    }

    std::uint64_t next() noexcept {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    double uniform(double lo, double hi) noexcept { return lo + (hi - lo) * uniform(); }
    bool chance(double p) noexcept { return uniform() < p; }
    std::size_t index(std::size_t n) noexcept {  // [0, n), n > 0
        return static_cast<std::size_t>(uniform() * static_cast<double>(n)) % n;
    }
    double normal() noexcept {  // Box-Muller, one value per call
        const double u1 = 1.0 - uniform();
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    }

  private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4]{};
};

}  // namespace seke::fake
