#include "server/delivery.h"

#include "base/overloaded.h"
#include "protocol/server_event.h"
#include "server/error_mapping.h"

namespace chat::server {

void Delivery::operator()(const bus::Event& event) {
  auto connections = registry_.connections_of(bus::recipient_of(event));
  if (connections.empty()) return;
  std::visit(
      Overloaded{
          [&](const bus::Delivery& d) {
            // Serialized once, shared by every device of the user.
            auto frame = std::make_shared<const std::string>(protocol::encode_message(d.entry));
            for (auto& c : connections) c->deliver_entry(d.entry.seq, frame);
            metrics_.deliveries.fetch_add(connections.size(), std::memory_order_relaxed);
          },
          [&](const bus::Typing& t) {
            auto frame = std::make_shared<const std::string>(protocol::encode_typing(t.from));
            for (auto& c : connections) c->deliver(frame);
          },
          [&](const bus::UserDeleted&) {
            for (auto& c : connections) c->close(kCloseUserDeleted, "user deleted");
          },
      },
      event);
}

}  // namespace chat::server
