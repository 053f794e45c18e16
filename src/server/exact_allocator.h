#pragma once
// An allocator for the handlers of operations that stay pending while a connection is idle (its
// read, its timer). Asio gives a handler with the default allocator a recycled block of at least
// the size asked, often one left by a far larger operation (an HTTP read): harmless for a
// short-lived operation, but held for hours by each of thousands of idle connections. With this
// allocator bound (boost::asio::bind_allocator), the operation takes exactly its own size from the
// heap.
#include <cstddef>
#include <new>

namespace chat::server {

template <class T>
struct ExactAllocator {
  using value_type = T;

  ExactAllocator() noexcept = default;
  template <class U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}  // NOLINT: allocators convert implicitly

  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }

  template <class U>
  bool operator==(const ExactAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace chat::server
