#pragma once
// The bus between the part of the engine that accepts work (a send, a typing notice, a deleted
// user) and the part that delivers it to live connections. In-process on one node (bus/local);
// across nodes it is Kafka, which is why events are plain values keyed by the user they are for.
#include <functional>
#include <string>
#include <variant>

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

// Thread-safe. Events for one recipient published from one thread are handled in publish order.
class Bus {
 public:
  using Handler = std::function<void(const Event&)>;

  virtual ~Bus() = default;
  // Sets the handler for events addressed to users connected to this node. Called once, before
  // the first publish. The handler must not block; it may be called from any thread.
  virtual void subscribe(Handler handler) = 0;
  virtual void publish(Event event) = 0;
};

}  // namespace chat::bus
