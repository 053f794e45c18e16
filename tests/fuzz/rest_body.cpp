// The body parser of the REST API (POST /api/user/v1/create, the one route with a body) against
// arbitrary bytes, through RestApi::handle over the in-memory store. Properties: nothing
// crashes; the request is answered exactly once, synchronously (the store answers inline);
// the answer is 201 with the user, or a 4xx with an error object.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_check.h"
#include "fuzz_server.h"

namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

void check_answer(const chat::server::Response& res) {
  const auto status = static_cast<int>(res.result_int());
  boost::system::error_code ec;
  const json::value body = json::parse(res.body(), ec);
  FUZZ_CHECK(!ec && body.is_object());
  if (status == 201) {
    const auto* name = body.as_object().if_contains("username");
    FUZZ_CHECK(name && name->is_string());
  } else {
    FUZZ_CHECK(status >= 400 && status < 500);
    FUZZ_CHECK(body.as_object().if_contains("error"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  chat::fuzz::FuzzServer server;
  chat::server::Request req{http::verb::post, "/api/user/v1/create", 11};
  req.set("X-API-Key", chat::fuzz::kApiKey);
  req.set(http::field::content_type, "application/json");
  req.body().assign(reinterpret_cast<const char*>(data), size);
  req.prepare_payload();

  int answers = 0;
  std::optional<chat::server::Response> answer;
  server.api.handle(req, [&](chat::server::Response res) {
    ++answers;
    answer = std::move(res);
  });
  FUZZ_CHECK(answers == 1);
  check_answer(*answer);
  return 0;
}
