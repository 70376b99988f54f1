// A small blocking HTTP/1.1 client over one reused libcurl easy handle (keep-alive).
#pragma once

#include <curl/curl.h>

#include <map>
#include <string>

namespace http {

struct Response {
    long status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

class Client {
public:
    /// `timeout_ms` bounds each whole request.
    explicit Client(long timeout_ms);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// Sends one request; throws std::runtime_error naming the URL on a transport failure.
    Response send(const std::string& method, const std::string& url,
                  const std::map<std::string, std::string>& headers, const std::string& body);

private:
    CURL* curl_;
    long timeout_ms_;
};

}  // namespace http
