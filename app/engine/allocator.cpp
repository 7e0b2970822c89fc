// glibc malloc tuning; see allocator.h.
#include "app/engine/allocator.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace zoo {

bool keep_freed_memory() {
  const char* opt_out = std::getenv("ZOO_RETURN_MEMORY");
  if (opt_out != nullptr && std::strcmp(opt_out, "1") == 0) return false;
#if defined(__GLIBC__)
  // mallopt(3): M_MMAP_MAX 0 serves large blocks from the heap; M_TRIM_THRESHOLD -1 never
  // gives the heap top back. Threads' arenas still fall back to mmap for blocks larger than
  // an arena heap, so no allocation fails because of this.
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;
#else
  return false;
#endif
}

}  // namespace zoo
