// A minimal AWS Signature Version 4 signer: enough to sign DynamoDB's JSON API calls.
//
// Hand-written because the AWS C++ SDK is not packaged in the registries this project can
// reach. It is tested against AWS's published SigV4 test-suite vectors (tests/sigv4_test.cpp).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sigv4 {

struct Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // empty when there is none
};

struct Request {
    std::string method;  // "GET", "POST"
    std::string path;    // already URI-encoded, e.g. "/"
    std::vector<std::pair<std::string, std::string>> query;  // unencoded key/value pairs
    std::map<std::string, std::string> headers;  // must include "host"; names any case
    std::string payload;
};

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(const std::string& data);

/// RFC 3986 percent-encoding as SigV4 wants it (unreserved characters kept).
std::string uri_encode(const std::string& text);

/// The canonical request SigV4 hashes (exposed for tests and debugging).
std::string canonical_request(const Request& request, std::string* signed_headers);

/// Adds `x-amz-date` (and `x-amz-security-token` if the credentials carry one) to the
/// request's headers and returns the `Authorization` header value.
/// `amz_date` is `YYYYMMDDTHHMMSSZ`.
std::string sign(Request& request, const Credentials& credentials, const std::string& region,
                 const std::string& service, const std::string& amz_date);

/// The current UTC time as `YYYYMMDDTHHMMSSZ`.
std::string amz_date_now();

}  // namespace sigv4
