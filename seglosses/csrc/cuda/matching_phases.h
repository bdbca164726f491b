// The per-element and per-image logic of the GPU Betti matching's union-find dimensions (H0 and the
// top dimension: all of a 2D matching), written once as __host__ __device__ code, and the host part of a
// solid matching's H1: the CUDA kernels
// (device/matching.cu) run it on the device, the CPU emulation (emulation.cpp) runs it sequentially,
// and tests compare the emulation with the CPU matching engine (matching/betti_matching.cpp).
//
// It works on the CPU matching engine's own numbering and ranks (matching/vgrid.h: `VGrid`, and
// `RankView`, the per-element part of its `RankedImage`), because the induced matching depends on how
// cells of equal value are ordered: dense ranks (equal values share a rank), ties by the cube index
// 3 v + type, as Betti-Matching-3D. So a GPU matching is the CPU engine's matching, pair for pair and
// in the same order, not merely one with the same counts.
//
// Algorithm (the one of match_h0 / match_top in betti_matching.cpp, as phases on a graph):
// - Each of the three images f, g and the comparison image c has two union-find graphs: vertices
//   joined by edges (H0), and top cells plus the outer cell joined by codimension-1 cells in
//   decreasing order (the top dimension, by duality). `MatchGraph` gives them the interface of
//   phases.h, so the same Boruvka rounds find each graph's spanning forest, and the forest's edges,
//   sorted by key, are the merging cells in the CPU engine's order.
// - The merges are then replayed sequentially (one device thread per image and dimension), with the
//   bookkeeping of the CPU engine's ElderForest: each image records its pairs and, per pair, the
//   class of c it maps to; c's merges, read under the orders of f and g, match them.
// - H1 of a solid grid (the hybrid): each graph's edge slots outside its forest, in filtration order
//   (`left_for_h1`, `filtration_key`), are the lists the CPU engine's H1 reads (the loop edges from H0, the
//   loop squares from the top dimension); the device makes them, and `match_h1_on_host` runs the CPU
//   engine's five reductions on them from host copies of the ranks.
#pragma once

#include <array>
#include <cstdint>
#include <numeric>
#include <vector>

#include "common/profile.h"
#include "cuda/phases.h"
#include "matching/betti_matching.h"
#include "matching/vgrid.h"

namespace seglosses::gpu {

using matching::RankView;
constexpr std::uint32_t kNoPair = 0xffffffffu;

// One image's union-find graph of H0 (dual = false) or of the top dimension (dual = true) on the
// matching engine's numbering: nodes are vertices, or top cells by their lowest vertex plus the outer
// cell `num_vertices`; edges are cells 3 v + type (edges, or codimension-1 cells). Keys are
// RankView::key (rank, index), complemented for the dual so that Kruskal's increasing order is the
// decreasing filtration order and the outer cell (at +infinity) has key 0.
struct MatchGraph {
  RankView im;
  bool dual;

  SEGLOSSES_HD index_t outer() const { return im.grid.num_vertices; }
  SEGLOSSES_HD index_t num_nodes() const { return im.grid.num_vertices + 1; }  // outer slot unused for H0
  SEGLOSSES_HD index_t num_edge_slots() const { return 3 * im.grid.num_vertices; }
  SEGLOSSES_HD Key node_key(index_t v) const {
    if (!dual) return RankView::key(im.vertex_rank(v), std::uint32_t(v));
    return v == outer() ? 0 : ~RankView::key(im.top_rank(v), std::uint32_t(v));
  }
  SEGLOSSES_HD bool is_edge(index_t e) const {
    const index_t v = e / 3;
    const int t = int(e % 3);
    return dual && !im.grid.planar ? im.grid.has_square(v, t) : im.grid.has_edge(v, t);
  }
  SEGLOSSES_HD std::uint32_t edge_rank(index_t e) const {
    return dual ? im.codim1_rank(std::uint32_t(e)) : im.edge_rank(std::uint32_t(e));
  }
  SEGLOSSES_HD Key edge_key(index_t e) const {
    const Key k = RankView::key(edge_rank(e), std::uint32_t(e));
    return dual ? ~k : k;
  }
  SEGLOSSES_HD index_t edge_of_key(Key key) const { return index_t((dual ? ~key : key) & 0xffffffffu); }
  SEGLOSSES_HD void ends(index_t e, index_t& a, index_t& b) const {
    const index_t v = e / 3;
    const int t = int(e % 3);
    if (dual) {
      const auto nb = im.grid.dual_neighbours(v, t, outer());
      a = nb[0];
      b = nb[1];
    } else {
      a = v;
      b = v + im.grid.stride[t];
    }
  }
  // The rank of a node (a vertex or a top cell; not the outer cell).
  SEGLOSSES_HD std::uint32_t node_rank(index_t v) const { return dual ? im.top_rank(v) : im.vertex_rank(v); }
};

// H1 of a solid matching reads what the union-find phases leave: per image, the edges that merge no H0
// components (they close loops) and the squares that merge no dual components (they kill loops), each
// in increasing filtration order of its image. For distinct keys the merging cells are exactly the
// spanning forest, so these are the edge slots of a graph outside its forest (`left_for_h1`), sorted by
// `filtration_key`: the lists the CPU engine's match_h0 and match_top leave, entry for entry.
SEGLOSSES_HD bool left_for_h1(const MatchGraph& graph, const std::uint8_t* in_forest, index_t e) {
  return graph.is_edge(e) && !in_forest[e];
}
SEGLOSSES_HD Key filtration_key(const MatchGraph& graph, index_t e) {
  return RankView::key(graph.edge_rank(e), std::uint32_t(e));
}

// Of two elders (nodes) of merging components under `order`, the one that dies (larger key) and the one
// that survives.
SEGLOSSES_HD void younger_elder(const MatchGraph& order, index_t a, index_t b, index_t& dying, index_t& surviving) {
  const bool a_younger = order.node_key(a) > order.node_key(b);
  dying = a_younger ? a : b;
  surviving = a_younger ? b : a;
}

// The merges of input image k (f or g) in one dimension, from its sorted forest edges: its pairs of
// nonzero persistence as critical voxels (birth, death) into `pairs` (2 per pair, at most 2 * count),
// their number into `num_pairs`, and for each pair the class of c it maps to: `pair_of_class[x] = i`
// for pair i, where x is the node that represents the class in c's merges (H0: the dying vertex
// itself, the birth of the image bar; top: the younger elder under c's order, tracked in `elder_c`,
// which holds one node per node initially: the node itself). `parent` holds every node as its own root.
SEGLOSSES_HD void merge_input_image(const MatchGraph& k, const MatchGraph& c, index_t* parent, const index_t* forest,
                                    index_t count, index_t* elder_c, std::uint32_t* pair_of_class, index_t* pairs,
                                    index_t* num_pairs) {
  index_t n = 0;
  merge_forest(k, parent, forest, count, [&](index_t young, index_t old, index_t e) {
    index_t cls = young;
    if (k.dual) {
      index_t surviving;
      younger_elder(c, elder_c[young], elder_c[old], cls, surviving);
      elder_c[old] = surviving;
    }
    if (k.node_rank(young) == k.edge_rank(e)) return;  // zero persistence
    pair_of_class[cls] = std::uint32_t(n);
    const index_t node_voxel = k.dual ? k.im.top_voxel(young) : k.im.vertex_voxel(young);
    const index_t cell_voxel = k.dual ? k.im.codim1_voxel(std::uint32_t(e)) : k.im.edge_voxel(std::uint32_t(e));
    pairs[2 * n] = k.dual ? cell_voxel : node_voxel;
    pairs[2 * n + 1] = k.dual ? node_voxel : cell_voxel;
    ++n;
  });
  *num_pairs = n;
}

// The merges of the comparison image c in one dimension: a merge that kills a class of c of nonzero
// persistence matches the pairs of f and g that map to it, if both exist; (pair of f, pair of g) into
// `matches`, their number into `num_matches`. H0 reads c's merges under the orders of f and g too
// (`elder_f`, `elder_g`, initially one node per node), the top dimension reads the dying class of c.
SEGLOSSES_HD void merge_comparison(const MatchGraph& c, const MatchGraph& f, const MatchGraph& g, index_t* parent,
                                   const index_t* forest, index_t count, index_t* elder_f, index_t* elder_g,
                                   const std::uint32_t* pair_of_class_f, const std::uint32_t* pair_of_class_g,
                                   std::uint32_t* matches, index_t* num_matches) {
  index_t m = 0;
  merge_forest(c, parent, forest, count, [&](index_t young, index_t old, index_t e) {
    index_t cls_f = young, cls_g = young;
    if (!c.dual) {
      index_t surviving;
      younger_elder(f, elder_f[young], elder_f[old], cls_f, surviving);
      elder_f[old] = surviving;
      younger_elder(g, elder_g[young], elder_g[old], cls_g, surviving);
      elder_g[old] = surviving;
    }
    if (c.node_rank(young) == c.edge_rank(e)) return;  // zero-persistence bar of c
    const std::uint32_t pf = pair_of_class_f[cls_f], pg = pair_of_class_g[cls_g];
    if (pf == kNoPair || pg == kNoPair) return;
    matches[2 * m] = pf;
    matches[2 * m + 1] = pg;
    ++m;
  });
  *num_matches = m;
}

// Host side: one dimension's result in the CPU engine's layout (finish_dimension in betti_matching.cpp:
// matched pairs in c's order, unmatched ones in their image's order), from the merges' outputs.
inline matching::DimensionMatching gather_dimension(const std::vector<index_t> pairs[2], const index_t num_pairs[2],
                                                    const std::vector<std::uint32_t>& matches, index_t num_matches) {
  matching::detail::InputPairs input[2];
  for (int k = 0; k < 2; ++k) {
    input[k].voxels.assign(pairs[k].begin(), pairs[k].begin() + 2 * num_pairs[k]);
    input[k].matched.assign(std::size_t(num_pairs[k]), 0);
  }
  std::vector<std::array<std::uint32_t, 2>> rows(static_cast<std::size_t>(num_matches));
  for (index_t i = 0; i < num_matches; ++i) {
    rows[i] = {matches[2 * i], matches[2 * i + 1]};
    input[0].matched[rows[i][0]] = input[1].matched[rows[i][1]] = 1;
  }
  matching::DimensionMatching out;
  matching::detail::finish_dimension(input[0], input[1], rows, out);
  return out;
}

// Host side: the merges of one dimension (H0 for graphs of dual = false, the top dimension otherwise),
// given each image's sorted forest edges, sequentially: the emulation, and the device engine's host-merge
// mode (on host copies of the ranks). For H0, `essential` gets the essential class's birth voxel of f
// and of g.
inline matching::DimensionMatching merge_dimension(const MatchGraph graphs[3], const std::vector<index_t> forest[3],
                                                   index_t essential[2]) {
  const index_t nodes = graphs[0].num_nodes();
  std::vector<index_t> pairs[2];
  std::vector<std::uint32_t> pair_of_class[2];
  index_t num_pairs[2];
  std::vector<index_t> parent(static_cast<std::size_t>(nodes)), elder[2];
  for (auto& e : elder) e.resize(std::size_t(nodes));
  for (int k = 0; k < 2; ++k) {
    std::iota(parent.begin(), parent.end(), index_t(0));
    std::iota(elder[0].begin(), elder[0].end(), index_t(0));
    pairs[k].resize(2 * forest[k].size() + 2);
    pair_of_class[k].assign(std::size_t(nodes), kNoPair);
    merge_input_image(graphs[k], graphs[2], parent.data(), forest[k].data(), index_t(forest[k].size()),
                      elder[0].data(), pair_of_class[k].data(), pairs[k].data(), &num_pairs[k]);
    if (!graphs[k].dual) essential[k] = graphs[k].im.vertex_voxel(find_root(parent.data(), 0));
  }
  std::iota(parent.begin(), parent.end(), index_t(0));
  for (auto& e : elder) std::iota(e.begin(), e.end(), index_t(0));
  std::vector<std::uint32_t> matches(2 * forest[2].size() + 2);
  index_t num_matches;
  merge_comparison(graphs[2], graphs[0], graphs[1], parent.data(), forest[2].data(), index_t(forest[2].size()),
                   elder[0].data(), elder[1].data(), pair_of_class[0].data(), pair_of_class[1].data(), matches.data(),
                   &num_matches);
  return gather_dimension(pairs, num_pairs, matches, num_matches);
}

// Host side: H1 of a solid matching (the boundary-matrix reductions, the CPU engine's match_h1_solid on
// its threads), from the three images' ranks (`ranked`: f, g, c; on the host, the GPU engine's copies) and
// the lists the union-find phases leave (`loop_edges`, `loop_squares`, per image; consumed).
inline matching::DimensionMatching match_h1_on_host(const matching::RankedImage* const ranked[3],
                                                    std::array<matching::CellList, 3>& loop_edges,
                                                    std::array<matching::CellList, 3>& loop_squares, int threads) {
  PhaseTimer timer("matching h1 on host");
  const matching::detail::Images im{ranked[0]->grid, *ranked[0], *ranked[1], *ranked[2]};
  const matching::detail::H1Plan plan = matching::detail::plan_h1_solid(im, matching::Reduction::Auto);
  timer.mark("plan");
  matching::DimensionMatching out;
  matching::detail::match_h1_solid(im, plan, loop_edges, loop_squares, out, threads);
  timer.mark("h1");
  return out;
}

}  // namespace seglosses::gpu
