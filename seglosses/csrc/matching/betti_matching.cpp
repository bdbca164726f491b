// Betti matching: orchestration, dimension 0 and the top dimension (union-find). See betti_matching.h.
#include "matching/betti_matching.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <numeric>

#include "common/memory.h"
#include "common/parallel.h"
#include "common/profile.h"
#include "common/union_find.h"

namespace seglosses::matching {
namespace detail {

// Union-find (path halving, union by rank) that also tracks the elder of every component under K
// orders at once, as sort keys (rank << 32 | cell). One partition serves several orders because an image
// and the comparison image merge the same components when they process the same cells; only which cell
// is the elder differs. Dimension 0 uses the smallest key as the elder, the dual graph the largest.
// (Elders kept as cells, their keys looked up in the vertex ranks, would save 4 bytes per vertex and
// order, but made dimension 0 about 1.4x slower at 96^3.)
template <int K, bool kElderIsSmallest>
struct ElderForest {
  CellList parent;
  PageVector<std::uint8_t> height;
  std::array<PageVector<std::uint64_t>, K> elder;

  explicit ElderForest(index_t n) : parent(std::size_t(n)), height(std::size_t(n), 0) {
    std::iota(parent.begin(), parent.end(), 0u);
    for (auto& e : elder) e.resize(std::size_t(n));
  }
  std::uint32_t find(std::uint32_t x) { return find_root(parent.data(), x); }
  // Merges the components of x and y; false if they are one already. Otherwise dying[i] is the key of
  // the younger elder under order i (the class that dies at this merge).
  bool merge(std::uint32_t x, std::uint32_t y, std::uint64_t* dying) {
    std::uint32_t a = find(x), b = find(y);
    if (a == b) return false;
    if (height[a] < height[b]) std::swap(a, b);
    if (height[a] == height[b]) ++height[a];
    parent[b] = a;
    for (int i = 0; i < K; ++i) {
      const std::uint64_t ka = elder[i][a], kb = elder[i][b];
      const bool a_older = kElderIsSmallest ? ka < kb : ka > kb;
      elder[i][a] = a_older ? ka : kb;
      dying[i] = a_older ? kb : ka;
    }
    return true;
  }
};

namespace {

CellList existing_edges(const VGrid& grid) {
  CellList edges;
  edges.reserve(std::size_t(3 * grid.num_vertices));
  for (index_t v = 0; v < grid.num_vertices; ++v)
    for (int t = 0; t < 3; ++t)
      if (grid.has_edge(v, t)) edges.push_back(std::uint32_t(3 * v + t));
  return edges;
}

// Codimension-1 cells of the top dimension: in-plane edges (planar) or squares (solid).
CellList existing_codim1(const VGrid& grid) {
  if (grid.planar) return existing_edges(grid);
  CellList squares;
  squares.reserve(std::size_t(3 * grid.num_vertices));
  for (index_t v = 0; v < grid.num_vertices; ++v)
    for (int t = 0; t < 3; ++t)
      if (grid.has_square(v, t)) squares.push_back(std::uint32_t(3 * v + t));
  return squares;
}

// Keeps the first n entries of a list, and gives back the memory of the others.
void keep_first(CellList& list, std::size_t n) {
  list.resize(n);
  list.shrink_to_fit();
}

// Dimension 0. The elder of a component is its vertex of smallest (rank, index); when two merge, the
// younger elder dies at the merging edge (a pair unless born at the edge's own value). The merging edges
// are removed from `edges_sorted[k]`, which keeps the edges that close loops, in order: the only ones H1
// reads (an edge that joins two components is never the pivot of a reduction: see h1_reduction.cpp).
void match_h0(const Images& im, std::array<CellList, 3>& edges_sorted, DimensionMatching& out,
              index_t& essential_f, index_t& essential_g, int threads) {
  const VGrid& grid = im.grid;
  const index_t n = grid.num_vertices;
  const auto vertex_key = [&](int k, index_t v) { return RankedImage::key(im[k].rank[v], std::uint32_t(v)); };
  InputPairs pairs[2];
  CellList pair_of_birth[2];

  const auto image_pairs = [&](int k) {
    const RankedImage& img = im[k];
    ElderForest<1, true> forest(n);
    for (index_t v = 0; v < n; ++v) forest.elder[0][v] = vertex_key(k, v);
    pair_of_birth[k].assign(std::size_t(n), kNone);
    std::uint64_t dying;
    auto& edges = edges_sorted[k];
    std::size_t loops = 0;
    for (const std::uint32_t e : edges) {
      const std::uint32_t v = e / 3, w = std::uint32_t(v + grid.stride[e % 3]);
      if (!forest.merge(v, w, &dying)) {
        edges[loops++] = e;  // in place: loops <= the edges read
        continue;
      }
      if (std::uint32_t(dying >> 32) != img.edge_rank(e))
        pair_of_birth[k][std::uint32_t(dying)] = pairs[k].add(img.vertex_voxel(std::uint32_t(dying)), img.edge_voxel(e));
    }
    keep_first(edges, loops);
    (k == 0 ? essential_f : essential_g) = img.vertex_voxel(std::uint32_t(forest.elder[0][forest.find(0)]));
  };
  run_tasks(threads, {[&] { image_pairs(0); }, [&] { image_pairs(1); }});
  release_free_memory(std::size_t(n));  // the two forests, before the comparison image's

  // The comparison image processes its edges once; the same merges, read under the order of f and of
  // g, are the merges of the image barcodes: the younger f-elder (g-elder) is the image bar that dies.
  std::vector<std::array<std::uint32_t, 2>> matches;
  {
    ElderForest<3, true> forest(n);  // orders: c, f, g
    for (index_t v = 0; v < n; ++v) {
      forest.elder[0][v] = vertex_key(2, v);
      forest.elder[1][v] = vertex_key(0, v);
      forest.elder[2][v] = vertex_key(1, v);
    }
    std::uint64_t dying[3];
    auto& edges = edges_sorted[2];
    std::size_t loops = 0;
    for (const std::uint32_t e : edges) {
      const std::uint32_t v = e / 3, w = std::uint32_t(v + grid.stride[e % 3]);
      if (!forest.merge(v, w, dying)) {
        edges[loops++] = e;
        continue;
      }
      if (std::uint32_t(dying[0] >> 32) == im.c.edge_rank(e)) continue;  // zero-persistence bar of c
      const std::uint32_t pf = pair_of_birth[0][std::uint32_t(dying[1])];
      const std::uint32_t pg = pair_of_birth[1][std::uint32_t(dying[2])];
      if (pf != kNone && pg != kNone) {
        matches.push_back({pf, pg});
        pairs[0].matched[pf] = pairs[1].matched[pg] = 1;
      }
    }
    keep_first(edges, loops);
  }
  finish_dimension(pairs[0], pairs[1], matches, out);
}

// The top dimension by union-find on the dual graph (top cells plus the outer cell), processing the
// codimension-1 cells in decreasing order. The elder of a dual component is its top cell of largest
// (rank, index); the outer cell is older than all. A merge kills the younger elder: the pair is
// (codimension-1 cell, that top cell). The cells that merge nothing are listed in `unmerged[k]`, in
// increasing order of image k. In 3D they are the squares whose boundary columns do not reduce to zero
// in H1; in 2D they are the only edges that can merge components in dimension 0 (an edge either closes
// a loop or joins two components). Skipping the others halves that work (clearing).
void match_top(const Images& im, const std::array<CellList, 3>& codim1_sorted,
               std::array<CellList, 3>& unmerged, DimensionMatching& out, int threads) {
  const VGrid& grid = im.grid;
  const index_t outer = grid.num_vertices;  // top cells are indexed by their lowest vertex
  constexpr std::uint64_t kOuterKey = ~std::uint64_t(0);  // the outer cell, at +infinity
  const auto is_top = [&](index_t v) { return grid.planar ? grid.has_square(v, 0) : grid.has_cube(v); };
  const auto init_elders = [&](PageVector<std::uint64_t>& elder, int k) {
    for (index_t v = 0; v < outer; ++v)
      if (is_top(v)) elder[v] = RankedImage::key(im[k].top_rank(v), std::uint32_t(v));
    elder[outer] = kOuterKey;
  };
  // Every top cell's component merges once (all end in the outer cell's), so as many cells merge; the
  // rest are unmerged, their lists sized exactly.
  index_t num_top = 0;
  for (index_t v = 0; v < outer; ++v) num_top += is_top(v);
  for (int k = 0; k < 3; ++k) unmerged[k].reserve(codim1_sorted[k].size() - std::size_t(num_top));
  const auto codim1_rank = [&](int k, std::uint32_t cell) {
    return grid.planar ? im[k].edge_rank(cell) : im[k].square_rank(cell);
  };
  const auto codim1_voxel = [&](int k, std::uint32_t cell) {
    return grid.planar ? im[k].edge_voxel(cell) : im[k].square_voxel(cell);
  };
  const auto neighbours = [&](std::uint32_t cell) {
    const auto nb = grid.dual_neighbours(cell / 3, int(cell % 3), outer);
    return std::array<std::uint32_t, 2>{std::uint32_t(nb[0]), std::uint32_t(nb[1])};
  };

  // Image k's dual union-find; the elders under the order of c give the image bar (by its dying top
  // cell in c) that each pair of k maps to.
  InputPairs pairs[2];
  std::array<CellList, 2> pair_of_death_c;
  const auto image_pairs = [&](int k) {
    pair_of_death_c[k].assign(std::size_t(outer + 1), kNone);
    ElderForest<2, false> forest(outer + 1);  // orders: k, c
    init_elders(forest.elder[0], k);
    init_elders(forest.elder[1], 2);
    std::uint64_t dying[2];
    const auto& sorted = codim1_sorted[k];
    for (auto it = sorted.rbegin(); it != sorted.rend(); ++it) {
      const auto nb = neighbours(*it);
      if (!forest.merge(nb[0], nb[1], dying)) {
        unmerged[k].push_back(*it);
        continue;
      }
      if (std::uint32_t(dying[0] >> 32) == codim1_rank(k, *it)) continue;
      pair_of_death_c[k][std::uint32_t(dying[1])] =
          pairs[k].add(codim1_voxel(k, *it), im[k].top_voxel(std::uint32_t(dying[0])));
    }
  };
  run_tasks(threads, {[&] { image_pairs(0); }, [&] { image_pairs(1); }});
  std::vector<std::array<std::uint32_t, 2>> matches;
  {
    ElderForest<1, false> forest(outer + 1);
    init_elders(forest.elder[0], 2);
    std::uint64_t dying;
    const auto& sorted = codim1_sorted[2];
    for (auto it = sorted.rbegin(); it != sorted.rend(); ++it) {
      const auto nb = neighbours(*it);
      if (!forest.merge(nb[0], nb[1], &dying)) {
        unmerged[2].push_back(*it);
        continue;
      }
      if (std::uint32_t(dying >> 32) == codim1_rank(2, *it)) continue;
      const std::uint32_t pf = pair_of_death_c[0][std::uint32_t(dying)], pg = pair_of_death_c[1][std::uint32_t(dying)];
      if (pf != kNone && pg != kNone) {
        matches.push_back({pf, pg});
        pairs[0].matched[pf] = pairs[1].matched[pg] = 1;
      }
    }
  }
  finish_dimension(pairs[0], pairs[1], matches, out);
  for (auto& u : unmerged) std::reverse(u.begin(), u.end());
}

}  // namespace
}  // namespace detail

MatchingResult betti_matching(const double* f, const double* g, const index_t* shape, int ndim, bool construction_t,
                              Reduction reduction, int threads, bool negate) {
  using namespace detail;
  PhaseTimer timer("matching");
  const VGrid grid(shape, ndim, construction_t);
  if (grid.num_pixels < kMinPixelsForThreads) threads = 1;
  PageVector<double> comparison(std::size_t(grid.num_pixels));
  // The comparison image is a copy either way, so with `negate` it is stored negated.
  for (index_t i = 0; i < grid.num_pixels; ++i) comparison[i] = comparison_value(f[i], g[i], negate);
  // The three images are ranked, and their cells sorted, independently: one task each.
  std::unique_ptr<RankedImage> ranked[3];
  run_tasks(threads, {[&] { ranked[0] = std::make_unique<RankedImage>(grid, f, negate); },
                      [&] { ranked[1] = std::make_unique<RankedImage>(grid, g, negate); },
                      [&] { ranked[2] = std::make_unique<RankedImage>(grid, comparison.data()); }});
  comparison = {};
  timer.mark("rank");
  const Images im{grid, *ranked[0], *ranked[1], *ranked[2]};

  MatchingResult result;
  result.dims.resize(std::size_t(ndim));
  const int top = grid.planar ? 1 : 2;
  const auto for_each_image = [](int share, auto&& per_image) {
    run_tasks(share, {[&] { per_image(0); }, [&] { per_image(1); }, [&] { per_image(2); }});
  };

  std::array<CellList, 3> codim1_sorted;
  {
    const CellList codim1 = existing_codim1(grid);
    for_each_image(threads, [&](int k) {
      codim1_sorted[k] = sort_by_rank(codim1, im[k].num_ranks, [&](std::uint32_t cell) {
        return grid.planar ? im[k].edge_rank(cell) : im[k].square_rank(cell);
      });
    });
  }
  timer.mark("sort_codim1");
  std::array<CellList, 3> unmerged;
  std::array<CellList, 3> edges_sorted;
  if (grid.planar) {
    // The edges that merge no dual components are the only ones dimension 0 needs: top, then H0.
    match_top(im, codim1_sorted, unmerged, result.dims[top], threads);
    timer.mark("top");
    codim1_sorted = {};
    edges_sorted = std::move(unmerged);
    match_h0(im, edges_sorted, result.dims[0], result.essential_f, result.essential_g, threads);
    timer.mark("h0");
    return result;
  }
  // The H1 reductions' directions, from the images' ties.
  const H1Plan plan = plan_h1_solid(im, reduction);
  // Solid: the top dimension (on the squares) and dimension 0 (on the edges, sorted first) are
  // independent; on several threads they run side by side, each with half the threads (their own
  // parts, two images and then the comparison image, leave threads idle: 192^3 on 2 threads, top
  // 3.7 s and edges + H0 3.0 s one after the other).
  const auto edges_and_h0 = [&](int share) {
    {
      const CellList edges = existing_edges(grid);
      for_each_image(share, [&](int k) {
        edges_sorted[k] = sort_by_rank(edges, im[k].num_ranks, [&](std::uint32_t e) { return im[k].edge_rank(e); });
      });
    }
    match_h0(im, edges_sorted, result.dims[0], result.essential_f, result.essential_g, share);
  };
  const auto top_dimension = [&](int share) {
    match_top(im, codim1_sorted, unmerged, result.dims[top], share);
    codim1_sorted = {};
    release_free_memory(std::size_t(grid.num_vertices));
  };
  if (threads > 1) {
    const int half = std::max(1, threads / 2);
    run_tasks(2, {[&] { top_dimension(half); }, [&] { edges_and_h0(threads - half); }});
    timer.mark("top_h0");
  } else {
    top_dimension(1);
    timer.mark("top");
    edges_and_h0(1);
    timer.mark("h0");
  }
  for (auto& image : ranked) image->release_vertex_ranks();
  match_h1_solid(im, plan, edges_sorted, unmerged, result.dims[1], threads);
  timer.mark("h1");
  return result;
}

}  // namespace seglosses::matching
