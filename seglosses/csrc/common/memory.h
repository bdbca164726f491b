// Giving freed memory back to the system between the phases of a large computation.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#define SEGLOSSES_HAVE_MMAP 1
#endif

namespace seglosses {

// Returns the free pages of the heap to the system. glibc keeps freed blocks below its (adaptive) mmap
// threshold in the heap, where they count in the process's resident memory without being reused by the
// next phase's larger tables; call this between phases that free and allocate tables of several MB
// (96^3 Betti matching, noise against a random mask, T: 241 -> 223 bytes per voxel before H1's reductions).
// A trim walks the whole heap, the caller's included, so it is left out where the tables are small:
// `cells`, the size of the grid that the freed tables were made for, below 2^19 does nothing.
inline void release_free_memory(std::size_t cells) {
#if defined(__GLIBC__)
  if (cells >= (std::size_t(1) << 19)) malloc_trim(0);
#else
  (void)cells;
#endif
}

// An allocator that maps blocks of 3 MiB or more directly from the system (and unmaps them when freed)
// and leaves smaller ones to malloc. For the engine's large tables and lists, which come and go phase by
// phase: in the heap, a freed table stays resident until trimmed and raises glibc's adaptive mmap
// threshold, so that the next phase's tables land in the heap too, beside the holes the last one left
// (a 96^3 matching held 10-12 MB more at its peak than the same tables mapped one by one). Fresh pages
// are zero and cost nothing until written, but every call faults them anew, where the heap reuses its
// pages from call to call: mapping from 1 MiB made 512^2 matchings (tables of 1-2 MB) about 1.3x slower;
// from 3 MiB they are as before, and a 96^3 matching's peak is within 3 bytes per voxel of the 1 MiB one.
template <class T>
struct PageAllocator {
  using value_type = T;
  static constexpr std::size_t kMinMapped = std::size_t(3) << 20;
  PageAllocator() = default;
  template <class U>
  PageAllocator(const PageAllocator<U>&) {}
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
#ifdef SEGLOSSES_HAVE_MMAP
    if (bytes >= kMinMapped) {
      void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      return static_cast<T*>(p);
    }
#endif
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) {
#ifdef SEGLOSSES_HAVE_MMAP
    if (n * sizeof(T) >= kMinMapped) {
      munmap(p, n * sizeof(T));
      return;
    }
#endif
    std::free(p);
  }
  template <class U>
  bool operator==(const PageAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const PageAllocator<U>&) const { return false; }
};

// A vector whose large blocks are mapped pages (see PageAllocator).
template <class T>
using PageVector = std::vector<T, PageAllocator<T>>;

// A fixed array of n zero-filled elements of a trivial type, on mapped pages where large: no fill pass,
// and a page costs memory only once written.
template <class T>
class ZeroedArray {
 public:
  explicit ZeroedArray(std::size_t n) : n_(n), data_(PageAllocator<T>().allocate(n)) {
#ifdef SEGLOSSES_HAVE_MMAP
    if (n * sizeof(T) >= PageAllocator<T>::kMinMapped) return;  // fresh pages are zero
#endif
    std::memset(static_cast<void*>(data_), 0, n * sizeof(T));
  }
  ~ZeroedArray() { PageAllocator<T>().deallocate(data_, n_); }
  ZeroedArray(const ZeroedArray&) = delete;
  ZeroedArray& operator=(const ZeroedArray&) = delete;
  T* get() const { return data_; }
  T& operator[](std::size_t i) const { return data_[i]; }

 private:
  std::size_t n_;
  T* data_;
};

}  // namespace seglosses
