#include "bus/bus.h"

namespace chat::bus {

const std::string& recipient_of(const Event& event) {
  struct Visitor {
    const std::string& operator()(const Delivery& d) const { return d.entry.owner; }
    const std::string& operator()(const Typing& t) const { return t.to; }
    const std::string& operator()(const UserDeleted& u) const { return u.username; }
  };
  return std::visit(Visitor{}, event);
}

}  // namespace chat::bus
