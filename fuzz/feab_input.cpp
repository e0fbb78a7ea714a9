// FEAB's truth and prediction files (feab/input.*): the same bytes read as a truth file and,
// line by line, as predictions. Every item has a unique id and labels within the knowledge's
// classes and AU set (sorted, unique), VA in [-1, 1]; problems are counted, kept bounded.
#include <string_view>

#include "fuzz/fuzz_support.hpp"
#include "plugin/feab/input.hpp"

using namespace seke;
using namespace seke::feab;

namespace {

bool valid(const FaceLabels& labels, const Vocabulary& vocabulary) {
    const auto classes = static_cast<int>(vocabulary.classes().size());
    const auto units = static_cast<int>(vocabulary.action_units().size());
    if (labels.expression && (*labels.expression < 0 || *labels.expression >= classes)) return false;
    for (const auto& value : {labels.valence, labels.arousal})
        if (value && !(*value >= -1 && *value <= 1)) return false;
    auto sorted_in_range = [&](const std::vector<int>& list) {
        for (std::size_t i = 0; i < list.size(); ++i)
            if (list[i] < 0 || list[i] >= units || (i > 0 && list[i - 1] >= list[i])) return false;
        return true;
    };
    if (labels.action_units && !sorted_in_range(*labels.action_units)) return false;
    return sorted_in_range(labels.action_units_unknown);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Vocabulary vocabulary(fuzz::knowledge());
    ProblemLog problems(4);
    TruthSet truth = read_truth_text(text, vocabulary, problems);
    SEKE_FUZZ_CHECK(truth.index_of.size() == truth.items.size());
    for (const TruthItem& item : truth.items) {
        SEKE_FUZZ_CHECK(!item.id.empty() && truth.index_of.at(item.id) < truth.items.size());
        SEKE_FUZZ_CHECK(valid(item.labels, vocabulary));
    }
    int line_number = 0;
    for (std::size_t start = 0; start < text.size();) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        auto prediction = parse_prediction_line(text.substr(start, end - start), ++line_number, RecordLabels::current,
                                                vocabulary, problems);
        if (prediction) SEKE_FUZZ_CHECK(!prediction->id.empty() && valid(prediction->labels, vocabulary));
        start = end + 1;
    }
    SEKE_FUZZ_CHECK(problems.kept().size() <= 4 * problems.counts().size());
    return 0;
}
