#pragma once
// A burst: a stretch of work one thread does in one go, such as the store's writer answering every
// job of one group commit. Work that thread hands to other threads can wait for the end of the
// burst and go over as one hand-off: the receiving thread then wakes once per burst, not once per
// job, and on a box with fewer cores than threads it is not switched in after every single job.
//
// Per thread; no locking. Scopes nest: what was deferred runs when the outermost one closes.
#include <functional>

namespace chat::burst {

class Scope {
 public:
  Scope();
  ~Scope();  // the outermost scope runs what was deferred, in order
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
};

// Runs `fn` when the outermost Scope open on this thread closes. Returns false, and does nothing,
// when no Scope is open: the caller then acts at once.
bool defer(std::function<void()> fn);

}  // namespace chat::burst
