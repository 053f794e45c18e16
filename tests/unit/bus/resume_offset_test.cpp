#include "bus/kafka/resume_offset.h"

#include <gtest/gtest.h>

namespace chat::bus {
namespace {

TEST(ResumeOffsetTest, ReadsOnFromWhereItWasWhenTheTopicStillHoldsThatOffset) {
  EXPECT_EQ(resume_offset(5, 0, 10), 5);
  EXPECT_EQ(resume_offset(0, 0, 0), 0);
}

TEST(ResumeOffsetTest, ReadsOnAtTheEndWhenNothingNewArrived) {
  EXPECT_EQ(resume_offset(10, 0, 10), 10);
}

TEST(ResumeOffsetTest, ReadsARecreatedTopicFromItsBeginning) {
  EXPECT_EQ(resume_offset(10, 0, 3), 0);
  EXPECT_EQ(resume_offset(10, 0, 0), 0);
}

TEST(ResumeOffsetTest, ReadsATrimmedTopicFromWhatItStillHolds) {
  EXPECT_EQ(resume_offset(2, 4, 9), 4);
}

}  // namespace
}  // namespace chat::bus
