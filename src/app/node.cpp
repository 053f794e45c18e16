#include "app/node.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "auth/jwt.h"
#include "auth/secret.h"
#include "base/clock.h"
#include "base/ids.h"
#include "base/log.h"
#include "bus/kafka/kafka_bus.h"
#include "bus/local/local_bus.h"
#include "cluster/node_presence.h"
#include "cluster/supervisor.h"
#include "core/message_service.h"
#include "server/context.h"
#include "server/delivery.h"
#include "server/listener.h"
#include "server/local_presence.h"
#include "server/rest_api.h"
#include "store/postgres/postgres_store.h"
#include "store/rocksdb/rocks_store.h"

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

// <host name>-<port>: stable across restarts of the same instance, so that it reuses its topic.
std::string default_node_id(unsigned short port) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof host, "node");
  return std::string(host) + "-" + std::to_string(port);
}

// The cores this process may run on (taskset, cgroup cpusets), not the machine's: a node pinned
// to one core runs one I/O thread rather than several that take turns on it.
unsigned usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// The store of this instance: RocksDB in the data dir, or the cluster's PostgreSQL.
struct Stores {
  std::unique_ptr<store::Store> store;
  store::PostgresStore* postgres = nullptr;  // set when the store is PostgreSQL
  std::string description;                   // for the start-up line
  bool wrong_format = false;                 // the data dir holds another store's files
};

// The single-node store: RocksDB in <data-dir>/rocksdb. A data dir that still holds chat.db, the
// SQLite file of an earlier version, is refused rather than silently started empty beside it.
Result<Stores> open_embedded_store(const std::string& data_dir) {
  Stores out;
  std::error_code ec;
  if (std::filesystem::exists(data_dir + "/chat.db", ec)) {
    out.wrong_format = true;
    return out;
  }
  auto opened = store::RocksStore::open(data_dir + "/rocksdb");
  if (!opened) return opened.error();
  out.store = std::move(*opened);
  out.description = "RocksDB in " + data_dir + "/rocksdb";
  return out;
}

Result<Stores> open_store(const Config& config) {
  if (config.database_url.empty()) return open_embedded_store(config.data_dir);
  Stores out;
  auto opened = store::PostgresStore::open(store::PostgresOptions{.url = config.database_url});
  if (!opened) return opened.error();
  out.postgres = opened->get();
  out.store = std::move(*opened);
  out.description = "PostgreSQL";
  return out;
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
  std::optional<std::string> dev_login_key;
  if (config.server.dev_login) dev_login_key = *secret;
  const auth::JwtVerifier verifier(std::move(*secret), config.server.jwt_leeway.count());
  auto web = server::StaticFiles::load(config.server.web_dir);
  if (!web) {
    log::error(web.error().message);
    return 1;
  }
  if (web->empty()) {
    log::info("no web client in ", config.server.web_dir, " (--web-dir): / answers 404");
  } else {
    log::info("web client: ", web->size(), " files from ", config.server.web_dir, " served at /");
  }

  auto stores = open_store(config);
  if (!stores) {
    log::error("opening the store: ", stores.error().message);
    return 1;
  }
  if (stores->wrong_format) {
    log::error("the storage format changed: the data directory ", config.data_dir,
               " holds chat.db, the SQLite store of an earlier version, which this version cannot "
               "read (it keeps its data in RocksDB, under rocksdb/). Start with an empty data "
               "directory, or keep running the earlier version on this one.");
    return 2;
  }
  std::unique_ptr<store::Store> store = std::move(stores->store);
  store::PostgresStore* const postgres = stores->postgres;

  const unsigned threads = config.threads > 0 ? config.threads : usable_cores();
  net::io_context ioc(static_cast<int>(threads));
  server::ConnectionRegistry registry(config.server.max_connections_per_user);
  server::Metrics metrics;

  const std::string node_id =
      config.node_id.empty() ? default_node_id(endpoint->port()) : config.node_id;

  // The routing registry: this process's own on one node, the cluster's in PostgreSQL.
  server::LocalPresence local_presence(*store, registry);
  std::unique_ptr<cluster::NodePresence> node_presence;
  if (postgres) {
    // A restarted instance starts with none of its former connections.
    if (auto joined = postgres->heartbeat(node_id); !joined) {
      log::error("registering instance ", node_id, ": ", joined.error().message);
      return 1;
    }
    node_presence = std::make_unique<cluster::NodePresence>(*postgres, *postgres);
    if (Status s = node_presence->reset(node_id); !s) {
      log::error("clearing the presence of instance ", node_id, ": ", s.error().message);
      return 1;
    }
  }
  store::Presence& presence = node_presence ? static_cast<store::Presence&>(*node_presence)
                                            : static_cast<store::Presence&>(local_presence);

  // Declared before the bus, whose thread may wake it: the bus is destroyed first.
  std::unique_ptr<cluster::Supervisor> supervisor;
  std::unique_ptr<bus::Bus> bus;
  bus::KafkaBus* kafka = nullptr;
  if (config.kafka_brokers.empty()) {
    bus = std::make_unique<bus::LocalBus>();
  } else {
    auto k = std::make_unique<bus::KafkaBus>(bus::KafkaOptions{
        .brokers = config.kafka_brokers,
        .topic_prefix = config.kafka_topic_prefix,
        .node_id = node_id,
    });
    kafka = k.get();
    bus = std::move(k);
  }
  core::MessageService messages(*store, *bus);
  server::ServerContext ctx{config.server, verifier, *store,  presence, *bus,
                            messages,      registry, metrics, node_id};
  bus->subscribe(server::Delivery(registry, metrics));

  if (postgres) {
    supervisor = std::make_unique<cluster::Supervisor>(
        cluster::SupervisorOptions{.node_id = node_id}, *store, *postgres, *node_presence, registry,
        metrics, [kafka](const std::string& dead) {
          if (!kafka) return;
          if (Status s = kafka->delete_topic_of(dead); !s)
            log::warn("deleting the topic of instance ", dead, ": ", s.error().message);
        });
  }
  if (kafka) {
    kafka->on_recovered([&supervisor] {
      if (supervisor) supervisor->wake();
    });
    // The topic exists and the offset to read from is fixed before anything is accepted.
    if (Status s = kafka->start(); !s) {
      log::error("starting the Kafka bus: ", s.error().message);
      return 1;
    }
  }
  server::RestApi api(ctx, std::move(web).value(), std::move(dev_login_key));

  auto listener = std::make_shared<server::Listener>(ioc, ctx, api, threads);
  try {
    listener->open(*endpoint);
  } catch (const boost::system::system_error& e) {
    log::error("cannot listen on ", config.listen, ": ", e.code().message());
    return 1;
  }
  if (supervisor) supervisor->start();
  if (config.server.api_key.empty())
    log::warn("CHAT_API_KEY is not set: the user API (/api/user/v1/...) is open to anyone");
  if (config.server.dev_login)
    log::warn("DEVELOPMENT LOGIN IS ON (--dev-login): anyone who can reach this server can become any "
              "user with POST /api/dev/v1/token. Never use it in production");
  log::info("chat-engine node ", ctx.node_id, " listening on ", listener->local_endpoint(),
            " with ", threads, " threads; store: ", stores->description,
            "; bus: ", kafka ? "Kafka at " + config.kafka_brokers : std::string("in-process"));
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

  // Phase three: every accepted write is committed (and its events handed to the bus) before the
  // process exits; then the bus flushes, and the instance leaves the cluster's registry.
  if (supervisor) supervisor->stop();
  store->drain();
  if (kafka) kafka->stop();
  if (postgres) {
    if (Status s = postgres->leave(node_id); !s)
      log::warn("leaving the cluster registry: ", s.error().message);
  }
  log::info("chat-engine stopped");
  return 0;
}

}  // namespace chat::app
