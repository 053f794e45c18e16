#pragma once
// The delivering half of the message path: the bus subscriber that turns events into frames on
// this node's live connections. Thread-safe; called on whatever thread the bus delivers on.
#include "bus/bus.h"
#include "server/connection_registry.h"
#include "server/metrics.h"

namespace chat::server {

class Delivery {
 public:
  Delivery(ConnectionRegistry& registry, Metrics& metrics)
      : registry_(registry), metrics_(metrics) {}

  void operator()(const bus::Event& event);

 private:
  ConnectionRegistry& registry_;
  Metrics& metrics_;
};

}  // namespace chat::server
