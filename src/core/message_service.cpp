#include "core/message_service.h"

#include "base/ids.h"

namespace chat::core {

void MessageService::send(const std::string& from, protocol::SendFrame frame, int64_t now_ms,
                          store::Callback<store::SendResult> done) {
  store::SendRequest request{from,
                             std::move(frame.id),
                             std::move(frame.to),
                             std::move(frame.body),
                             new_message_id(now_ms),
                             now_ms};
  inbox_.append(std::move(request),
                [this, done = std::move(done)](Result<store::SendResult> result) {
                  if (result.ok() && !result->duplicate) {
                    const auto& entries = result->entries;
                    const auto& routes = result->routes;
                    static const bus::Nodes kNoRoute;
                    for (std::size_t i = 0; i < entries.size(); ++i)
                      bus_.publish(bus::Delivery{entries[i]},
                                   i < routes.size() ? routes[i] : kNoRoute);
                  }
                  done(std::move(result));
                });
}

}  // namespace chat::core
