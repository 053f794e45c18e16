#pragma once
// The in-process bus of a single node: publish() hands the event straight to the subscriber on
// the publishing thread, so order per publisher is kept by construction. Thread-safe once
// subscribed (the handler is set before any publish and never changes).
#include "bus/bus.h"

namespace chat::bus {

class LocalBus final : public Bus {
 public:
  void subscribe(Handler handler) override { handler_ = std::move(handler); }
  void publish(Event event, const Nodes& /*nodes*/) override {
    if (handler_) handler_(event);
  }

 private:
  Handler handler_;
};

}  // namespace chat::bus
