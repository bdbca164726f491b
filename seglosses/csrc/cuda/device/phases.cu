// CUDA kernels of the GPU engine: one thread per element runs the per-element functions of
// ../phases.h (where the design is written), the same code that the CPU module runs sequentially in
// ../emulation.cpp. Sorting and compaction use CUB.
#include "cuda/device/common.cuh"
#include "cuda/device/engine.h"
#include "cuda/phases.h"

namespace seglosses::gpu {
namespace {

__global__ void pixel_keys(const double* image, index_t n, Key* key, std::uint32_t* index) {
  SEGLOSSES_FOR_EACH(p, n) {
    key[p] = order_key_bits(static_cast<std::uint64_t>(__double_as_longlong(image[p])));
    index[p] = std::uint32_t(p);
  }
}
__global__ void scatter_ranks(const std::uint32_t* pixel_of_rank, index_t n, std::uint32_t* pixel_rank) {
  SEGLOSSES_FOR_EACH(r, n) pixel_rank[pixel_of_rank[r]] = std::uint32_t(r);
}
__global__ void cell_ranks_kernel(Grid g, const std::uint32_t* pixel_rank, std::uint32_t* rank) {
  SEGLOSSES_FOR_EACH(c, g.num_cells) rank[c] = cell_rank(g, pixel_rank, c);
}
__global__ void apparent_kernel(Grid g, const std::uint32_t* rank, int dim, unsigned long long* count) {
  unsigned long long mine = 0;
  SEGLOSSES_FOR_EACH(c, g.num_cells) {
    if (g.cell_dim(c) == dim && apparent_partner(g, rank, c) != kNoCell) ++mine;
  }
  if (mine) atomicAdd(count, mine);
}
// The sequential Kruskal merge of the sorted forest edges (phases.h, 3b): one thread.
__global__ void merge_kernel(Graph graph, index_t* parent, const index_t* edges, const int* count, index_t* pairs) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  index_t i = 0;
  merge_forest(graph, parent, edges, index_t(*count), [&](index_t young, index_t, index_t e) {
    pairs[2 * i] = graph.dual ? e : young;
    pairs[2 * i + 1] = graph.dual ? young : e;
    ++i;
  });
}
// Cells to critical pixels; pairs of equal rank become (-1, -1) and are dropped on the host.
__global__ void pairs_to_pixels(const std::uint32_t* rank, const std::uint32_t* pixel_of_rank, const int* count,
                                index_t* pairs) {
  SEGLOSSES_FOR_EACH(i, index_t(*count)) {
    const std::uint32_t rb = rank[pairs[2 * i]], rd = rank[pairs[2 * i + 1]];
    pairs[2 * i] = rb == rd ? -1 : index_t(pixel_of_rank[rb]);
    pairs[2 * i + 1] = rb == rd ? -1 : index_t(pixel_of_rank[rd]);
  }
}

Grid checked_grid(const index_t* shape, int ndim, bool t_construction) {
  if (ndim < 2 || ndim > 3) throw std::invalid_argument("Expected `image` to be a 2D or 3D array.");
  const Grid g = Grid::make(shape, ndim, t_construction);
  if (g.num_pixels < 1 || g.num_cells >= (index_t(1) << 32))
    throw std::invalid_argument("Expected `image` to be non-empty with fewer than 2**32 Khalimsky cells.");
  return g;
}

// Phase 1 into `rank` (num_cells) and `pixel_of_rank` (num_pixels).
void rank_cells(const Grid& g, const double* image, cudaStream_t s, std::uint32_t* rank, std::uint32_t* pixel_of_rank) {
  const index_t n = g.num_pixels;
  Buffer<Key> key(n, s), key_sorted(n, s);
  Buffer<std::uint32_t> index(n, s), pixel_rank(n, s);
  pixel_keys<<<blocks_for(n), kThreads, 0, s>>>(image, n, key.ptr, index.ptr);
  with_scratch(s, "radix sort", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceRadixSort::SortPairs(temp, bytes, key.ptr, key_sorted.ptr, index.ptr, pixel_of_rank, n, 0, 64, s);
  });
  scatter_ranks<<<blocks_for(n), kThreads, 0, s>>>(pixel_of_rank, n, pixel_rank.ptr);
  cell_ranks_kernel<<<blocks_for(g.num_cells), kThreads, 0, s>>>(g, pixel_rank.ptr, rank);
  check(cudaGetLastError(), "rank kernels");
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

void cell_ranks(const double* image, const index_t* shape, int ndim, bool t_construction, void* stream,
                std::uint32_t* cell_rank) {
  const Grid g = checked_grid(shape, ndim, t_construction);
  const auto s = static_cast<cudaStream_t>(stream);
  Buffer<std::uint32_t> pixel_of_rank(g.num_pixels, s);
  rank_cells(g, image, s, cell_rank, pixel_of_rank.ptr);
}

index_t count_apparent_pairs(const double* image, const index_t* shape, int ndim, bool t_construction, int dim,
                             void* stream) {
  const Grid g = checked_grid(shape, ndim, t_construction);
  const auto s = static_cast<cudaStream_t>(stream);
  Buffer<std::uint32_t> rank(g.num_cells, s), pixel_of_rank(g.num_pixels, s);
  rank_cells(g, image, s, rank.ptr, pixel_of_rank.ptr);
  Buffer<unsigned long long> count(1, s);
  check(cudaMemsetAsync(count.ptr, 0, sizeof(unsigned long long), s), "cudaMemsetAsync");
  apparent_kernel<<<blocks_for(g.num_cells), kThreads, 0, s>>>(g, rank.ptr, dim, count.ptr);
  unsigned long long host = 0;
  check(cudaMemcpyAsync(&host, count.ptr, sizeof host, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(s), "apparent pairs");
  return index_t(host);
}

namespace {

// One union-find phase of an image whose ranks are on the device (`rank`, `pixel_of_rank`): its critical-
// pixel pairs of nonzero persistence in rank, appended to `pairs`. host_merge: the merge on the host, from
// the host copies `host_rank` and `host_pixel` (made by the caller). With `columns` (3D H0), the keys of H1's
// columns go there: the edges outside the forest and not flagged in `apparent`, in filtration order.
void union_find_phase(const Grid& g, const std::uint32_t* rank, const std::uint32_t* pixel_of_rank, bool dual,
                      bool host_merge, const std::vector<std::uint32_t>& host_rank,
                      const std::vector<std::uint32_t>& host_pixel, cudaStream_t s, std::vector<index_t>& pairs,
                      std::vector<std::uint64_t>* columns = nullptr, const std::uint8_t* apparent = nullptr) {
  const Graph graph{g, rank, dual, apparent};
  const index_t nodes = graph.num_nodes();
  Buffer<index_t> parent(nodes, s), edges_sorted(graph.num_edge_slots(), s);
  Buffer<int> count(1, s);
  const int host_count = sorted_forest(graph, s, parent.ptr, edges_sorted.ptr, count.ptr, columns);
  if (host_merge) {  // the merge on the host, from copies of the ranks and the sorted forest
    const std::vector<index_t> host_forest = to_host(edges_sorted.ptr, std::size_t(host_count), s);
    check(cudaStreamSynchronize(s), "union-find");
    merge_to_pixel_pairs(Graph{g, host_rank.data(), dual}, host_forest.data(), index_t(host_count), host_pixel.data(),
                         pairs);
    return;
  }
  Buffer<index_t> device_pairs(2 * std::size_t(host_count), s);
  init_parent<<<blocks_for(nodes), kThreads, 0, s>>>(parent.ptr, nodes);
  merge_kernel<<<1, 1, 0, s>>>(graph, parent.ptr, edges_sorted.ptr, count.ptr, device_pairs.ptr);
  pairs_to_pixels<<<blocks_for(host_count), kThreads, 0, s>>>(rank, pixel_of_rank, count.ptr, device_pairs.ptr);
  check(cudaGetLastError(), "union-find kernels");
  const std::vector<index_t> host = to_host(device_pairs.ptr, 2 * std::size_t(host_count), s);
  check(cudaStreamSynchronize(s), "union-find");
  for (std::size_t i = 0; i < host.size(); i += 2)
    if (host[i] >= 0) pairs.push_back(host[i]), pairs.push_back(host[i + 1]);
}

__global__ void square_flags(Grid g, std::uint8_t* flag) {
  SEGLOSSES_FOR_EACH(c, g.num_cells) flag[c] = g.cell_dim(c) == 2 ? 1 : 0;
}
__global__ void square_keys(Grid g, const std::uint32_t* rank, const index_t* cells, const int* count, Key* key) {
  SEGLOSSES_FOR_EACH(i, index_t(*count)) key[i] = cell_key(rank, cells[i]);
}
__global__ void positions_kernel(Grid g, const Key* sorted, index_t count, std::uint32_t* position,
                                 std::uint32_t* dense) {
  SEGLOSSES_FOR_EACH(p, count) {
    const index_t square = index_t(sorted[p] & 0xffffffffu);
    position[square] = std::uint32_t(p);
    dense[dense_square_number(g, square)] = std::uint32_t(p);
  }
}
__global__ void first_positions_kernel(const Key* sorted, index_t count, index_t num_ranks, std::uint32_t* first) {
  SEGLOSSES_FOR_EACH(p, count + 1) first_positions(sorted, count, num_ranks, p, first);
}
__global__ void apparent_entries_kernel(Grid g, const std::uint32_t* rank, const std::uint32_t* position,
                                        std::int32_t* pivot, std::uint8_t* apparent, std::uint32_t* pair_ranks,
                                        unsigned long long* num_pairs) {
  SEGLOSSES_FOR_EACH(e, g.num_cells) {
    bool nonzero = false;
    std::uint32_t ranks[2];
    if (apparent_entry(g, rank, position, e, pivot, apparent, nonzero, ranks) && nonzero) {
      const unsigned long long i = atomicAdd(num_pairs, 1ull);  // pairs in any order: the barcode sorts its bars
      pair_ranks[2 * i] = ranks[0];
      pair_ranks[2 * i + 1] = ranks[1];
    }
  }
}

// Phase 4's tables of a 3D image (cubical::H1Tables, but the columns) into `tables` on the host, and the
// apparent pairs' edges flagged in `apparent` (device, num_cells): the squares' keys sorted (CUB), then one
// thread per position (positions, dense numbers, first positions of the ranks) and per cell (apparent pairs).
void h1_tables(const Grid& g, const std::uint32_t* rank, cudaStream_t s, std::uint8_t* apparent,
               cubical::H1Tables& tables) {
  const index_t cells = g.num_cells;
  Buffer<std::uint8_t> flag(cells, s);
  Buffer<index_t> squares(cells, s);
  Buffer<int> count(1, s);
  square_flags<<<blocks_for(cells), kThreads, 0, s>>>(g, flag.ptr);
  const int n = select_flagged(flag.ptr, cells, squares.ptr, count.ptr, s);
  Buffer<Key> key(n, s), sorted(n, s);
  square_keys<<<blocks_for(n), kThreads, 0, s>>>(g, rank, squares.ptr, count.ptr, key.ptr);
  with_scratch(s, "radix sort", [&](void* temp, std::size_t& bytes) {
    return cub::DeviceRadixSort::SortKeys(temp, bytes, key.ptr, sorted.ptr, n, 0, 64, s);
  });
  const index_t vertices = g.num_vertices();
  Buffer<std::uint32_t> position(cells, s), dense(3 * vertices, s), first(g.num_pixels + 1, s);
  check(cudaMemsetAsync(dense.ptr, 0, std::size_t(3 * vertices) * sizeof(std::uint32_t), s), "cudaMemsetAsync");
  positions_kernel<<<blocks_for(n), kThreads, 0, s>>>(g, sorted.ptr, n, position.ptr, dense.ptr);
  first_positions_kernel<<<blocks_for(n + 1), kThreads, 0, s>>>(sorted.ptr, n, g.num_pixels, first.ptr);
  // Apparent pairs: at most one per square (a square is the partner of its latest facet alone).
  Buffer<std::int32_t> pivot(n, s);
  Buffer<std::uint32_t> pair_ranks(2 * index_t(n), s);
  Buffer<unsigned long long> num_pairs(1, s);
  check(cudaMemsetAsync(pivot.ptr, 0, std::size_t(n) * sizeof(std::int32_t), s), "cudaMemsetAsync");
  check(cudaMemsetAsync(apparent, 0, std::size_t(cells), s), "cudaMemsetAsync");
  check(cudaMemsetAsync(num_pairs.ptr, 0, sizeof(unsigned long long), s), "cudaMemsetAsync");
  apparent_entries_kernel<<<blocks_for(cells), kThreads, 0, s>>>(g, rank, position.ptr, pivot.ptr, apparent,
                                                                 pair_ranks.ptr, num_pairs.ptr);
  check(cudaGetLastError(), "phase 4 kernels");
  unsigned long long pairs = 0;
  check(cudaMemcpyAsync(&pairs, num_pairs.ptr, sizeof pairs, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(s), "apparent pairs");
  tables.dense = to_host(dense.ptr, std::size_t(3 * vertices), s);
  tables.first_of_rank = to_host(first.ptr, std::size_t(g.num_pixels + 1), s);
  tables.pivot = to_host(pivot.ptr, std::size_t(n), s);
  tables.apparent_ranks = to_host(pair_ranks.ptr, std::size_t(2 * pairs), s);
  check(cudaStreamSynchronize(s), "phase 4 tables");
}

__global__ void gather_kernel(const double* image, const std::uint32_t* pixel_of_rank, index_t n, double* out) {
  SEGLOSSES_FOR_EACH(r, n) out[r] = image[pixel_of_rank[r]];
}

}  // namespace

index_t union_find_pixel_pairs(const double* image, const index_t* shape, int ndim, bool t_construction, bool dual,
                               bool host_merge, void* stream, std::vector<index_t>& pairs) {
  const Grid g = checked_grid(shape, ndim, t_construction);
  const auto s = static_cast<cudaStream_t>(stream);
  Buffer<std::uint32_t> rank(g.num_cells, s), pixel_of_rank(g.num_pixels, s);
  rank_cells(g, image, s, rank.ptr, pixel_of_rank.ptr);
  std::vector<std::uint32_t> host_rank, host_pixel;
  if (host_merge) {
    host_rank = to_host(rank.ptr, std::size_t(g.num_cells), s);
    host_pixel = to_host(pixel_of_rank.ptr, std::size_t(g.num_pixels), s);
  }
  union_find_phase(g, rank.ptr, pixel_of_rank.ptr, dual, host_merge, host_rank, host_pixel, s, pairs);
  std::uint32_t essential = 0;
  check(cudaMemcpyAsync(&essential, pixel_of_rank.ptr, sizeof essential, cudaMemcpyDeviceToHost, s),
        "cudaMemcpyAsync");
  check(cudaStreamSynchronize(s), "union-find");
  return index_t(essential);
}

index_t barcode_pixel_pairs(const double* image, const index_t* shape, int ndim, bool t_construction, bool host_merge,
                            int threads, void* stream, std::vector<std::vector<index_t>>& dims) {
  const Grid g = checked_grid(shape, ndim, t_construction);
  const auto s = static_cast<cudaStream_t>(stream);
  PhaseTimer timer("gpu barcode");
  Buffer<std::uint32_t> rank(g.num_cells, s), pixel_of_rank(g.num_pixels, s);
  rank_cells(g, image, s, rank.ptr, pixel_of_rank.ptr);
  mark_phase(timer, s, "rank");
  const bool solid = g.dim == 3;
  if (solid && g.num_cells >= (index_t(1) << 31) - 2)
    throw std::invalid_argument("Expected a 3D `image` of fewer than 2**31 - 2 Khalimsky cells (about 640^3 voxels) "
                                "for backend='cuda'; use backend='cpu'.");
  // Host copies: the ranks for the host merges; the pixel order for them and for H1's pairs in 3D.
  std::vector<std::uint32_t> host_rank, host_pixel;
  if (host_merge) host_rank = to_host(rank.ptr, std::size_t(g.num_cells), s);
  if (host_merge || solid) host_pixel = to_host(pixel_of_rank.ptr, std::size_t(g.num_pixels), s);
  check(cudaStreamSynchronize(s), "ranks");
  // 3D: phase 4's tables (all but the columns, which H0's forest gives), on the device, then to the host.
  cubical::H1Tables tables;
  Buffer<std::uint8_t> apparent(solid ? g.num_cells : 1, s);
  if (solid) {
    h1_tables(g, rank.ptr, s, apparent.ptr, tables);
    mark_phase(timer, s, "h1_tables");
  }
  dims.assign(std::size_t(ndim), {});
  union_find_phase(g, rank.ptr, pixel_of_rank.ptr, false, host_merge, host_rank, host_pixel, s, dims[0],
                   solid ? &tables.columns : nullptr, solid ? apparent.ptr : nullptr);
  mark_phase(timer, s, "h0");
  if (g.dim >= 2)
    union_find_phase(g, rank.ptr, pixel_of_rank.ptr, true, host_merge, host_rank, host_pixel, s,
                     dims[std::size_t(g.dim - 1)]);
  mark_phase(timer, s, "top");
  // The essential H0 class is born at the pixel of rank 0.
  std::uint32_t essential = 0;
  if (host_merge || solid) {
    essential = host_pixel[0];
  } else {
    check(cudaMemcpyAsync(&essential, pixel_of_rank.ptr, sizeof essential, cudaMemcpyDeviceToHost, s),
          "cudaMemcpyAsync");
    check(cudaStreamSynchronize(s), "essential");
  }
  if (solid) {
    Buffer<double> sorted(g.num_pixels, s);
    gather_kernel<<<blocks_for(g.num_pixels), kThreads, 0, s>>>(image, pixel_of_rank.ptr, g.num_pixels, sorted.ptr);
    check(cudaGetLastError(), "gather kernel");
    std::vector<double> sorted_value = to_host(sorted.ptr, std::size_t(g.num_pixels), s);
    check(cudaStreamSynchronize(s), "values");
    mark_phase(timer, s, "values_to_host");
    h1_to_pixel_pairs(g, std::move(host_pixel), std::move(sorted_value), std::move(tables), threads, dims[1]);
    timer.mark("h1_host");
  }
  return index_t(essential);
}

}  // namespace seglosses::gpu
