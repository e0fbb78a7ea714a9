#include "plugin/cli/progress.hpp"

#include <algorithm>
#include <cmath>

namespace seke {
namespace {

std::string duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "--:--";
    auto total = std::llround(seconds);
    char buffer[32];
    if (total >= 3600)
        std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
    else std::snprintf(buffer, sizeof buffer, "%lld:%02lld", total / 60, total % 60);
    return buffer;
}

std::string count(double value) {
    char buffer[32];
    if (value >= 1e6) std::snprintf(buffer, sizeof buffer, "%.1fM", value / 1e6);
    else if (value >= 1e4) std::snprintf(buffer, sizeof buffer, "%.1fk", value / 1e3);
    else std::snprintf(buffer, sizeof buffer, "%.0f", value);
    return buffer;
}

}  // namespace

ProgressPrinter::ProgressPrinter(std::FILE* out, bool terminal, double interval_s)
    : out_(out), terminal_(terminal), interval_s_(interval_s), last_(std::chrono::steady_clock::now()) {}

std::string ProgressPrinter::line(const RunProgress& p, bool with_bar) {
    double rate = p.elapsed_s > 0 ? static_cast<double>(p.finished) / p.elapsed_s : 0;
    // A shared job: the bar and the ETA are the whole job's, at this worker's pace.
    const std::int64_t total = p.shared ? p.job_items : p.total;
    const std::int64_t finished = p.shared ? p.job_finished : p.finished;
    double eta = rate > 0 ? static_cast<double>(total - finished) / rate : NAN;
    std::string text;
    if (with_bar) {
        constexpr int width = 24;
        int filled = total > 0 ? static_cast<int>(width * std::min(finished, total) / total) : width;
        text = "[" + std::string(static_cast<std::size_t>(filled), '#') +
               std::string(static_cast<std::size_t>(width - filled), '-') + "] ";
    }
    char buffer[256];
    if (p.shared) {
        std::snprintf(buffer, sizeof buffer, "job %lld/%lld items, this worker ", static_cast<long long>(finished),
                      static_cast<long long>(total));
        text += buffer;
    }
    std::snprintf(buffer, sizeof buffer, "%lld/%lld items, %.1f/s, ETA %s, %lld failed, samples %s, tokens %s",
                  static_cast<long long>(p.finished), static_cast<long long>(p.total), rate, duration(eta).c_str(),
                  static_cast<long long>(p.failed), count(static_cast<double>(p.cost.samples)).c_str(),
                  count(static_cast<double>(p.cost.prompt_tokens + p.cost.completion_tokens)).c_str());
    text += buffer;
    // What this run paid so far; the cached share of the prompt tokens when the provider cached any.
    if (p.spent.cached_prompt > 0 && p.spent.prompt > 0)
        text += ", " + std::to_string(100 * p.spent.cached_prompt / p.spent.prompt) + "% cached";
    if (p.spent_usd) text += ", spent " + format_usd(*p.spent_usd);
    else if (p.spent.prompt + p.spent.completion > 0) text += ", no price";
    return text;
}

void ProgressPrinter::update(const RunProgress& progress) {
    auto now = std::chrono::steady_clock::now();
    if (terminal_) {
        std::fprintf(out_, "\r\033[K%s", line(progress, true).c_str());
        std::fflush(out_);
        printed_ = true;
        return;
    }
    if (std::chrono::duration<double>(now - last_).count() < interval_s_) return;
    last_ = now;
    std::fprintf(out_, "progress: %s\n", line(progress, false).c_str());
    std::fflush(out_);
}

void ProgressPrinter::finish(const RunProgress& progress) {
    if (terminal_) {
        std::fprintf(out_, "\r\033[K%s\n", line(progress, true).c_str());
    } else {
        std::fprintf(out_, "progress: %s\n", line(progress, false).c_str());
    }
    std::fflush(out_);
}

}  // namespace seke
