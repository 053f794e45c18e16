#include "server/batched_socket.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace chat::server {
namespace {
namespace net = boost::asio;
using tcp = net::ip::tcp;

// A connected pair of loopback sockets: `ours` goes under a BatchedSocket, `peer` is the client.
struct SocketPair {
  net::io_context ioc;
  tcp::socket ours{ioc};
  tcp::socket peer{ioc};

  SocketPair() {
    tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    peer.connect(acceptor.local_endpoint());
    ours = acceptor.accept();
  }
};

// Reads from `socket` until `n` bytes arrived (blocking; the writes are already queued).
std::string read_exactly(tcp::socket& socket, std::size_t n) {
  std::string data(n, '\0');
  net::read(socket, net::buffer(data));
  return data;
}

TEST(BatchedSocketTest, WritesCompleteAtOnceAndReachThePeerInOrder) {
  SocketPair pair;
  BatchedSocket socket(std::move(pair.ours));
  auto owner = std::make_shared<int>(0);
  socket.set_owner(owner);

  std::vector<std::size_t> completed;
  for (const char* text : {"one ", "two ", "three"}) {
    socket.async_write_some(net::buffer(std::string_view(text)),
                            [&completed](boost::system::error_code ec, std::size_t n) {
                              EXPECT_FALSE(ec);
                              completed.push_back(n);
                            });
  }
  EXPECT_TRUE(completed.empty()) << "a write completes on the executor, never inline";
  EXPECT_EQ(socket.waiting(), 13u);
  bool flushed = false;
  socket.when_flushed([&] { flushed = true; });
  pair.ioc.run();

  EXPECT_EQ(completed, (std::vector<std::size_t>{4, 4, 5}));
  EXPECT_TRUE(flushed);
  EXPECT_EQ(socket.waiting(), 0u);
  EXPECT_EQ(read_exactly(pair.peer, 13), "one two three");
}

TEST(BatchedSocketTest, WhileCorkedNothingIsSentAndUncorkSendsEverythingTogether) {
  SocketPair pair;
  BatchedSocket socket(std::move(pair.ours));
  auto owner = std::make_shared<int>(0);
  socket.set_owner(owner);

  socket.cork();
  socket.async_write_some(net::buffer(std::string_view("first ")),
                          [](boost::system::error_code, std::size_t) {});
  pair.ioc.poll();
  socket.async_write_some(net::buffer(std::string_view("second")),
                          [](boost::system::error_code, std::size_t) {});
  pair.ioc.poll();
  EXPECT_EQ(socket.waiting(), 12u) << "corked: nothing reached the socket";
  pair.peer.non_blocking(true);
  char probe[16];
  boost::system::error_code ec;
  pair.peer.read_some(net::buffer(probe), ec);
  EXPECT_EQ(ec, net::error::would_block);

  socket.uncork();
  pair.ioc.restart();  // poll() ran out of work, which stops the context
  pair.ioc.run();
  EXPECT_EQ(socket.waiting(), 0u);
  pair.peer.non_blocking(false);
  EXPECT_EQ(read_exactly(pair.peer, 12), "first second");
}

TEST(BatchedSocketTest, WhenFlushedRunsAtOnceWhenNothingWaits) {
  SocketPair pair;
  BatchedSocket socket(std::move(pair.ours));
  bool flushed = false;
  socket.when_flushed([&] { flushed = true; });
  EXPECT_FALSE(flushed) << "posted, not run inline";
  pair.ioc.run();
  EXPECT_TRUE(flushed);
}

TEST(BatchedSocketTest, APeerThatDoesNotReadPutsTheWriterOverTheLimitUntilItReads) {
  SocketPair pair;
  BatchedSocket socket(std::move(pair.ours));
  auto owner = std::make_shared<int>(0);
  socket.set_owner(owner);

  // Far more than the kernel's socket buffers hold: the socket falls behind and bytes wait here.
  const std::string chunk(64 * 1024, 'x');
  const int chunks = 200;
  for (int i = 0; i < chunks; ++i)
    socket.async_write_some(net::buffer(chunk), [](boost::system::error_code, std::size_t) {});
  pair.ioc.poll();
  EXPECT_TRUE(socket.over_limit());

  bool flushed = false;
  socket.when_flushed([&] { flushed = true; });
  std::size_t received = 0;
  std::vector<char> sink(256 * 1024);
  while (!flushed) {
    received += pair.peer.read_some(net::buffer(sink));
    pair.ioc.poll();
  }
  EXPECT_FALSE(socket.over_limit());
  EXPECT_EQ(socket.waiting(), 0u);
  boost::system::error_code ec;
  pair.peer.non_blocking(true);
  for (;;) {
    const std::size_t n = pair.peer.read_some(net::buffer(sink), ec);
    if (ec) break;
    received += n;
  }
  EXPECT_EQ(received, chunk.size() * chunks);
}

TEST(BatchedSocketTest, AfterTheSocketFailedLaterWritesReportTheError) {
  SocketPair pair;
  BatchedSocket socket(std::move(pair.ours));
  auto owner = std::make_shared<int>(0);
  socket.set_owner(owner);
  pair.peer.close();
  socket.next_layer().shutdown(tcp::socket::shutdown_send);  // a send now fails at once

  boost::system::error_code first;
  socket.async_write_some(net::buffer(std::string_view("lost")),
                          [&](boost::system::error_code ec, std::size_t) { first = ec; });
  bool flushed = false;
  socket.when_flushed([&] { flushed = true; });
  pair.ioc.run();
  pair.ioc.restart();
  EXPECT_FALSE(first) << "accepted before the failure was known";
  EXPECT_TRUE(flushed) << "a failed socket releases whoever waits for it";

  boost::system::error_code later;
  socket.async_write_some(net::buffer(std::string_view("refused")),
                          [&](boost::system::error_code ec, std::size_t) { later = ec; });
  pair.ioc.run();
  EXPECT_TRUE(later);
  EXPECT_EQ(socket.waiting(), 0u);
}

TEST(BatchedSocketTest, AWebSocketCloseWritesEverythingBeforeTheTeardown) {
  // The close handshake ends with a teardown of the next layer: the frames still waiting in the
  // batch (here a message and the close frame) must reach the peer before the socket shuts down.
  SocketPair pair;
  boost::beast::websocket::stream<BatchedSocket> server(std::move(pair.ours));
  boost::beast::websocket::stream<tcp::socket> client(std::move(pair.peer));
  auto owner = std::make_shared<int>(0);
  server.next_layer().set_owner(owner);

  bool accepted = false;
  server.async_accept([&](boost::system::error_code ec) {
    ASSERT_FALSE(ec);
    accepted = true;
    server.async_write(net::buffer(std::string_view("last words")),
                       [&](boost::system::error_code write_ec, std::size_t) {
                         ASSERT_FALSE(write_ec);
                         server.async_close(boost::beast::websocket::close_code::normal,
                                            [](boost::system::error_code) {});
                       });
  });
  std::thread client_thread([&] {
    client.handshake("127.0.0.1", "/");
    boost::beast::flat_buffer buffer;
    client.read(buffer);
    EXPECT_EQ(boost::beast::buffers_to_string(buffer.data()), "last words");
    boost::system::error_code ec;
    buffer.clear();
    client.read(buffer, ec);
    EXPECT_EQ(ec, boost::beast::websocket::error::closed);
    EXPECT_EQ(client.reason().code, boost::beast::websocket::close_code::normal);
  });
  pair.ioc.run();
  client_thread.join();
  EXPECT_TRUE(accepted);
}

}  // namespace
}  // namespace chat::server
