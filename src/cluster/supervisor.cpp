#include "cluster/supervisor.h"

#include <pthread.h>

#include <algorithm>

#include "base/log.h"

namespace chat::cluster {
namespace {

using Clock = std::chrono::steady_clock;

// Users whose heads are read in one query.
constexpr std::size_t kHeadsPerQuery = 1000;

}  // namespace

Supervisor::Supervisor(SupervisorOptions options, store::InboxStore& inbox,
                       store::Membership& membership, NodePresence& presence,
                       const server::ConnectionRegistry& registry, server::Metrics& metrics,
                       std::function<void(const std::string&)> on_reaped)
    : options_(std::move(options)),
      inbox_(inbox),
      membership_(membership),
      presence_(presence),
      registry_(registry),
      metrics_(metrics),
      on_reaped_(std::move(on_reaped)) {}

Supervisor::~Supervisor() { stop(); }

void Supervisor::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "chat-cluster");
    run();
  });
}

void Supervisor::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_cv_.notify_one();
}

void Supervisor::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Supervisor::run() {
  auto next_heartbeat = Clock::now() + options_.heartbeat_interval;
  auto next_catch_up = Clock::now() + options_.catch_up_interval;
  auto next_reap = Clock::now() + options_.reap_interval;
  for (;;) {
    bool woken = false;
    {
      std::unique_lock lock(mu_);
      const auto until = std::min({next_heartbeat, next_catch_up, next_reap});
      wake_cv_.wait_until(lock, until, [this] { return woken_ || stopping_; });
      if (stopping_) return;
      woken = std::exchange(woken_, false);
    }
    const auto now = Clock::now();
    if (now >= next_heartbeat) {
      heartbeat();
      next_heartbeat = now + options_.heartbeat_interval;
    }
    if (now >= next_reap) {
      reap();
      next_reap = now + options_.reap_interval;
    }
    if (woken || now >= next_catch_up) {
      catch_up();
      next_catch_up = Clock::now() + options_.catch_up_interval;
    }
  }
}

void Supervisor::heartbeat() {
  Result<bool> fresh = membership_.heartbeat(options_.node_id);
  if (!fresh.ok()) {
    if (!contact_lost_) log::warn("cluster: heartbeat failed: ", fresh.error().message);
    contact_lost_ = true;
    return;
  }
  if (!*fresh && !contact_lost_) return;
  // Back in contact, or our row was reaped meanwhile: what the registry says of this instance may
  // be stale or gone, and entries may have been committed without reaching our connections.
  log::info("cluster: ", *fresh ? "re-registered" : "in contact with the database again",
            "; rewriting presence and catching connections up");
  if (Status s = presence_.reset(options_.node_id); !s.ok()) {
    log::warn("cluster: rewriting presence failed: ", s.error().message);
    return;  // try again at the next heartbeat
  }
  contact_lost_ = false;
  catch_up();
}

void Supervisor::reap() {
  Result<std::vector<std::string>> dead = membership_.reap(options_.reap_after);
  if (!dead.ok()) return;  // the heartbeat reports database trouble
  for (const std::string& node : *dead) {
    if (node == options_.node_id) continue;
    log::info("cluster: instance ", node, " was silent for over ",
              options_.reap_after.count() / 1000, " s; removed it");
    if (on_reaped_) on_reaped_(node);
  }
}

void Supervisor::catch_up() {
  metrics_.catch_up_rounds.fetch_add(1, std::memory_order_relaxed);
  const auto users = registry_.users();
  std::vector<std::string> names;
  for (std::size_t start = 0; start < users.size(); start += kHeadsPerQuery) {
    const std::size_t end = std::min(users.size(), start + kHeadsPerQuery);
    names.clear();
    for (std::size_t i = start; i < end; ++i) names.push_back(users[i].first);
    Result<std::vector<uint64_t>> heads = inbox_.last_seqs(names);
    if (!heads.ok()) {
      log::debug("cluster: catch-up could not read inbox heads: ", heads.error().message);
      return;
    }
    for (std::size_t i = 0; i < names.size(); ++i)
      for (const auto& connection : registry_.connections_of(names[i]))
        connection->catch_up((*heads)[i]);
  }
}

}  // namespace chat::cluster
