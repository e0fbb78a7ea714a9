// Label Studio takes a review back: the real `seke serve`, a review webhook, then the deletion
// (or cancellation) of that annotation. The face is open again with the model's labels, in the
// queue, in the export, and no longer counted by a fit; a redelivery changes nothing.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <map>
#include <vector>

#include "tests/integration/serve_fixture.hpp"

using namespace seke;
using nlohmann::json;
using test::parse;
using test::ServeFixture;

namespace {

struct DeletionFixture : ServeFixture {
    json project;
    json results;  // seke's predictions of tasks 41, 42, 43

    DeletionFixture() {
        make_data(3);
        start_fake();
        start_serve();
        const std::string xml = faces_config();
        project = {{"id", 9}, {"label_config", xml}};
        json tasks = json::array({task(41, "s00001.jpg"), task(42, "s00002.jpg"), task(43, "s00003.jpg")});
        results = parse(post("/predict", {{"tasks", tasks}, {"label_config", xml}, {"project", "9.1"}}))["results"];
        BOOST_REQUIRE(results.size() == 3u);
    }

    // Annotation `id` of `task`: seke's regions with the expression changed to `expression` ("" keeps it).
    json annotation_event(long long task, long long id, const std::string& expression = "",
                          const std::string& action = "ANNOTATION_CREATED") const {
        json result = results[static_cast<std::size_t>(task - 41)]["result"];
        if (!expression.empty())
            for (auto& region : result)
                if (region["from_name"] == "expression") region["value"]["choices"] = json::array({expression});
        json event = review_event(project, task, result);
        event["action"] = action;
        event["annotation"]["id"] = id;
        return event;
    }
    json deletion(const std::vector<long long>& ids) const {
        json annotations = json::array();
        for (long long id : ids) annotations.push_back({{"id", id}});
        return {{"action", "ANNOTATIONS_DELETED"}, {"annotations", annotations}, {"project", project}};
    }

    std::map<std::string, json> records() const {
        std::map<std::string, json> by_id;
        for (auto& r : export_records()) by_id[r["id"]] = r;
        return by_id;
    }
    json queue() { return parse(get("/queue?project=9&limit=10"))["items"]; }
    std::vector<long long> queued_tasks() {
        std::vector<long long> tasks;
        for (const auto& item : queue()) tasks.push_back(item["task"]);
        std::sort(tasks.begin(), tasks.end());
        return tasks;
    }
    json queued(long long task) {
        for (const auto& item : queue())
            if (item["task"] == task) return item;
        return nullptr;
    }
    int fit_reviews() { return parse(post("/train", json::object()))["fit"]["reviews"].get<int>(); }
};

std::string other_expression(const json& prediction) {
    for (const auto& region : prediction["result"])
        if (region["from_name"] == "expression") return region["value"]["choices"][0] == "Anger" ? "Disgust" : "Anger";
    return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(integration_serve_deletions)

BOOST_AUTO_TEST_CASE(a_deleted_annotation_puts_its_face_back_in_the_queue_with_the_models_labels) {
    DeletionFixture f;
    const auto model = f.records();
    const json model_labels = f.queued(41)["labels"];
    BOOST_TEST_REQUIRE(!model_labels.is_null());

    // Task 41 corrected by annotation 410, task 42 accepted by annotation 420.
    auto corrected = f.post("/webhook", f.annotation_event(41, 410, other_expression(f.results[0])));
    BOOST_TEST_REQUIRE(corrected.status == 201, corrected.body);
    BOOST_TEST(parse(corrected)["result"]["review"]["corrected"] == 1);
    BOOST_TEST_REQUIRE(f.post("/webhook", f.annotation_event(42, 420)).status == 201);
    BOOST_TEST(f.queued_tasks() == (std::vector<long long>{43}), boost::test_tools::per_element());
    BOOST_TEST(f.records()["ls/9/41"]["status"] == "corrected");
    BOOST_TEST(f.fit_reviews() == 2);

    // Label Studio deletes annotation 410.
    auto deleted = f.post("/webhook", f.deletion({410}));
    BOOST_TEST_REQUIRE(deleted.status == 201, deleted.body);
    json result = parse(deleted)["result"];
    BOOST_TEST(result["action"] == "ANNOTATIONS_DELETED");
    BOOST_TEST(result["review"]["reopened"] == 1);
    BOOST_TEST(f.queued_tasks() == (std::vector<long long>{41, 43}), boost::test_tools::per_element());
    json back = f.queued(41);
    BOOST_TEST(back["labels"] == model_labels);
    auto after = f.records();
    BOOST_TEST(after["ls/9/41"]["status"] == "auto");
    BOOST_TEST(!after["ls/9/41"].contains("review"));
    BOOST_TEST(after["ls/9/41"].dump() == model.at("ls/9/41").dump());  // the model's record, byte for byte
    BOOST_TEST(after["ls/9/42"]["status"] == "accepted");
    BOOST_TEST(f.fit_reviews() == 1);

    // Delivered again: the same event, nothing changes. The singular action naming it: nothing to reopen.
    auto redelivered = f.post("/webhook", f.deletion({410}));
    BOOST_TEST(redelivered.status == 200);
    BOOST_TEST(parse(redelivered)["result"]["duplicate"] == true);
    BOOST_TEST(parse(redelivered)["result"]["event_id"] == result["event_id"]);
    auto singular =
        f.post("/webhook", {{"action", "ANNOTATION_DELETED"}, {"annotation", {{"id", 410}}}, {"project", f.project}});
    BOOST_TEST(singular.status == 201);
    BOOST_TEST(parse(singular)["result"]["review"]["reopened"] == 0);
    auto unchanged = f.records();
    for (const auto& [id, record] : after) BOOST_TEST(unchanged.at(id).dump() == record.dump(), id);
    BOOST_TEST(f.fit_reviews() == 1);
}

BOOST_AUTO_TEST_CASE(only_the_annotation_behind_a_faces_current_review_reopens_it) {
    DeletionFixture f;
    // Annotation 420 reviews task 42, then annotation 421 reviews it again.
    BOOST_TEST_REQUIRE(f.post("/webhook", f.annotation_event(42, 420)).status == 201);
    const std::string relabeled = other_expression(f.results[1]);
    BOOST_TEST_REQUIRE(f.post("/webhook", f.annotation_event(42, 421, relabeled)).status == 201);
    auto earlier_gone = f.post("/webhook", f.deletion({420}));
    BOOST_TEST(parse(earlier_gone)["result"]["review"]["reopened"] == 0);
    BOOST_TEST(f.records()["ls/9/42"]["status"] == "corrected");

    // Skipping (cancelling) annotation 421 withdraws it as a deletion does.
    json cancelled = f.annotation_event(42, 421, relabeled, "ANNOTATION_UPDATED");
    cancelled["annotation"]["was_cancelled"] = true;
    auto skipped = f.post("/webhook", cancelled);
    BOOST_TEST_REQUIRE(skipped.status == 201, skipped.body);
    BOOST_TEST(parse(skipped)["result"]["review"]["reopened"] == 1);
    BOOST_TEST(f.records()["ls/9/42"]["status"] == "auto");
    BOOST_TEST(f.queued_tasks() == (std::vector<long long>{41, 42, 43}), boost::test_tools::per_element());

    // Bodies of the wrong shape are answered, never a 500, and what was not read is said.
    auto odd = f.post("/webhook", {{"action", "ANNOTATIONS_DELETED"}, {"annotations", "all"}, {"project", 9}});
    BOOST_TEST(odd.status == 201);
    BOOST_TEST(parse(odd)["result"]["review"]["skipped"].size() == 1u);
    BOOST_TEST(test::http_request("POST", f.base + "/webhook", R"({"action": "ANNOTATIONS_DELETED", )").status == 400);
}

BOOST_AUTO_TEST_SUITE_END()
