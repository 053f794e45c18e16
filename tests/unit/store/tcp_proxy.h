#pragma once
// A TCP proxy in front of the test database, so that a test can make the database go away (refuse
// connections and cut the open ones) or stall (accept and then say nothing), and come back.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace chat::store::testing {

// Forwards 127.0.0.1:port() to upstream on a thread of its own. Owned by one test; its controls
// (stop, start, stall) may be called from any thread and take effect before they return.
class TcpProxy {
 public:
  TcpProxy(std::string upstream_host, int upstream_port)
      : upstream_host_(std::move(upstream_host)), upstream_port_(upstream_port) {
    if (::pipe(wake_) != 0) throw std::runtime_error("pipe");
    listen_on(0);
    thread_ = std::thread([this] { run(); });
  }
  ~TcpProxy() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    wake();
    thread_.join();
    close_all();
    if (listener_ >= 0) ::close(listener_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }

  // The database goes away: new connections are refused and open ones are cut.
  void stop() { command(Command::stop); }
  // The database is back, on the same port.
  void start() { command(Command::start); }
  // The database hangs: connections are accepted, nothing is forwarded either way.
  void stall() { command(Command::stall); }

 private:
  enum class Command { none, stop, start, stall };
  struct Pair {
    int client;
    int server;
  };

  void command(Command c) {
    {
      std::lock_guard lock(mu_);
      pending_ = c;
      done_ = false;
    }
    wake();
    // Wait until the proxy thread has acted, so that the test sees the effect at once.
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (done_) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void wake() { (void)!::write(wake_[1], "x", 1); }

  void listen_on(int port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 64) != 0) {
      throw std::runtime_error("proxy: cannot listen: " + std::to_string(errno));
    }
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }

  int connect_upstream() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    ::inet_pton(AF_INET, upstream_host_.c_str(), &address.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  void close_all() {
    for (const Pair& pair : pairs_) {
      ::close(pair.client);
      if (pair.server >= 0) ::close(pair.server);
    }
    pairs_.clear();
  }

  // Copies what is readable on `from` to `to`; false when the connection is over.
  static bool forward(int from, int to) {
    char buffer[16384];
    const ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n <= 0) return false;
    for (ssize_t sent = 0; sent < n;) {
      const ssize_t w = ::write(to, buffer + sent, static_cast<std::size_t>(n - sent));
      if (w <= 0) return false;
      sent += w;
    }
    return true;
  }

  void run() {
    for (;;) {
      bool stalled = false;
      {
        std::lock_guard lock(mu_);
        if (quit_) return;
        switch (pending_) {
          case Command::stop:
            close_all();
            ::close(listener_);
            listener_ = -1;
            stalled_ = false;
            break;
          case Command::start:
            if (listener_ < 0) listen_on(port_);
            stalled_ = false;
            break;
          case Command::stall:
            stalled_ = true;
            break;
          case Command::none:
            break;
        }
        pending_ = Command::none;
        done_ = true;
        stalled = stalled_;
      }

      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}};
      if (listener_ >= 0) fds.push_back({listener_, POLLIN, 0});
      const std::size_t first_pair = fds.size();
      const std::size_t polled = stalled ? 0 : pairs_.size();  // pairs accepted below wait a turn
      if (!stalled) {
        for (const Pair& pair : pairs_) {
          fds.push_back({pair.client, POLLIN, 0});
          fds.push_back({pair.server, POLLIN, 0});
        }
      }
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      if ((fds[0].revents & POLLIN) != 0) {
        char drain[64];
        (void)!::read(wake_[0], drain, sizeof drain);
      }
      if (listener_ >= 0 && (fds[1].revents & POLLIN) != 0) {
        const int client = ::accept(listener_, nullptr, nullptr);
        if (client >= 0) {
          // A stalled database accepts, and never answers.
          const int server = stalled ? -1 : connect_upstream();
          if (!stalled && server < 0) {
            ::close(client);
          } else {
            pairs_.push_back({client, server});
          }
        }
      }
      if (stalled) continue;
      std::vector<Pair> alive;
      for (std::size_t i = 0; i < pairs_.size(); ++i) {
        if (i >= polled) {
          alive.push_back(pairs_[i]);
          continue;
        }
        const Pair& pair = pairs_[i];
        const pollfd& client = fds[first_pair + 2 * i];
        const pollfd& server = fds[first_pair + 2 * i + 1];
        bool open = pair.server >= 0;
        if (open && client.revents != 0) open = forward(pair.client, pair.server);
        if (open && server.revents != 0) open = forward(pair.server, pair.client);
        if (open) {
          alive.push_back(pair);
        } else {
          ::close(pair.client);
          if (pair.server >= 0) ::close(pair.server);
        }
      }
      pairs_ = std::move(alive);
    }
  }

  const std::string upstream_host_;
  const int upstream_port_;
  int listener_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::vector<Pair> pairs_;  // proxy thread only (and the destructor, after it stopped)

  std::mutex mu_;
  Command pending_ = Command::none;  // guarded by mu_
  bool done_ = true;                 // guarded by mu_
  bool stalled_ = false;             // guarded by mu_
  bool quit_ = false;                // guarded by mu_

  std::thread thread_;
};

}  // namespace chat::store::testing
