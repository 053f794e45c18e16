#include "server/handoff.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <utility>
#include <vector>

#include "base/burst.h"

namespace chat::server {
namespace net = boost::asio;
namespace {

struct Task {
  net::any_io_executor target;
  std::function<void()> run;
};

thread_local std::vector<Task> held;

// One post per io_context for everything the burst handed over; there it is dispatched to each
// target (inline for the io_context itself, queued on a strand otherwise), in order.
void release() {
  std::vector<Task> tasks = std::move(held);
  held.clear();
  std::size_t begin = 0;
  while (begin < tasks.size()) {
    auto& context = net::query(tasks[begin].target, net::execution::context);
    std::vector<Task> group;
    std::size_t next = begin;
    while (next < tasks.size() &&
           &net::query(tasks[next].target, net::execution::context) == &context)
      group.push_back(std::move(tasks[next++]));
    begin = next;
    net::post(static_cast<net::io_context&>(context).get_executor(),
              [group = std::move(group)]() mutable {
                for (auto& task : group) net::dispatch(task.target, std::move(task.run));
              });
  }
}

}  // namespace

void hand_off(const net::any_io_executor& target, std::function<void()> task) {
  if (held.empty()) {
    if (!burst::defer(release)) {
      net::post(target, std::move(task));
      return;
    }
  }
  held.push_back(Task{target, std::move(task)});
}

}  // namespace chat::server
