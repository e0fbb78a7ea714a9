#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "tests/support/test_support.hpp"
#include "tests/unit/connectors/label_studio_test_helpers.hpp"

using namespace seke;
using namespace seke::test::ls;
using seke::test::HttpReply;
using seke::test::HttpRequest;
using seke::test::ScriptedHttpServer;
using seke::test::TempDir;
using seke::test::write_file;

namespace {

// A fake LS that serves every path with the path as body, so the test sees what was fetched.
HttpReply echo_target(const HttpRequest& r) {
    return HttpReply::text("served:" + r.target);
}

std::string message_of(const Result<std::string>& result) {
    return result.ok() ? std::string() : result.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ls_media_uploads)

BOOST_AUTO_TEST_CASE(upload_forms_go_to_the_storage_proxy) {
    ScriptedHttpServer ls(echo_target);
    LabelStudioClient client(settings_for(ls), small_limits());
    for (const char* value :
         {"upload/3/a b.jpg", "/upload/3/a b.jpg", "/data/upload/3/a b.jpg", "/data/upload/3/a%20b.jpg"}) {
        auto bytes = client.fetch_task_media(value, std::nullopt);
        BOOST_REQUIRE_MESSAGE(bytes.ok(), message_of(bytes));
        BOOST_TEST(*bytes == "served:/storage-data/uploaded/?filepath=upload/3/a%20b.jpg", value);
    }
    for (const auto& r : ls.requests()) BOOST_TEST(r.header("Authorization") == "Token " + kLegacyKey);
}

BOOST_AUTO_TEST_CASE(proxy_error_falls_back_to_data_upload) {
    ScriptedHttpServer ls([](const HttpRequest& r) {
        if (r.path() == "/storage-data/uploaded/") return HttpReply::text("nginx mode", 400);
        return echo_target(r);
    });
    LabelStudioClient client(settings_for(ls), small_limits());
    auto bytes = client.fetch_task_media("/data/upload/3/a.jpg", std::nullopt);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), message_of(bytes));
    BOOST_TEST(*bytes == "served:/data/upload/3/a.jpg");
    auto requests = ls.requests();
    BOOST_REQUIRE_EQUAL(requests.size(), 2u);
    BOOST_TEST(requests[1].header("Authorization") == "Token " + kLegacyKey);
}

BOOST_AUTO_TEST_CASE(both_upload_paths_failing_reports_both_statuses) {
    ScriptedHttpServer ls([](const HttpRequest& r) {
        return HttpReply::json(R"({"detail":"Not found."})", r.path() == "/storage-data/uploaded/" ? 401 : 404);
    });
    LabelStudioClient client(settings_for(ls), small_limits());
    auto bytes = client.fetch_task_media("/data/upload/3/a.jpg", std::nullopt);
    BOOST_REQUIRE(!bytes.ok());
    BOOST_TEST((bytes.error().code == errc::upstream_error));
    BOOST_TEST(bytes.error().message.find("HTTP 404") != std::string::npos, bytes.error().message);
    BOOST_TEST(bytes.error().message.find("HTTP 401") != std::string::npos, bytes.error().message);
    BOOST_TEST(bytes.error().message.find("/data/upload/3/a.jpg") != std::string::npos, bytes.error().message);
}

BOOST_AUTO_TEST_CASE(storage_proxy_value_is_fetched_as_is) {
    ScriptedHttpServer ls(echo_target);
    LabelStudioClient client(settings_for(ls), small_limits());
    auto bytes = client.fetch_task_media("/storage-data/uploaded/?filepath=upload/1/b.png", std::nullopt);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), message_of(bytes));
    BOOST_TEST(*bytes == "served:/storage-data/uploaded/?filepath=upload/1/b.png");
}

BOOST_AUTO_TEST_CASE(missing_ls_url_is_a_config_error_naming_the_variables) {
    LabelStudioSettings settings;
    settings.api_key = kLegacyKey;
    LabelStudioClient client(settings, small_limits());
    for (const char* value : {"/data/upload/1/a.jpg", "/storage-data/uploaded/?filepath=upload/1/a.jpg",
                              "/data/local-files/?d=nowhere/x.jpg"}) {
        auto bytes = client.fetch_task_media(value, 3);
        BOOST_REQUIRE(!bytes.ok());
        BOOST_TEST((bytes.error().code == errc::config_error));
        BOOST_TEST(bytes.error().message.find("LABEL_STUDIO_URL") != std::string::npos, bytes.error().message);
        BOOST_TEST(bytes.error().message.find("LABEL_STUDIO_API_KEY") != std::string::npos, bytes.error().message);
    }
    auto cloud = client.fetch_task_media("s3://bucket/a.jpg", 3);
    BOOST_REQUIRE(!cloud.ok());
    BOOST_TEST((cloud.error().code == errc::config_error));
}

BOOST_AUTO_TEST_CASE(bad_ls_url_or_missing_key_is_a_config_error) {
    LabelStudioSettings settings;
    settings.url = "label-studio:8080";
    settings.api_key = kLegacyKey;
    LabelStudioClient bad_url(settings, small_limits());
    auto a = bad_url.fetch_task_media("/data/upload/1/a.jpg", 3);
    BOOST_REQUIRE(!a.ok());
    BOOST_TEST((a.error().code == errc::config_error));
    BOOST_TEST(a.error().message.find("http://") != std::string::npos);

    ScriptedHttpServer ls(echo_target);
    LabelStudioClient no_key(settings_for(ls, ""), small_limits());
    auto b = no_key.fetch_task_media("/data/upload/1/a.jpg", 3);
    BOOST_REQUIRE(!b.ok());
    BOOST_TEST((b.error().code == errc::config_error));
    BOOST_TEST(b.error().message.find("LABEL_STUDIO_API_KEY") != std::string::npos);
    BOOST_TEST(ls.request_count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ls_media_local_files)

BOOST_AUTO_TEST_CASE(existing_local_file_is_read_without_ls) {
    TempDir root;
    std::filesystem::create_directories(root / "dir");
    write_file(root / "dir" / "1 a.jpg", "LOCALBYTES");
    ScriptedHttpServer ls(echo_target);
    auto settings = settings_for(ls);
    settings.local_files_root = root.path().string();
    LabelStudioClient client(settings, small_limits());
    for (const char* value : {"/data/local-files/?d=dir/1 a.jpg", "/data/local-files/?d=dir%2F1%20a.jpg",
                              "/data/local-files?d=/dir/1 a.jpg"}) {
        auto bytes = client.fetch_task_media(value, std::nullopt);
        BOOST_REQUIRE_MESSAGE(bytes.ok(), message_of(bytes));
        BOOST_TEST(*bytes == "LOCALBYTES");
    }
    BOOST_TEST(ls.request_count() == 0u);
}

// Safe by default: with no root configured nothing is read from disk, and a path outside the
// root is refused with the same words whether or not the file exists.
BOOST_AUTO_TEST_CASE(no_file_is_read_until_a_root_is_configured_and_errors_do_not_probe) {
    TempDir root;
    write_file(root / "face.jpg", "LOCALBYTES");
    ScriptedHttpServer ls(echo_target);
    auto unset = settings_for(ls);
    unset.local_files_root.clear();
    LabelStudioClient closed(unset, small_limits());
    auto plain = closed.fetch_task_media((root / "face.jpg").string(), std::nullopt);
    BOOST_REQUIRE(!plain.ok());
    BOOST_TEST((plain.error().code == errc::forbidden));
    BOOST_TEST(plain.error().message.find("LOCAL_FILES_DOCUMENT_ROOT") != std::string::npos);
    // /data/local-files/ goes to Label Studio, which serves its own files.
    auto via_ls = closed.fetch_task_media("/data/local-files/?d=face.jpg", std::nullopt);
    BOOST_TEST(ls.request_count() == 1u);

    TempDir other;
    write_file(other / "secret.jpg", "SECRET");
    auto set = settings_for(ls);
    set.local_files_root = root.path().string();
    LabelStudioClient open(set, small_limits());
    auto existing = open.fetch_task_media((other / "secret.jpg").string(), std::nullopt);
    auto missing = open.fetch_task_media((other / "nothing-here.jpg").string(), std::nullopt);
    BOOST_REQUIRE((!existing.ok() && !missing.ok()));
    BOOST_TEST((existing.error().code == errc::forbidden));
    BOOST_TEST((missing.error().code == errc::forbidden));
    BOOST_TEST(existing.error().message.substr(existing.error().message.find("' is")) ==
               missing.error().message.substr(missing.error().message.find("' is")));
    auto inside = open.fetch_task_media((root / "face.jpg").string(), std::nullopt);
    BOOST_REQUIRE_MESSAGE(inside.ok(), message_of(inside));
    BOOST_TEST(*inside == "LOCALBYTES");
}

BOOST_AUTO_TEST_CASE(dot_dot_is_refused) {
    TempDir root;
    std::filesystem::create_directories(root / "dir");
    ScriptedHttpServer ls(echo_target);
    auto settings = settings_for(ls);
    settings.local_files_root = (root / "dir").string();
    write_file(root / "secret.txt", "SECRET");
    LabelStudioClient client(settings, small_limits());
    for (const char* value : {"/data/local-files/?d=../secret.txt", "/data/local-files/?d=a/../../secret.txt",
                              "/data/local-files/?d=%2E%2E/secret.txt"}) {
        auto bytes = client.fetch_task_media(value, std::nullopt);
        BOOST_REQUIRE(!bytes.ok());
        BOOST_TEST((bytes.error().code == errc::forbidden), value);
    }
    BOOST_TEST(ls.request_count() == 0u);  // not forwarded to LS either
}

BOOST_AUTO_TEST_CASE(nul_and_malformed_escapes_are_refused) {
    TempDir root;
    write_file(root / "a", "PREFIX");  // what a path cut at the NUL would name
    ScriptedHttpServer ls(echo_target);
    auto settings = settings_for(ls);
    settings.local_files_root = root.path().string();
    LabelStudioClient client(settings, small_limits());
    for (const char* value : {"/data/local-files/?d=a%00b.jpg", "/data/local-files/?d=a%zzb.jpg",
                              "/data/local-files/?d=a.jpg%2", "/data/upload/3/a%00b.jpg"}) {
        auto bytes = client.fetch_task_media(value, std::nullopt);
        BOOST_REQUIRE_MESSAGE(!bytes.ok(), value);
        BOOST_TEST((bytes.error().code == errc::invalid_argument), value);
        BOOST_TEST(bytes.error().message.find("percent-escape") != std::string::npos, bytes.error().message);
    }
    BOOST_TEST(ls.request_count() == 0u);  // refused here, not forwarded to LS
}

BOOST_AUTO_TEST_CASE(symlink_escaping_the_root_is_refused) {
    TempDir root;
    TempDir outside;
    write_file(outside / "secret.jpg", "SECRET");
    std::filesystem::create_directory_symlink(outside.path(), root / "escape");
    std::filesystem::create_symlink(outside / "secret.jpg", root / "link.jpg");
    ScriptedHttpServer ls(echo_target);
    auto settings = settings_for(ls);
    settings.local_files_root = root.path().string();
    LabelStudioClient client(settings, small_limits());
    for (const char* value : {"/data/local-files/?d=escape/secret.jpg", "/data/local-files/?d=link.jpg"}) {
        auto bytes = client.fetch_task_media(value, std::nullopt);
        BOOST_REQUIRE(!bytes.ok());
        BOOST_TEST((bytes.error().code == errc::forbidden), value);
    }
    BOOST_TEST(ls.request_count() == 0u);

    auto joined = safe_join(root.path(), "escape/secret.jpg");
    BOOST_REQUIRE(!joined.ok());
    BOOST_TEST((joined.error().code == errc::forbidden));
    BOOST_TEST((safe_join(root.path(), "missing.jpg").error().code == errc::not_found));
}

BOOST_AUTO_TEST_CASE(missing_local_file_falls_back_to_ls) {
    TempDir root;
    ScriptedHttpServer ls(echo_target);
    auto settings = settings_for(ls);
    settings.local_files_root = root.path().string();
    LabelStudioClient client(settings, small_limits());
    auto bytes = client.fetch_task_media("/data/local-files/?d=dir/missing.jpg", std::nullopt);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), message_of(bytes));
    BOOST_TEST(*bytes == "served:/data/local-files/?d=dir/missing.jpg");
    BOOST_TEST(ls.requests()[0].header("Authorization") == "Token " + kLegacyKey);
}

BOOST_AUTO_TEST_CASE(ls_403_on_local_files_explains_the_setting) {
    TempDir root;
    ScriptedHttpServer ls([](const HttpRequest&) { return HttpReply::json(R"({"detail":"Forbidden"})", 403); });
    auto settings = settings_for(ls);
    settings.local_files_root = root.path().string();
    LabelStudioClient client(settings, small_limits());
    auto bytes = client.fetch_task_media("/data/local-files/?d=dir/x.jpg", std::nullopt);
    BOOST_REQUIRE(!bytes.ok());
    BOOST_TEST((bytes.error().code == errc::upstream_error));
    BOOST_TEST(bytes.error().message.find("LOCAL_FILES_SERVING_ENABLED") != std::string::npos, bytes.error().message);
}

BOOST_AUTO_TEST_CASE(plain_local_path_only_inside_the_root) {
    TempDir root;
    TempDir outside;
    write_file(root / "in.jpg", "INSIDE");
    write_file(outside / "out.jpg", "OUTSIDE");
    LabelStudioSettings settings;
    settings.local_files_root = root.path().string();
    LabelStudioClient client(settings, small_limits());
    auto inside = client.fetch_task_media((root / "in.jpg").string(), std::nullopt);
    BOOST_REQUIRE_MESSAGE(inside.ok(), message_of(inside));
    BOOST_TEST(*inside == "INSIDE");
    auto out = client.fetch_task_media((outside / "out.jpg").string(), std::nullopt);
    BOOST_REQUIRE(!out.ok());
    BOOST_TEST((out.error().code == errc::forbidden));
    auto none = client.fetch_task_media((root / "nope.jpg").string(), std::nullopt);
    BOOST_REQUIRE(!none.ok());
    BOOST_TEST((none.error().code == errc::not_found));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ls_media_remote)

BOOST_AUTO_TEST_CASE(cloud_uris_are_presigned_and_the_redirect_carries_no_auth) {
    ScriptedHttpServer storage([](const HttpRequest& r) { return HttpReply::text("CLOUD:" + r.path()); });
    ScriptedHttpServer ls([&](const HttpRequest& r) {
        if (r.path().find("/presign/") != std::string::npos)
            return HttpReply::text("", 302).with_header("Location",
                                                        storage.base_url() + "/bucket/key.jpg?X-Amz-Signature=s3cr3t");
        return HttpReply::text("", 404);
    });
    LabelStudioClient client(settings_for(ls), small_limits());
    for (const std::string uri :
         {"s3://bucket/dir/key with space.jpg?versionId=1", "gs://b/k.jpg", "azure-blob://c/k.jpg"}) {
        ls.clear_requests();
        storage.clear_requests();
        auto bytes = client.fetch_task_media(uri, 42);
        BOOST_REQUIRE_MESSAGE(bytes.ok(), message_of(bytes));
        BOOST_TEST(*bytes == "CLOUD:/bucket/key.jpg");
        auto requests = ls.requests();
        BOOST_REQUIRE_EQUAL(requests.size(), 1u);
        BOOST_TEST(requests[0].path() == "/tasks/42/presign/");
        BOOST_TEST(requests[0].header("Authorization") == "Token " + kLegacyKey);
        auto decoded = percent_decode(query_value(requests[0], "fileuri"), false);
        BOOST_REQUIRE(decoded.has_value());
        std::string fileuri = *decoded;
        BOOST_TEST(fileuri.find_first_of("+/") == std::string::npos);  // base64url alphabet
        std::string standard = fileuri;
        for (auto& c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
        BOOST_TEST(base64_decode(standard).value_or("") == uri);
        BOOST_REQUIRE_EQUAL(storage.request_count(), 1u);
        BOOST_TEST(storage.requests()[0].header("Authorization").empty());
        BOOST_TEST(storage.requests()[0].target == "/bucket/key.jpg?X-Amz-Signature=s3cr3t");
    }
}

BOOST_AUTO_TEST_CASE(cloud_uri_without_task_id_is_refused) {
    ScriptedHttpServer ls(echo_target);
    LabelStudioClient client(settings_for(ls), small_limits());
    auto bytes = client.fetch_task_media("s3://bucket/a.jpg", std::nullopt);
    BOOST_REQUIRE(!bytes.ok());
    BOOST_TEST((bytes.error().code == errc::invalid_argument));
    BOOST_TEST(ls.request_count() == 0u);
}

BOOST_AUTO_TEST_CASE(plain_url_and_data_uri) {
    ScriptedHttpServer web([](const HttpRequest& r) { return HttpReply::text("WEB:" + r.target); });
    LabelStudioClient client(LabelStudioSettings{}, small_limits());  // no LS needed for these
    auto bytes = client.fetch_task_media(web.base_url() + "/pics/a b.jpg?x=1", std::nullopt);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), message_of(bytes));
    BOOST_TEST(*bytes == "WEB:/pics/a%20b.jpg?x=1");
    auto data = client.fetch_task_media("data:image/png;base64," + base64_encode("PNGDATA"), std::nullopt);
    BOOST_REQUIRE_MESSAGE(data.ok(), message_of(data));
    BOOST_TEST(*data == "PNGDATA");
}

BOOST_AUTO_TEST_CASE(non_2xx_names_status_and_url_without_query) {
    ScriptedHttpServer web([](const HttpRequest&) { return HttpReply::text("gone", 410); });
    LabelStudioClient client(LabelStudioSettings{}, small_limits());
    auto bytes = client.fetch_task_media(web.base_url() + "/a.jpg?token=hunter2", std::nullopt);
    BOOST_REQUIRE(!bytes.ok());
    BOOST_TEST((bytes.error().code == errc::upstream_error));
    BOOST_TEST(bytes.error().message.find("410") != std::string::npos, bytes.error().message);
    BOOST_TEST(bytes.error().message.find(web.base_url() + "/a.jpg") != std::string::npos, bytes.error().message);
    BOOST_TEST(bytes.error().message.find("hunter2") == std::string::npos, bytes.error().message);
}

BOOST_AUTO_TEST_CASE(downloads_are_bounded_in_bytes) {
    ScriptedHttpServer web([](const HttpRequest&) { return HttpReply::text(std::string(5000, 'x')); });
    ScriptedHttpServer ls([](const HttpRequest&) { return HttpReply::text(std::string(5000, 'x')); });
    LabelStudioClient client(settings_for(ls), small_limits(1000));
    auto a = client.fetch_task_media(web.base_url() + "/big.jpg", std::nullopt);
    BOOST_REQUIRE(!a.ok());
    BOOST_TEST((a.error().code == errc::payload_too_large));
    auto b = client.fetch_task_media("/data/upload/1/big.jpg", std::nullopt);
    BOOST_REQUIRE(!b.ok());
    BOOST_TEST((b.error().code == errc::payload_too_large));
}

BOOST_AUTO_TEST_CASE(other_schemes_are_refused) {
    LabelStudioClient client(LabelStudioSettings{}, small_limits());
    for (const char* value : {"ftp://host/a.jpg", "file:///etc/passwd"}) {
        auto bytes = client.fetch_task_media(value, 1);
        BOOST_REQUIRE(!bytes.ok());
        BOOST_TEST((bytes.error().code == errc::invalid_argument), value);
    }
}

BOOST_AUTO_TEST_SUITE_END()
