// Process-wide malloc settings for training and benchmarking. LibTorch's CPU allocator takes
// every tensor from malloc, and glibc serves large blocks (above 128 KiB to 32 MiB) with a
// fresh mmap that it unmaps again on free, so every training step page-faults all of its
// activations anew. Measured on the project's 2-vCPU machines: a ResNet-50 bf16 training step
// at batch 8 took 3.1 s with glibc's defaults and 1.4 s with freed memory kept in the heap
// (docs/BENCHMARKS.md). Leaves out: other allocators (jemalloc, tcmalloc) and non-glibc libcs.
#pragma once

namespace zoo {

// Makes glibc keep freed memory for reuse: no mmap for large blocks in the main arena, no
// trimming of the heap top. The cost is that the process keeps its peak heap size until it
// exits. A no-op without glibc, or when the environment sets ZOO_RETURN_MEMORY=1. Returns
// whether the settings were applied.
bool keep_freed_memory();

}  // namespace zoo
