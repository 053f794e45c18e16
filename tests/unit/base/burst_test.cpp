#include "base/burst.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace chat::burst {
namespace {

TEST(BurstTest, OutsideAScopeNothingIsDeferred) {
  bool ran = false;
  EXPECT_FALSE(defer([&] { ran = true; }));
  EXPECT_FALSE(ran);
}

TEST(BurstTest, DeferredWorkRunsInOrderWhenTheOutermostScopeCloses) {
  std::string order;
  {
    Scope outer;
    EXPECT_TRUE(defer([&] { order += "a"; }));
    {
      Scope inner;
      EXPECT_TRUE(defer([&] { order += "b"; }));
    }
    EXPECT_EQ(order, "") << "an inner scope does not end the burst";
    EXPECT_TRUE(defer([&] { order += "c"; }));
  }
  EXPECT_EQ(order, "abc");
}

TEST(BurstTest, WorkDeferredWhileTheBurstEndsRunsInTheSameEnd) {
  std::string order;
  {
    Scope scope;
    defer([&] {
      order += "a";
      EXPECT_TRUE(defer([&] { order += "b"; }));
    });
  }
  EXPECT_EQ(order, "ab");
  EXPECT_FALSE(defer([] {})) << "the scope is closed afterwards";
}

TEST(BurstTest, ScopesArePerThread) {
  Scope scope;
  bool deferred_elsewhere = true;
  std::thread([&] { deferred_elsewhere = defer([] {}); }).join();
  EXPECT_FALSE(deferred_elsewhere);
}

}  // namespace
}  // namespace chat::burst
