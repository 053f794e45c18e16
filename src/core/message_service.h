#pragma once
// The accepting half of the message path: turns a client's `send` into an inbox append and, once
// the append is durable, publishes one Delivery per stored entry on the bus, to the instances the
// store found holding connections of that entry's owner. It holds no state of
// its own, so it is thread-safe; the store and bus it borrows must outlive it.
#include <cstdint>
#include <string>

#include "bus/bus.h"
#include "protocol/client_frame.h"
#include "store/store.h"

namespace chat::core {

class MessageService {
 public:
  MessageService(store::InboxStore& inbox, bus::Bus& bus) : inbox_(inbox), bus_(bus) {}

  // `done` runs on the store's thread after the outcome is final; by then every connection that
  // should see the message has been handed its Delivery. A duplicate publishes nothing.
  void send(const std::string& from, protocol::SendFrame frame, int64_t now_ms,
            store::Callback<store::SendResult> done);

 private:
  store::InboxStore& inbox_;
  bus::Bus& bus_;
};

}  // namespace chat::core
