// What `seke feab` reads: truth files with every kind of bad line, FEID and plain predictions,
// and the matching of the two. Nothing may be dropped without a problem saying so.
#include <boost/test/unit_test.hpp>

#include "plugin/feab/input.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
using namespace seke::feab;
using nlohmann::ordered_json;

namespace {

const Problem* find_problem(const ProblemLog& log, ProblemKind kind, int line) {
    for (const auto& problem : log.kept())
        if (problem.kind == kind && problem.line == line) return &problem;
    return nullptr;
}

std::vector<std::string> au_codes(const Vocabulary& vocabulary, const std::vector<int>& indices) {
    std::vector<std::string> codes;
    for (int index : indices) codes.push_back(vocabulary.action_units()[static_cast<std::size_t>(index)]);
    return codes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(feab_input)

BOOST_AUTO_TEST_CASE(truth_file_problems_are_reported_with_lines_and_reasons) {
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    const std::string text =
        R"({"id":"ok1","expression":"happy","action_units":["AU6","AU12"],"valence":0.6,"arousal":0.2,"source":"RAF-DB"})"
        "\n"
        "this is not json\n"
        R"({"expression":"happy"})"
        "\n"
        R"({"id":"ok1","expression":"sad"})"
        "\n"
        R"({"id":"x5","expression":"joy","valence":0.2})"
        "\n"
        R"({"id":"x6","action_units":["AU12","AU99","au 27"]})"
        "\n"
        R"({"id":"x7","valence":1.5,"arousal":0.2})"
        "\n"
        R"({"id":"x8","valence":"high"})"
        "\n"
        "   \n"
        R"({"id":"x10","expression":"Happiness","source":"RAF-DB","action_units":["au_6", 12]})"
        "\n"
        R"({"id":11,"expression":"SAD"})"
        "\n"
        R"([1, 2, 3])";
    TruthSet truth = read_truth_text(text, vocabulary, problems);

    // Used: ok1, x5 (VA only), x6 (AU12), x7 (arousal only), x10, 11. Skipped: lines 2, 3, 4, 8, 12.
    BOOST_TEST(truth.lines == 11);
    BOOST_TEST_REQUIRE(truth.items.size() == 6u);
    BOOST_TEST(truth.items[0].id == "ok1");
    BOOST_TEST(truth.items[0].source == "RAF-DB");
    BOOST_TEST((truth.items[0].labels.expression == 1));  // happy

    BOOST_TEST(find_problem(problems, ProblemKind::not_json, 2));
    BOOST_TEST(find_problem(problems, ProblemKind::missing_id, 3));
    const Problem* duplicate = find_problem(problems, ProblemKind::duplicate_id, 4);
    BOOST_TEST_REQUIRE(duplicate);
    BOOST_TEST(duplicate->id == "ok1");
    BOOST_TEST(duplicate->reason.find("line 1") != std::string::npos, duplicate->reason);

    const Problem* unknown = find_problem(problems, ProblemKind::unknown_expression, 5);
    BOOST_TEST_REQUIRE(unknown);
    BOOST_TEST(unknown->reason.find("\"joy\"") != std::string::npos, unknown->reason);
    const TruthItem& x5 = truth.items[truth.index_of.at("x5")];
    BOOST_TEST(!x5.labels.expression.has_value());
    BOOST_TEST((x5.labels.valence == 0.2));

    const Problem* unknown_au = find_problem(problems, ProblemKind::unknown_action_unit, 6);
    BOOST_TEST_REQUIRE(unknown_au);
    BOOST_TEST(unknown_au->reason.find("AU99") != std::string::npos, unknown_au->reason);
    BOOST_TEST(unknown_au->reason.find("au 27") != std::string::npos, unknown_au->reason);
    BOOST_TEST((au_codes(vocabulary, *truth.items[truth.index_of.at("x6")].labels.action_units) ==
                std::vector<std::string>{"AU12"}));

    BOOST_TEST(find_problem(problems, ProblemKind::out_of_range, 7));
    const TruthItem& x7 = truth.items[truth.index_of.at("x7")];
    BOOST_TEST(!x7.labels.valence.has_value());
    BOOST_TEST((x7.labels.arousal == 0.2));

    BOOST_TEST(find_problem(problems, ProblemKind::bad_value, 8));
    BOOST_TEST(find_problem(problems, ProblemKind::no_labels, 8));
    BOOST_TEST(!truth.index_of.count("x8"));

    // Synonyms, case and AU spellings are canonicalised by the knowledge file; integer ids accepted.
    const TruthItem& x10 = truth.items[truth.index_of.at("x10")];
    BOOST_TEST((x10.labels.expression == 1));
    BOOST_TEST((au_codes(vocabulary, *x10.labels.action_units) == std::vector<std::string>{"AU6", "AU12"}));
    BOOST_TEST((truth.items[truth.index_of.at("11")].labels.expression == 2));  // sad
    BOOST_TEST(find_problem(problems, ProblemKind::not_json, 12));

    BOOST_TEST(problems.total() == 9u);
    BOOST_TEST(problems.count(InputFile::truth, ProblemKind::not_json) == 2u);
}

BOOST_AUTO_TEST_CASE(empty_truth_is_empty_not_an_error) {
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    TruthSet truth = read_truth_text("", vocabulary, problems);
    BOOST_TEST(truth.items.empty());
    BOOST_TEST(truth.lines == 0);
    BOOST_TEST(problems.total() == 0u);
}

BOOST_AUTO_TEST_CASE(missing_files_are_errors) {
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    auto truth = read_truth_file("/nonexistent/truth.jsonl", vocabulary, problems);
    BOOST_TEST_REQUIRE(!truth);
    BOOST_TEST((truth.error().code == errc::not_found));
    TruthSet empty;
    PredictionMatcher matcher(empty);
    auto read = read_prediction_file("/nonexistent/pred.jsonl", RecordLabels::current, vocabulary, matcher, problems);
    BOOST_TEST_REQUIRE(!read);
    BOOST_TEST((read.error().code == errc::not_found));
}

BOOST_AUTO_TEST_CASE(feid_records_and_plain_predictions) {
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    // A FEID record as `seke export` writes it, reviewed once: current labels are the human's.
    std::string feid =
        R"({"id":"f1","image":"x.jpg","face":null,"labels":{"expression":"anger","valence":-0.5,"arousal":0.6,)"
        R"("action_units":["AU4","AU7"]},"descriptions":{"expression":"a \"quoted\" brow","va":"","au":""},)"
        R"("provenance":{"expression":"human","va":"model","au":"model"},)"
        R"("uncertainty":{"expression":0.2,"va":0.1,"au":0.3,"consistency":0.1,"overall":0.25},)"
        R"("review":{"model_labels":{"expression":"disgust","valence":-0.4,"arousal":0.3,"action_units":["AU9"]}},)"
        R"("conversations":[{"from":"human","value":"<image>\nWhat {is} [this]?"}]})";
    auto current = parse_prediction_line(feid, 1, RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(current.has_value());
    BOOST_TEST(current->id == "f1");
    BOOST_TEST((current->labels.expression == 6));  // anger
    BOOST_TEST((current->labels.arousal == 0.6));
    BOOST_TEST((current->uncertainty.overall == 0.25));
    BOOST_TEST((current->uncertainty.au == 0.3));
    BOOST_TEST(current->prior_levels == 1);
    auto model = parse_prediction_line(feid, 1, RecordLabels::model, vocabulary, problems);
    BOOST_TEST_REQUIRE(model.has_value());
    BOOST_TEST((model->labels.expression == 5));  // disgust
    BOOST_TEST((au_codes(vocabulary, *model->labels.action_units) == std::vector<std::string>{"AU9"}));

    // Only facts (source, human) are priors: the face expert's labels are predictions like the model's.
    std::string expert = R"({"id":"f2","image":"x.jpg","labels":{"expression":"sad"},)"
                         R"("provenance":{"expression":"expert","va":"source","au":"model"}})";
    auto from_expert = parse_prediction_line(expert, 1, RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(from_expert.has_value());
    BOOST_TEST(from_expert->prior_levels == 1);

    auto plain = parse_prediction_line(
        R"({"id":"p1","expression":"Happy","action_units":["AU12"],"valence":0.5,"arousal":0.1,"uncertainty":0.4})", 2,
        RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(plain.has_value());
    BOOST_TEST((plain->labels.expression == 1));
    BOOST_TEST((plain->uncertainty.overall == 0.4));
    BOOST_TEST(!plain->uncertainty.expression.has_value());

    auto levels = parse_prediction_line(R"({"id":"p2","expression":"sad","uncertainty":{"expression":0.7}})", 3,
                                        RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(levels.has_value());
    BOOST_TEST((levels->uncertainty.expression == 0.7));
    BOOST_TEST(!levels->uncertainty.overall.has_value());
    BOOST_TEST(problems.total() == 0u);

    // Broken records are reported, not guessed at.
    BOOST_TEST(!parse_prediction_line(R"({"id":"p3","labels":{"expression":"sad"})", 4, RecordLabels::current,
                                      vocabulary, problems));
    BOOST_TEST(
        !parse_prediction_line(R"({"labels":{"expression":"sad"}})", 5, RecordLabels::current, vocabulary, problems));
    BOOST_TEST(find_problem(problems, ProblemKind::not_json, 4));
    BOOST_TEST(find_problem(problems, ProblemKind::missing_id, 5));
    for (const auto& problem : problems.kept()) BOOST_TEST((problem.file == InputFile::predictions));
}

BOOST_AUTO_TEST_CASE(aus_the_expert_could_not_see_are_unknown_where_its_aus_are_scored) {
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    const std::string expert_block = R"("expert":{"abstained":false,"au_unknown":["AU9","AU6","AU99"]})";
    auto by_expert = parse_prediction_line(
        R"({"id":"e1","labels":{"action_units":["AU12"]},"provenance":{"au":"expert"},)" + expert_block + "}", 1,
        RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(by_expert.has_value());
    BOOST_TEST(
        (au_codes(vocabulary, by_expert->labels.action_units_unknown) == std::vector<std::string>{"AU6", "AU9"}));
    // The VLLM gave the AUs (the expert was evidence): nothing is unknown.
    auto by_model = parse_prediction_line(
        R"({"id":"e2","labels":{"action_units":["AU12"]},"provenance":{"au":"model"},)" + expert_block + "}", 2,
        RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(by_model.has_value());
    BOOST_TEST(by_model->labels.action_units_unknown.empty());
    // Reviewed: the model's labels are the expert's (review.model_provenance), the current the human's.
    const std::string reviewed =
        R"({"id":"e3","labels":{"action_units":["AU6","AU12"]},"provenance":{"au":"human"},)" + expert_block +
        R"(,"review":{"model_labels":{"action_units":["AU12"]},"model_provenance":{"au":"expert"}}})";
    auto model = parse_prediction_line(reviewed, 3, RecordLabels::model, vocabulary, problems);
    auto current = parse_prediction_line(reviewed, 3, RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE((model && current));
    BOOST_TEST(model->labels.action_units_unknown.size() == 2u);
    BOOST_TEST(current->labels.action_units_unknown.empty());
    // A plain prediction line may say the same with "au_unknown".
    auto plain = parse_prediction_line(R"({"id":"p","action_units":[],"au_unknown":["AU14"]})", 4,
                                       RecordLabels::current, vocabulary, problems);
    BOOST_TEST_REQUIRE(plain.has_value());
    BOOST_TEST((au_codes(vocabulary, plain->labels.action_units_unknown) == std::vector<std::string>{"AU14"}));
}

BOOST_AUTO_TEST_CASE(matching_reports_unknown_duplicate_and_missing_ids) {
    Vocabulary vocabulary(test::test_knowledge());
    ProblemLog problems;
    TruthSet truth = read_truth_text(
        "{\"id\":\"a\",\"expression\":\"happy\"}\n{\"id\":\"b\",\"expression\":\"sad\"}\n{\"id\":\"c\","
        "\"expression\":\"fear\"}\n",
        vocabulary, problems);
    PredictionMatcher matcher(truth);
    auto add = [&](const std::string& line, int number) {
        matcher.count_record();
        if (auto p = parse_prediction_line(line, number, RecordLabels::current, vocabulary, problems))
            matcher.add(std::move(*p), InputFile::predictions, problems);
    };
    add(R"({"id":"a","expression":"happy"})", 1);
    add(R"({"id":"zz","expression":"happy"})", 2);
    add(R"({"id":"a","expression":"sad"})", 3);
    add(R"({"id":"b","expression":"sad"})", 4);
    MatchedPredictions matched = std::move(matcher).finish(problems, {{"c", "failed: upstream_timeout"}});
    BOOST_TEST(matched.records == 4u);
    BOOST_TEST_REQUIRE(matched.by_truth_item.size() == 3u);
    BOOST_TEST((matched.by_truth_item[0]->labels.expression == 1));  // the first prediction for "a" wins
    BOOST_TEST(matched.by_truth_item[1].has_value());
    BOOST_TEST(!matched.by_truth_item[2].has_value());
    BOOST_TEST(find_problem(problems, ProblemKind::not_in_truth, 2));
    const Problem* duplicate = find_problem(problems, ProblemKind::duplicate_id, 3);
    BOOST_TEST_REQUIRE(duplicate);
    BOOST_TEST((duplicate->file == InputFile::predictions));
    const Problem* missing = find_problem(problems, ProblemKind::no_prediction, 3);
    BOOST_TEST_REQUIRE(missing);
    BOOST_TEST(missing->id == "c");
    BOOST_TEST((missing->file == InputFile::truth));
    BOOST_TEST(missing->reason.find("upstream_timeout") != std::string::npos, missing->reason);
}

BOOST_AUTO_TEST_CASE(problem_log_keeps_counts_exact_and_details_bounded) {
    ProblemLog log(3);
    for (int line = 1; line <= 10; ++line) log.add({InputFile::truth, line, "", ProblemKind::not_json, "bad"});
    log.add({InputFile::predictions, 1, "x", ProblemKind::not_in_truth, "unknown"});
    BOOST_TEST(log.total() == 11u);
    BOOST_TEST(log.count(InputFile::truth, ProblemKind::not_json) == 10u);
    BOOST_TEST(log.kept().size() == 4u);
}

BOOST_AUTO_TEST_SUITE_END()
