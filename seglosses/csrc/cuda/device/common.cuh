// What the CUDA engine's kernel files share: error checks, launch shapes, stream-ordered buffers, and
// the spanning forest of a union-find graph (phases.h, phase 3a) for any graph type with the interface
// of gpu::Graph (phases.h) or gpu::MatchGraph (matching_phases.h).
#pragma once

#include <cub/cub.cuh>
#include <cuda_runtime.h>
#include <thrust/iterator/counting_iterator.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "common/profile.h"
#include "cuda/phases.h"

namespace seglosses::gpu {
// Internal linkage: every kernel file gets its own copy of these kernels.
namespace {

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

constexpr int kThreads = 256;
inline int blocks_for(index_t n) {
  const index_t b = (n + kThreads - 1) / kThreads;
  return int(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);  // grid-stride loops cover the rest
}
#define SEGLOSSES_FOR_EACH(i, n) \
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += index_t(gridDim.x) * blockDim.x)

// Device memory freed on scope exit, allocated on the stream (stream-ordered allocator).
template <class T>
struct Buffer {
  T* ptr = nullptr;
  cudaStream_t stream;
  Buffer(std::size_t n, cudaStream_t s) : stream(s) {
    check(cudaMallocAsync(reinterpret_cast<void**>(&ptr), (n > 0 ? n : 1) * sizeof(T), s), "cudaMallocAsync");
  }
  ~Buffer() { cudaFreeAsync(ptr, stream); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};


// Ends a phase of a profiled call (SEGLOSSES_PROFILE, common/profile.h) once the stream's work is done, so
// the marks time the device's work, not its queueing. Off, it costs nothing more than the timer's flag.
inline void mark_phase(PhaseTimer& timer, cudaStream_t s, const char* phase) {
  if (!PhaseTimer::enabled()) return;
  check(cudaStreamSynchronize(s), phase);
  timer.mark(phase);
}

// A device array's first n entries, copied to the host on stream s (synchronise before reading).
template <class T>
std::vector<T> to_host(const T* device, std::size_t n, cudaStream_t s) {
  std::vector<T> host(n);
  if (n) check(cudaMemcpyAsync(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
  return host;
}

__global__ void init_nodes(index_t* parent, Key* cheapest, index_t n) {
  SEGLOSSES_FOR_EACH(v, n) parent[v] = v, cheapest[v] = kNoKey;
}
__global__ void init_parent(index_t* parent, index_t n) {
  SEGLOSSES_FOR_EACH(v, n) parent[v] = v;
}
template <class G>
__global__ void offer_kernel(G graph, const index_t* parent, Key* cheapest) {
  SEGLOSSES_FOR_EACH(e, graph.num_edge_slots()) {
    if (graph.is_edge(e))
      offer_edge(graph, parent, e, [&](index_t r, Key k) {
        atomicMin(reinterpret_cast<unsigned long long*>(cheapest + r), static_cast<unsigned long long>(k));
      });
  }
}
template <class G>
__global__ void target_kernel(G graph, const index_t* parent, const Key* cheapest, index_t* target, index_t n) {
  SEGLOSSES_FOR_EACH(v, n) target[v] = hook_target(graph, parent, cheapest, v);
}
template <class G>
__global__ void hook_kernel(G graph, index_t* parent, const index_t* target, const Key* cheapest,
                            std::uint8_t* in_forest, int* hooked, index_t n) {
  SEGLOSSES_FOR_EACH(v, n) {
    const index_t e = hook(graph, parent, target, cheapest, v);
    if (e != kNoCell) in_forest[e] = 1, *hooked = 1;
  }
}
__global__ void compress_kernel(index_t* parent, Key* cheapest, index_t n) {
  SEGLOSSES_FOR_EACH(v, n) {
    compress(parent, v);
    cheapest[v] = kNoKey;  // ready for the next round
  }
}
template <class G>
__global__ void forest_keys(G graph, const index_t* edges, const int* count, Key* key) {
  SEGLOSSES_FOR_EACH(i, index_t(*count)) key[i] = graph.edge_key(edges[i]);
}

template <class G>
__global__ void loop_flags(G graph, const std::uint8_t* in_forest, std::uint8_t* flag) {
  SEGLOSSES_FOR_EACH(e, graph.num_edge_slots()) flag[e] = left_for_h1(graph, in_forest, e) ? 1 : 0;
}
template <class G>
__global__ void loop_keys(G graph, const index_t* cells, const int* count, Key* key) {
  SEGLOSSES_FOR_EACH(i, index_t(*count)) key[i] = filtration_key(graph, cells[i]);
}
__global__ void cells_of_keys(const Key* key, index_t n, std::uint32_t* cell) {
  SEGLOSSES_FOR_EACH(i, n) cell[i] = std::uint32_t(key[i] & 0xffffffffu);
}

// Runs a CUB algorithm twice: for its scratch size, then with scratch of that size.
template <class Run>
void with_scratch(cudaStream_t s, const char* what, Run&& run) {
  std::size_t bytes = 0;
  check(run(static_cast<void*>(nullptr), bytes), what);
  Buffer<unsigned char> temp(bytes, s);
  check(run(static_cast<void*>(temp.ptr), bytes), what);
}

// The indices i < n whose flag is set, in increasing order, into `out` (device, n entries), their number into
// `count` (device) and the return value (host; synchronises).
inline int select_flagged(const std::uint8_t* flag, index_t n, index_t* out, int* count, cudaStream_t s) {
  thrust::counting_iterator<index_t> all(0);
  with_scratch(s, "select", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceSelect::Flagged(temp, bytes, all, flag, out, count, n, s);
  });
  int host = 0;
  check(cudaMemcpyAsync(&host, count, sizeof(int), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(s), "select");
  return host;
}

// The edge slots of `graph` that H1 of a 3D image reads (left_for_h1: outside the forest `in_forest`), in
// filtration order (filtration_key), into the host list `loops` (synchronises): as 32-bit cells, or as their
// 64-bit keys for a list of 64-bit entries (cell_or_key).
template <class G, class List>
void loop_cells_to_host(const G& graph, const std::uint8_t* in_forest, cudaStream_t s, List& loops) {
  const index_t slots = graph.num_edge_slots();
  Buffer<std::uint8_t> flag(slots, s);
  Buffer<index_t> cells(slots, s);
  Buffer<int> count(1, s);
  loop_flags<<<blocks_for(slots), kThreads, 0, s>>>(graph, in_forest, flag.ptr);
  const int n = select_flagged(flag.ptr, slots, cells.ptr, count.ptr, s);
  Buffer<Key> key(n, s), key_sorted(n, s);
  loop_keys<<<blocks_for(n), kThreads, 0, s>>>(graph, cells.ptr, count.ptr, key.ptr);
  with_scratch(s, "radix sort", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceRadixSort::SortKeys(temp, bytes, key.ptr, key_sorted.ptr, n, 0, 64, s);
  });
  using Entry = typename List::value_type;
  static_assert(sizeof(Entry) == sizeof(Key) || sizeof(Entry) == sizeof(std::uint32_t), "cells or keys");
  const void* from = key_sorted.ptr;
  Buffer<std::uint32_t> cells_sorted(sizeof(Entry) == sizeof(Key) ? 0 : n, s);
  if constexpr (sizeof(Entry) != sizeof(Key)) {
    cells_of_keys<<<blocks_for(n), kThreads, 0, s>>>(key_sorted.ptr, n, cells_sorted.ptr);
    from = cells_sorted.ptr;
  }
  check(cudaGetLastError(), "loop kernels");
  loops.resize(std::size_t(n));
  if (n)
    check(cudaMemcpyAsync(loops.data(), from, std::size_t(n) * sizeof(Entry), cudaMemcpyDeviceToHost, s),
          "cudaMemcpyAsync");
  check(cudaStreamSynchronize(s), "loop cells");
}

// The spanning forest of `graph` (Boruvka rounds; the host reads one flag per round), its edges sorted
// by key (Kruskal order) into `sorted` (graph.num_edge_slots() entries), their number into `count`
// (device) and the return value (host). `parent` (graph.num_nodes() entries) is left as scratch. With
// `loops`, the edge slots H1 reads go there too (loop_cells_to_host).
template <class G, class List = std::vector<std::uint32_t>>
int sorted_forest(const G& graph, cudaStream_t s, index_t* parent, index_t* sorted, int* count,
                  List* loops = nullptr) {
  const index_t nodes = graph.num_nodes(), slots = graph.num_edge_slots();
  Buffer<index_t> target(nodes, s);
  Buffer<Key> cheapest(nodes, s);
  Buffer<std::uint8_t> in_forest(slots, s);
  Buffer<int> hooked(1, s);
  check(cudaMemsetAsync(in_forest.ptr, 0, slots, s), "cudaMemsetAsync");
  init_nodes<<<blocks_for(nodes), kThreads, 0, s>>>(parent, cheapest.ptr, nodes);
  for (int host_hooked = 1; host_hooked;) {
    check(cudaMemsetAsync(hooked.ptr, 0, sizeof(int), s), "cudaMemsetAsync");
    offer_kernel<<<blocks_for(slots), kThreads, 0, s>>>(graph, parent, cheapest.ptr);
    target_kernel<<<blocks_for(nodes), kThreads, 0, s>>>(graph, parent, cheapest.ptr, target.ptr, nodes);
    hook_kernel<<<blocks_for(nodes), kThreads, 0, s>>>(graph, parent, target.ptr, cheapest.ptr, in_forest.ptr,
                                                       hooked.ptr, nodes);
    compress_kernel<<<blocks_for(nodes), kThreads, 0, s>>>(parent, cheapest.ptr, nodes);
    check(cudaMemcpyAsync(&host_hooked, hooked.ptr, sizeof(int), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
    check(cudaStreamSynchronize(s), "spanning forest");
  }
  Buffer<index_t> edges(slots, s);
  const int host_count = select_flagged(in_forest.ptr, slots, edges.ptr, count, s);
  if (loops) loop_cells_to_host(graph, in_forest.ptr, s, *loops);
  Buffer<Key> key(host_count, s), key_sorted(host_count, s);
  forest_keys<<<blocks_for(host_count), kThreads, 0, s>>>(graph, edges.ptr, count, key.ptr);
  with_scratch(s, "radix sort", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceRadixSort::SortPairs(temp, bytes, key.ptr, key_sorted.ptr, edges.ptr, sorted, host_count, 0, 64,
                                           s);
  });
  check(cudaGetLastError(), "spanning forest kernels");
  return host_count;
}

}  // namespace
}  // namespace seglosses::gpu
