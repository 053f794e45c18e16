// What only the fake promises: failing on demand. The rest is in store_contract_test.cpp.
#include "fakes/in_memory_store.h"

#include <gtest/gtest.h>

#include "unit/store/store_test_util.h"

namespace chat::store {
namespace {

using testing::create_user;
using testing::message;
using testing::send;

TEST(InMemoryStoreTest, AFailingStoreRejectsWritesAndStoresNothing) {
  InMemoryStore store;
  ASSERT_TRUE(create_user(store, "alice").ok());
  ASSERT_TRUE(create_user(store, "bob").ok());

  store.set_failing(true);
  EXPECT_EQ(send(store, message("alice", "bob", "c1")).error().code, Errc::unavailable);
  EXPECT_EQ(create_user(store, "carol").error().code, Errc::unavailable);
  EXPECT_EQ(testing::delete_user(store, "bob").error().code, Errc::unavailable);
  store.touch_last_seen("alice", 5000);
  EXPECT_EQ(*store.last_seq("bob"), 0u);
  EXPECT_FALSE(store.get_user("alice")->last_seen.has_value());

  store.set_failing(false);
  Result<SendResult> sent = send(store, message("alice", "bob", "c1"));
  ASSERT_TRUE(sent.ok());
  EXPECT_FALSE(sent->duplicate);
}

}  // namespace
}  // namespace chat::store
