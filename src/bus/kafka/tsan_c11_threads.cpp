// Built into ThreadSanitizer builds only (CHAT_SANITIZE=thread; see CMakeLists.txt here).
//
// librdkafka uses C11 threads (`thrd_create`, `mtx_lock`, `cnd_wait`, `call_once`), which glibc
// (2.28 and later) implements by calling its internal pthread functions directly. The
// ThreadSanitizer runtimes of gcc 12 and clang 14 intercept the pthread functions but not the C11
// ones, so they never learn about librdkafka's threads and locks: the first allocation on such a
// thread finds no per-thread allocator cache and the runtime crashes (SEGV at 0xc38 in
// SizeClassAllocator64LocalCache::Allocate), and every lock librdkafka takes is invisible, so its
// own correctly locked data shows up as races. Defining the C11 functions librdkafka imports here,
// in the executable, makes the dynamic linker bind librdkafka to these; they forward to the
// intercepted pthread functions, so TSan tracks librdkafka's threads and locks like any others.
// In glibc thrd_t is a pthread_t and mtx_t, cnd_t and once_flag have the layout of pthread_mutex_t,
// pthread_cond_t and pthread_once_t; the thrd_* result codes are kept.

#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <ctime>
#include <cstdint>
#include <new>

namespace {

struct Start {
  thrd_start_t function;
  void* argument;
};

void* run(void* raw) {
  const Start start = *static_cast<Start*>(raw);
  delete static_cast<Start*>(raw);
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(start.function(start.argument)));
}

int result_of(int error) {
  switch (error) {
    case 0: return thrd_success;
    case ETIMEDOUT: return thrd_timedout;
    case EBUSY: return thrd_busy;
    case ENOMEM:
    case EAGAIN: return thrd_nomem;
    default: return thrd_error;
  }
}

pthread_mutex_t* native(mtx_t* mutex) { return reinterpret_cast<pthread_mutex_t*>(mutex); }
pthread_cond_t* native(cnd_t* condition) { return reinterpret_cast<pthread_cond_t*>(condition); }

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t));
static_assert(sizeof(once_flag) == sizeof(pthread_once_t));

}  // namespace

extern "C" int thrd_create(thrd_t* thread, thrd_start_t function, void* argument) {
  auto* start = new (std::nothrow) Start{function, argument};
  if (start == nullptr) return thrd_nomem;
  pthread_t id;
  const int error = pthread_create(&id, nullptr, run, start);
  if (error != 0) {
    delete start;
    return result_of(error) == thrd_nomem ? thrd_nomem : thrd_error;
  }
  *thread = id;
  return thrd_success;
}

extern "C" int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  if (pthread_join(thread, &value) != 0) return thrd_error;
  if (result != nullptr) *result = static_cast<int>(reinterpret_cast<std::intptr_t>(value));
  return thrd_success;
}

extern "C" thrd_t thrd_current() { return pthread_self(); }

extern "C" int mtx_init(mtx_t* mutex, int type) {
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  pthread_mutexattr_settype(&attributes, (type & mtx_recursive) != 0 ? PTHREAD_MUTEX_RECURSIVE
                                                                     : PTHREAD_MUTEX_NORMAL);
  const int error = pthread_mutex_init(native(mutex), &attributes);
  pthread_mutexattr_destroy(&attributes);
  return result_of(error) == thrd_success ? thrd_success : thrd_error;
}
extern "C" int mtx_lock(mtx_t* mutex) { return result_of(pthread_mutex_lock(native(mutex))); }
extern "C" int mtx_trylock(mtx_t* mutex) { return result_of(pthread_mutex_trylock(native(mutex))); }
extern "C" int mtx_timedlock(mtx_t* __restrict mutex, const timespec* __restrict deadline) {
  return result_of(pthread_mutex_timedlock(native(mutex), deadline));
}
extern "C" int mtx_unlock(mtx_t* mutex) { return result_of(pthread_mutex_unlock(native(mutex))); }
extern "C" void mtx_destroy(mtx_t* mutex) { pthread_mutex_destroy(native(mutex)); }

extern "C" int cnd_init(cnd_t* condition) { return result_of(pthread_cond_init(native(condition), nullptr)); }
extern "C" int cnd_signal(cnd_t* condition) { return result_of(pthread_cond_signal(native(condition))); }
extern "C" int cnd_broadcast(cnd_t* condition) {
  return result_of(pthread_cond_broadcast(native(condition)));
}
extern "C" int cnd_wait(cnd_t* condition, mtx_t* mutex) {
  return result_of(pthread_cond_wait(native(condition), native(mutex)));
}
extern "C" int cnd_timedwait(cnd_t* __restrict condition, mtx_t* __restrict mutex,
                             const timespec* __restrict deadline) {
  return result_of(pthread_cond_timedwait(native(condition), native(mutex), deadline));
}
extern "C" void cnd_destroy(cnd_t* condition) { pthread_cond_destroy(native(condition)); }

extern "C" void call_once(once_flag* flag, void (*function)()) {
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), function);
}
