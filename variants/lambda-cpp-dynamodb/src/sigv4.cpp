#include "sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <stdexcept>

namespace sigv4 {
namespace {

std::string to_hex(const unsigned char* bytes, size_t length) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (size_t i = 0; i < length; ++i) {
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 0x0f]);
    }
    return out;
}

std::string hmac(const std::string& key, const std::string& data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
             &length) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return std::string(reinterpret_cast<char*>(out), length);
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

// Header values are trimmed and runs of spaces folded, as the canonical form requires.
std::string trim_fold(const std::string& value) {
    std::string out;
    bool space = false;
    for (char c : value) {
        if (c == ' ' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back(c);
    }
    return out;
}

}  // namespace

std::string sha256_hex(const std::string& data) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
    return to_hex(digest, sizeof digest);
}

std::string uri_encode(const std::string& text) {
    static const char digits[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(digits[c >> 4]);
            out.push_back(digits[c & 0x0f]);
        }
    }
    return out;
}

std::string canonical_request(const Request& request, std::string* signed_headers) {
    std::vector<std::pair<std::string, std::string>> query;
    for (const auto& [key, value] : request.query) query.emplace_back(uri_encode(key), uri_encode(value));
    std::sort(query.begin(), query.end());
    std::string query_text;
    for (const auto& [key, value] : query) {
        if (!query_text.empty()) query_text += '&';
        query_text += key + '=' + value;
    }

    std::map<std::string, std::string> headers;  // sorted by lower-case name
    for (const auto& [name, value] : request.headers) headers[lower(name)] = trim_fold(value);
    std::string header_text, names;
    for (const auto& [name, value] : headers) {
        header_text += name + ':' + value + '\n';
        if (!names.empty()) names += ';';
        names += name;
    }
    if (signed_headers != nullptr) *signed_headers = names;

    return request.method + '\n' + request.path + '\n' + query_text + '\n' + header_text + '\n' +
           names + '\n' + sha256_hex(request.payload);
}

std::string sign(Request& request, const Credentials& credentials, const std::string& region,
                 const std::string& service, const std::string& amz_date) {
    if (amz_date.size() != 16) throw std::invalid_argument("amz_date must be YYYYMMDDTHHMMSSZ");
    request.headers["x-amz-date"] = amz_date;
    if (!credentials.session_token.empty()) {
        request.headers["x-amz-security-token"] = credentials.session_token;
    }
    std::string signed_headers;
    const std::string canonical = canonical_request(request, &signed_headers);
    const std::string day = amz_date.substr(0, 8);
    const std::string scope = day + '/' + region + '/' + service + "/aws4_request";
    const std::string to_sign =
        "AWS4-HMAC-SHA256\n" + amz_date + '\n' + scope + '\n' + sha256_hex(canonical);
    std::string key = hmac("AWS4" + credentials.secret_access_key, day);
    key = hmac(key, region);
    key = hmac(key, service);
    key = hmac(key, "aws4_request");
    const std::string raw = hmac(key, to_sign);
    const std::string signature =
        to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
    return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + '/' + scope +
           ", SignedHeaders=" + signed_headers + ", Signature=" + signature;
}

std::string amz_date_now() {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[17];
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
    return text;
}

}  // namespace sigv4
