// `seke label --plan` end to end on the fake VLLM: no model request and no store write, figures
// that are non-zero and agree with each other and the price, and a plan that reads the store's
// history of the model once there is one.
#include <fstream>

#include <boost/test/unit_test.hpp>

#include "tests/integration/label_fixture.hpp"

using namespace seke;
using nlohmann::json;

namespace {

// USD per million tokens for the fake model: input, cached input, output.
const std::string kPrice = "1,0.1,4";

std::string file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The manifest's lines [first, last) as a manifest of their own beside it.
std::filesystem::path part_of_manifest(const test::LabelFixture& f, std::size_t first, std::size_t last,
                                       const std::string& name) {
    const auto lines = f.manifest_lines();
    const auto path = f.data() / name;
    std::ofstream out(path);
    for (std::size_t i = first; i < last && i < lines.size(); ++i) out << lines[i].dump() << "\n";
    return path;
}

test::ProcessResult plan(const test::LabelFixture& f, const std::filesystem::path& manifest,
                         const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"label", "--plan",        "--input",          manifest.string(),
                                     "--db",  f.db().string(), "--face-detection", "off"};
    args.insert(args.end(), extra.begin(), extra.end());
    return f.run_seke(args);
}

// What the figures of one plan row must satisfy, whatever their basis.
void check_consistent(const json& row, std::int64_t faces, const std::string& what) {
    BOOST_TEST_CONTEXT(what) {
        BOOST_TEST(row["requests"].get<double>() >= static_cast<double>(faces));
        BOOST_TEST(row["samples"].get<double>() >= row["requests"].get<double>());
        BOOST_TEST(row["prompt_tokens"].get<std::int64_t>() > 0);
        BOOST_TEST(row["completion_tokens"].get<std::int64_t>() > 0);
        BOOST_TEST(row["image_tokens"].get<std::int64_t>() > 0);
        BOOST_TEST(row["image_tokens"].get<std::int64_t>() <= row["prompt_tokens"].get<std::int64_t>());
        BOOST_TEST(row["cached_prompt_tokens"].get<std::int64_t>() <= row["prompt_tokens"].get<std::int64_t>());
        // cost = tokens × price: the uncached prompt at 1, the cached at 0.1, the completion at 4 per million.
        const auto prompt = static_cast<double>(row["prompt_tokens"].get<std::int64_t>());
        const auto cached = static_cast<double>(row["cached_prompt_tokens"].get<std::int64_t>());
        const auto completion = static_cast<double>(row["completion_tokens"].get<std::int64_t>());
        const double usd = ((prompt - cached) * 1.0 + cached * 0.1 + completion * 4.0) / 1e6;
        BOOST_TEST(row["usd"].get<double>() == usd, boost::test_tools::tolerance(1e-9));
    }
}

void check_plan(const json& p, std::int64_t faces) {
    BOOST_TEST(p["plan"] == true);
    BOOST_TEST(p["faces"].get<std::int64_t>() == faces);
    for (const char* row : {"expected", "low", "high"}) check_consistent(p[row], faces, row);
    for (const char* key : {"requests", "samples", "prompt_tokens", "completion_tokens", "usd"}) {
        BOOST_TEST_CONTEXT(key) {
            BOOST_TEST(p["low"][key].get<double>() <= p["expected"][key].get<double>());
            BOOST_TEST(p["expected"][key].get<double>() <= p["high"][key].get<double>());
        }
    }
    BOOST_TEST(!p["range"].get<std::string>().empty());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_plan)

BOOST_AUTO_TEST_CASE(a_cold_plan_asks_no_model_creates_no_store_and_prices_what_it_counts) {
    test::LabelFixture f;
    f.make_data(12);
    f.start_fake();
    auto result = plan(f, f.manifest(), {"--price", kPrice});
    BOOST_TEST_REQUIRE(result.exit_code == 0, result.err);
    BOOST_TEST(f.server->stats().total_requests == 0u);
    BOOST_TEST(!std::filesystem::exists(f.db()));
    const json p = test::LabelFixture::summary(result);
    BOOST_TEST(p["store_exists"] == false);
    BOOST_TEST(p["basis"] == "prompts");
    BOOST_TEST(p["items"] == 12);
    BOOST_TEST(p["planned"] == 12);
    BOOST_TEST(p["already_done"] == 0);
    check_plan(p, 12);
    BOOST_TEST(p["price"]["model"] == "fake");

    // A model without a price: the same tokens, no money, and a note that says why.
    auto unpriced = plan(f, f.manifest());
    BOOST_TEST_REQUIRE(unpriced.exit_code == 0, unpriced.err);
    const json u = test::LabelFixture::summary(unpriced);
    BOOST_TEST(u["expected"]["usd"].is_null());
    BOOST_TEST(u["expected"]["prompt_tokens"] == p["expected"]["prompt_tokens"]);
    BOOST_TEST(u["price"].is_null());
    BOOST_TEST(u["price_note"].get<std::string>().find("no price for model \"fake\"") != std::string::npos);
    BOOST_TEST(f.server->stats().total_requests == 0u);
    BOOST_TEST(!std::filesystem::exists(f.db()));
}

BOOST_AUTO_TEST_CASE(a_warm_plan_reads_the_models_history_and_leaves_the_store_as_it_was) {
    test::LabelFixture f;
    f.make_data(48);
    f.start_fake();
    const auto history = part_of_manifest(f, 0, 24, "history.jsonl");
    const auto planned = part_of_manifest(f, 24, 48, "planned.jsonl");

    auto cold = plan(f, planned, {"--price", kPrice});
    BOOST_TEST_REQUIRE(cold.exit_code == 0, cold.err);
    const json c = test::LabelFixture::summary(cold);

    auto earlier = f.run_seke(
        {"label", "--input", history.string(), "--db", f.db().string(), "--face-detection", "off", "--price", kPrice});
    BOOST_TEST_REQUIRE(earlier.exit_code == 0, earlier.err);
    const json e = test::LabelFixture::summary(earlier);
    const auto requests_before = f.server->stats().total_requests;
    const std::string db_before = file_bytes(f.db());
    auto wal = f.db();
    wal += "-wal";
    const bool wal_before = std::filesystem::exists(wal);

    auto warm = plan(f, planned, {"--price", kPrice});
    BOOST_TEST_REQUIRE(warm.exit_code == 0, warm.err);
    BOOST_TEST(f.server->stats().total_requests == requests_before);
    BOOST_TEST((file_bytes(f.db()) == db_before));
    // A SQLite reader of a WAL database may open its log beside it, but writes nothing in it.
    if (!wal_before) BOOST_TEST((!std::filesystem::exists(wal) || std::filesystem::file_size(wal) == 0));
    const json w = test::LabelFixture::summary(warm);
    BOOST_TEST(w["store_exists"] == true);
    BOOST_TEST(w["basis"] == "history");
    BOOST_TEST(w["history_faces"] == 24);
    BOOST_TEST(w["already_done"] == 0);
    check_plan(w, 24);

    // The history's cost per face, times the faces: the warm plan moves from the cold one the way
    // the history says.
    const double history_requests = e["model_requests"].get<double>() + e["cached_requests"].get<double>();
    BOOST_TEST(w["expected"]["requests"].get<double>() == history_requests * 24 / e["faces"].get<double>(),
               boost::test_tools::tolerance(1e-6));
    BOOST_TEST(w["expected"]["samples"].get<double>() == e["samples"].get<double>() * 24 / e["faces"].get<double>(),
               boost::test_tools::tolerance(1e-6));
    const double cold_requests = c["expected"]["requests"].get<double>();
    const double warm_requests = w["expected"]["requests"].get<double>();
    const double history_per_face = history_requests / e["faces"].get<double>();
    if (history_per_face > cold_requests / 24 + 1e-9) BOOST_TEST(warm_requests > cold_requests);
    else if (history_per_face < cold_requests / 24 - 1e-9) BOOST_TEST(warm_requests < cold_requests);
    BOOST_TEST(w["expected"]["prompt_tokens"] != c["expected"]["prompt_tokens"]);

    // Items the store has finished are counted as done, not planned.
    auto again = plan(f, history, {"--price", kPrice});
    BOOST_TEST_REQUIRE(again.exit_code == 0, again.err);
    const json a = test::LabelFixture::summary(again);
    BOOST_TEST(a["already_done"] == 24);
    BOOST_TEST(a["planned"] == 0);
    BOOST_TEST(a["faces"] == 0);
    BOOST_TEST(a["expected"]["requests"].get<double>() == 0);
    BOOST_TEST(f.server->stats().total_requests == requests_before);
    BOOST_TEST((file_bytes(f.db()) == db_before));
}

BOOST_AUTO_TEST_SUITE_END()
