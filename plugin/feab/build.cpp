#include "plugin/feab/build.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <sstream>
#include <tuple>
#include <unordered_set>

namespace seke::feab {
namespace {

// A stable 64-bit key per (seed, id): FNV-1a of the id mixed with the seed by SplitMix64. The
// standard library's distributions differ between implementations; this does not.
std::uint64_t draw_key(std::uint64_t seed, const std::string& id) {
    std::uint64_t hash = 0xcbf29ce484222325ull;
    for (unsigned char c : id) {
        hash ^= c;
        hash *= 0x100000001b3ull;
    }
    std::uint64_t z = hash ^ (seed + 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

enum class AuOccurrence { present, none_present, not_coded };

AuOccurrence au_occurrence(const LabelSet& known) {
    if (!known.action_units) return AuOccurrence::not_coded;
    if (!known.action_units->empty()) return AuOccurrence::present;
    // No AU present: with an empty au_coded nothing was coded at all.
    if (known.au_coded && known.au_coded->empty()) return AuOccurrence::not_coded;
    return AuOccurrence::none_present;
}

}  // namespace

std::vector<std::size_t> allocate(const std::vector<std::size_t>& sizes, std::size_t total) {
    std::vector<std::size_t> out(sizes.size(), 0);
    const std::size_t sum = std::accumulate(sizes.begin(), sizes.end(), std::size_t{0});
    if (total >= sum) return sizes;
    std::vector<std::size_t> nonempty;
    for (std::size_t i = 0; i < sizes.size(); ++i)
        if (sizes[i] > 0) nonempty.push_back(i);
    if (total <= nonempty.size()) {
        // Too few to give every group one: the largest groups get one each.
        std::stable_sort(nonempty.begin(), nonempty.end(),
                         [&](std::size_t a, std::size_t b) { return sizes[a] > sizes[b]; });
        for (std::size_t i = 0; i < total; ++i) out[nonempty[i]] = 1;
        return out;
    }
    for (std::size_t i : nonempty) out[i] = 1;
    const std::size_t remaining = total - nonempty.size();
    std::size_t rest_sum = 0;
    for (std::size_t i : nonempty) rest_sum += sizes[i] - 1;
    std::vector<std::size_t> remainder(sizes.size(), 0);
    std::size_t given = 0;
    for (std::size_t i : nonempty) {
        // Both factors are at most `sum`, which the caller keeps below 2^32.
        const std::uint64_t share = std::uint64_t{remaining} * (sizes[i] - 1);
        out[i] += static_cast<std::size_t>(share / rest_sum);
        given += static_cast<std::size_t>(share / rest_sum);
        remainder[i] = static_cast<std::size_t>(share % rest_sum);
    }
    // The shares' fractions add up to what is left, one each to the largest fractions.
    std::stable_sort(nonempty.begin(), nonempty.end(), [&](std::size_t a, std::size_t b) {
        return remainder[a] != remainder[b] ? remainder[a] > remainder[b] : sizes[a] > sizes[b];
    });
    for (std::size_t i = 0; i < remaining - given; ++i) ++out[nonempty[i]];
    return out;
}

std::string stratum_of(const LabelSet& known) {
    std::string stratum = known.expression ? *known.expression : "(none)";
    switch (au_occurrence(known)) {
        case AuOccurrence::present: return stratum + " / AU present";
        case AuOccurrence::none_present: return stratum + " / no AU present";
        case AuOccurrence::not_coded: return stratum + " / AUs not coded";
    }
    return stratum;
}

BuildResult build_benchmark(std::vector<BuildCandidate> candidates, const BuildOptions& options) {
    BuildResult result;
    // Per source, per stratum: the candidates left to draw from.
    std::map<std::string, std::map<std::string, std::vector<BuildCandidate>>> strata;
    std::unordered_set<std::string> seen_ids;
    for (auto& candidate : candidates) {
        SourceCounts& counts = result.sources[candidate.source];
        ++counts.lines;
        if (options.test_splits.count(candidate.split) == 0) {
            ++counts.other_splits;
        } else if (!candidate.subject.empty() &&
                   options.training_subjects.count({candidate.source, candidate.subject}) > 0) {
            ++counts.training_subject;
        } else if (!seen_ids.insert(candidate.id).second) {
            ++counts.duplicate_id;
        } else {
            ++counts.candidates;
            std::string stratum = stratum_of(candidate.known);
            strata[candidate.source][stratum].push_back(std::move(candidate));
        }
    }

    std::vector<std::size_t> source_sizes;
    source_sizes.reserve(strata.size());
    for (const auto& [source, groups] : strata)
        source_sizes.push_back(static_cast<std::size_t>(result.sources[source].candidates));
    const auto per_source = allocate(source_sizes, options.size);
    std::size_t source_index = 0;
    for (auto& [source, groups] : strata) {
        std::vector<std::size_t> group_sizes;
        group_sizes.reserve(groups.size());
        for (const auto& [name, group] : groups) group_sizes.push_back(group.size());
        const auto per_group = allocate(group_sizes, per_source[source_index++]);
        std::size_t group_index = 0;
        for (auto& named_group : groups) {
            auto& group = named_group.second;  // a plain reference: lambdas cannot capture a binding
            std::vector<std::pair<std::uint64_t, std::size_t>> order;
            order.reserve(group.size());
            for (std::size_t i = 0; i < group.size(); ++i) order.emplace_back(draw_key(options.seed, group[i].id), i);
            std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
                return std::tie(a.first, group[a.second].id) < std::tie(b.first, group[b.second].id);
            });
            const std::size_t take = per_group[group_index++];
            for (std::size_t i = 0; i < take; ++i) result.selected.push_back(std::move(group[order[i].second]));
        }
    }
    std::sort(result.selected.begin(), result.selected.end(),
              [](const BuildCandidate& a, const BuildCandidate& b) { return a.id < b.id; });

    for (const auto& item : result.selected) {
        SourceCounts& counts = result.sources[item.source];
        ++counts.selected;
        ++counts.expressions[item.known.expression ? *item.known.expression : "(none)"];
        switch (au_occurrence(item.known)) {
            case AuOccurrence::present: ++counts.au_present; break;
            case AuOccurrence::none_present: ++counts.au_none; break;
            case AuOccurrence::not_coded: ++counts.au_not_coded; break;
        }
        if (item.known.valence && item.known.arousal) ++counts.va;
    }
    return result;
}

nlohmann::ordered_json truth_line(const BuildCandidate& item) {
    nlohmann::ordered_json line;
    line["id"] = item.id;
    line["image"] = item.image;
    if (!item.source.empty()) line["source"] = item.source;
    if (!item.source_id.empty()) line["source_id"] = item.source_id;
    if (!item.subject.empty()) line["subject"] = item.subject;
    line["split"] = item.split;
    const LabelSet& known = item.known;
    if (known.expression) line["expression"] = *known.expression;
    if (known.valence && known.arousal) {
        line["valence"] = *known.valence;
        line["arousal"] = *known.arousal;
    }
    if (known.action_units) {
        line["action_units"] = *known.action_units;
        if (known.au_coded) line["au_coded"] = *known.au_coded;
    }
    return line;
}

nlohmann::ordered_json build_summary_json(const BuildResult& result, std::size_t requested) {
    nlohmann::ordered_json summary;
    summary["requested"] = requested;
    summary["selected"] = result.selected.size();
    nlohmann::ordered_json sources = nlohmann::ordered_json::object();
    for (const auto& [source, counts] : result.sources) {
        sources[source] = {{"lines", counts.lines},
                           {"other_splits", counts.other_splits},
                           {"training_subject", counts.training_subject},
                           {"duplicate_id", counts.duplicate_id},
                           {"candidates", counts.candidates},
                           {"selected", counts.selected},
                           {"expressions", counts.expressions},
                           {"au_present", counts.au_present},
                           {"au_none_present", counts.au_none},
                           {"au_not_coded", counts.au_not_coded},
                           {"va", counts.va}};
    }
    summary["sources"] = std::move(sources);
    return summary;
}

std::string build_summary_table(const BuildResult& result, std::size_t requested) {
    std::ostringstream out;
    char row[256];
    std::snprintf(row, sizeof row, "%-12s %9s %9s %9s %9s %9s %8s %8s %8s %6s\n", "source", "lines", "not test",
                  "training", "eligible", "selected", "AU pres", "AU none", "AU n/c", "VA");
    out << row;
    for (const auto& [source, c] : result.sources) {
        std::snprintf(row, sizeof row, "%-12s %9lld %9lld %9lld %9lld %9lld %8lld %8lld %8lld %6lld\n", source.c_str(),
                      static_cast<long long>(c.lines), static_cast<long long>(c.other_splits),
                      static_cast<long long>(c.training_subject), static_cast<long long>(c.candidates),
                      static_cast<long long>(c.selected), static_cast<long long>(c.au_present),
                      static_cast<long long>(c.au_none), static_cast<long long>(c.au_not_coded),
                      static_cast<long long>(c.va));
        out << row;
        if (!c.expressions.empty()) {
            out << "             expressions:";
            for (const auto& [name, n] : c.expressions) out << " " << name << " " << n;
            out << "\n";
        }
        if (c.duplicate_id > 0) out << "             duplicate ids skipped: " << c.duplicate_id << "\n";
    }
    out << "selected " << result.selected.size() << " of " << requested << " requested\n";
    return out.str();
}

}  // namespace seke::feab
