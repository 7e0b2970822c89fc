// Tests for app/engine/allocator: after keep_freed_memory() a large block comes from the heap
// (not from mmap, which would page-fault it anew after each free); ZOO_RETURN_MEMORY=1 opts out.
#include "app/engine/allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace zoo {
namespace {

#if defined(__GLIBC__)
TEST(Allocator, LargeBlocksComeFromTheHeap) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer replaces glibc's malloc, whose tuning this tests";
#endif
  ::setenv("ZOO_RETURN_MEMORY", "1", 1);
  EXPECT_FALSE(keep_freed_memory());
  const size_t kBlock = size_t{64} << 20;
  void* p = std::malloc(kBlock);
  ASSERT_NE(p, nullptr);
  EXPECT_GE(mallinfo2().hblkhd, kBlock);  // glibc's default: a block this size is mmapped
  std::free(p);
  ::unsetenv("ZOO_RETURN_MEMORY");
  ASSERT_TRUE(keep_freed_memory());
  const size_t mapped = mallinfo2().hblkhd;
  p = std::malloc(kBlock);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, kBlock);
  EXPECT_EQ(mallinfo2().hblkhd, mapped);  // served from the heap
  std::free(p);
  EXPECT_GE(mallinfo2().fordblks, kBlock);  // and kept there, free for the next step
}
#endif

}  // namespace
}  // namespace zoo
