#pragma once
// The routing registry of a cluster: which instances (node ids) are alive, and which of them hold
// live connections of which users. It lives beside the inboxes (store/postgres) because routing is
// decided inside an append's transaction. On one node, server/local_presence answers from the
// process's own connection registry instead.
//
// Thread-safety: every method may be called from any thread concurrently.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace chat::store {

// An instance counts as alive while its last heartbeat (in database time) is younger than this.
inline constexpr std::chrono::milliseconds kNodeLiveness{10'000};

class Presence {
 public:
  virtual ~Presence() = default;

  // Counts one more connection of `user` on `node` and returns the user's inbox head at that
  // moment. Ordered against appends to the user's inbox: an entry committed before it has
  // seq <= the returned head, an entry committed after it is routed to `node`
  // (SendResult::routes). forbidden when there is no such user (deleted while connecting).
  virtual Result<uint64_t> attach(std::string_view user, std::string_view node) = 0;
  // Counts one connection fewer. Asynchronous and best effort: a count left behind by a failure
  // is rewritten by Membership::reset_presence.
  virtual void detach(std::string user, std::string node) = 0;

  // The live instances holding connections of `user`; not_found when there is no such user.
  virtual Result<std::vector<std::string>> nodes_of(std::string_view user) = 0;
  // Every live instance.
  virtual Result<std::vector<std::string>> live_nodes() = 0;
  // Open connections of each user over the live instances, in the order asked.
  virtual Result<std::vector<std::size_t>> connection_counts(
      const std::vector<std::string>& users) = 0;
};

// The instances' side of the registry: heartbeats and clean-up. Only a cluster store has it.
class Membership {
 public:
  virtual ~Membership() = default;

  // Records that `node` is alive, in database time. true when the node had no row (its first
  // heartbeat, or it was reaped while cut off): its presence must then be rewritten.
  virtual Result<bool> heartbeat(std::string_view node) = 0;
  // Replaces every presence row of `node` with `counts` (user, open connections), in one
  // transaction: at start-up (with none) and after the node lost contact with the database.
  virtual Status reset_presence(std::string_view node,
                                const std::vector<std::pair<std::string, std::size_t>>& counts) = 0;
  // Removes the instances whose last heartbeat is older than `silent_for`, with their presence
  // rows, and returns their ids (so that their topics can be deleted).
  virtual Result<std::vector<std::string>> reap(std::chrono::milliseconds silent_for) = 0;
  // Removes `node` and its presence rows: the last step of a clean shutdown.
  virtual Status leave(std::string_view node) = 0;
};

}  // namespace chat::store
