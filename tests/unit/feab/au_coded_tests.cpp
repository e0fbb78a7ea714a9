// Truth sets that code only some AUs (BP4D's 12, DISFA's 12): an AU a truth line does not code is
// scored neither right nor wrong, and a truth file without `au_coded` scores as it always did.
#include <boost/test/unit_test.hpp>

#include "plugin/feab/input.hpp"
#include "plugin/feab/score.hpp"
#include "tests/unit/feab/feab_sample.hpp"

using namespace seke;
using namespace seke::feab;
namespace tt = boost::test_tools;
using nlohmann::ordered_json;

namespace {

const char* const kBp4dCoded = R"(["AU1","AU2","AU4","AU6","AU7","AU10","AU12","AU14","AU15","AU17","AU23","AU24"])";

std::vector<std::string> au_codes(const Vocabulary& vocabulary, const std::vector<int>& indices) {
    std::vector<std::string> codes;
    for (int index : indices) codes.push_back(vocabulary.action_units()[static_cast<std::size_t>(index)]);
    return codes;
}

const Problem* find_problem(const ProblemLog& log, ProblemKind kind, int line) {
    for (const auto& problem : log.kept())
        if (problem.kind == kind && problem.line == line) return &problem;
    return nullptr;
}

Prediction plain_prediction(Vocabulary& vocabulary, const std::string& line) {
    ProblemLog problems;
    auto prediction = parse_prediction_line(line, 1, RecordLabels::current, vocabulary, problems);
    BOOST_REQUIRE(prediction.has_value());
    return *prediction;
}

std::vector<std::optional<Prediction>> predictions_for(const TruthSet& truth, Vocabulary& vocabulary,
                                                       const std::vector<std::string>& lines) {
    std::vector<std::optional<Prediction>> out(truth.items.size());
    for (const auto& line : lines) {
        Prediction p = plain_prediction(vocabulary, line);
        out[truth.index_of.at(p.id)] = p;
    }
    return out;
}

void same_scores(const Scores& a, const Scores& b) {
    BOOST_TEST(a.overall.action_units.truth_items == b.overall.action_units.truth_items);
    BOOST_TEST(a.overall.action_units.scored == b.overall.action_units.scored);
    BOOST_TEST(a.overall.action_units.mean_f1 == b.overall.action_units.mean_f1);
    BOOST_TEST_REQUIRE(a.overall.action_units.per_au.size() == b.overall.action_units.per_au.size());
    for (std::size_t i = 0; i < a.overall.action_units.per_au.size(); ++i) {
        const auto& x = a.overall.action_units.per_au[i];
        const auto& y = b.overall.action_units.per_au[i];
        BOOST_TEST((x.counts.tp == y.counts.tp && x.counts.fp == y.counts.fp && x.counts.fn == y.counts.fn &&
                    x.counts.tn == y.counts.tn),
                   x.code);
        BOOST_TEST(x.in_mean == y.in_mean);
    }
    BOOST_TEST(a.overall.expression.accuracy == b.overall.expression.accuracy);
    BOOST_TEST_REQUIRE(a.uncertainty.size() == b.uncertainty.size());
    for (std::size_t i = 0; i < a.uncertainty.size(); ++i) {
        BOOST_TEST(a.uncertainty[i].items == b.uncertainty[i].items);
        BOOST_TEST(a.uncertainty[i].errors == b.uncertainty[i].errors);
        BOOST_TEST(a.uncertainty[i].auroc == b.uncertainty[i].auroc);
        BOOST_TEST(a.uncertainty[i].ece == b.uncertainty[i].ece);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(feab_au_coded)

BOOST_AUTO_TEST_CASE(truth_lines_say_which_aus_they_code) {
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    const std::string text =
        std::string(R"({"id":"bp4d-1","source":"BP4D","action_units":["AU6","AU12"],"au_coded":)") + kBp4dCoded +
        "}\n"
        R"({"id":"all-absent","au_coded":["AU1","AU2"]})"
        "\n"
        R"({"id":"plain","action_units":["AU6"]})"
        "\n"
        R"({"id":"bad-type","expression":"happy","action_units":["AU6"],"au_coded":"AU6"})"
        "\n"
        R"({"id":"odd-code","action_units":["AU6"],"au_coded":["AU6","AU99"]})"
        "\n"
        R"({"id":"uncoded-present","action_units":["AU5","AU6"],"au_coded":["AU6"]})"
        "\n"
        R"({"id":"nothing","au_coded":[]})";
    TruthSet truth = read_truth_text(text, vocabulary, problems);
    BOOST_TEST_REQUIRE(truth.items.size() == 6u);

    const TruthItem& bp4d = truth.items[0];
    BOOST_TEST(au_codes(vocabulary, *bp4d.labels.action_units) == (std::vector<std::string>{"AU6", "AU12"}),
               tt::per_element());
    BOOST_TEST(au_codes(vocabulary, bp4d.action_units_uncoded) ==
                   (std::vector<std::string>{"AU5", "AU9", "AU20", "AU25", "AU26"}),
               tt::per_element());

    // au_coded alone: every coded AU absent, the rest uncoded.
    const TruthItem& absent = truth.items[1];
    BOOST_TEST_REQUIRE(absent.labels.action_units.has_value());
    BOOST_TEST(absent.labels.action_units->empty());
    BOOST_TEST(absent.action_units_uncoded.size() == 15u);

    // Without au_coded every AU is coded, as before.
    BOOST_TEST(truth.items[2].action_units_uncoded.empty());

    // Not a list: the AU level is not scored (an AU coded or not cannot be told), and said so.
    BOOST_TEST(!truth.items[3].labels.action_units.has_value());
    BOOST_TEST(truth.items[3].labels.expression.has_value());
    const Problem* bad_type = find_problem(problems, ProblemKind::bad_value, 4);
    BOOST_TEST_REQUIRE(bad_type);
    BOOST_TEST(bad_type->reason == "au_coded is \"AU6\", not a list: action units not scored");

    // A code outside the AU set is reported and ignored.
    const Problem* odd = find_problem(problems, ProblemKind::unknown_action_unit, 5);
    BOOST_TEST_REQUIRE(odd);
    BOOST_TEST(odd->reason.find("AU99") != std::string::npos);
    BOOST_TEST(truth.items[4].action_units_uncoded.size() == 16u);

    // A present AU the line says it did not code was coded after all: counted, and reported.
    const Problem* uncoded_present = find_problem(problems, ProblemKind::bad_value, 6);
    BOOST_TEST_REQUIRE(uncoded_present);
    BOOST_TEST(uncoded_present->reason.find("AU5") != std::string::npos);
    BOOST_TEST(truth.items[5].action_units_uncoded.size() == 15u);

    // Nothing coded and nothing else: no level to score, the line is skipped.
    BOOST_TEST(find_problem(problems, ProblemKind::no_labels, 7) != nullptr);
}

BOOST_AUTO_TEST_CASE(a_claim_about_an_uncoded_au_is_no_false_positive) {
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    // BP4D-style truth: 12 AUs coded. The predictions claim AU5 (not coded) on both items; item
    // 2 also claims AU1, which BP4D coded absent.
    const std::string text = std::string(R"({"id":"f1","action_units":["AU6","AU12"],"au_coded":)") + kBp4dCoded +
                             "}\n" + R"({"id":"f2","action_units":["AU4"],"au_coded":)" + kBp4dCoded + "}";
    TruthSet truth = read_truth_text(text, vocabulary, problems);
    BOOST_TEST_REQUIRE(truth.items.size() == 2u);
    auto predictions =
        predictions_for(truth, vocabulary,
                        {R"({"id":"f1","action_units":["AU5","AU6","AU12"],"uncertainty":{"au":0.2,"overall":0.2}})",
                         R"({"id":"f2","action_units":["AU1","AU4","AU5"],"uncertainty":{"au":0.8,"overall":0.8}})"});
    Scores s = score(vocabulary.classes(), vocabulary.action_units(), truth.items, predictions, ScoreOptions{});
    const auto& per_au = s.overall.action_units.per_au;
    const auto index = [&](const char* code) { return static_cast<std::size_t>(*vocabulary.action_unit_index(code)); };
    // AU5: no count at all, out of the mean.
    const auto& au5 = per_au[index("AU5")].counts;
    BOOST_TEST((au5.tp == 0u && au5.fp == 0u && au5.fn == 0u && au5.tn == 0u));
    BOOST_TEST(!per_au[index("AU5")].in_mean);
    // AU1 was coded absent: a false positive. AU6, AU12, AU4 right.
    BOOST_TEST(per_au[index("AU1")].counts.fp == 1u);
    BOOST_TEST(per_au[index("AU1")].counts.tn == 1u);
    BOOST_TEST(per_au[index("AU6")].counts.tp == 1u);
    BOOST_TEST(per_au[index("AU4")].counts.tp == 1u);
    // Mean over AU1 (F1 0), AU4, AU6, AU12 (F1 1 each).
    BOOST_TEST(s.overall.action_units.mean_f1 == 0.75, tt::tolerance(1e-12));

    // The AU error of an item counts only coded AUs: f1 is right (AU5 is not compared), f2 wrong.
    auto f1 = item_errors(truth.items[0].labels, predictions[0]->labels, 0.3, truth.items[0].action_units_uncoded);
    auto f2 = item_errors(truth.items[1].labels, predictions[1]->labels, 0.3, truth.items[1].action_units_uncoded);
    BOOST_TEST_REQUIRE((f1.au.has_value() && f2.au.has_value()));
    BOOST_TEST(!*f1.au);
    BOOST_TEST(*f2.au);
    // ... and so does the AU uncertainty row: one error among two, ranked first.
    const UncertaintyRow* au_row = nullptr;
    for (const auto& row : s.uncertainty)
        if (row.target == ErrorTarget::au && row.signal == UncertaintySignal::au) au_row = &row;
    BOOST_TEST_REQUIRE(au_row);
    BOOST_TEST(au_row->items == 2u);
    BOOST_TEST(au_row->errors == 1u);
    BOOST_TEST(au_row->auroc == 1.0);

    // The same truth without au_coded counts AU5 as a false positive on both and f1 as an error.
    TruthSet every = read_truth_text(R"({"id":"f1","action_units":["AU6","AU12"]})"
                                     "\n"
                                     R"({"id":"f2","action_units":["AU4"]})",
                                     vocabulary, problems);
    Scores old = score(vocabulary.classes(), vocabulary.action_units(), every.items, predictions, ScoreOptions{});
    BOOST_TEST(old.overall.action_units.per_au[index("AU5")].counts.fp == 2u);
    BOOST_TEST(*item_errors(every.items[0].labels, predictions[0]->labels, 0.3).au);
}

BOOST_AUTO_TEST_CASE(truth_without_au_coded_or_coding_every_au_scores_as_before) {
    // The hand-scored sample, and the same truth with every AU named in au_coded.
    auto sample = test::feab_sample();
    Scores before = score(sample.classes, sample.action_units, sample.truth, sample.predictions, ScoreOptions{});
    Vocabulary vocabulary(test::test_knowledge());
    ordered_json every = ordered_json::array();
    for (const auto& code : vocabulary.action_units()) every.push_back(code);
    auto coded_all = sample;
    for (auto& item : coded_all.truth) {
        ordered_json line = {{"id", item.id}, {"au_coded", every}};
        if (item.labels.action_units) line["action_units"] = au_codes(vocabulary, *item.labels.action_units);
        ProblemLog problems;
        auto parsed = parse_truth_line(line.dump(), 1, vocabulary, problems);
        BOOST_TEST_REQUIRE(parsed.has_value());
        BOOST_TEST(parsed->action_units_uncoded.empty());
        item.action_units_uncoded = parsed->action_units_uncoded;
    }
    same_scores(before, score(coded_all.classes, coded_all.action_units, coded_all.truth, coded_all.predictions,
                              ScoreOptions{}));
    // The figures worked out by hand in score_tests.cpp.
    BOOST_TEST(before.overall.action_units.mean_f1 == (0 + 1 + 2.0 / 3.0 + 1 + 1) / 5, tt::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(a_feid_record_with_source_coded_aus_counts_as_holding_a_prior) {
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    auto mixed = parse_prediction_line(
        R"({"id":"b1","labels":{"action_units":["AU6","AU25"]},"provenance":{"expression":"model","va":"model","au":"model"},)"
        R"("au_provenance":{"AU1":"source","AU5":"model","AU6":"source","AU25":"model"}})",
        1, RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(mixed.has_value());
    BOOST_TEST(mixed->prior_levels == 1);
    auto model_only = parse_prediction_line(
        R"({"id":"b2","labels":{"action_units":["AU6"]},"provenance":{"expression":"model","va":"model","au":"model"}})",
        2, RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(model_only.has_value());
    BOOST_TEST(model_only->prior_levels == 0);
    // A whole AU prior is counted once, as before.
    auto whole = parse_prediction_line(
        R"({"id":"b3","labels":{"action_units":["AU6"]},"provenance":{"expression":"model","va":"model","au":"source"}})",
        3, RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(whole.has_value());
    BOOST_TEST(whole->prior_levels == 1);
}

BOOST_AUTO_TEST_SUITE_END()
