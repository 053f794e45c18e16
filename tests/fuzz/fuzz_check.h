#pragma once
// FUZZ_CHECK(cond): a property every input must keep. A violation prints where and aborts, which
// libFuzzer reports as a crash (and saves the input), and which fails the corpus replay in ctest.
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
