#pragma once
// Everything a session or a request handler borrows from the running server. Owned by app/ and
// outlives every session; the members are themselves thread-safe.
#include <atomic>
#include <string>

#include "auth/jwt.h"
#include "bus/bus.h"
#include "core/message_service.h"
#include "server/connection_registry.h"
#include "server/metrics.h"
#include "server/options.h"
#include "store/presence.h"
#include "store/store.h"

namespace chat::server {

struct ServerContext {
  const ServerOptions& options;
  const auth::JwtVerifier& verifier;
  store::Store& store;
  store::Presence& presence;  // the routing registry: local, or the cluster's in the store
  bus::Bus& bus;
  core::MessageService& messages;
  ConnectionRegistry& registry;
  Metrics& metrics;
  std::string node_id;
  std::atomic<bool> draining{false};
};

}  // namespace chat::server
