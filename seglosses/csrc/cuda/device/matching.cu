// CUDA kernels of the GPU Betti matching: dense ranks by a radix sort and a scan, each graph's spanning
// forest by the Boruvka rounds of common.cuh, and the merges of ../matching_phases.h, the code the CPU
// emulation runs (the union-find dimensions: H0 and the top dimension, all of a 2D matching). The
// merges are sequential: on one device thread per image, or (host_merge) on the host, from copies of
// the ranks and of the sorted forests: a CPU core chases the union-find's pointers with caches that a
// lone GPU thread lacks. Which is faster is for the GPU run to say (bench_cuda.py times both).
// H1 of a solid pair is the hybrid's host part: the forests' complements (the loop edges and squares, in
// filtration order) are selected and sorted here, and the CPU engine's reductions run on them on the host.
#include "cuda/device/common.cuh"
#include "cuda/device/engine.h"
#include "cuda/matching_phases.h"

#include <array>
#include <memory>

namespace seglosses::gpu {
namespace {

using matching::RankedImage;
using matching::VGrid;

__global__ void comparison_kernel(const double* f, const double* g, index_t n, bool negate, double* c) {
  SEGLOSSES_FOR_EACH(i, n) c[i] = matching::comparison_value(f[i], g[i], negate);
}
__global__ void dense_keys(const double* image, index_t n, bool negate, Key* key, std::uint32_t* index) {
  SEGLOSSES_FOR_EACH(p, n) {
    const Key k = order_key_bits(static_cast<std::uint64_t>(__double_as_longlong(image[p])));
    key[p] = negate ? ~k : k;
    index[p] = std::uint32_t(p);
  }
}
// 1 where a sorted key differs from the one before: the inclusive sum is then the dense rank.
__global__ void new_value_flags(const Key* sorted, index_t n, std::uint32_t* flag) {
  SEGLOSSES_FOR_EACH(i, n) flag[i] = i > 0 && sorted[i] != sorted[i - 1] ? 1u : 0u;
}
__global__ void scatter_dense(const std::uint32_t* order, const std::uint32_t* dense, index_t n, std::uint32_t* rank) {
  SEGLOSSES_FOR_EACH(i, n) rank[order[i]] = dense[i];
}
__global__ void pad_kernel(RankView view, const std::uint32_t* pixel_rank, std::uint32_t* padded) {
  SEGLOSSES_FOR_EACH(p, view.grid.num_pixels) padded[view.padded_pixel(p)] = pixel_rank[p];
}
__global__ void vertex_ranks_kernel(RankView view, std::uint32_t* rank) {
  SEGLOSSES_FOR_EACH(v, view.grid.num_vertices) rank[v] = view.min_over(v, 0);
}
// The merges of f (block 0) and g (block 1) in one dimension, one thread each.
__global__ void merge_inputs_kernel(MatchGraph f, MatchGraph g, MatchGraph c, index_t* parent, const index_t* forest,
                                    const int* count, index_t* elder_c, std::uint32_t* pair_of_class,
                                    index_t* pairs, index_t* num_pairs, index_t* essential, index_t nodes,
                                    index_t slots) {
  if (threadIdx.x != 0 || blockIdx.x > 1) return;
  const int k = int(blockIdx.x);
  const MatchGraph& graph = k == 0 ? f : g;
  index_t* my_parent = parent + k * nodes;
  merge_input_image(graph, c, my_parent, forest + k * slots, index_t(count[k]), elder_c + k * nodes,
                    pair_of_class + k * nodes, pairs + 2 * k * slots, num_pairs + k);
  if (!graph.dual) essential[k] = graph.im.vertex_voxel(find_root(my_parent, 0));
}
__global__ void merge_comparison_kernel(MatchGraph c, MatchGraph f, MatchGraph g, index_t* parent,
                                        const index_t* forest, const int* count, index_t* elder_f, index_t* elder_g,
                                        const std::uint32_t* pair_of_class_f, const std::uint32_t* pair_of_class_g,
                                        std::uint32_t* matches, index_t* num_matches) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  merge_comparison(c, f, g, parent, forest, index_t(*count), elder_f, elder_g, pair_of_class_f, pair_of_class_g,
                   matches, num_matches);
}
__global__ void iota_kernel(index_t* out, index_t n, index_t period) {
  SEGLOSSES_FOR_EACH(i, n) out[i] = i % period;
}

// The dense ranks of an image (per vertex; in T also the padded pixel ranks), as RankedImage computes
// them on the host.
struct DeviceRanks {
  RankView view;
  Buffer<std::uint32_t> rank, padded;
  DeviceRanks(const VGrid& grid, const double* image, bool negate, cudaStream_t s)
      : view(grid),
        rank(std::size_t(grid.num_vertices), s),
        padded(std::size_t(grid.top_cells ? RankedImage::padded_size(grid) : 1), s) {
    const index_t n = grid.num_pixels;
    Buffer<Key> key(n, s), key_sorted(n, s);
    Buffer<std::uint32_t> index(n, s), order(n, s), flag(n, s), dense(n, s);
    Buffer<std::uint32_t> pixel_rank(grid.top_cells ? n : 1, s);
    dense_keys<<<blocks_for(n), kThreads, 0, s>>>(image, n, negate, key.ptr, index.ptr);
    with_scratch(s, "radix sort", [&](void* temp, std::size_t& bytes) {
      return cub::DeviceRadixSort::SortPairs(temp, bytes, key.ptr, key_sorted.ptr, index.ptr, order.ptr, n, 0, 64, s);
    });
    new_value_flags<<<blocks_for(n), kThreads, 0, s>>>(key_sorted.ptr, n, flag.ptr);
    with_scratch(s, "scan", [&](void* temp, std::size_t& bytes) {
      return cub::DeviceScan::InclusiveSum(temp, bytes, flag.ptr, dense.ptr, n, s);
    });
    std::uint32_t* target = grid.top_cells ? pixel_rank.ptr : rank.ptr;
    scatter_dense<<<blocks_for(n), kThreads, 0, s>>>(order.ptr, dense.ptr, n, target);
    view.rank = rank.ptr;
    if (grid.top_cells) {
      RankedImage::t_offsets(view);
      view.padded = padded.ptr;
      check(cudaMemsetAsync(padded.ptr, 0xff, std::size_t(RankedImage::padded_size(grid)) * sizeof(std::uint32_t), s),
            "cudaMemsetAsync");  // kNone
      pad_kernel<<<blocks_for(n), kThreads, 0, s>>>(view, pixel_rank.ptr, padded.ptr);
      vertex_ranks_kernel<<<blocks_for(grid.num_vertices), kThreads, 0, s>>>(view, rank.ptr);
    }
    check(cudaGetLastError(), "rank kernels");
  }
};

}  // namespace

matching::MatchingResult betti_matching(const double* f, const double* g, const index_t* shape, int ndim,
                                        bool t_construction, bool negate, bool host_merge, int threads, void* stream) {
  if (ndim < 2 || ndim > 3) throw std::invalid_argument("Expected `prediction` to be a 2D or 3D array.");
  const VGrid grid(shape, ndim, t_construction);
  const auto s = static_cast<cudaStream_t>(stream);
  PhaseTimer timer("gpu matching");
  const index_t n = grid.num_pixels, nodes = grid.num_vertices + 1, slots = 3 * grid.num_vertices;
  Buffer<double> comparison(n, s);
  comparison_kernel<<<blocks_for(n), kThreads, 0, s>>>(f, g, n, negate, comparison.ptr);
  const DeviceRanks rf(grid, f, negate, s), rg(grid, g, negate, s), rc(grid, comparison.ptr, false, s);
  mark_phase(timer, s, "rank");

  matching::MatchingResult result;
  result.dims.resize(std::size_t(ndim));
  Buffer<index_t> parent(3 * nodes, s), forest(3 * slots, s), elder(2 * nodes, s), pairs(4 * slots, s);
  Buffer<index_t> counts(5, s);  // pairs of f, of g; matches; essential births of f, g
  Buffer<int> forest_count(3, s);
  Buffer<std::uint32_t> pair_of_class(2 * nodes, s), matches(2 * slots, s);
  // Host-merge mode: the ranks (4 bytes per vertex and image, and T's padded pixel ranks) go to the host
  // once, and each dimension's sorted forests; the merges run there (merge_dimension).
  std::vector<std::uint32_t> host_rank[3], host_padded[3];
  RankView host_view[3] = {rf.view, rg.view, rc.view};
  if (host_merge) {
    const DeviceRanks* ranks[3] = {&rf, &rg, &rc};
    for (int k = 0; k < 3; ++k) {
      host_rank[k] = to_host(ranks[k]->rank.ptr, std::size_t(grid.num_vertices), s);
      host_view[k].rank = host_rank[k].data();
      if (grid.top_cells) {
        host_padded[k] = to_host(ranks[k]->padded.ptr, std::size_t(RankedImage::padded_size(grid)), s);
        host_view[k].padded = host_padded[k].data();
      }
    }
  }
  // Solid: the lists H1 reads (edges, then squares, of f, g, c), made on the device and copied to the host.
  std::array<matching::CellList, 3> loops[2];
  for (const bool dual : {false, true}) {
    const MatchGraph graphs[3] = {{rf.view, dual}, {rg.view, dual}, {rc.view, dual}};
    int count[3];
    for (int k = 0; k < 3; ++k)
      count[k] = sorted_forest(graphs[k], s, parent.ptr + k * nodes, forest.ptr + k * slots, forest_count.ptr + k,
                               grid.planar ? nullptr : &loops[dual][k]);
    const int d = dual ? (grid.planar ? 1 : 2) : 0;
    if (host_merge) {
      std::vector<index_t> host_forest[3];
      for (int k = 0; k < 3; ++k) host_forest[k] = to_host(forest.ptr + k * slots, std::size_t(count[k]), s);
      check(cudaStreamSynchronize(s), "forests");
      const MatchGraph host_graphs[3] = {{host_view[0], dual}, {host_view[1], dual}, {host_view[2], dual}};
      index_t essential[2] = {0, 0};
      result.dims[d] = merge_dimension(host_graphs, host_forest, essential);
      if (!dual) result.essential_f = essential[0], result.essential_g = essential[1];
      mark_phase(timer, s, dual ? "top" : "h0");
      continue;
    }
    iota_kernel<<<blocks_for(3 * nodes), kThreads, 0, s>>>(parent.ptr, 3 * nodes, nodes);
    iota_kernel<<<blocks_for(2 * nodes), kThreads, 0, s>>>(elder.ptr, 2 * nodes, nodes);
    check(cudaMemsetAsync(pair_of_class.ptr, 0xff, 2 * std::size_t(nodes) * sizeof(std::uint32_t), s),
          "cudaMemsetAsync");  // kNoPair
    merge_inputs_kernel<<<2, 1, 0, s>>>(graphs[0], graphs[1], graphs[2], parent.ptr, forest.ptr, forest_count.ptr,
                                        elder.ptr, pair_of_class.ptr, pairs.ptr, counts.ptr, counts.ptr + 3, nodes,
                                        slots);
    iota_kernel<<<blocks_for(2 * nodes), kThreads, 0, s>>>(elder.ptr, 2 * nodes, nodes);
    merge_comparison_kernel<<<1, 1, 0, s>>>(graphs[2], graphs[0], graphs[1], parent.ptr + 2 * nodes,
                                            forest.ptr + 2 * slots, forest_count.ptr + 2, elder.ptr,
                                            elder.ptr + nodes, pair_of_class.ptr, pair_of_class.ptr + nodes,
                                            matches.ptr, counts.ptr + 2);
    check(cudaGetLastError(), "merge kernels");
    const std::vector<index_t> host_counts = to_host(counts.ptr, 5, s);
    check(cudaStreamSynchronize(s), "merges");
    const std::vector<index_t> host_pairs[2] = {to_host(pairs.ptr, 2 * std::size_t(host_counts[0]), s),
                                                to_host(pairs.ptr + 2 * slots, 2 * std::size_t(host_counts[1]), s)};
    const std::vector<std::uint32_t> host_matches = to_host(matches.ptr, 2 * std::size_t(host_counts[2]), s);
    check(cudaStreamSynchronize(s), "results");
    result.dims[d] = gather_dimension(host_pairs, host_counts.data(), host_matches, host_counts[2]);
    if (!dual) result.essential_f = host_counts[3], result.essential_g = host_counts[4];
    mark_phase(timer, s, dual ? "top" : "h0");
  }
  if (grid.planar) return result;
  // Solid: H1 on the host (the hybrid), from the ranks (V: per vertex; T: the padded pixel ranks, all that H1
  // reads there), copied now unless the host merges have them already.
  std::unique_ptr<RankedImage> host_ranked[3];
  const DeviceRanks* ranks[3] = {&rf, &rg, &rc};
  for (int k = 0; k < 3; ++k) {
    std::vector<std::uint32_t> vertex_rank, padded;
    if (grid.top_cells)
      padded = host_merge ? std::move(host_padded[k])
                          : to_host(ranks[k]->padded.ptr, std::size_t(RankedImage::padded_size(grid)), s);
    else
      vertex_rank = host_merge ? std::move(host_rank[k]) : to_host(ranks[k]->rank.ptr, std::size_t(grid.num_vertices), s);
    check(cudaStreamSynchronize(s), "ranks");
    host_ranked[k] = std::make_unique<RankedImage>(grid, std::move(vertex_rank), std::move(padded));
  }
  const RankedImage* host[3] = {host_ranked[0].get(), host_ranked[1].get(), host_ranked[2].get()};
  mark_phase(timer, s, "ranks_to_host");
  result.dims[1] = match_h1_on_host(host, loops[0], loops[1], threads);
  timer.mark("h1_host");
  return result;
}

}  // namespace seglosses::gpu
