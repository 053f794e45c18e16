#pragma once
// The value of a Kafka record: one bus Event as a JSON object with a type tag and the event's
// fields. No I/O; the Kafka bus is its only user, and instances of different builds read each
// other's records, so a field is only ever added (readers ignore fields they do not know).
//
//   {"type":"delivery","entry":{"owner":..,"seq":..,"msg_id":..,"from":..,"to":..,"body":..,"ts":..}}
//   {"type":"typing","from":..,"to":..}
//   {"type":"user_deleted","username":..}
#include <string>
#include <string_view>

#include "base/result.h"
#include "bus/bus.h"

namespace chat::bus {

std::string encode_event(const Event& event);

// bad_request, with a message naming the fault, for anything that is not an event this build
// knows (not JSON, an unknown type, a missing or mistyped field). Never throws.
Result<Event> decode_event(std::string_view text);

}  // namespace chat::bus
