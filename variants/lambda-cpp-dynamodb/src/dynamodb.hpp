// The counter as one number attribute of one DynamoDB item, over DynamoDB's JSON API
// (X-Amz-Target: DynamoDB_20120810.*), signed with SigV4.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "http.hpp"
#include "sigv4.hpp"

namespace dynamodb {

/// The store, parsed from the same URL the Rust function reads from LATENCY_STORE:
/// dynamodb://TABLE?endpoint=URL&region=R&mode=atomic|read-modify-write
///   &key=id&key_value=0&attribute=hits&create=true
struct StoreUrl {
    std::string table;
    std::string endpoint;  // e.g. http://127.0.0.1:4567; empty: https://dynamodb.REGION.amazonaws.com
    std::string region;
    bool read_modify_write = false;
    std::string key = "id";
    std::string key_value = "0";
    std::string attribute = "hits";
    bool create = false;

    /// Throws std::invalid_argument naming what is wrong.
    static StoreUrl parse(const std::string& url, const std::string& default_region);
};

/// A store failure. `missing` is set when the counter item or table is gone: never a
/// silent restart at 1.
struct StoreError : std::runtime_error {
    StoreError(const std::string& what, bool missing) : std::runtime_error(what), missing(missing) {}
    bool missing;
};

class Counter {
public:
    Counter(StoreUrl url, sigv4::Credentials credentials);

    /// Creates the table and the counter at 0 if they are missing (create=true, at init).
    void create();
    /// Reads the table's key type at init (the study's tables have a number key `id`), as
    /// the Rust store does: a string sent to a number key fails every call. Throws when
    /// the table is keyed by another attribute, or by a number and key_value is not one.
    void read_key_type();
    /// Adds one and returns the new count: one UpdateItem ADD, or the study's
    /// GetItem-then-PutItem in read-modify-write mode.
    std::uint64_t incr();

private:
    http::Response call(const std::string& operation, const std::string& body);
    std::string host_;
    std::string url_;
    StoreUrl store_;
    sigv4::Credentials credentials_;
    http::Client client_;
    std::string key_type_ = "S";
};

}  // namespace dynamodb
