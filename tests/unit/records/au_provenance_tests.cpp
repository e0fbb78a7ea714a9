// Per-AU provenance in the FEID record: written where a source coded some AUs and the engine the
// rest, absent (records as before) where every AU has the level's provenance.
#include <boost/test/unit_test.hpp>

#include "plugin/records/feid.hpp"
#include "tests/support/test_support.hpp"
#include "verify/au_prior.hpp"

using namespace seke;

namespace {

// A BP4D face: 12 AUs coded by the source (AU6 and AU12 present), the other five the model's.
FaceResult bp4d_result() {
    FaceResult r;
    r.ok = true;
    r.labels.expression = "happy";
    r.labels.valence = 0.6;
    r.labels.arousal = 0.3;
    r.labels.action_units = std::vector<std::string>{"AU6", "AU12", "AU25"};
    r.provenance.au = Provenance::model;
    LabelSet known;
    known.action_units = std::vector<std::string>{"AU6", "AU12"};
    known.au_coded = std::vector<std::string>{"AU1",  "AU2",  "AU4",  "AU6",  "AU7",  "AU10",
                                              "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"};
    r.au_provenance = au_provenance_of(test::test_knowledge(), known, Provenance::source, Provenance::model);
    return r;
}

FeidRecord record_of(const FaceResult& r) {
    FeidInput input{"bp4d-1", "f/1.jpg", std::nullopt, false, &r, "v1", "auto", {}, {}, {}, {}, {}};
    return feid_record(test::test_knowledge(), input);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(records_au_provenance)

BOOST_AUTO_TEST_CASE(mixed_au_provenance_is_written_per_au_and_read_back) {
    const FaceResult r = bp4d_result();
    const FeidRecord record = record_of(r);
    const auto json = record.to_json();
    BOOST_TEST_REQUIRE(json.contains("au_provenance"));
    const auto& per_au = json["au_provenance"];
    BOOST_TEST(per_au.size() == test::test_knowledge().action_units.size());
    BOOST_TEST(per_au["AU1"] == "source");
    BOOST_TEST(per_au["AU12"] == "source");
    BOOST_TEST(per_au["AU5"] == "model");
    BOOST_TEST(per_au["AU25"] == "model");
    BOOST_TEST(json["provenance"]["au"] == "model");
    // Right after the level provenance, in the knowledge's order.
    auto it = json.begin();
    while (it.key() != "provenance") ++it;
    BOOST_TEST((++it).key() == "au_provenance");
    BOOST_TEST(per_au.begin().key() == "AU1");

    const std::string text = json.dump();
    auto parsed = FeidRecord::parse(text);
    BOOST_TEST_REQUIRE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    BOOST_TEST((parsed->au_provenance == r.au_provenance));
    BOOST_TEST(parsed->other.empty());
    BOOST_TEST(parsed->to_json().dump() == text);
}

BOOST_AUTO_TEST_CASE(uniform_au_provenance_is_not_written) {
    FaceResult r = bp4d_result();
    for (auto& entry : r.au_provenance) entry.second = Provenance::model;
    const auto json = record_of(r).to_json();
    BOOST_TEST(!json.contains("au_provenance"));
    BOOST_TEST(record_of(r).au_provenance.empty());
}

BOOST_AUTO_TEST_CASE(a_bad_au_provenance_is_an_error_that_names_it) {
    auto json = record_of(bp4d_result()).to_json();
    json["au_provenance"]["AU5"] = "oracle";
    auto bad = FeidRecord::from_json(json);
    BOOST_TEST_REQUIRE(!bad.ok());
    BOOST_TEST(bad.error().message.find("au_provenance.AU5") != std::string::npos);
    json["au_provenance"] = "source";
    auto wrong = FeidRecord::from_json(json);
    BOOST_TEST_REQUIRE(!wrong.ok());
    BOOST_TEST(wrong.error().message.find("au_provenance") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
