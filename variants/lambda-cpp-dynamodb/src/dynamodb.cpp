#include "dynamodb.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>

using nlohmann::json;

namespace dynamodb {
namespace {

std::string percent_decode(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::string error_type(const http::Response& response) {
    // "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    const json body = json::parse(response.body, nullptr, false);
    if (!body.is_object() || !body.contains("__type")) return "";
    const std::string type = body["__type"].get<std::string>();
    return type.substr(type.find('#') + 1);
}

}  // namespace

StoreUrl StoreUrl::parse(const std::string& url, const std::string& default_region) {
    const std::string scheme = "dynamodb://";
    if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("LATENCY_STORE must be dynamodb://TABLE?...");
    StoreUrl out;
    out.region = default_region;
    const std::string rest = url.substr(scheme.size());
    const auto question = rest.find('?');
    out.table = rest.substr(0, question);
    if (out.table.empty() || out.table.find('/') != std::string::npos) {
        throw std::invalid_argument("a DynamoDB store URL names one table: dynamodb://TABLE");
    }
    std::string query = question == std::string::npos ? "" : rest.substr(question + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string pair = query.substr(0, amp);
        query = amp == std::string::npos ? "" : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string name = pair.substr(0, eq);
        const std::string value = eq == std::string::npos ? "" : percent_decode(pair.substr(eq + 1));
        if (name == "endpoint") out.endpoint = value;
        else if (name == "region") out.region = value;
        else if (name == "key") out.key = value;
        else if (name == "key_value") out.key_value = value;
        else if (name == "attribute") out.attribute = value;
        else if (name == "create") out.create = value == "true";
        else if (name == "mode") {
            if (value != "atomic" && value != "read-modify-write") {
                throw std::invalid_argument("mode must be atomic or read-modify-write, not " + value);
            }
            out.read_modify_write = value == "read-modify-write";
        } else {
            throw std::invalid_argument("unknown store URL parameter `" + name + "`");
        }
    }
    if (out.region.empty()) throw std::invalid_argument("no region: set AWS_REGION or ?region=");
    return out;
}

Counter::Counter(StoreUrl url, sigv4::Credentials credentials)
    : store_(std::move(url)), credentials_(std::move(credentials)), client_(2000) {
    url_ = store_.endpoint.empty() ? "https://dynamodb." + store_.region + ".amazonaws.com"
                                   : store_.endpoint;
    const auto scheme_end = url_.find("://");
    host_ = url_.substr(scheme_end + 3);
    host_ = host_.substr(0, host_.find('/'));
    if (url_.back() == '/') url_.pop_back();
}

http::Response Counter::call(const std::string& operation, const std::string& body) {
    sigv4::Request request;
    request.method = "POST";
    request.path = "/";
    request.payload = body;
    request.headers["host"] = host_;
    request.headers["content-type"] = "application/x-amz-json-1.0";
    request.headers["x-amz-target"] = "DynamoDB_20120810." + operation;
    const std::string authorization =
        sigv4::sign(request, credentials_, store_.region, "dynamodb", sigv4::amz_date_now());
    request.headers["authorization"] = authorization;
    request.headers.erase("host");  // curl sets Host from the URL
    return client_.send("POST", url_ + "/", request.headers, body);
}

namespace {
bool is_number(const std::string& text) {
    if (text.empty()) return false;
    char* end = nullptr;
    std::strtod(text.c_str(), &end);
    return end != nullptr && *end == '\0';
}
}  // namespace

void Counter::read_key_type() {
    auto described = call("DescribeTable", json{{"TableName", store_.table}}.dump());
    if (described.status != 200) {
        throw StoreError("DescribeTable " + store_.table + ": HTTP " + std::to_string(described.status) + " " +
                             error_type(described),
                         false);
    }
    const json table = json::parse(described.body)["Table"];
    std::string hash;
    for (const auto& element : table["KeySchema"]) {
        if (element["KeyType"] == "HASH") hash = element["AttributeName"].get<std::string>();
    }
    if (hash != store_.key) throw StoreError("table " + store_.table + " is keyed by " + hash + ", not " + store_.key, false);
    for (const auto& attribute : table["AttributeDefinitions"]) {
        if (attribute["AttributeName"] == hash) key_type_ = attribute["AttributeType"].get<std::string>();
    }
    if (key_type_ == "N" && !is_number(store_.key_value)) {
        throw StoreError("table " + store_.table + " has a number key, but key_value is " + store_.key_value, false);
    }
}

void Counter::create() {
    auto described = call("DescribeTable", json{{"TableName", store_.table}}.dump());
    if (described.status != 200) {
        if (error_type(described) != "ResourceNotFoundException") {
            throw StoreError("DescribeTable " + store_.table + ": HTTP " + std::to_string(described.status), false);
        }
        const json create = {
            {"TableName", store_.table},
            {"AttributeDefinitions",
             {{{"AttributeName", store_.key}, {"AttributeType", is_number(store_.key_value) ? "N" : "S"}}}},
            {"KeySchema", {{{"AttributeName", store_.key}, {"KeyType", "HASH"}}}},
            {"BillingMode", "PAY_PER_REQUEST"},
        };
        auto created = call("CreateTable", create.dump());
        if (created.status != 200 && error_type(created) != "ResourceInUseException") {
            throw StoreError("CreateTable " + store_.table + ": HTTP " + std::to_string(created.status), false);
        }
        for (int attempt = 0;; ++attempt) {  // bounded: 30 s
            auto state = call("DescribeTable", json{{"TableName", store_.table}}.dump());
            const json body = json::parse(state.body, nullptr, false);
            if (state.status == 200 && body["Table"]["TableStatus"] == "ACTIVE") break;
            if (attempt >= 300) throw StoreError("table " + store_.table + " did not become ACTIVE", false);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    const json put = {
        {"TableName", store_.table},
        {"Item", {{store_.key, {{is_number(store_.key_value) ? "N" : "S", store_.key_value}}}, {store_.attribute, {{"N", "0"}}}}},
        {"ConditionExpression", "attribute_not_exists(#k)"},
        {"ExpressionAttributeNames", {{"#k", store_.key}}},
    };
    auto response = call("PutItem", put.dump());
    if (response.status != 200 && error_type(response) != "ConditionalCheckFailedException") {
        throw StoreError("PutItem " + store_.table + ": HTTP " + std::to_string(response.status), false);
    }
}

std::uint64_t Counter::incr() {
    const json key = {{store_.key, {{key_type_, store_.key_value}}}};
    const std::string missing = "counter item in table " + store_.table + " is missing";
    if (store_.read_modify_write) {
        auto got = call("GetItem", json{{"TableName", store_.table}, {"Key", key}, {"ConsistentRead", true}}.dump());
        if (got.status != 200) throw StoreError("GetItem: HTTP " + std::to_string(got.status), error_type(got) == "ResourceNotFoundException");
        const json body = json::parse(got.body);
        if (!body.contains("Item")) throw StoreError(missing, true);
        const auto& item = body["Item"];
        const std::uint64_t next =
            (item.contains(store_.attribute) ? std::stoull(item[store_.attribute]["N"].get<std::string>()) : 0) + 1;
        const json put = {{"TableName", store_.table},
                          {"Item", {{store_.key, {{key_type_, store_.key_value}}}, {store_.attribute, {{"N", std::to_string(next)}}}}}};
        auto written = call("PutItem", put.dump());
        if (written.status != 200) throw StoreError("PutItem: HTTP " + std::to_string(written.status), false);
        return next;
    }
    const json update = {
        {"TableName", store_.table},
        {"Key", key},
        {"UpdateExpression", "ADD #c :one"},
        {"ConditionExpression", "attribute_exists(#k)"},
        {"ExpressionAttributeNames", {{"#c", store_.attribute}, {"#k", store_.key}}},
        {"ExpressionAttributeValues", {{":one", {{"N", "1"}}}}},
        {"ReturnValues", "UPDATED_NEW"},
    };
    auto response = call("UpdateItem", update.dump());
    if (response.status != 200) {
        const std::string type = error_type(response);
        const bool gone = type == "ConditionalCheckFailedException" || type == "ResourceNotFoundException";
        throw StoreError(gone ? missing : "UpdateItem: HTTP " + std::to_string(response.status) + " " + type, gone);
    }
    const json body = json::parse(response.body);
    return std::stoull(body["Attributes"][store_.attribute]["N"].get<std::string>());
}

}  // namespace dynamodb
