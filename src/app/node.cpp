#include "app/node.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <thread>

#include "auth/jwt.h"
#include "auth/secret.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "bus/local/local_bus.h"
#include "core/message_service.h"
#include "server/context.h"
#include "server/delivery.h"
#include "server/listener.h"
#include "server/rest_api.h"
#include "store/sqlite/sqlite_store.h"

namespace chat::app {
namespace net = boost::asio;
namespace {

// Every connection is a descriptor: use all the process may have.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) log::warn("could not raise the open-files limit");
  }
  log::info("open-files limit: ", limit.rlim_cur);
}

Result<net::ip::tcp::endpoint> parse_endpoint(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos)
    return make_error(Errc::bad_request, "--listen must be HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) return make_error(Errc::bad_request, "--listen: not an IP address: " + host);
  try {
    const int port = std::stoi(text.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    return net::ip::tcp::endpoint(address, static_cast<unsigned short>(port));
  } catch (const std::exception&) {
    return make_error(Errc::bad_request, "--listen: bad port in " + text);
  }
}

// Phase two of shutdown: wait (bounded) until every connection has closed.
void wait_for_connections(net::steady_timer& timer, server::ConnectionRegistry& registry,
                          SteadyClock::time_point deadline, net::io_context& ioc) {
  if (registry.total() == 0 || SteadyClock::now() >= deadline) {
    if (registry.total() > 0) log::warn(registry.total(), " connections did not close in time");
    ioc.stop();
    return;
  }
  timer.expires_after(std::chrono::milliseconds(20));
  timer.async_wait([&timer, &registry, deadline, &ioc](boost::system::error_code) {
    wait_for_connections(timer, registry, deadline, ioc);
  });
}

}  // namespace

int run_node(const Config& config) {
  log::set_level(config.log_level);
  raise_open_files_limit();

  auto endpoint = parse_endpoint(config.listen);
  if (!endpoint) {
    log::error(endpoint.error().message);
    return 2;
  }
  // The store holds private conversations: files the node creates are for its own user only.
  ::umask(077);
  std::error_code fs_ec;
  std::filesystem::create_directories(config.data_dir, fs_ec);
  if (fs_ec) {
    log::error("cannot create the data directory ", config.data_dir, ": ", fs_ec.message());
    return 1;
  }
  auto secret = auth::resolve_jwt_secret(config.data_dir);
  if (!secret) {
    log::error("JWT secret: ", secret.error().message);
    return 1;
  }
  const auth::JwtVerifier verifier(std::move(*secret), config.server.jwt_leeway.count());

  auto opened = store::SqliteStore::open(config.data_dir + "/chat.db");
  if (!opened) {
    log::error("opening the store: ", opened.error().message);
    return 1;
  }
  std::unique_ptr<store::SqliteStore> store = std::move(*opened);

  bus::LocalBus bus;
  core::MessageService messages(*store, bus);
  server::ConnectionRegistry registry(config.server.max_connections_per_user);
  server::Metrics metrics;
  server::ServerContext ctx{
      config.server, verifier, *store,  bus,
      messages,      registry, metrics, config.node_id.empty() ? random_hex(6) : config.node_id};
  bus.subscribe(server::Delivery(registry, metrics));
  server::RestApi api(ctx);

  const unsigned threads =
      config.threads > 0 ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  net::io_context ioc(static_cast<int>(threads));
  auto listener = std::make_shared<server::Listener>(ioc, ctx, api);
  try {
    listener->open(*endpoint);
  } catch (const boost::system::system_error& e) {
    log::error("cannot listen on ", config.listen, ": ", e.code().message());
    return 1;
  }
  if (config.server.api_key.empty())
    log::warn("CHAT_API_KEY is not set: the user API (/api/user/v1/...) is open to anyone");
  log::info("chat-engine node ", ctx.node_id, " listening on ", listener->local_endpoint(),
            " with ", threads, " threads, data in ", config.data_dir);
  listener->run();

  // Shutdown, phase one on the first signal: refuse new work, let sessions finish their in-flight
  // sends and close with 1001. A second signal stops at once.
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  net::steady_timer drain_timer(ioc);
  const auto deadline_margin = std::chrono::milliseconds(1500);
  std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                      int signo) {
    if (ec) return;
    if (ctx.draining.exchange(true)) {
      ioc.stop();
      return;
    }
    log::info("signal ", signo, ": draining ", registry.total(), " connections");
    listener->stop();
    for (auto& connection : registry.all()) connection->shut_down();
    const auto budget = config.server.shutdown_timeout > deadline_margin * 2
                            ? config.server.shutdown_timeout - deadline_margin
                            : config.server.shutdown_timeout / 2;
    wait_for_connections(drain_timer, registry, SteadyClock::now() + budget, ioc);
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (unsigned i = 1; i < threads; ++i)
    pool.emplace_back([&ioc] {
      pthread_setname_np(pthread_self(), "chat-io");
      ioc.run();
    });
  ioc.run();
  for (auto& t : pool) t.join();

  // Phase three: every accepted write is committed before the process exits.
  store->drain();
  log::info("chat-engine stopped");
  return 0;
}

}  // namespace chat::app
