#pragma once
// Helpers for the store tests: blocking wrappers over the callback-style writes, a temporary
// directory, and a way to hold a store's writer so that writes queue up into one batch.
#include <stdlib.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "store/store.h"

namespace chat::store::testing {

// A callback that fulfils a future: how a test waits for a callback run on the store's thread.
template <typename T>
struct Pending {
  Callback<T> callback;
  std::future<Result<T>> future;
};

template <typename T>
Pending<T> pending() {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  std::future<Result<T>> future = promise->get_future();
  return {[promise](Result<T> result) { promise->set_value(std::move(result)); },
          std::move(future)};
}

inline SendRequest message(std::string from, std::string to, std::string client_id,
                           std::string body = "hello", int64_t ts = 1000) {
  std::string msg_id = "msg-" + from + "-" + client_id;
  return SendRequest{.from = std::move(from),
                     .client_id = std::move(client_id),
                     .to = std::move(to),
                     .body = std::move(body),
                     .msg_id = std::move(msg_id),
                     .ts = ts};
}

inline Result<User> create_user(Store& store, std::string username, int64_t now_ms = 1000) {
  auto [callback, future] = pending<User>();
  store.create_user(std::move(username), now_ms, std::move(callback));
  return future.get();
}

inline Status delete_user(Store& store, std::string username) {
  auto [callback, future] = pending<Ok>();
  store.delete_user(std::move(username), std::move(callback));
  return future.get();
}

inline Result<SendResult> send(Store& store, SendRequest request) {
  auto [callback, future] = pending<SendResult>();
  store.append(std::move(request), std::move(callback));
  return future.get();
}

// Returns once every write issued before it has been applied: writes are applied in order, so
// when this no-op's callback runs, theirs have run (or, without callbacks, been committed).
inline void flush(Store& store) { (void)delete_user(store, "\x01no-such-user"); }

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "chat-store-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Parks the store's writer thread inside a callback until release(), so that every write issued
// meanwhile is queued and then applied as one batch. Only for stores whose callbacks run on their
// own thread; with inline callbacks it would deadlock.
class WriterHold {
 public:
  explicit WriterHold(Store& store) {
    auto entered = std::make_shared<std::promise<void>>();
    std::future<void> inside = entered->get_future();
    store.delete_user("\x01hold", [entered, released = release_.get_future().share()](Result<Ok>) {
      entered->set_value();
      released.wait();
    });
    inside.wait();
  }
  ~WriterHold() { release(); }
  WriterHold(const WriterHold&) = delete;
  WriterHold& operator=(const WriterHold&) = delete;

  void release() {
    if (released_) return;
    released_ = true;
    release_.set_value();
  }

 private:
  std::promise<void> release_;
  bool released_ = false;
};

}  // namespace chat::store::testing
