#pragma once
// The writes a store's writer thread queues (BatchingQueue), each keeping its outcome until its
// transaction's fate is known. Shared by store/sqlite and store/postgres; each adds the jobs only
// it has.
#include <cstdint>
#include <optional>
#include <string>

#include "store/store.h"

namespace chat::store {

struct AppendJob {
  SendRequest request;
  Callback<SendResult> done;
  std::optional<Result<SendResult>> result;
};

struct CreateUserJob {
  std::string username;
  int64_t now_ms;
  Callback<User> done;
  std::optional<Result<User>> result;
};

struct DeleteUserJob {
  std::string username;
  Callback<Ok> done;
  std::optional<Status> result;
};

}  // namespace chat::store
