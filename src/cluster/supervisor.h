#pragma once
// Keeps one instance a healthy member of the cluster, on a thread of its own so that no I/O
// thread ever waits on the database for it:
//  - heartbeats in database time; after a failed heartbeat, or when its row was gone (reaped while
//    cut off), rewrites its presence and catches its connections up at once;
//  - removes instances silent for longer than reap_after, and hands their ids to on_reaped (which
//    deletes their topics);
//  - every catch_up_interval, and at once on wake(), compares its connected users' inbox heads
//    with what their connections have and lets each connection fill its gap from the store. This
//    is what heals a lost Kafka notification, also while Kafka is down.
// Owned by the app; stop() before destroying what it borrows. Thread-safe.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/node_presence.h"
#include "server/connection_registry.h"
#include "server/metrics.h"
#include "store/store.h"

namespace chat::cluster {

struct SupervisorOptions {
  std::string node_id;
  std::chrono::milliseconds heartbeat_interval{2000};
  std::chrono::milliseconds catch_up_interval{2000};
  std::chrono::milliseconds reap_interval{5000};
  // Longer than store::kNodeLiveness: a dead instance stops counting at once, and its rows and
  // topic go only once it is surely gone, not when it merely lost the database for a while.
  std::chrono::milliseconds reap_after{30'000};
};

class Supervisor {
 public:
  Supervisor(SupervisorOptions options, store::InboxStore& inbox, store::Membership& membership,
             NodePresence& presence, const server::ConnectionRegistry& registry,
             server::Metrics& metrics, std::function<void(const std::string&)> on_reaped);
  ~Supervisor();  // stop()
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  void start();
  // Catch every connection up now (Kafka or the database came back).
  void wake();
  void stop();

 private:
  void run();
  void heartbeat();
  void reap();
  void catch_up();

  const SupervisorOptions options_;
  store::InboxStore& inbox_;
  store::Membership& membership_;
  NodePresence& presence_;
  const server::ConnectionRegistry& registry_;
  server::Metrics& metrics_;
  const std::function<void(const std::string&)> on_reaped_;

  bool contact_lost_ = false;  // only the supervisor thread touches it

  std::mutex mu_;
  std::condition_variable wake_cv_;
  bool woken_ = false;     // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace chat::cluster
