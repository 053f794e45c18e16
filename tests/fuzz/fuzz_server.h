#pragma once
// A whole server context without sockets or disk, for the fuzz targets of the REST API and the
// HTTP request path: the in-memory store (writes answer inline), the single-node presence and
// the in-process bus, wired as app/node.cpp wires the real ones. Fresh for every input, so each
// input is replayed alone; users alice and bob exist, and tokens signed with kJwtKey (exp in
// 2100) authenticate them.
#include <string>

#include "auth/jwt.h"
#include "bus/local/local_bus.h"
#include "core/message_service.h"
#include "fakes/in_memory_store.h"
#include "server/connection_registry.h"
#include "server/context.h"
#include "server/delivery.h"
#include "server/local_presence.h"
#include "server/metrics.h"
#include "server/options.h"
#include "server/rest_api.h"

namespace chat::fuzz {

inline constexpr const char* kJwtKey = "fuzz-secret";
inline constexpr const char* kApiKey = "fuzz-api-key";

struct FuzzServer {
  FuzzServer() {
    options.api_key = kApiKey;
    options.allowed_origins = {"https://chat.example"};
    bus.subscribe(server::Delivery(registry, metrics));
    for (const char* user : {"alice", "bob"})
      store.create_user(user, 0, [](Result<store::User>) {});
  }

  server::ServerOptions options;
  auth::JwtVerifier verifier{kJwtKey};
  store::InMemoryStore store;
  server::ConnectionRegistry registry{options.max_connections_per_user};
  server::Metrics metrics;
  server::LocalPresence presence{store, registry};
  bus::LocalBus bus;
  core::MessageService messages{store, bus};
  server::ServerContext ctx{options,  verifier, store,   presence,   bus,
                            messages, registry, metrics, "fuzz-node"};
  server::RestApi api{ctx};
};

}  // namespace chat::fuzz
