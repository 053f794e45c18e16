#pragma once
// Where an instance reads its topic again after the topic went missing or a fetch fell out of
// range. Pure; the Kafka bus is its only user.
#include <cstdint>

namespace chat::bus {

// `position` is the offset the consumer would read next, [low, high) what the topic holds now.
// Inside that range (high included: nothing new yet) the topic is the one we were reading, so
// nothing is read twice. Outside it the topic was re-created (offsets start again at 0) or
// trimmed under us: everything it holds now is new to us, so read it from its beginning.
constexpr int64_t resume_offset(int64_t position, int64_t low, int64_t high) {
  return position >= low && position <= high ? position : low;
}

}  // namespace chat::bus
