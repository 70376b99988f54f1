// The signer against AWS's published Signature Version 4 test-suite vectors (credentials
// AKIDEXAMPLE, region us-east-1, service "service", 2015-08-30T12:36:00Z).
#include <cstdio>
#include <string>

#include "../src/sigv4.hpp"

namespace {

int failures = 0;

void expect_eq(const std::string& name, const std::string& got, const std::string& want) {
    if (got != want) {
        std::printf("FAIL %s\n  got:  %s\n  want: %s\n", name.c_str(), got.c_str(), want.c_str());
        ++failures;
    } else {
        std::printf("ok   %s\n", name.c_str());
    }
}

std::string signature_of(sigv4::Request request) {
    const sigv4::Credentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
    const std::string authorization =
        sigv4::sign(request, credentials, "us-east-1", "service", "20150830T123600Z");
    return authorization.substr(authorization.rfind('=') + 1);
}

sigv4::Request vanilla(const std::string& method) {
    sigv4::Request request;
    request.method = method;
    request.path = "/";
    request.headers["Host"] = "example.amazonaws.com";
    return request;
}

}  // namespace

int main() {
    const sigv4::Credentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};

    auto get = vanilla("GET");
    const std::string authorization =
        sigv4::sign(get, credentials, "us-east-1", "service", "20150830T123600Z");
    expect_eq("get-vanilla authorization", authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    expect_eq("get-vanilla canonical request hash", sigv4::sha256_hex(sigv4::canonical_request(get, nullptr)),
              "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");

    auto ordered = vanilla("GET");
    ordered.query = {{"Param2", "value2"}, {"Param1", "value1"}};
    expect_eq("get-vanilla-query-order-key-case", signature_of(ordered),
              "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");

    expect_eq("post-vanilla", signature_of(vanilla("POST")),
              "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");

    auto post_query = vanilla("POST");
    post_query.query = {{"Param1", "value1"}};
    expect_eq("post-vanilla-query", signature_of(post_query),
              "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");

    expect_eq("sha256 of the empty string", sigv4::sha256_hex(""),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_eq("uri_encode", sigv4::uri_encode("a b/c~"), "a%20b%2Fc~");

    std::printf("%d passed, %d failed\n", 7 - failures, failures);
    return failures == 0 ? 0 : 1;
}
