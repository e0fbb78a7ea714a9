#pragma once
// How seke reaches CVAT (REST worker, review sync) and how it presents itself to CVAT as an
// auto-annotation function (the Nuclio stand-in). One struct, filled from the option table.
#include <string>

namespace seke {

struct CvatSettings {
    // --- the CVAT server (REST API) ---
    std::string url;           // e.g. http://localhost:8080
    std::string access_token;  // personal access token: "Authorization: Bearer"
    std::string legacy_token;  // key from /api/auth/login: "Authorization: Token"
    std::string username;      // basic auth, with password, when no token is set
    std::string password;
    std::string organization;  // sent as X-Organization when set
    bool verify_ssl = true;
    int timeout_s = 120;         // per REST call; frames of large tasks can be slow
    std::string webhook_secret;  // verifies X-Signature-256 on POST /cvat/webhook

    // --- the function CVAT lists under Models ---
    std::string function_name = "seke-face-emotion";  // metadata.name: [a-zA-Z0-9_.-]+
    std::string display_name = "seke face emotion";
    std::string face_label = "face";  // the rectangle label
    std::string frame_tag_label;      // empty: no frame-level tag
    std::string expression_values;    // comma list, byte-identical to the task's; empty: knowledge classes
    int va_scale = 100;               // valence/arousal v is sent as round(v*scale)+scale: 0..2*scale
    std::string confidence_attribute = "pl_confidence";  // 0..100; CVAT drops the top-level confidence
    std::string model_attribute = "pl_model";            // model_version as text; empty: not sent
    double default_threshold = 0;                        // used when CVAT sends no threshold (it omits 0)
    int http_port = 0;                                   // status.httpPort for CVAT's direct mode; 0: seke's own port
};

}  // namespace seke
