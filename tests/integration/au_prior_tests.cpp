// A manifest whose items code only some AUs, as BP4D does, labeled by the real `seke label`
// against the fake VLLM: the coded AUs stay the source's even where the model says otherwise,
// the uncoded ones are the model's, and the FEID record says so per AU.
#include <boost/test/unit_test.hpp>
#include <set>

#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;

namespace {

const std::vector<std::string> kBp4dCoded{"AU1",  "AU2",  "AU4",  "AU6",  "AU7",  "AU10",
                                          "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"};

bool coded(const std::string& code) {
    return std::find(kBp4dCoded.begin(), kBp4dCoded.end(), code) != kBp4dCoded.end();
}

std::set<std::string> as_set(const json& codes) {
    return std::set<std::string>(codes.begin(), codes.end());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_au_prior)

BOOST_AUTO_TEST_CASE(coded_aus_stay_the_sources_and_uncoded_ones_come_from_the_model) {
    test::LabelFixture f;
    f.make_data(8);
    fake::FakeOptions options;
    options.record_answers = true;
    f.start_fake(options);

    // Each item's source codes BP4D's 12 AUs and, to be sure seke keeps them, contradicts the
    // face: the coded AUs the face shows are given as absent, those it does not show as present.
    const auto truth = f.truth();
    std::map<std::string, std::set<std::string>> source_present;
    std::string manifest;
    for (json line : f.manifest_lines()) {
        const std::string id = line["id"];
        const auto shown = as_set(truth.at(id)["action_units"]);
        std::set<std::string> present;
        for (const auto& code : kBp4dCoded)
            if (!shown.count(code)) present.insert(code);
        source_present[id] = present;
        line["known"] = {{"action_units", std::vector<std::string>(present.begin(), present.end())},
                         {"au_coded", kBp4dCoded}};
        manifest += line.dump() + "\n";
    }
    test::write_file(f.manifest(), manifest);

    auto result = f.label({"--sampling", "greedy"});
    BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
    BOOST_TEST(test::LabelFixture::summary(result)["labeled_now"] == 8);

    const auto answered = f.server->stats().answered;
    const auto records = f.export_records();
    BOOST_TEST_REQUIRE(records.size() == 8u);
    int contradicted = 0;
    int uncoded_present = 0;
    for (const auto& r : records) {
        const std::string id = r["id"];
        // Greedy: one answer per face, the one its uncoded AUs must come from.
        BOOST_TEST_REQUIRE(answered.count(id) == 1u, id);
        const auto& answers = answered.at(id);
        BOOST_TEST_REQUIRE(answers.size() == 1u, id);
        const auto model_said = as_set(answers[0]["action_units"]);

        const auto got = as_set(r["labels"]["action_units"]);
        for (const auto& au : test::test_knowledge().action_units) {
            const std::string& code = au.code;
            if (coded(code)) {
                BOOST_TEST(got.count(code) == source_present[id].count(code), id << " " << code);
                BOOST_TEST(r["au_provenance"][code] == "source", id << " " << code);
                contradicted += model_said.count(code) != source_present[id].count(code);
            } else {
                BOOST_TEST(got.count(code) == model_said.count(code), id << " " << code);
                BOOST_TEST(r["au_provenance"][code] == "model", id << " " << code);
                uncoded_present += got.count(code) > 0;
            }
        }
        BOOST_TEST(r["provenance"]["au"] == "model");
        BOOST_TEST(r["provenance"]["expression"] == "model");
    }
    // The model did claim coded AUs against the source (what the override is for), and did find
    // some of the uncoded ones.
    BOOST_TEST(contradicted > 0);
    BOOST_TEST(uncoded_present > 0);
}

BOOST_AUTO_TEST_SUITE_END()
