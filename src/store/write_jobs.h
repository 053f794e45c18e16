#pragma once
// The writes a store's writer thread queues (BatchingQueue), each keeping its outcome until its
// transaction's fate is known. Shared by store/rocksdb and store/postgres; each adds the jobs only
// it has.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

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

// Answers a queued job with `error` (jobs without a callback, such as touches, need no answer).
template <typename Job>
void fail_job(Job& job, const Error& error) {
  std::visit(
      [&error](auto& j) {
        if constexpr (requires { j.done; }) j.done(error);
      },
      job);
}

// Runs a queued job's callback with the outcome it kept.
template <typename Job>
void answer_job(Job& job) {
  std::visit(
      [](auto& j) {
        if constexpr (requires { j.done; }) j.done(std::move(*j.result));
      },
      job);
}

}  // namespace chat::store
