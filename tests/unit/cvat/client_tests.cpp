// The CVAT REST client against the fake CVAT: credentials, organization, pagination, errors.
#include <boost/test/unit_test.hpp>

#include "connectors/cvat_client.hpp"
#include "plugin/cvat/spec.hpp"
#include "tests/support/fake_cvat.hpp"
#include "tests/support/test_support.hpp"
#include "tests/unit/cvat/cvat_test_util.hpp"

using namespace seke;
using nlohmann::json;

namespace {

json labels_json() {
    auto spec = cvat::make_function_spec({}, test::test_knowledge());
    BOOST_REQUIRE(spec);
    return cvat::project_labels_json(*spec);
}

CvatSettings settings_for(const test::FakeCvat& fake) {
    CvatSettings s;
    s.url = fake.url() + "/";
    s.access_token = "pat-secret";
    s.timeout_s = 5;
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cvat_client)

BOOST_AUTO_TEST_CASE(credentials_in_order_of_precedence_and_the_organization_header) {
    test::FakeCvatCredentials credentials;
    credentials.access_token = "pat-secret";
    credentials.legacy_token = "legacy-key";
    credentials.username = "alice";
    credentials.password = "pa:ss";
    test::FakeCvat fake(credentials);
    long long task = fake.add_task("t", labels_json(), {"a", "b"}, 10, 10);

    CvatSettings all = settings_for(fake);
    all.legacy_token = "legacy-key";
    all.username = "alice";
    all.password = "pa:ss";
    all.organization = "lab";
    BOOST_TEST(CvatClient(all).task_frames(task).ok());
    BOOST_TEST(fake.authorizations_seen().back() == "Bearer");
    BOOST_TEST(fake.organizations_seen().back() == "lab");

    CvatSettings legacy = all;
    legacy.access_token.clear();
    BOOST_TEST(CvatClient(legacy).task_frames(task).ok());
    BOOST_TEST(fake.authorizations_seen().back() == "Token");

    CvatSettings basic = legacy;
    basic.legacy_token.clear();
    basic.organization.clear();
    BOOST_TEST(CvatClient(basic).task_frames(task).ok());
    BOOST_TEST(fake.authorizations_seen().back() == "Basic");
    BOOST_TEST(fake.organizations_seen().back() == "");  // no header without an organization
}

BOOST_AUTO_TEST_CASE(a_refused_credential_is_named_and_never_shown) {
    test::FakeCvat fake;
    long long task = fake.add_task("t", labels_json(), {"a"}, 10, 10);
    CvatSettings s = settings_for(fake);
    s.access_token = "wrong-token-value";
    auto result = CvatClient(s).task_frames(task);
    BOOST_TEST_REQUIRE(!result);
    BOOST_TEST(result.error().code == errc::unauthorized);
    BOOST_TEST(result.error().message.find("HTTP 401") != std::string::npos);
    BOOST_TEST(result.error().message.find("Invalid token.") != std::string::npos);
    BOOST_TEST(result.error().message.find("personal access token") != std::string::npos);
    BOOST_TEST(result.error().message.find("wrong-token-value") == std::string::npos);

    CvatSettings none = settings_for(fake);
    none.access_token.clear();
    auto anonymous = CvatClient(none).job_annotations(1);
    BOOST_TEST(anonymous.error().code == errc::unauthorized);
    BOOST_TEST(anonymous.error().message.find("no credentials") != std::string::npos);

    fake.require_organization("lab");
    auto outside = CvatClient(settings_for(fake)).task_frames(task);
    BOOST_TEST(outside.error().code == errc::forbidden);
    BOOST_TEST(outside.error().message.find("CVAT_ORG") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(lists_follow_every_page_and_never_leave_the_origin) {
    test::FakeCvat fake;
    fake.set_page_size(3);
    long long task = fake.add_task("t", labels_json(), {"a"}, 10, 10);
    for (int i = 0; i < 7; ++i) fake.add_job(task, i, i);
    CvatClient client(settings_for(fake));
    auto jobs = client.jobs_of_task(task);
    BOOST_TEST_REQUIRE(jobs.ok());
    BOOST_TEST(jobs->size() == 7u);
    BOOST_TEST((*jobs)[6].start_frame == 6);
    auto labels = client.labels_of_task(task);
    BOOST_TEST_REQUIRE(labels.ok());
    BOOST_TEST(labels->size() == 1u);

    // CVAT behind a proxy may write its internal host into `next`: the next page is asked for
    // on the configured origin instead, so the token goes nowhere else.
    fake.set_next_origin("http://cvat.internal:8080");
    fake.server().clear_requests();
    auto again = client.jobs_of_task(task);
    BOOST_TEST_REQUIRE(again.ok());
    BOOST_TEST(again->size() == 7u);
    BOOST_TEST(fake.server().request_count() == 3u);
}

BOOST_AUTO_TEST_CASE(frames_metadata_annotations_and_created_ids) {
    test::FakeCvat fake;
    long long task =
        fake.add_task("t", labels_json(), {"bytes-0", std::string("\xff\xd8\x00\x01", 4), "bytes-2"}, 64, 48);
    long long job = fake.add_job(task, 0, 2);
    fake.delete_frame(task, 2);
    CvatClient client(settings_for(fake));

    auto frames = client.task_frames(task);
    BOOST_TEST_REQUIRE(frames.ok());
    BOOST_TEST(frames->size == 3);
    BOOST_TEST(frames->frame(1).width == 64);
    BOOST_TEST(frames->deleted_frames.count(2) == 1u);
    auto bytes = client.frame(task, 1);
    BOOST_TEST_REQUIRE(bytes.ok());
    BOOST_TEST(*bytes == std::string("\xff\xd8\x00\x01", 4));
    BOOST_TEST(fake.server().requests().back().target.find("quality=original") != std::string::npos);

    long long label = fake.label_id(task, "face");
    long long expression = fake.spec_id(task, "face", "expression");
    json body = {
        {"shapes", json::array({{{"type", "rectangle"},
                                 {"frame", 1},
                                 {"label_id", label},
                                 {"points", {1, 2, 30, 40}},
                                 {"source", "auto"},
                                 {"attributes", json::array({{{"spec_id", expression}, {"value", "happy"}}})}}})},
        {"tags", json::array()},
        {"tracks", json::array()}};
    auto created = client.create_job_annotations(job, body);
    BOOST_TEST_REQUIRE(created.ok());
    BOOST_TEST_REQUIRE(created->shapes.size() == 1u);
    BOOST_TEST(created->shapes[0].id >= 1000);
    BOOST_TEST(created->shapes[0].attributes[0].second == "happy");
    BOOST_TEST(fake.server().requests().back().method == "PATCH");
    BOOST_TEST(fake.server().requests().back().target.find("action=create") != std::string::npos);

    auto read = client.job_annotations(job);
    BOOST_TEST_REQUIRE(read.ok());
    BOOST_TEST(read->shapes.size() == 1u);
    BOOST_TEST(read->shapes[0].source == "auto");
    auto job_info = client.job(job);
    BOOST_TEST_REQUIRE(job_info.ok());
    BOOST_TEST(job_info->task_id == task);
    BOOST_TEST(job_info->assignee == "alice");
}

BOOST_AUTO_TEST_CASE(errors_carry_the_status_and_cvats_message) {
    test::FakeCvat fake;
    long long task = fake.add_task("t", labels_json(), {"a"}, 10, 10);
    CvatClient client(settings_for(fake));
    auto missing = client.job(999);
    BOOST_TEST(missing.error().code == errc::not_found);
    BOOST_TEST(missing.error().message.find("HTTP 404: Not found.") != std::string::npos);
    auto bad = client.create_task_annotations(task, {{"shapes", json::array({{{"frame", 0}, {"label_id", 12345}}})}});
    BOOST_TEST(bad.error().code == errc::upstream_error);
    BOOST_TEST(bad.error().message.find("HTTP 400") != std::string::npos);
    BOOST_TEST(bad.error().message.find("Unknown label_id") != std::string::npos);

    CvatSettings nowhere;
    BOOST_TEST(CvatClient(nowhere).job(1).error().code == errc::config_error);
    nowhere.url = "ftp://example";
    BOOST_TEST(CvatClient(nowhere).job(1).error().code == errc::config_error);

    test::ScriptedHttpServer slow(
        [](const test::HttpRequest&) { return test::HttpReply::json("{}").with_delay(3000); });
    CvatSettings s;
    s.url = slow.base_url();
    s.access_token = "x";
    s.timeout_s = 1;
    BOOST_TEST(CvatClient(s).job(1).error().code == errc::upstream_timeout);

    test::ScriptedHttpServer html(
        [](const test::HttpRequest&) { return test::HttpReply::text("<html>oops</html>", 502); });
    s.url = html.base_url();
    auto gateway = CvatClient(s).job(1);
    BOOST_TEST(gateway.error().message.find("HTTP 502") != std::string::npos);
    BOOST_TEST(gateway.error().message.find("<html>") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
