// The /webhook body read at the edge: which annotations a deletion or a cancellation withdraws,
// and what could not be read, whatever the types Label Studio (or anyone) sends.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "plugin/label_studio/webhook_body.hpp"

using namespace seke;
using namespace seke::label_studio;
using nlohmann::json;

namespace {

WebhookBody parsed(const json& body) {
    auto out = parse_webhook_body(body.dump());
    BOOST_TEST_REQUIRE(out.ok(), (out.ok() ? "" : out.error().message));
    return *out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(label_studio_webhook_body)

BOOST_AUTO_TEST_CASE(a_deletion_names_the_annotations_it_withdraws) {
    WebhookBody body = parsed({{"action", "ANNOTATIONS_DELETED"},
                               {"annotations", json::array({{{"id", 17}}, {{"id", 18}}})},
                               {"project", {{"id", 4}, {"title", "faces"}}}});
    BOOST_TEST(is_deletion(body.action));
    BOOST_TEST(body.project == "4");
    BOOST_TEST(body.withdrawn == (std::vector<long long>{17, 18}), boost::test_tools::per_element());
    BOOST_TEST(body.annotations.empty());
    BOOST_TEST(body.unread.empty());

    // The singular action, with one annotation object (its result is not a review).
    WebhookBody one = parsed({{"action", "ANNOTATION_DELETED"},
                              {"annotation", {{"id", 5}, {"result", json::array()}, {"task", 2}}},
                              {"project", {{"id", 4}}}});
    BOOST_TEST(one.withdrawn == (std::vector<long long>{5}), boost::test_tools::per_element());
    BOOST_TEST(one.annotations.empty());
}

BOOST_AUTO_TEST_CASE(deletion_entries_of_the_wrong_type_are_named_not_fatal) {
    WebhookBody body = parsed(
        {{"action", "ANNOTATIONS_DELETED"},
         {"annotations", json::array({{{"id", "17"}}, nullptr, 3, {{"id", 2.5}}, json::array({1}), {{"id", 9}}})},
         {"project", "x"}});
    BOOST_TEST(body.withdrawn == (std::vector<long long>{3, 9}), boost::test_tools::per_element());
    BOOST_TEST(body.unread.size() == 4u);
    BOOST_TEST(body.unread[0].find("{\"id\":\"17\"}") != std::string::npos, body.unread[0]);
    BOOST_TEST(body.project == "x");

    WebhookBody scalar = parsed({{"action", "ANNOTATIONS_DELETED"}, {"annotations", "all of them"}});
    BOOST_TEST(scalar.withdrawn.empty());
    BOOST_TEST(scalar.unread.size() == 1u);
    BOOST_TEST(scalar.project == "None");

    WebhookBody none = parsed({{"action", "ANNOTATIONS_DELETED"}});
    BOOST_TEST(none.withdrawn.empty());
    BOOST_TEST(none.unread.empty());

    // However many entries cannot be read, the notes stay bounded.
    WebhookBody many = parsed({{"action", "ANNOTATIONS_DELETED"}, {"annotations", json(std::vector<json>(500, "x"))}});
    BOOST_TEST(many.unread.size() == kMaxUnread);
}

BOOST_AUTO_TEST_CASE(a_cancelled_annotation_is_withdrawn_not_reviewed) {
    WebhookBody body = parsed({{"action", "ANNOTATION_UPDATED"},
                               {"annotation",
                                {{"id", 30},
                                 {"result", json::array({{{"id", "r1"}}})},
                                 {"task", 12},
                                 {"was_cancelled", true},
                                 {"completed_by", 3}}},
                               {"project", {{"id", 4}}}});
    BOOST_TEST(!is_deletion(body.action));
    BOOST_TEST(body.annotations.empty());
    BOOST_TEST(body.withdrawn == (std::vector<long long>{30}), boost::test_tools::per_element());

    // Bulk: one kept, one skipped; each review carries its annotation's id.
    WebhookBody bulk =
        parsed({{"action", "ANNOTATIONS_CREATED"},
                {"annotation", json::array({{{"id", 31}, {"result", json::array()}, {"task", 12}},
                                            {{"id", 32}, {"result", json::array()}, {"was_cancelled", true}}})},
                {"project", {{"id", 4}}}});
    BOOST_TEST_REQUIRE(bulk.annotations.size() == 1u);
    BOOST_TEST(bulk.annotations[0].id == 31);
    BOOST_TEST(bulk.annotations[0].task_id == 12);
    BOOST_TEST(bulk.withdrawn == (std::vector<long long>{32}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(review_fields_of_the_wrong_type_are_read_as_absent_and_named) {
    WebhookBody body =
        parsed({{"action", "ANNOTATION_CREATED"},
                {"annotation", json::array({5,
                                            {{"id", "seven"}, {"result", json::array()}, {"task", "one"}},
                                            {{"id", 8}, {"result", "not a list"}},
                                            {{"id", 9}, {"result", json::array()}, {"was_cancelled", "yes"}}})},
                {"project", {{"id", 4}}}});
    BOOST_TEST_REQUIRE(body.annotations.size() == 2u);
    BOOST_TEST(body.annotations[0].id == -1);  // no id: its review cannot be undone later
    BOOST_TEST(body.annotations[0].task_id == -1);
    BOOST_TEST(body.annotations[1].id == 9);  // "yes" is no cancellation
    BOOST_TEST(body.withdrawn.empty());
    BOOST_TEST(body.unread.size() == 5u);  // not an object, id, task, result, was_cancelled

    // Not JSON at all is the only error.
    BOOST_TEST(!parse_webhook_body("{\"action\": ").ok());
    BOOST_TEST(!parse_webhook_body("[1, 2]").ok());
    BOOST_TEST(!parse_webhook_body("").ok());
}

BOOST_AUTO_TEST_SUITE_END()
