// The counter as a C++ Lambda function behind an API Gateway HTTP API (payload 2.0),
// written against the Lambda Runtime API (2018-06-01) directly: the `bootstrap` of a
// provided.al2023 function. The store client is built once, at init, outside the loop.
//
// Environment: AWS_LAMBDA_RUNTIME_API (set by Lambda), LATENCY_STORE (dynamodb://...),
// AWS_REGION and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (set by
// Lambda from the function's role).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "dynamodb.hpp"
#include "http.hpp"

using nlohmann::json;

namespace {

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? "" : value;
}

json reply(int status, const std::string& content_type, const std::string& body) {
    return {{"statusCode", status}, {"headers", {{"content-type", content_type}}}, {"body", body}};
}

json error_reply(int status, const std::string& message) {
    return reply(status, "application/json", json{{"error", message}}.dump());
}

// The app's page, read once at init: page.html in the task root (the deployed zip carries
// it, scripts/build-lambdas), else the repository's copy above it (a local run). API
// Gateway sends `GET /` to the function, as for the Rust one.
std::string read_page() {
    std::filesystem::path dir = env("LAMBDA_TASK_ROOT");
    if (dir.empty()) dir = std::filesystem::current_path();
    for (int up = 0; up < 6; ++up) {
        for (const auto& candidate : {dir / "page.html", dir / "crates" / "app" / "src" / "page.html"}) {
            std::ifstream file(candidate);
            if (file) {
                std::stringstream text;
                text << file.rdbuf();
                return text.str();
            }
        }
        dir = dir.parent_path();
    }
    throw std::runtime_error("page.html is neither in the task root nor in the repository above it");
}

json handle(dynamodb::Counter& counter, const std::string& page, const json& event) {
    const std::string path = event.value("rawPath", "/");
    std::string method = "GET";
    if (event.contains("requestContext") && event["requestContext"].contains("http")) {
        method = event["requestContext"]["http"].value("method", "GET");
    }
    if (path == "/healthz") return reply(200, "application/json", R"({"status":"pass"})");
    if (path == "/" && (method == "GET" || method == "HEAD")) return reply(200, "text/html; charset=utf-8", page);
    if (path != "/hits") return error_reply(404, "no route for " + path);
    if (method != "GET") {
        json out = error_reply(405, "method " + method + " not allowed on /hits");
        out["headers"]["allow"] = "GET";
        return out;
    }
    try {
        return reply(200, "text/plain", std::to_string(counter.incr()));
    } catch (const std::exception& err) {
        // The detail goes to the log; the body never carries internals.
        std::fprintf(stderr, "store failed: %s\n", err.what());
        return error_reply(503, "the counter store is unavailable");
    }
}

}  // namespace

int main() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const std::string api = "http://" + env("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime";
    http::Client runtime(0);  // /next blocks until an event arrives: no timeout
    std::unique_ptr<dynamodb::Counter> counter;
    std::string page;
    try {
        page = read_page();
        auto store = dynamodb::StoreUrl::parse(env("LATENCY_STORE"), env("AWS_REGION"));
        const bool create = store.create;
        counter = std::make_unique<dynamodb::Counter>(
            store, sigv4::Credentials{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                                      env("AWS_SESSION_TOKEN")});
        if (create) counter->create();
        counter->read_key_type();
    } catch (const std::exception& err) {
        const json error = {{"errorMessage", err.what()}, {"errorType", "Runtime.InitError"}};
        runtime.send("POST", api + "/init/error", {{"Lambda-Runtime-Function-Error-Type", "Runtime.InitError"}},
                     error.dump());
        std::fprintf(stderr, "init failed: %s\n", err.what());
        return 1;
    }
    for (;;) {
        const http::Response next = runtime.send("GET", api + "/invocation/next", {}, "");
        const std::string id = next.headers.count("lambda-runtime-aws-request-id")
                                   ? next.headers.at("lambda-runtime-aws-request-id")
                                   : "";
        if (next.status != 200 || id.empty()) {
            std::fprintf(stderr, "runtime API /next answered %ld\n", next.status);
            return 1;
        }
        const json event = json::parse(next.body, nullptr, false);
        if (event.is_discarded()) {
            const json error = {{"errorMessage", "the event is not JSON"}, {"errorType", "InvalidEvent"}};
            runtime.send("POST", api + "/invocation/" + id + "/error", {}, error.dump());
            continue;
        }
        runtime.send("POST", api + "/invocation/" + id + "/response", {{"content-type", "application/json"}},
                     handle(*counter, page, event).dump());
    }
}
