// LD_PRELOAD shim for the end-to-end tests: makes the process's fsync, fdatasync and
// sync_file_range fail with EIO while the file named by CHAT_FAULT_SYNC_FILE exists, as a failing
// disk would. Without that variable, or while the file is absent, it passes every call through.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

namespace {

bool failing() {
  static const char* const trigger = std::getenv("CHAT_FAULT_SYNC_FILE");
  return trigger != nullptr && ::access(trigger, F_OK) == 0;
}

template <typename F>
F next(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int fsync(int fd) {
  static const auto real = next<int (*)(int)>("fsync");
  if (failing()) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}

int fdatasync(int fd) {
  static const auto real = next<int (*)(int)>("fdatasync");
  if (failing()) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}

int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags) {
  static const auto real = next<int (*)(int, off_t, off_t, unsigned int)>("sync_file_range");
  if (failing()) {
    errno = EIO;
    return -1;
  }
  return real(fd, offset, nbytes, flags);
}

}  // extern "C"
