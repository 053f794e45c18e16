#include "base/burst.h"

#include <utility>
#include <vector>

namespace chat::burst {
namespace {
thread_local int depth = 0;
thread_local std::vector<std::function<void()>> deferred;
}  // namespace

Scope::Scope() { ++depth; }

Scope::~Scope() {
  if (--depth > 0) return;
  // What runs may defer more (a hand-off that hands off): keep going until nothing is left.
  ++depth;
  while (!deferred.empty()) {
    auto batch = std::move(deferred);
    deferred.clear();
    for (auto& fn : batch) fn();
  }
  --depth;
}

bool defer(std::function<void()> fn) {
  if (depth == 0) return false;
  deferred.push_back(std::move(fn));
  return true;
}

}  // namespace chat::burst
