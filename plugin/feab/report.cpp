#include "plugin/feab/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace seke::feab {
namespace {

using nlohmann::ordered_json;

// ---------------------------------------------------------------- shared wording and numbers

constexpr const char* kErrorDefinitions[][2] = {
    {"expression", "the predicted class differs from the true class"},
    {"au", "the predicted AU set differs from the true set in at least one AU (Hamming distance > 0)"},
    {"va", "valence or arousal is off by more than the VA tolerance"},
    {"any", "at least one of the levels above is wrong"},
};

std::string fixed(double value, int decimals = 4) {
    if (!std::isfinite(value)) return "n/a";
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

std::string percent(double share) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g%%", std::round(share * 1000) / 10);
    return buffer;
}

// JSON has no NaN: a non-finite figure (which scoring never makes) would become null.
ordered_json number(double value) {
    return std::isfinite(value) ? ordered_json(value) : ordered_json();
}

std::size_t skipped_count(const ProblemLog& problems, InputFile file) {
    std::size_t count = 0;
    for (const auto& [key, n] : problems.counts())
        if (key.first == file && problem_skips_item(key.second) && key.second != ProblemKind::no_prediction) count += n;
    return count;
}

std::string problem_location(const Problem& problem) {
    std::string where(input_file_name(problem.file));
    where += problem.file == InputFile::store ? " row " : " line ";
    where += std::to_string(problem.line);
    if (!problem.id.empty()) where += " (id " + problem.id + ")";
    return where;
}

// A level's own signal against its own error, or overall against any error: the plotted series.
bool is_own_signal(const UncertaintyRow& row) {
    if (row.signal == UncertaintySignal::overall) return row.target == ErrorTarget::any;
    return uncertainty_signal_name(row.signal) == error_target_name(row.target);
}

const UncertaintyRow* find_row(const Scores& scores, ErrorTarget target, UncertaintySignal signal) {
    for (const auto& row : scores.uncertainty)
        if (row.target == target && row.signal == signal) return &row;
    return nullptr;
}

// ---------------------------------------------------------------- terminal summary

std::string pad(std::string text, std::size_t width, bool left = false) {
    if (text.size() >= width) return text;
    return left ? text + std::string(width - text.size(), ' ') : std::string(width - text.size(), ' ') + text;
}

std::string group_row(const GroupScores& g) {
    std::string line = pad(g.name.size() > 16 ? g.name.substr(0, 15) + "~" : g.name, 16, true);
    line += pad(std::to_string(g.items), 8) + pad(std::to_string(g.items - g.predicted), 8) + "  |";
    line += pad(std::to_string(g.expression.scored), 7) + pad(fixed(g.expression.accuracy), 9) +
            pad(fixed(g.expression.macro_f1), 9) + "  |";
    line += pad(std::to_string(g.action_units.scored), 7) + pad(fixed(g.action_units.mean_f1), 9) + "  |";
    line += pad(std::to_string(g.valence.scored), 7) + pad(fixed(g.valence.ccc), 8) + pad(fixed(g.valence.rmse), 8);
    line += pad(std::to_string(g.arousal.scored), 7) + pad(fixed(g.arousal.ccc), 8) + pad(fixed(g.arousal.rmse), 8);
    return line + "\n";
}

// "1234 tokens over 30 predictions, $0.0123 at gpt-4o's price: $0.0005 per correct expression
// label (accuracy 0.8000)"; without a price, the tokens and why there is no money.
std::string cost_line(const LabelCost& cost) {
    std::string line = std::to_string(cost.tokens.prompt + cost.tokens.completion) + " tokens (" +
                       std::to_string(cost.tokens.cached_prompt) + " cached prompt) over " +
                       std::to_string(cost.predictions) + " predictions";
    if (!cost.usd) return line + "; no price for model " + cost.model;
    line += ", " + format_usd(*cost.usd) + " at " + cost.model + "'s price";
    if (cost.usd_per_correct_expression)
        line += ": " + format_usd(*cost.usd_per_correct_expression) + " per correct expression label (" +
                std::to_string(cost.correct_expressions) + " correct)";
    return line;
}

}  // namespace

std::string summary_text(const Report& report) {
    const Scores& s = report.scores;
    const InputSummary& in = report.inputs;
    std::ostringstream out;
    out << "FEAB score\n";
    out << "  truth:       " << in.truth_path << " — " << in.truth_lines << " lines, " << in.truth_items
        << " items scored against, " << skipped_count(report.problems, InputFile::truth) << " lines skipped\n";
    std::size_t prediction_skips =
        skipped_count(report.problems, InputFile::predictions) + skipped_count(report.problems, InputFile::store);
    out << "  predictions: " << in.predictions << " — " << in.prediction_records << " records, " << in.matched
        << " matched, " << prediction_skips << " not used\n";
    out << "  no prediction: " << (in.truth_items - in.matched) << " truth items (left out of every metric)\n";
    if (s.prior_levels > 0)
        out << "  levels given as priors (provenance source/human), scored as given: " << s.prior_levels << "\n";
    if (report.run) {
        const BenchmarkRun& r = *report.run;
        out << "  run: mode " << r.mode << ", model " << r.model << ", version " << r.model_version << "; "
            << r.labeled_now << " labeled now, " << r.already_done << " already in the store, " << r.failed
            << " failed, " << r.skipped << " skipped; " << r.requests << " requests, " << r.samples << " samples, "
            << (r.prompt_tokens + r.completion_tokens) << " tokens, " << fixed(r.seconds, 1) << " s"
            << (r.interrupted ? " (interrupted)" : "") << "\n";
    }
    if (report.cost) out << "  cost: " << cost_line(*report.cost) << "\n";
    out << "\n"
        << pad("group", 16, true) << pad("items", 8) << pad("no pred", 8) << "  |" << pad("expr n", 7)
        << pad("accuracy", 9) << pad("macro-F1", 9) << "  |" << pad("AU n", 7) << pad("mean F1", 9) << "  |"
        << pad("V n", 7) << pad("V CCC", 8) << pad("V RMSE", 8) << pad("A n", 7) << pad("A CCC", 8) << pad("A RMSE", 8)
        << "\n";
    out << group_row(s.overall);
    for (const auto& group : s.per_source) out << group_row(group);

    out << "\nper-AU F1 (overall; - = absent from truth and prediction, left out of the mean)\n";
    const auto& per_au = s.overall.action_units.per_au;
    for (std::size_t a = 0; a < per_au.size(); ++a) {
        out << "  " << pad(per_au[a].code, 5, true) << " " << (per_au[a].in_mean ? fixed(per_au[a].f1) : "     -");
        if (a % 6 == 5 || a + 1 == per_au.size()) out << "\n";
    }

    out << "\nuncertainty vs error (errors: expression = class differs; au = AU set differs; va = |error| > "
        << fixed(s.options.va_tolerance, 2) << " on V or A; any = any level)\n";
    if (s.uncertainty.empty()) {
        out << "  the predictions carry no uncertainty\n";
    } else {
        out << "  " << pad("error", 11, true) << pad("signal", 11, true) << pad("items", 8) << pad("errors", 8)
            << pad("AUROC", 8);
        for (double budget : s.options.review_budgets) out << pad("top " + percent(budget), 10);
        out << pad("ECE", 8) << "\n";
        for (const auto& row : s.uncertainty) {
            out << "  " << pad(std::string(error_target_name(row.target)), 11, true)
                << pad(std::string(uncertainty_signal_name(row.signal)), 11, true) << pad(std::to_string(row.items), 8)
                << pad(std::to_string(row.errors), 8) << pad(fixed(row.auroc), 8);
            for (double caught : row.caught) out << pad(fixed(caught), 10);
            out << pad(fixed(row.ece), 8) << "\n";
        }
        out << "  (top N%: share of the errors among the N% most uncertain items)\n";
    }

    const ProblemLog& problems = report.problems;
    out << "\nproblems: " << problems.total() << "\n";
    for (const auto& [key, count] : problems.counts())
        out << "  " << pad(std::string(input_file_name(key.first)), 12, true)
            << pad(std::string(problem_kind_name(key.second)), 20, true) << pad(std::to_string(count), 8)
            << (problem_skips_item(key.second) ? "  item not scored" : "  field dropped or ignored") << "\n";
    constexpr std::size_t kShown = 20;
    std::size_t shown = 0;
    for (const auto& problem : problems.kept()) {
        if (shown++ == kShown) break;
        out << "  " << problem_location(problem) << ": " << problem_kind_name(problem.kind) << ": " << problem.reason
            << "\n";
    }
    if (problems.total() > kShown)
        out << "  ... (" << problems.total() - std::min(problems.total(), kShown) << " more; report.json lists up to "
            << problems.kept_per_kind() << " of each kind)\n";
    return out.str();
}

// ---------------------------------------------------------------- report.json

namespace {

ordered_json dimension_json(const DimensionScores& d) {
    return {{"truth_items", d.truth_items}, {"scored", d.scored}, {"ccc", number(d.ccc)}, {"rmse", number(d.rmse)}};
}

ordered_json group_json(const GroupScores& g, const std::vector<std::string>& classes) {
    ordered_json out;
    out["items"] = g.items;
    out["predicted"] = g.predicted;
    out["no_prediction"] = g.items - g.predicted;
    ordered_json expression;
    expression["truth_items"] = g.expression.truth_items;
    expression["scored"] = g.expression.scored;
    expression["accuracy"] = number(g.expression.accuracy);
    expression["macro_f1"] = number(g.expression.macro_f1);
    ordered_json class_f1 = ordered_json::object();
    for (std::size_t c = 0; c < classes.size() && c < g.expression.class_f1.size(); ++c)
        class_f1[classes[c]] = number(g.expression.class_f1[c]);
    expression["per_class_f1"] = std::move(class_f1);
    expression["confusion_matrix"] = {
        {"rows", "truth"}, {"columns", "predicted"}, {"classes", classes}, {"counts", g.expression.confusion}};
    out["expression"] = std::move(expression);
    ordered_json units;
    units["truth_items"] = g.action_units.truth_items;
    units["scored"] = g.action_units.scored;
    units["mean_f1"] = number(g.action_units.mean_f1);
    ordered_json per_au = ordered_json::array();
    for (const auto& au : g.action_units.per_au)
        per_au.push_back({{"code", au.code},
                          {"f1", number(au.f1)},
                          {"in_mean", au.in_mean},
                          {"tp", au.counts.tp},
                          {"fp", au.counts.fp},
                          {"fn", au.counts.fn},
                          {"tn", au.counts.tn}});
    units["per_au"] = std::move(per_au);
    out["action_units"] = std::move(units);
    out["valence"] = dimension_json(g.valence);
    out["arousal"] = dimension_json(g.arousal);
    return out;
}

ordered_json uncertainty_json(const Scores& s) {
    ordered_json out;
    out["available"] = !s.uncertainty.empty();
    ordered_json rows = ordered_json::array();
    for (const auto& row : s.uncertainty) {
        ordered_json r;
        r["error"] = error_target_name(row.target);
        r["signal"] = uncertainty_signal_name(row.signal);
        r["items"] = row.items;
        r["errors"] = row.errors;
        r["error_rate"] = number(row.items ? static_cast<double>(row.errors) / static_cast<double>(row.items) : 0);
        r["auroc"] = number(row.auroc);
        ordered_json caught = ordered_json::array();
        for (std::size_t b = 0; b < row.caught.size() && b < s.options.review_budgets.size(); ++b)
            caught.push_back({{"budget", s.options.review_budgets[b]}, {"caught", number(row.caught[b])}});
        r["errors_caught"] = std::move(caught);
        ordered_json curve = ordered_json::array();
        for (std::size_t b = 0; b < row.caught_curve.size(); ++b)
            curve.push_back({{"budget", curve_budgets()[b]}, {"caught", number(row.caught_curve[b])}});
        r["errors_caught_curve"] = std::move(curve);
        ordered_json bins = ordered_json::array();
        for (const auto& bin : row.reliability)
            bins.push_back({{"lower", bin.lower},
                            {"upper", bin.upper},
                            {"count", bin.count},
                            {"mean_predicted", number(bin.mean_predicted)},
                            {"observed_error_rate", number(bin.observed_rate)}});
        r["reliability"] = std::move(bins);
        r["ece"] = number(row.ece);
        rows.push_back(std::move(r));
    }
    out["rows"] = std::move(rows);
    return out;
}

}  // namespace

ordered_json report_json(const Report& report) {
    const Scores& s = report.scores;
    const InputSummary& in = report.inputs;
    ordered_json out;
    out["inputs"] = {{"truth", in.truth_path},
                     {"predictions", in.predictions},
                     {"truth_lines", in.truth_lines},
                     {"truth_items", in.truth_items},
                     {"prediction_records", in.prediction_records},
                     {"matched", in.matched},
                     {"no_prediction", in.truth_items - in.matched},
                     {"prior_levels", s.prior_levels}};
    if (report.run) {
        const BenchmarkRun& r = *report.run;
        out["run"] = {{"mode", r.mode},
                      {"model", r.model},
                      {"model_version", r.model_version},
                      {"db", r.db},
                      {"items", r.jobs},
                      {"labeled_now", r.labeled_now},
                      {"already_done", r.already_done},
                      {"failed", r.failed},
                      {"skipped", r.skipped},
                      {"model_requests", r.requests},
                      {"samples", r.samples},
                      {"prompt_tokens", r.prompt_tokens},
                      {"completion_tokens", r.completion_tokens},
                      {"seconds", number(r.seconds)},
                      {"interrupted", r.interrupted}};
    }
    if (const auto& c = report.cost) {
        auto optional_number = [](const std::optional<double>& value) {
            return value ? ordered_json(number(*value)) : ordered_json(nullptr);
        };
        out["cost"] = {{"predictions_with_cost", c->predictions},
                       {"prompt_tokens", c->tokens.prompt},
                       {"cached_prompt_tokens", c->tokens.cached_prompt},
                       {"completion_tokens", c->tokens.completion},
                       {"priced_as", c->model},
                       {"usd", optional_number(c->usd)},
                       {"correct_expressions", c->correct_expressions},
                       {"expression_accuracy", number(report.scores.overall.expression.accuracy)},
                       {"usd_per_correct_expression", optional_number(c->usd_per_correct_expression)}};
    }
    ordered_json definitions;
    for (const auto& [name, text] : kErrorDefinitions) definitions[name] = text;
    out["options"] = {{"va_tolerance", s.options.va_tolerance},
                      {"reliability_bins", s.options.reliability_bins},
                      {"review_budgets", s.options.review_budgets}};
    out["error_definitions"] = std::move(definitions);
    out["classes"] = s.classes;
    out["action_units"] = s.action_units;
    out["overall"] = group_json(s.overall, s.classes);
    ordered_json per_source = ordered_json::object();
    for (const auto& group : s.per_source) per_source[group.name] = group_json(group, s.classes);
    out["per_source"] = std::move(per_source);
    out["uncertainty"] = uncertainty_json(s);

    const ProblemLog& problems = report.problems;
    out["skipped"] = {{"truth_lines", skipped_count(problems, InputFile::truth)},
                      {"prediction_records",
                       skipped_count(problems, InputFile::predictions) + skipped_count(problems, InputFile::store)},
                      {"truth_items_without_prediction", in.truth_items - in.matched}};
    ordered_json by_kind = ordered_json::array();
    for (const auto& [key, count] : problems.counts())
        by_kind.push_back({{"file", input_file_name(key.first)},
                           {"kind", problem_kind_name(key.second)},
                           {"count", count},
                           {"item_not_scored", problem_skips_item(key.second)}});
    ordered_json list = ordered_json::array();
    for (const auto& problem : problems.kept())
        list.push_back({{"file", input_file_name(problem.file)},
                        {"line", problem.line},
                        {"id", problem.id},
                        {"kind", problem_kind_name(problem.kind)},
                        {"reason", problem.reason}});
    out["problems"] = {{"total", problems.total()},
                       {"by_kind", std::move(by_kind)},
                       {"listed_per_kind_at_most", problems.kept_per_kind()},
                       {"list", std::move(list)}};
    return out;
}

// ---------------------------------------------------------------- report.html

namespace {

std::string escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string px(double value) {
    return fixed(value, 1);
}

// One colour per uncertainty row, stable across plots.
const char* series_colour(ErrorTarget target) {
    switch (target) {
        case ErrorTarget::expression: return "#1f77b4";
        case ErrorTarget::va: return "#2ca02c";
        case ErrorTarget::au: return "#9467bd";
        case ErrorTarget::any: return "#d62728";
    }
    return "#333";
}

// A square plot area with axes from 0 to 1 (or -1 to 1), grid, ticks and axis titles.
struct Axes {
    double left = 56, top = 16, size = 300;
    double lo = 0, hi = 1;
    [[nodiscard]] double x(double v) const { return left + (std::clamp(v, lo, hi) - lo) / (hi - lo) * size; }
    [[nodiscard]] double y(double v) const { return top + size - (std::clamp(v, lo, hi) - lo) / (hi - lo) * size; }
    [[nodiscard]] double width() const { return left + size + 16; }
    [[nodiscard]] double height() const { return top + size + 48; }
};

std::string svg_open(const std::string& id, double width, double height, const std::string& title) {
    return "<svg id=\"" + id + "\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + px(width) +
           "\" height=\"" + px(height) + "\" viewBox=\"0 0 " + px(width) + " " + px(height) +
           "\" role=\"img\" aria-label=\"" + escape(title) + "\"><title>" + escape(title) + "</title>";
}

std::string axes_svg(const Axes& a, const std::string& x_title, const std::string& y_title) {
    std::string out;
    double step = (a.hi - a.lo) / 4;
    for (int i = 0; i <= 4; ++i) {
        double v = a.lo + step * i;
        out += "<line x1=\"" + px(a.x(v)) + "\" y1=\"" + px(a.top) + "\" x2=\"" + px(a.x(v)) + "\" y2=\"" +
               px(a.top + a.size) + "\" class=\"grid\"/>";
        out += "<line x1=\"" + px(a.left) + "\" y1=\"" + px(a.y(v)) + "\" x2=\"" + px(a.left + a.size) + "\" y2=\"" +
               px(a.y(v)) + "\" class=\"grid\"/>";
        out += "<text x=\"" + px(a.x(v)) + "\" y=\"" + px(a.top + a.size + 16) + "\" text-anchor=\"middle\">" +
               fixed(v, 2) + "</text>";
        out += "<text x=\"" + px(a.left - 6) + "\" y=\"" + px(a.y(v) + 4) + "\" text-anchor=\"end\">" + fixed(v, 2) +
               "</text>";
    }
    out += "<rect x=\"" + px(a.left) + "\" y=\"" + px(a.top) + "\" width=\"" + px(a.size) + "\" height=\"" +
           px(a.size) + "\" class=\"frame\"/>";
    out += "<text x=\"" + px(a.left + a.size / 2) + "\" y=\"" + px(a.top + a.size + 36) +
           "\" text-anchor=\"middle\" class=\"axis-title\">" + escape(x_title) + "</text>";
    out += "<text transform=\"translate(14 " + px(a.top + a.size / 2) +
           ") rotate(-90)\" text-anchor=\"middle\" class=\"axis-title\">" + escape(y_title) + "</text>";
    return out;
}

std::string diagonal(const Axes& a, const std::string& css_class) {
    return "<line x1=\"" + px(a.x(a.lo)) + "\" y1=\"" + px(a.y(a.lo)) + "\" x2=\"" + px(a.x(a.hi)) + "\" y2=\"" +
           px(a.y(a.hi)) + "\" class=\"" + css_class + "\"/>";
}

std::string polyline(const std::vector<std::pair<double, double>>& points, const Axes& a, const std::string& colour,
                     const std::string& extra = "") {
    std::string coordinates;
    for (const auto& [vx, vy] : points) coordinates += px(a.x(vx)) + "," + px(a.y(vy)) + " ";
    return "<polyline points=\"" + coordinates + "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"2\" " +
           extra + "/>";
}

constexpr double kLegendWidth = 270;

std::string legend(const std::vector<std::pair<std::string, std::string>>& entries, double x, double y) {
    std::string out;
    for (const auto& [colour, label] : entries) {
        out += "<rect x=\"" + px(x) + "\" y=\"" + px(y - 9) + "\" width=\"12\" height=\"4\" fill=\"" + colour + "\"/>";
        out += "<text x=\"" + px(x + 16) + "\" y=\"" + px(y - 4) + "\">" + escape(label) + "</text>";
        y += 15;
    }
    return out;
}

// White → deep blue by share; text turns white on dark cells.
std::string heat_colour(double share) {
    share = std::clamp(share, 0.0, 1.0);
    auto channel = [&](int from, int to) { return static_cast<int>(std::lround(from + (to - from) * share)); };
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", channel(255, 8), channel(255, 48), channel(255, 107));
    return buffer;
}

std::string confusion_svg(const Scores& s) {
    const auto& matrix = s.overall.expression.confusion;
    const std::size_t n = s.classes.size();
    const double cell = 46, left = 96, top = 96;
    double width = left + cell * static_cast<double>(n) + 16, height = top + cell * static_cast<double>(n) + 16;
    std::string out = svg_open("confusion-matrix", width, height,
                               "Confusion matrix: rows are true classes, columns predicted; shade = share of the row");
    out += "<text x=\"" + px(left + cell * static_cast<double>(n) / 2) +
           "\" y=\"14\" text-anchor=\"middle\" class=\"axis-title\">predicted</text>";
    out += "<text transform=\"translate(14 " + px(top + cell * static_cast<double>(n) / 2) +
           ") rotate(-90)\" text-anchor=\"middle\" class=\"axis-title\">true</text>";
    for (std::size_t c = 0; c < n; ++c) {
        double x = left + cell * static_cast<double>(c) + cell / 2;
        out += "<text transform=\"translate(" + px(x + 4) + " " + px(top - 6) +
               ") rotate(-50)\" text-anchor=\"start\">" + escape(s.classes[c]) + "</text>";
        out += "<text x=\"" + px(left - 6) + "\" y=\"" + px(top + cell * static_cast<double>(c) + cell / 2 + 4) +
               "\" text-anchor=\"end\">" + escape(s.classes[c]) + "</text>";
    }
    for (std::size_t r = 0; r < n && r < matrix.size(); ++r) {
        std::size_t row_total = 0;
        for (std::size_t count : matrix[r]) row_total += count;
        for (std::size_t c = 0; c < n && c < matrix[r].size(); ++c) {
            double share = row_total ? static_cast<double>(matrix[r][c]) / static_cast<double>(row_total) : 0;
            double x = left + cell * static_cast<double>(c), y = top + cell * static_cast<double>(r);
            out += "<rect class=\"cell\" x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" + px(cell) + "\" height=\"" +
                   px(cell) + "\" fill=\"" + heat_colour(share) + "\"><title>true " + escape(s.classes[r]) +
                   ", predicted " + escape(s.classes[c]) + ": " + std::to_string(matrix[r][c]) + " (" +
                   fixed(share * 100, 1) + "% of the row)</title></rect>";
            out += "<text x=\"" + px(x + cell / 2) + "\" y=\"" + px(y + cell / 2 + 4) + "\" text-anchor=\"middle\"" +
                   (share > 0.5 ? " fill=\"#fff\"" : "") + ">" + std::to_string(matrix[r][c]) + "</text>";
        }
    }
    return out + "</svg>";
}

std::string au_bars_svg(const Scores& s) {
    const auto& per_au = s.overall.action_units.per_au;
    const double bar = 30, left = 48, top = 16, plot_height = 220;
    double width = left + bar * static_cast<double>(std::max<std::size_t>(per_au.size(), 1)) + 16;
    double height = top + plot_height + 56;
    std::string out = svg_open("au-f1", width, height, "F1 per action unit (grey: absent from truth and prediction)");
    for (int i = 0; i <= 4; ++i) {
        double v = i * 0.25, y = top + plot_height - v * plot_height;
        out += "<line x1=\"" + px(left) + "\" y1=\"" + px(y) + "\" x2=\"" + px(width - 16) + "\" y2=\"" + px(y) +
               "\" class=\"grid\"/>";
        out +=
            "<text x=\"" + px(left - 6) + "\" y=\"" + px(y + 4) + "\" text-anchor=\"end\">" + fixed(v, 2) + "</text>";
    }
    for (std::size_t a = 0; a < per_au.size(); ++a) {
        double x = left + bar * static_cast<double>(a) + 4;
        double h = (per_au[a].in_mean ? per_au[a].f1 : 0) * plot_height;
        out += "<rect class=\"bar\" x=\"" + px(x) + "\" y=\"" + px(top + plot_height - h) + "\" width=\"" +
               px(bar - 8) + "\" height=\"" + px(h) + "\" fill=\"" + (per_au[a].in_mean ? "#1f77b4" : "#bbb") +
               "\"><title>" + escape(per_au[a].code) + ": F1 " +
               (per_au[a].in_mean ? fixed(per_au[a].f1) : std::string("n/a")) + " (tp " +
               std::to_string(per_au[a].counts.tp) + ", fp " + std::to_string(per_au[a].counts.fp) + ", fn " +
               std::to_string(per_au[a].counts.fn) + ")</title></rect>";
        if (!per_au[a].in_mean)
            out += "<text x=\"" + px(x + (bar - 8) / 2) + "\" y=\"" + px(top + plot_height - 4) +
                   "\" text-anchor=\"middle\" class=\"muted\">-</text>";
        out += "<text transform=\"translate(" + px(x + (bar - 8) / 2 + 4) + " " + px(top + plot_height + 10) +
               ") rotate(60)\" text-anchor=\"start\">" + escape(per_au[a].code) + "</text>";
    }
    out += "<line x1=\"" + px(left) + "\" y1=\"" + px(top + plot_height) + "\" x2=\"" + px(width - 16) + "\" y2=\"" +
           px(top + plot_height) + "\" class=\"frame-line\"/>";
    return out + "</svg>";
}

std::string scatter_svg(const std::string& id, const std::string& dimension, const ScatterSample& sample,
                        double tolerance) {
    Axes a;
    a.lo = -1;
    a.hi = 1;
    std::string out =
        svg_open(id, a.width(), a.height(), dimension + ": true (x) vs predicted (y); band = within the VA tolerance");
    // The band where a VA answer counts as right.
    out += "<polygon class=\"band\" points=\"" + px(a.x(-1)) + "," + px(a.y(-1 + tolerance)) + " " +
           px(a.x(1 - tolerance)) + "," + px(a.y(1)) + " " + px(a.x(1)) + "," + px(a.y(1)) + " " + px(a.x(1)) + "," +
           px(a.y(1 - tolerance)) + " " + px(a.x(-1 + tolerance)) + "," + px(a.y(-1)) + " " + px(a.x(-1)) + "," +
           px(a.y(-1)) + "\"/>";
    out += axes_svg(a, "true " + dimension, "predicted " + dimension);
    out += diagonal(a, "diagonal");
    for (const auto& [t, p] : sample.points)
        out += "<circle cx=\"" + px(a.x(t)) + "\" cy=\"" + px(a.y(p)) + "\" r=\"2\" class=\"point\"/>";
    return out + "</svg>";
}

std::string reliability_svg(const Scores& s) {
    Axes a;
    std::string out = svg_open("reliability", a.width() + kLegendWidth, a.height(),
                               "Reliability: uncertainty read as a probability of error vs the observed error rate");
    out += axes_svg(a, "uncertainty (predicted P(error))", "observed error rate");
    out += diagonal(a, "diagonal");
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& row : s.uncertainty) {
        // One series per error kind: its own level's signal, and overall for "any".
        if (!is_own_signal(row)) continue;
        std::vector<std::pair<double, double>> points;
        for (const auto& bin : row.reliability)
            if (bin.count > 0) points.emplace_back(bin.mean_predicted, bin.observed_rate);
        const char* colour = series_colour(row.target);
        out += polyline(points, a, colour);
        for (const auto& [x, y] : points)
            out += "<circle cx=\"" + px(a.x(x)) + "\" cy=\"" + px(a.y(y)) + "\" r=\"3\" fill=\"" + colour + "\"/>";
        entries.emplace_back(colour, std::string(uncertainty_signal_name(row.signal)) + " → " +
                                         std::string(error_target_name(row.target)) + " error, ECE " +
                                         fixed(row.ece, 3));
    }
    out += legend(entries, a.left + a.size + 24, a.top + 16);
    return out + "</svg>";
}

std::string caught_svg(const Scores& s) {
    Axes a;
    std::string out = svg_open("errors-caught", a.width() + kLegendWidth, a.height(),
                               "Share of errors caught when reviewing the most uncertain items first");
    out += axes_svg(a, "share of items reviewed (most uncertain first)", "share of errors caught");
    out += diagonal(a, "diagonal");
    std::vector<std::pair<std::string, std::string>> entries = {{"#888", "random order"}};
    if (const UncertaintyRow* any = find_row(s, ErrorTarget::any, UncertaintySignal::overall); any && any->items) {
        // The best any ranking could do: every error first.
        double error_share = static_cast<double>(any->errors) / static_cast<double>(any->items);
        std::vector<std::pair<double, double>> oracle;
        for (double budget : curve_budgets())
            oracle.emplace_back(budget, error_share > 0 ? std::min(1.0, budget / error_share) : 0);
        out += polyline(oracle, a, "#aaa", "stroke-dasharray=\"2 3\"");
        entries.emplace_back("#aaa", "perfect ranking (any error)");
    }
    for (const auto& row : s.uncertainty) {
        if (!is_own_signal(row)) continue;
        std::vector<std::pair<double, double>> points;
        for (std::size_t b = 0; b < row.caught_curve.size(); ++b)
            points.emplace_back(curve_budgets()[b], row.caught_curve[b]);
        out += polyline(points, a, series_colour(row.target));
        entries.emplace_back(series_colour(row.target), std::string(uncertainty_signal_name(row.signal)) + " → " +
                                                            std::string(error_target_name(row.target)) + " error");
    }
    out += legend(entries, a.left + a.size + 24, a.top + 16);
    return out + "</svg>";
}

std::string group_table_html(const Scores& s) {
    std::string out =
        "<table><tr><th>group</th><th>items</th><th>no prediction</th><th>expr n</th><th>accuracy</th>"
        "<th>macro-F1</th><th>AU n</th><th>mean AU F1</th><th>V n</th><th>V CCC</th><th>V RMSE</th>"
        "<th>A n</th><th>A CCC</th><th>A RMSE</th></tr>";
    auto row = [&](const GroupScores& g) {
        out += "<tr><td>" + escape(g.name) + "</td><td>" + std::to_string(g.items) + "</td><td>" +
               std::to_string(g.items - g.predicted) + "</td><td>" + std::to_string(g.expression.scored) + "</td><td>" +
               fixed(g.expression.accuracy) + "</td><td>" + fixed(g.expression.macro_f1) + "</td><td>" +
               std::to_string(g.action_units.scored) + "</td><td>" + fixed(g.action_units.mean_f1) + "</td><td>" +
               std::to_string(g.valence.scored) + "</td><td>" + fixed(g.valence.ccc) + "</td><td>" +
               fixed(g.valence.rmse) + "</td><td>" + std::to_string(g.arousal.scored) + "</td><td>" +
               fixed(g.arousal.ccc) + "</td><td>" + fixed(g.arousal.rmse) + "</td></tr>";
    };
    row(s.overall);
    for (const auto& group : s.per_source) row(group);
    return out + "</table>";
}

std::string uncertainty_table_html(const Scores& s) {
    std::string out = "<table><tr><th>error</th><th>signal</th><th>items</th><th>errors</th><th>AUROC</th>";
    for (double budget : s.options.review_budgets) out += "<th>caught, top " + percent(budget) + "</th>";
    out += "<th>ECE</th></tr>";
    for (const auto& row : s.uncertainty) {
        out += "<tr><td>" + std::string(error_target_name(row.target)) + "</td><td>" +
               std::string(uncertainty_signal_name(row.signal)) + "</td><td>" + std::to_string(row.items) +
               "</td><td>" + std::to_string(row.errors) + "</td><td>" + fixed(row.auroc) + "</td>";
        for (double caught : row.caught) out += "<td>" + fixed(caught) + "</td>";
        out += "<td>" + fixed(row.ece) + "</td></tr>";
    }
    return out + "</table>";
}

std::string problems_html(const ProblemLog& problems) {
    if (problems.total() == 0) return "<p>None: every truth line was used and every truth item had a prediction.</p>";
    std::string out = "<table><tr><th>input</th><th>problem</th><th>count</th><th>effect</th></tr>";
    for (const auto& [key, count] : problems.counts())
        out += "<tr><td>" + std::string(input_file_name(key.first)) + "</td><td>" +
               std::string(problem_kind_name(key.second)) + "</td><td>" + std::to_string(count) + "</td><td>" +
               (problem_skips_item(key.second) ? "item not scored" : "field dropped or ignored") + "</td></tr>";
    out += "</table>";
    constexpr std::size_t kListed = 100;
    out += "<table class=\"problems\"><tr><th>where</th><th>problem</th><th>reason</th></tr>";
    std::size_t listed = 0;
    for (const auto& problem : problems.kept()) {
        if (listed++ == kListed) break;
        out += "<tr><td>" + escape(problem_location(problem)) + "</td><td>" +
               std::string(problem_kind_name(problem.kind)) + "</td><td>" + escape(problem.reason) + "</td></tr>";
    }
    out += "</table>";
    if (problems.total() > kListed)
        out += "<p class=\"muted\">The first " + std::to_string(kListed) + " are listed; report.json lists up to " +
               std::to_string(problems.kept_per_kind()) + " of each kind.</p>";
    return out;
}

constexpr const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
figure{margin:0}figcaption{color:#555;font-size:12px;max-width:460px}
svg.plot{font:11px system-ui,sans-serif;background:#fff}
svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#999}svg .frame-line{stroke:#999}
svg .diagonal{stroke:#888;stroke-dasharray:4 3}svg .axis-title{font-size:12px;fill:#444}
svg .point{fill:#1f77b4;fill-opacity:.35}svg .band{fill:#2ca02c;fill-opacity:.08}
.muted{color:#777;fill:#777}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}
)";

}  // namespace

std::string report_html(const Report& report) {
    const Scores& s = report.scores;
    const InputSummary& in = report.inputs;
    std::string out =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>FEAB report</title><style>";
    out += kStyle;
    out += "</style></head><body>\n<h1>FEAB report</h1>\n<dl>";
    out += "<dt>truth</dt><dd>" + escape(in.truth_path) + " — " + std::to_string(in.truth_lines) + " lines, " +
           std::to_string(in.truth_items) + " items scored against</dd>";
    out += "<dt>predictions</dt><dd>" + escape(in.predictions) + " — " + std::to_string(in.prediction_records) +
           " records, " + std::to_string(in.matched) + " matched</dd>";
    out += "<dt>no prediction</dt><dd>" + std::to_string(in.truth_items - in.matched) +
           " truth items (left out of every metric)</dd>";
    if (s.prior_levels > 0)
        out += "<dt>prior levels</dt><dd>" + std::to_string(s.prior_levels) +
               " predicted levels came from priors (provenance source/human) and are scored as given</dd>";
    if (report.run) {
        const BenchmarkRun& r = *report.run;
        out += "<dt>run</dt><dd>mode " + escape(r.mode) + ", model " + escape(r.model) + ", version " +
               escape(r.model_version) + "; " + std::to_string(r.labeled_now) + " labeled now, " +
               std::to_string(r.already_done) + " already in the store, " + std::to_string(r.failed) + " failed; " +
               std::to_string(r.requests) + " requests, " + std::to_string(r.samples) + " samples, " +
               std::to_string(r.prompt_tokens + r.completion_tokens) + " tokens, " + fixed(r.seconds, 1) + " s</dd>";
    }
    if (report.cost) out += "<dt>cost</dt><dd>" + escape(cost_line(*report.cost)) + "</dd>";
    out += "</dl>\n<h2>Scores</h2>\n" + group_table_html(s);
    out +=
        "<p class=\"muted\">Values to 4 decimals. n = items where both truth and prediction have the level. "
        "Macro-F1 and mean AU F1 leave out classes/AUs absent from both truth and prediction.</p>\n";

    out += "<h2>Expression and action units</h2>\n<div class=\"plots\">";
    out += "<figure>" + confusion_svg(s) +
           "<figcaption>Confusion matrix (overall): rows are the true classes, "
           "columns the predicted ones; the shade is the share of the row.</figcaption></figure>";
    out += "<figure>" + au_bars_svg(s) + "<figcaption>F1 per action unit (overall); mean " +
           fixed(s.overall.action_units.mean_f1) + ". Grey: absent from truth and prediction.</figcaption></figure>";
    out += "</div>\n<h2>Valence and arousal</h2>\n<div class=\"plots\">";
    auto scatter_caption = [&](const ScatterSample& sample, const DimensionScores& d) {
        std::string text = "CCC " + fixed(d.ccc) + ", RMSE " + fixed(d.rmse) + "; ";
        text += sample.points.size() < sample.total
                    ? std::to_string(sample.points.size()) + " of " + std::to_string(sample.total) + " points shown"
                    : std::to_string(sample.total) + " points";
        return text + ". The band is the VA tolerance (±" + fixed(s.options.va_tolerance, 2) + ").";
    };
    out += "<figure>" + scatter_svg("va-scatter-valence", "valence", s.valence_scatter, s.options.va_tolerance) +
           "<figcaption>Valence: " + scatter_caption(s.valence_scatter, s.overall.valence) + "</figcaption></figure>";
    out += "<figure>" + scatter_svg("va-scatter-arousal", "arousal", s.arousal_scatter, s.options.va_tolerance) +
           "<figcaption>Arousal: " + scatter_caption(s.arousal_scatter, s.overall.arousal) + "</figcaption></figure>";
    out += "</div>\n<h2>Uncertainty</h2>\n";
    if (s.uncertainty.empty()) {
        out +=
            "<p>The predictions carry no uncertainty, so there is no reliability diagram or review "
            "curve.</p>\n";
    } else {
        out += "<p>An error is, per level: ";
        for (const auto& [name, text] : kErrorDefinitions) out += "<b>" + std::string(name) + "</b>: " + text + "; ";
        out += "VA tolerance " + fixed(s.options.va_tolerance, 2) + ".</p>\n";
        out += uncertainty_table_html(s);
        out += "<div class=\"plots\"><figure>" + reliability_svg(s) +
               "<figcaption>Reliability diagram: items binned by uncertainty (read as a predicted "
               "probability of "
               "error) against the error rate observed in each bin; on the diagonal is calibrated."
               "</figcaption></figure>";
        out += "<figure>" + caught_svg(s) +
               "<figcaption>Errors caught vs review budget: reviewing the most uncertain items first, the "
               "share of "
               "all errors found.</figcaption></figure></div>\n";
    }
    out += "<h2>Problems in the input</h2>\n" + problems_html(report.problems);
    out += "\n</body></html>\n";
    return out;
}

Result<bool> write_report(const Report& report, const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error(errc::io_error, "cannot create " + dir + ": " + ec.message());
    auto write = [&](const std::string& name, const std::string& content) -> Result<bool> {
        auto path = std::filesystem::path(dir) / name;
        auto partial = path;
        partial += ".partial";
        {
            std::ofstream out(partial, std::ios::binary | std::ios::trunc);
            out << content;
            if (!out.flush()) return make_error(errc::io_error, "cannot write " + partial.string());
        }
        std::filesystem::rename(partial, path, ec);
        if (ec) return make_error(errc::io_error, "cannot write " + path.string() + ": " + ec.message());
        return true;
    };
    if (auto written = write("report.json", report_json(report).dump(2) + "\n"); !written) return written;
    return write("report.html", report_html(report));
}

}  // namespace seke::feab
