// fit on a real SQLite store: calibration and exemplars from reviews, model_version changes only
// when the fit changed something, and the review queue ranked by the calibration.
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "plugin/records/feid.hpp"
#include "plugin/learning/fit.hpp"
#include "plugin/learning/review.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/test_support.hpp"

using namespace seke;
namespace bdata = boost::unit_test::data;

namespace {

struct StoreFixture {
    test::StoreTarget where;
    std::unique_ptr<Store> store;
    explicit StoreFixture(std::string_view engine = "sqlite") : where(engine) {
        auto opened = Store::open(where.target());
        BOOST_TEST_REQUIRE(static_cast<bool>(opened));
        store = std::move(*opened);
    }

    // One labeled face per item "ls/1/<n>": expression happy, uncertainty u on every level.
    void add_face(int n, double u_expression, double u_au, const std::string& phash = "0000000000000000",
                  const std::string& expression = "happy") {
        FaceResult r;
        r.ok = true;
        r.labels.expression = expression;
        r.labels.valence = 0.5;
        r.labels.arousal = 0.2;
        r.labels.action_units = std::vector<std::string>{"AU6", "AU12"};
        r.descriptions = {"Smiling.", "Pleasant.", "AU6 and AU12."};
        r.uncertainty = {u_expression, 0.1, u_au, 0, (u_expression + u_au) / 2};
        std::string id = "ls/1/" + std::to_string(n);
        FeidInput input{id,     id + ".jpg", Box{0, 0, 10, 10},          false, &r, "base-v",
                        "auto", phash,       "\xff\xd8 thumbnail " + id, "",    "", {}};
        ItemOutcome outcome;
        outcome.item.id = id;
        outcome.item.image = id + ".jpg";
        outcome.item.status = ItemStatus::done;
        outcome.faces.push_back(face_row(test::test_knowledge(), input, id, 0));
        BOOST_TEST_REQUIRE(static_cast<bool>(store->save_outcomes({outcome})));
    }

    // A reviewer keeps the face, or corrects its expression to `human_expression`.
    void review(int n, const std::string& human_expression) {
        std::string id = "ls/1/" + std::to_string(n);
        auto row = store->face(id);
        BOOST_TEST_REQUIRE((row && row->has_value()));
        auto record = (*row)->record();
        BOOST_TEST_REQUIRE(static_cast<bool>(record));
        PredictedFace predicted = predicted_face(id, std::nullopt, *record);
        ReviewedFace reviewed{std::nullopt, predicted.box, predicted.labels, {}};
        reviewed.labels.expression = human_expression;
        auto outcome = diff_review({predicted}, {reviewed});
        auto merged = merge_review_into_record(test::test_knowledge(), *record, outcome.faces[0], "7", "2026-11-26");
        BOOST_TEST_REQUIRE(static_cast<bool>(
            store->save_review(id, std::string(review_status_name(outcome.faces[0].status)), merged)));
    }
};

FitSettings settings(std::size_t min_reviews = 20) {
    FitSettings s;
    s.min_reviews = min_reviews;
    s.max_exemplars = 3;
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_learning)

BOOST_AUTO_TEST_CASE(fit_changes_the_version_only_when_it_learned_something) {
    StoreFixture f;
    for (int n = 0; n < 60; ++n) f.add_face(n, n < 30 ? 0.8 : 0.1, 0.5);
    auto state = LearnedState::load(*f.store, "base-v");
    BOOST_TEST_REQUIRE(static_cast<bool>(state));
    auto base = (*state)->current();
    BOOST_TEST(base->model_version == "base-v");

    // No reviews yet: nothing to learn, same version.
    auto nothing = fit_from_reviews(*f.store, *base, settings(), &test::test_knowledge());
    BOOST_TEST_REQUIRE(static_cast<bool>(nothing));
    BOOST_TEST(!nothing->changed);
    BOOST_TEST(nothing->model->model_version == "base-v");

    // Uncertain faces were wrong (sad), settled ones right.
    for (int n = 0; n < 12; ++n) f.review(n, "sad");
    for (int n = 30; n < 42; ++n) f.review(n, "happy");
    auto first = fit_from_reviews(*f.store, *base, settings(), &test::test_knowledge());
    BOOST_TEST_REQUIRE(static_cast<bool>(first));
    BOOST_TEST(first->changed);
    BOOST_TEST(first->model->model_version.rfind("base-v+fit-", 0) == 0);
    BOOST_TEST(first->model->calibration.levels[0].trusted());
    BOOST_TEST(first->summary["reviews"] == 24);
    // Exemplars: the happy→sad confusion first, then a class not yet shown.
    BOOST_TEST_REQUIRE(first->model->exemplars->size() == 2u);
    BOOST_TEST(*(*first->model->exemplars)[0].labels.expression == "sad");
    BOOST_TEST(*(*first->model->exemplars)[1].labels.expression == "happy");
    BOOST_TEST(!(*first->model->exemplars)[0].image_jpeg.empty());

    // The same reviews again: same fit, same version, nothing stored anew.
    auto again = fit_from_reviews(*f.store, *first->model, settings(), &test::test_knowledge());
    BOOST_TEST_REQUIRE(static_cast<bool>(again));
    BOOST_TEST(!again->changed);
    BOOST_TEST(again->model->model_version == first->model->model_version);

    // A restart finds the fit: version, calibration and exemplars with their images.
    auto reloaded = LearnedState::load(*f.store, "base-v");
    BOOST_TEST_REQUIRE(static_cast<bool>(reloaded));
    auto model = (*reloaded)->current();
    BOOST_TEST(model->model_version == first->model->model_version);
    BOOST_TEST(model->exemplars->size() == 2u);
    BOOST_TEST((*model->exemplars)[0].image_hash == (*first->model->exemplars)[0].image_hash);
    BOOST_TEST(std::abs(model->calibration.levels[0](0.8) - first->model->calibration.levels[0](0.8)) < 1e-5);
    // Another model setup does not see this fit.
    BOOST_TEST((*LearnedState::load(*f.store, "other-v"))->current()->model_version == "other-v");
}

// `seke fit` (or another replica) stores a fit; a running server picks it up without a restart.
BOOST_DATA_TEST_CASE(a_fit_stored_by_another_process_is_picked_up, bdata::make(test::kStoreEngines), engine) {
    StoreFixture f(engine);
    for (int n = 0; n < 40; ++n) f.add_face(n, n < 20 ? 0.8 : 0.1, 0.5);
    for (int n = 0; n < 12; ++n) f.review(n, "sad");
    for (int n = 20; n < 32; ++n) f.review(n, "happy");
    auto serving = LearnedState::load(*f.store, "base-v");
    BOOST_TEST_REQUIRE(static_cast<bool>(serving));
    std::shared_ptr<const LearnedModel> seen;
    std::mutex seen_mutex;
    FitWatcher watcher(
        *f.store, **serving,
        [&](const std::shared_ptr<const LearnedModel>& model) {
            std::lock_guard lock(seen_mutex);
            seen = model;
        },
        std::chrono::milliseconds(50));
    BOOST_TEST(!watcher.check());  // nothing fitted yet

    auto other = Store::open(f.where.target());  // the other process's connection
    BOOST_TEST_REQUIRE(static_cast<bool>(other));
    auto fitted = fit_from_reviews(**other, *(*serving)->current(), settings(), &test::test_knowledge());
    BOOST_TEST_REQUIRE((fitted && fitted->changed));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while ((*serving)->current()->model_version != fitted->model->model_version &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    BOOST_TEST((*serving)->current()->model_version == fitted->model->model_version);
    std::lock_guard lock(seen_mutex);
    BOOST_TEST_REQUIRE(seen != nullptr);
    BOOST_TEST(seen->exemplars->size() == fitted->model->exemplars->size());
}

// On PostgreSQL the fit's transaction notifies: a watcher polling once a minute picks it up within
// a second, and again after its listening session was killed (renewed, never a crash).
BOOST_AUTO_TEST_CASE(a_fit_stored_on_postgresql_is_heard_at_once_and_after_a_lost_session) {
    using Clock = std::chrono::steady_clock;
    StoreFixture f("postgres");
    for (int n = 0; n < 40; ++n) f.add_face(n, n < 20 ? 0.8 : 0.1, 0.5);
    for (int n = 0; n < 12; ++n) f.review(n, "sad");
    for (int n = 20; n < 32; ++n) f.review(n, "happy");
    auto serving = LearnedState::load(*f.store, "base-v");
    BOOST_TEST_REQUIRE(static_cast<bool>(serving));
    std::mutex log_mutex;
    std::string logged;
    FitWatcher watcher(*f.store, **serving, {}, std::chrono::minutes(1), [&](const std::string& line) {
        std::lock_guard lock(log_mutex);
        logged += line + "\n";
    });
    // The server process of the watcher's listening session, once it listens (0 before).
    auto listener_pid = [&] {
        return f.where.number(
            "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE application_name='seke-listener' AND "
            "datname=current_database() AND query LIKE 'LISTEN%'");
    };
    // Waits for a listening session other than `before`'s, then for its first look to be over.
    auto wait_for_listener = [&](std::int64_t before) {
        const auto until = Clock::now() + std::chrono::seconds(10);
        while ((listener_pid() == 0 || listener_pid() == before) && Clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const auto pid = listener_pid();
        BOOST_TEST_REQUIRE((pid != 0 && pid != before));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return pid;
    };
    auto other = Store::open(f.where.target());  // the other process's connection
    BOOST_TEST_REQUIRE(static_cast<bool>(other));
    // The time from a fit stored by the other process to the watcher publishing it.
    auto picked_up_in = [&]() -> std::chrono::milliseconds {
        auto fitted = fit_from_reviews(**other, *(*serving)->current(), settings(), &test::test_knowledge());
        BOOST_TEST_REQUIRE((fitted && fitted->changed));
        const auto stored = Clock::now();
        while ((*serving)->current()->model_version != fitted->model->model_version &&
               Clock::now() < stored + std::chrono::seconds(10))
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        BOOST_TEST((*serving)->current()->model_version == fitted->model->model_version);
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stored);
    };
    const auto first_session = wait_for_listener(0);
    const auto first = picked_up_in();
    BOOST_TEST(first.count() < 1000, first.count() << " ms");

    // The listening session killed by the server: renewed with backoff, and heard again.
    BOOST_TEST(f.where.number("SELECT count(pg_terminate_backend(" + std::to_string(first_session) + "))") == 1);
    wait_for_listener(first_session);
    for (int n = 32; n < 40; ++n) f.review(n, "sad");  // reviews enough for another fit
    const auto second = picked_up_in();
    BOOST_TEST(second.count() < 1000, second.count() << " ms");
    std::lock_guard lock(log_mutex);
    BOOST_TEST(logged.find("stopped") != std::string::npos, logged);
    BOOST_TEST(logged.find("again") != std::string::npos, logged);
    BOOST_TEST(logged.find("seke-test-") == std::string::npos, logged);  // never the password
}

BOOST_AUTO_TEST_CASE(too_few_reviews_calibrate_nothing) {
    StoreFixture f;
    for (int n = 0; n < 10; ++n) f.add_face(n, 0.5, 0.5);
    for (int n = 0; n < 5; ++n) f.review(n, "happy");
    auto base = (*LearnedState::load(*f.store, "base-v"))->current();
    FitSettings s = settings(30);
    s.max_exemplars = 0;
    auto fit = fit_from_reviews(*f.store, *base, s, &test::test_knowledge());
    BOOST_TEST_REQUIRE(static_cast<bool>(fit));
    BOOST_TEST(!fit->changed);
    BOOST_TEST(fit->summary["calibrated_levels"].empty());
}

BOOST_AUTO_TEST_CASE(queue_ranks_by_calibrated_error_with_level_filter_and_diversity) {
    StoreFixture f;
    // Expression uncertainty predicts errors; AU uncertainty is high everywhere but harmless.
    for (int n = 0; n < 40; ++n) f.add_face(n, n % 2 ? 0.7 : 0.2, n % 2 ? 0.3 : 0.8);
    for (int n = 0; n < 30; ++n) f.review(n, n % 2 ? "sad" : "happy");
    for (int n = 40; n < 46; ++n) f.add_face(n, 0.6, 0.2, n < 43 ? "ffffffffffffffff" : "fffffffffffffff0");
    f.add_face(46, 0.1, 0.95, "0f0f0f0f0f0f0f0f");
    auto base = (*LearnedState::load(*f.store, "base-v"))->current();

    QueueOptions options;
    options.item_prefix = "ls/1/";
    options.limit = 5;
    // Before any fit: `overall` ranks, so the face with the high (harmless) AU doubt leads.
    auto before = review_queue(*f.store, *base, options);
    BOOST_TEST_REQUIRE(static_cast<bool>(before));
    BOOST_TEST(before->front().face_id == "ls/1/46");

    auto fit = fit_from_reviews(*f.store, *base, settings(), &test::test_knowledge());
    BOOST_TEST_REQUIRE((fit && fit->changed));
    auto after = review_queue(*f.store, *fit->model, options);
    BOOST_TEST_REQUIRE(static_cast<bool>(after));
    BOOST_TEST(after->front().face_id != "ls/1/46");
    BOOST_TEST(after->back().error_probability <= after->front().error_probability);
    for (const auto& e : *after) BOOST_TEST(e.face_id.rfind("ls/1/", 0) == 0);

    options.level = Level::au;  // uncalibrated: the AU doubt itself ranks
    auto au = review_queue(*f.store, *base, options);
    BOOST_TEST(au->front().face_id == "ls/1/46");

    options.level.reset();
    options.limit = 10;
    options.diversity_bits = 4;
    auto diverse = review_queue(*f.store, *fit->model, options);
    int near_copies = 0;
    for (const auto& e : *diverse)
        if (e.face_id >= "ls/1/40" && e.face_id <= "ls/1/45") ++near_copies;
    BOOST_TEST(near_copies == 1);  // six faces within 4 bits of each other: one is enough
    BOOST_TEST(phash_distance("ffffffffffffffff", "fffffffffffffff0") == 4);
    BOOST_TEST(phash_distance("bad", "fffffffffffffff0") == 64);
}

BOOST_AUTO_TEST_CASE(queue_options_parse_with_clear_errors) {
    std::map<std::string, std::string> query = {{"limit", "7"}, {"level", "va"}, {"diversity", "5"}};
    auto get = [&](const std::string& name) -> std::optional<std::string> {
        auto it = query.find(name);
        return it == query.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto options = parse_queue_options(get);
    BOOST_TEST_REQUIRE(static_cast<bool>(options));
    BOOST_TEST(options->limit == 7u);
    BOOST_TEST((options->level == Level::va));
    BOOST_TEST(options->diversity_bits == 5);
    query["limit"] = "7x";
    BOOST_TEST(parse_queue_options(get).error().message.find("limit") != std::string::npos);
    query["limit"] = "7";
    query["level"] = "mood";
    BOOST_TEST(parse_queue_options(get).error().message.find("level") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
