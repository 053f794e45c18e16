#pragma once
// The bus between the part of the engine that accepts work (a send, a typing notice, a deleted
// user) and the part that delivers it to live connections. In-process on one node (bus/local);
// across nodes it is Kafka, which is why events are plain values keyed by the user they are for.
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "store/types.h"

namespace chat::bus {

// A durable inbox entry for the connections of entry.owner.
struct Delivery {
  store::InboxEntry entry;
};
// An ephemeral typing notice for the connections of `to`. Never stored.
struct Typing {
  std::string from;
  std::string to;
};
// The user was deleted: their connections are closed (4003).
struct UserDeleted {
  std::string username;
};

using Event = std::variant<Delivery, Typing, UserDeleted>;

// The user whose connections an event is for; implementations route and partition by it.
const std::string& recipient_of(const Event& event);

// Where an event goes besides this process: the ids of the other live instances holding
// connections of its recipient, as the routing registry saw them (store/presence.h). Empty on one
// node.
using Nodes = std::vector<std::string>;

// What a bus has carried between instances; zero on one node.
struct BusStats {
  uint64_t published = 0;        // records produced, one per event per destination instance
  uint64_t consumed = 0;         // records consumed from this instance's topic
  uint64_t publish_failures = 0; // records that could not be handed over (healed by catch-up)
};

// Thread-safe. Events for one recipient published from one thread are handled in publish order.
// A bus is a fast path only: an event it loses is never an error for whoever published it (the
// store holds every durable entry; instances catch their connections up from it).
class Bus {
 public:
  using Handler = std::function<void(const Event&)>;

  virtual ~Bus() = default;
  // Sets the handler for events addressed to users connected to this node. Called once, before
  // the first publish. The handler must not block; it may be called from any thread.
  virtual void subscribe(Handler handler) = 0;
  // Hands `event` to this process's handler at once, on the calling thread, and sends it to every
  // instance in `nodes` (this instance's own id, if present, is skipped).
  virtual void publish(Event event, const Nodes& nodes) = 0;
  virtual BusStats stats() const { return {}; }
};

}  // namespace chat::bus
