#pragma once
// Hands a task to a connection's executor (its strand, or the io_context) from any thread.
//
// Inside a burst::Scope (the store's writer answering a group commit) the tasks of the whole burst
// are held and go to the I/O threads as one post when the burst ends. An I/O thread then wakes
// once per commit rather than once per frame, and runs the commit's frames back to back, so that
// BatchedSocket can send each connection's frames of that commit together. Outside a scope the
// task is posted at once. Per connection, tasks keep their order either way.
#include <boost/asio/any_io_executor.hpp>
#include <functional>

namespace chat::server {

void hand_off(const boost::asio::any_io_executor& target, std::function<void()> task);

}  // namespace chat::server
