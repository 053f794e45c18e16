// store-bench: replays the store's real write and read operations through the Store interface and
// prints what they cost: CPU per message (the process, and the store alone: the process minus the
// threads that drive it), bytes written per message, messages per second, and commits.
//
//   store-bench --store rocksdb --dir /var/tmp/x --users 1000 --messages 200000
//               [--threads 4] [--in-flight 256] [--body 64] [--reads 20000]
//               [--write-buffer-mb N]
//
// Each driver thread keeps up to --in-flight appends outstanding, as many connections sending at
// once would, so that writes queue while a commit's fsync runs and group commit forms. Senders and
// recipients are drawn uniformly from the users. The directory must not exist (it is created and,
// at the end, left in place for inspection).
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <semaphore>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/rocksdb/rocks_store.h"

namespace {

using chat::Result;
using namespace chat::store;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string store = "rocksdb";
  std::string dir;
  int users = 1000;
  long messages = 200000;
  int threads = 4;
  int in_flight = 256;
  std::size_t body = 64;
  int reads = 20000;
  std::size_t write_buffer_mb = 0;  // RocksDB only; 0: the store's default
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: store-bench --store rocksdb --dir DIR [--users N] [--messages M]\n"
               "                   [--threads T] [--in-flight K] [--body BYTES] [--reads R]\n");
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage();
    const std::string value = argv[++i];
    if (flag == "--store")
      a.store = value;
    else if (flag == "--dir")
      a.dir = value;
    else if (flag == "--users")
      a.users = std::stoi(value);
    else if (flag == "--messages")
      a.messages = std::stol(value);
    else if (flag == "--threads")
      a.threads = std::stoi(value);
    else if (flag == "--in-flight")
      a.in_flight = std::stoi(value);
    else if (flag == "--body")
      a.body = std::stoul(value);
    else if (flag == "--reads")
      a.reads = std::stoi(value);
    else if (flag == "--write-buffer-mb")
      a.write_buffer_mb = std::stoul(value);
    else
      usage();
  }
  if (a.dir.empty() || a.store != "rocksdb") usage();
  return a;
}

double cpu_seconds(int who) {
  rusage usage{};
  getrusage(who, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// /proc/self/io: write_bytes (what reached the block layer) and wchar (bytes passed to write()).
std::map<std::string, long long> io_counters() {
  std::map<std::string, long long> out;
  std::ifstream io("/proc/self/io");
  std::string key;
  long long value = 0;
  while (io >> key >> value) out[key.substr(0, key.size() - 1)] = value;
  return out;
}

// CPU seconds of this process's threads named `name` (e.g. the store's "chat-writer").
double thread_cpu_seconds(const std::string& name) {
  double total = 0;
  const long ticks = sysconf(_SC_CLK_TCK);
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string thread_name;
    std::getline(comm, thread_name);
    if (thread_name != name) continue;
    std::ifstream stat(task.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::stoll(field);
      if (i == 15) stime = std::stoll(field);
    }
    total += static_cast<double>(utime + stime) / static_cast<double>(ticks);
  }
  return total;
}

std::string user_name(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "user%06d", i);
  return name;
}

struct Opened {
  std::unique_ptr<Store> store;
  std::function<uint64_t()> commits;
};

Opened open(const Args& a) {
  std::filesystem::create_directories(a.dir);
  Opened out;
  if (a.store == "rocksdb") {
    RocksOptions options;
    if (a.write_buffer_mb > 0) options.write_buffer_bytes = a.write_buffer_mb << 20;
    auto store = RocksStore::open(a.dir + "/rocksdb", options);
    if (!store.ok()) throw std::runtime_error(store.error().message);
    RocksStore* raw = store->get();
    out.commits = [raw] { return raw->commits(); };
    out.store = std::move(*store);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  if (std::filesystem::exists(a.dir)) {
    std::fprintf(stderr, "%s exists; give a new directory\n", a.dir.c_str());
    return 2;
  }
  Opened opened = open(a);
  Store& store = *opened.store;

  // Users, in bulk (not measured).
  {
    std::atomic<int> left{a.users};
    std::promise<void> all;
    for (int i = 0; i < a.users; ++i) {
      store.create_user(user_name(i), 1000, [&](Result<User> created) {
        if (!created.ok()) std::fprintf(stderr, "create: %s\n", created.error().message.c_str());
        if (--left == 0) all.set_value();
      });
    }
    all.get_future().wait();
  }

  const auto io_before = io_counters();
  const double cpu_before = cpu_seconds(RUSAGE_SELF);
  const double writer_before = thread_cpu_seconds("chat-writer");
  const uint64_t commits_before = opened.commits();
  const auto start = Clock::now();

  std::atomic<long> failures{0};
  std::atomic<double> driver_cpu{0};
  std::vector<std::thread> drivers;
  const std::string body(a.body, 'x');
  for (int t = 0; t < a.threads; ++t) {
    drivers.emplace_back([&, t] {
      const double mine_before = cpu_seconds(RUSAGE_THREAD);
      std::mt19937_64 random(static_cast<uint64_t>(t) * 7919 + 1);
      std::uniform_int_distribution<int> pick(0, a.users - 1);
      std::counting_semaphore<1 << 20> window(a.in_flight);
      const long mine = a.messages / a.threads;
      for (long i = 0; i < mine; ++i) {
        window.acquire();
        std::string from = user_name(pick(random));
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        SendRequest request{.from = from,
                            .client_id = id,
                            .to = user_name(pick(random)),
                            .body = body,
                            .msg_id = "m-" + id,
                            .ts = 1'700'000'000'000 + i};
        store.append(std::move(request), [&window, &failures](Result<SendResult> sent) {
          if (!sent.ok()) ++failures;
          window.release();
        });
      }
      for (int k = 0; k < a.in_flight; ++k) window.acquire();  // all answered
      double expected = driver_cpu.load();
      const double spent = cpu_seconds(RUSAGE_THREAD) - mine_before;
      while (!driver_cpu.compare_exchange_weak(expected, expected + spent)) {
      }
    });
  }
  for (std::thread& d : drivers) d.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds(RUSAGE_SELF) - cpu_before;
  const double writer = thread_cpu_seconds("chat-writer") - writer_before;
  const auto io_after = io_counters();
  const uint64_t commits = opened.commits() - commits_before;
  const long n = a.messages / a.threads * a.threads;

  std::printf("store=%s dir=%s users=%d messages=%ld threads=%d in_flight=%d body=%zu\n",
              a.store.c_str(), a.dir.c_str(), a.users, n, a.threads, a.in_flight, a.body);
  std::printf("  appends: %.0f msg/s, %.1f s, %ld failed, %lu commits (%.1f msg/commit)\n",
              static_cast<double>(n) / seconds, seconds, failures.load(),
              static_cast<unsigned long>(commits),
              commits ? static_cast<double>(n) / static_cast<double>(commits) : 0.0);
  std::printf(
      "  cpu/msg: process %.1f us, store (process - drivers) %.1f us, writer thread %.1f us\n",
      cpu / n * 1e6, (cpu - driver_cpu.load()) / n * 1e6, writer / n * 1e6);
  std::printf("  written/msg: %.0f B to disk (write_bytes), %.0f B through write() (wchar)\n",
              static_cast<double>(io_after.at("write_bytes") - io_before.at("write_bytes")) / n,
              static_cast<double>(io_after.at("wchar") - io_before.at("wchar")) / n);

  // Reads: a client's sync (head, then its last 20 entries) and one history page.
  if (a.reads > 0) {
    std::mt19937_64 random(42);
    std::uniform_int_distribution<int> pick(0, a.users - 1);
    const double read_cpu_before = cpu_seconds(RUSAGE_THREAD);
    const auto read_start = Clock::now();
    long entries = 0;
    for (int i = 0; i < a.reads; ++i) {
      const std::string owner = user_name(pick(random));
      const uint64_t head = *store.last_seq(owner);
      entries += static_cast<long>(store.read_inbox(owner, head > 20 ? head - 20 : 0, 20)->size());
      entries += static_cast<long>(store.history(owner, user_name(pick(random)), 0, 20)->size());
    }
    const double read_seconds = std::chrono::duration<double>(Clock::now() - read_start).count();
    std::printf("  reads: %.1f us per sync+history (%.1f us CPU), %.1f entries each\n",
                read_seconds / a.reads * 1e6,
                (cpu_seconds(RUSAGE_THREAD) - read_cpu_before) / a.reads * 1e6,
                static_cast<double>(entries) / a.reads);
  }
  std::fflush(stdout);
  return 0;
}
