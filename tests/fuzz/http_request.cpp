// The HTTP request path against arbitrary bytes, as a connection's reads would deliver them:
// Beast's request parser with the server's limits, then, for each request on the connection
// (keep-alive, pipelined), what HttpSession does after a read: the answer to a read error, the
// upgrade decision for /ws, or the REST API's routing, validation and handlers over the
// in-memory store. Only the socket is missing. Properties: nothing crashes; every parsed request
// gets exactly one answer, at once; every answer serializes as a valid HTTP response with a JSON
// body (/metrics: text) and a status that matches its kind.
#include "server/http_request.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "fuzz_check.h"
#include "fuzz_server.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace server = chat::server;

// How many requests of one input are served; the rest is ignored, as a closed connection would.
constexpr int kMaxRequests = 8;

void check_answer(server::Response& res) {
  const auto status = res.result_int();
  FUZZ_CHECK(status >= 200 && status < 600);
  const auto type = res[http::field::content_type];
  if (type == "application/json") {
    boost::system::error_code ec;
    const json::value body = json::parse(res.body(), ec);
    FUZZ_CHECK(!ec && body.is_object());
    FUZZ_CHECK((status >= 400) == (body.as_object().if_contains("error") != nullptr));
  } else {
    FUZZ_CHECK(status == 204 || type.starts_with("text/plain"));
  }
  // What HttpSession's write would put on the wire.
  http::response_serializer<http::string_body> serializer{res};
  beast::error_code ec;
  std::size_t written = 0;
  while (!serializer.is_done() && !ec) {
    serializer.next(ec, [&](beast::error_code&, const auto& buffers) {
      const auto n = beast::buffer_bytes(buffers);
      written += n;
      serializer.consume(n);
    });
  }
  FUZZ_CHECK(!ec && written > 0);
}

// Serves one request as HttpSession::on_read does, without the socket.
void serve(chat::fuzz::FuzzServer& fuzz, server::Request req) {
  if (server::is_websocket_upgrade(req)) {
    auto decision = server::authorize_upgrade(fuzz.ctx, req);
    if (auto* claims = std::get_if<chat::auth::Claims>(&decision)) {
      FUZZ_CHECK(!claims->username.empty());
      // A place is held, then given back as when the handshake fails.
      if (fuzz.registry.reserve(claims->username)) fuzz.registry.release(claims->username);
    } else {
      auto& refusal = std::get<server::Response>(decision);
      FUZZ_CHECK(refusal.result_int() >= 400);
      check_answer(refusal);
    }
    return;
  }
  int answers = 0;
  fuzz.api.handle(req, [&](server::Response res) {
    ++answers;
    check_answer(res);
  });
  FUZZ_CHECK(answers == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  chat::fuzz::FuzzServer fuzz;
  boost::asio::const_buffer rest(data, size);

  for (int i = 0; i < kMaxRequests; ++i) {
    server::RequestParser parser;
    server::limit_request_parser(parser, fuzz.options);
    parser.eager(true);
    beast::error_code ec;
    while (!parser.is_done()) {
      const std::size_t used = parser.put(rest, ec);
      rest += used;
      if (ec == http::error::need_more || (!ec && used == 0)) {
        // The peer wrote nothing more: the stream ends, before a request (end_of_stream, as
        // http::async_read says) or inside one (the parser decides).
        ec = {};
        if (parser.got_some())
          parser.put_eof(ec);
        else
          ec = http::error::end_of_stream;
        break;
      }
      if (ec) break;
    }
    if (ec) {
      // A read error ends the connection, with an answer or without.
      if (auto answer = server::read_error_response(ec)) check_answer(*answer);
      return 0;
    }
    FUZZ_CHECK(parser.is_done());
    auto req = parser.release();
    const bool keep_alive = req.keep_alive();
    serve(fuzz, std::move(req));
    if (!keep_alive || rest.size() == 0) return 0;
  }
  return 0;
}
