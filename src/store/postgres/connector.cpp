#include "store/postgres/connector.h"

#include <utility>

namespace chat::store::postgres {

Result<std::unique_ptr<Connection>> Connector::connect() {
  bool probe = false;
  {
    std::lock_guard lock(mu_);
    if (tripped_) {
      if (probing_ || Clock::now() < retry_at_) {
        return make_error(Errc::unavailable,
                          "postgres: database unreachable, not retrying yet (" + last_error_ + ")");
      }
      probing_ = probe = true;
    }
  }
  Result<std::unique_ptr<Connection>> connection = Connection::open(options_);
  std::lock_guard lock(mu_);
  if (probe) probing_ = false;
  if (connection.ok()) {
    tripped_ = false;
  } else if (connection.error().code == Errc::unavailable) {
    trip(connection.error());
  }
  return connection;
}

void Connector::unreachable(const Error& error) {
  std::lock_guard lock(mu_);
  trip(error);
}

void Connector::trip(const Error& error) {
  tripped_ = true;
  retry_at_ = Clock::now() + kRetryAfter;
  last_error_ = error.message;
}

}  // namespace chat::store::postgres
