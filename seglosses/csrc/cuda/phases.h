// The per-element logic of the GPU engine's parallel phases, written once as __host__ __device__
// functions so that the SAME code runs in the CUDA kernels (seglosses._cuda, one thread per element)
// and sequentially in the CPU module (seglosses._core: the emulation that tests compare with the CPU
// engine on a machine without a GPU).
//
// The complex is the CPU engine's (persistence/cubical.h): cells on the Khalimsky grid, filtration
// order (rank of the critical pixel, dimension, cell index), so a pairing computed here can be
// compared cell by cell with `compute_persistence`. Persistence pairs are unique for a total order, so
// "same pairs" is the right equality.
//
// Phases (the design; kernels in device/phases.cu, emulation in emulation.cpp):
// 1. Ranks. Pixel keys are the order-preserving 64-bit images of the float64 values
//    (`order_key_bits`, shared with the CPU engine); a stable radix sort of (key, pixel index) pairs (CUB on the device, a stable
//    sequential sort in emulation) gives each pixel its rank, and every cell's rank is the max (V) or
//    min (T) of its pixels' ranks (`cell_rank`, one thread per cell).
// 2. Apparent pairs. (s, t) with t the earliest cofacet of s and s the latest facet of t is a
//    persistence pair of every reduction in this order (the discrete gradient of Ripser/Ripser++),
//    found by a local test, one thread per cell (`apparent_partner`): no column needs reducing.
// 3. Union-find phases: H0 (vertices joined by edges in increasing order) and the top dimension
//    (top cells plus one outer cell, joined by codimension-1 cells in decreasing order: Alexander
//    duality). Both are one problem: a graph whose edges and nodes carry distinct 64-bit keys
//    (`Graph`), processed as Kruskal would, in increasing edge key, where a component is represented
//    by its smallest node key (the elder rule) and a merging edge kills the component of larger key.
//    a. The merging edges are exactly the minimum spanning forest for these distinct keys, found by
//       Boruvka rounds, all data parallel: each component takes its cheapest outgoing edge
//       (atomicMin on the packed key), each root computes the root across that edge (read-only pass),
//       then hooks onto it (a 2-cycle, both components choosing the same edge, is broken by hooking
//       only the larger root index), then pointer jumping flattens the trees. O(log n) rounds;
//       the host reads one flag per round to stop.
//    b. The pairing needs the order: the forest's edges (about one per node, a third of all edges
//       in 3D) are sorted by key and merged Kruskal-style with a union-find that keeps the minimum
//       node key per component. This pass is sequential (one GPU thread per image; images of a batch
//       run concurrently); a parallel merge-tree pairing is future work.
// 4. H1 of 3D images, a hybrid. On the device: the squares' filtration order (a radix sort of their keys)
//    and from it the tables the host's reduction reads (`dense_square_number`, `first_positions`), the
//    apparent pairs (`apparent_entry`: their pivot-table entries), and the reduction's columns, the edges
//    outside the H0 forest and in no apparent pair, sorted into filtration order (`left_for_h1`,
//    `filtration_key`). On the host: the CPU engine's coboundary reduction of those columns (emergent
//    pairs, then the stored columns) from those tables (`h1_to_pixel_pairs`); the host never sees the
//    rank table. The reduction itself has no kernel yet.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

#include "common/hd.h"
#include "common/khalimsky_grid.h"
#include "persistence/cubical.h"

namespace seglosses::gpu {

using index_t = std::int64_t;
using Key = std::uint64_t;
constexpr Key kNoKey = ~Key(0);
constexpr index_t kNoCell = -1;

using seglosses::order_key_bits;  // the CPU engine's key (common/hd.h)

// The Khalimsky grid: the CPU engine's type (common/khalimsky_grid.h), plain data with per-element
// members (coords, cell_dim) for host and device; Grid::make builds one.
using Grid = seglosses::KhalimskyGrid;

// Rank of a cell from the pixel ranks: the max over the vertices (V) or the min over the top cells
// that contain it (T). Each axis where the cell's parity differs from the pixels' spans two pixels
// (one at the border in T), so the cell's pixels are a box of at most 2^3.
SEGLOSSES_HD std::uint32_t cell_rank(const Grid& g, const std::uint32_t* pixel_rank, index_t c) {
  index_t k[3], lo[3], hi[3];
  g.coords(c, k);
  for (int a = 0; a < 3; ++a) {
    if (g.flat[a]) {
      lo[a] = hi[a] = 0;
    } else if (g.t_construction) {  // pixel i sits at 2i + 1
      if (k[a] & 1) {
        lo[a] = hi[a] = k[a] >> 1;
      } else {
        lo[a] = k[a] > 0 ? (k[a] >> 1) - 1 : 0;
        hi[a] = (k[a] >> 1) < g.shape[a] ? k[a] >> 1 : g.shape[a] - 1;
      }
    } else {  // pixel i sits at 2i
      lo[a] = k[a] >> 1;
      hi[a] = (k[a] + 1) >> 1;
    }
  }
  std::uint32_t best = g.t_construction ? 0xffffffffu : 0u;
  for (index_t i0 = lo[0]; i0 <= hi[0]; ++i0)
    for (index_t i1 = lo[1]; i1 <= hi[1]; ++i1)
      for (index_t i2 = lo[2]; i2 <= hi[2]; ++i2) {
        const std::uint32_t r = pixel_rank[(i0 * g.shape[1] + i1) * g.shape[2] + i2];
        best = g.t_construction ? (r < best ? r : best) : (r > best ? r : best);
      }
  return best;
}

// Key of a cell among the cells of its dimension: (rank, index). Needs fewer than 2^32 cells.
SEGLOSSES_HD Key cell_key(const std::uint32_t* rank, index_t c) { return (Key(rank[c]) << 32) | Key(c); }

// The earliest cofacet of c, or kNoCell when c has none.
SEGLOSSES_HD index_t earliest_cofacet(const Grid& g, const std::uint32_t* rank, index_t c) {
  index_t k[3];
  g.coords(c, k);
  index_t best = kNoCell;
  Key best_key = kNoKey;
  for (int a = 0; a < 3; ++a) {
    if (g.flat[a] || (k[a] & 1)) continue;
    for (int side = -1; side <= 1; side += 2) {
      const index_t kk = k[a] + side;
      if (kk < 0 || kk >= g.extent[a]) continue;
      const index_t t = c + side * g.stride[a];
      const Key key = cell_key(rank, t);
      if (key < best_key) best_key = key, best = t;
    }
  }
  return best;
}

// The latest facet of c, or kNoCell when c is a vertex.
SEGLOSSES_HD index_t latest_facet(const Grid& g, const std::uint32_t* rank, index_t c) {
  index_t k[3];
  g.coords(c, k);
  index_t best = kNoCell;
  Key best_key = 0;
  for (int a = 0; a < 3; ++a) {
    if (!(k[a] & 1)) continue;  // an odd coordinate always has both neighbours inside the grid
    for (int side = -1; side <= 1; side += 2) {
      const index_t s = c + side * g.stride[a];
      const Key key = cell_key(rank, s);
      if (best == kNoCell || key > best_key) best_key = key, best = s;
    }
  }
  return best;
}

// The cofacet t with which c forms an apparent pair (c the latest facet of t, t the earliest cofacet
// of c), or kNoCell.
SEGLOSSES_HD index_t apparent_partner(const Grid& g, const std::uint32_t* rank, index_t c) {
  const index_t t = earliest_cofacet(g, rank, c);
  if (t == kNoCell) return kNoCell;
  return latest_facet(g, rank, t) == c ? t : kNoCell;
}

// The graph of a union-find phase (the Boruvka and merge steps below take any type with this
// interface: node_key, edge_key, edge_of_key, is_edge, ends, num_nodes, num_edge_slots, outer; the
// Betti matching's graphs on the matching engine's numbering are in matching_phases.h). Nodes are Khalimsky cells (the vertices for H0, the top cells for
// the top dimension) plus, for the top dimension, the outer cell `outer == num_cells`. Edges are the
// cells of dimension 1 (H0) or top - 1. Keys follow the Kruskal order: for the top dimension, the
// reversed filtration, so keys are complemented and the outer cell (at +infinity) gets key 0.
struct Graph {
  Grid grid;
  const std::uint32_t* rank;
  bool dual;  // the top dimension
  // 3D H0: per cell, 1 where an edge is in an apparent pair (phase 4 leaves it out of H1's columns), or none.
  const std::uint8_t* apparent = nullptr;

  SEGLOSSES_HD index_t outer() const { return grid.num_cells; }
  SEGLOSSES_HD Key node_key(index_t v) const {
    if (v == outer()) return 0;
    return dual ? ~cell_key(rank, v) : cell_key(rank, v);
  }
  SEGLOSSES_HD Key edge_key(index_t e) const { return dual ? ~cell_key(rank, e) : cell_key(rank, e); }
  SEGLOSSES_HD index_t edge_of_key(Key key) const { return index_t((dual ? ~key : key) & 0xffffffffu); }
  SEGLOSSES_HD index_t num_nodes() const { return grid.num_cells + 1; }  // the outer cell's slot unused for H0
  SEGLOSSES_HD index_t num_edge_slots() const { return grid.num_cells; }
  SEGLOSSES_HD bool is_edge(index_t c) const {
    const int d = grid.cell_dim(c);
    return dual ? d == grid.dim - 1 : d == 1;
  }
  // The two nodes an edge joins. H0: the vertices beside the edge's one odd axis. Top: the top cells
  // beside its one even non-flat axis, or the outer cell at the border.
  SEGLOSSES_HD void ends(index_t e, index_t& a, index_t& b) const {
    index_t k[3];
    grid.coords(e, k);
    int axis = 0;
    if (dual) {
      while (grid.flat[axis] || (k[axis] & 1)) ++axis;
      a = k[axis] > 0 ? e - grid.stride[axis] : outer();
      b = k[axis] + 1 < grid.extent[axis] ? e + grid.stride[axis] : outer();
    } else {
      while (!(k[axis] & 1)) ++axis;
      a = e - grid.stride[axis];
      b = e + grid.stride[axis];
    }
  }
};

// The edge slots of a union-find graph that H1 of a 3D image reduces (phase 4): the edges outside the H0
// spanning forest (they close loops; for distinct keys the forest's edges are exactly the merging ones) and in
// no apparent pair, ordered by `filtration_key` (rank, cell): the filtration order of the edges.
SEGLOSSES_HD bool left_for_h1(const Graph& graph, const std::uint8_t* in_forest, index_t e) {
  return graph.is_edge(e) && !in_forest[e] && !(graph.apparent && graph.apparent[e]);
}
SEGLOSSES_HD Key filtration_key(const Graph& graph, index_t e) { return cell_key(graph.rank, e); }
// A list of the cells left for H1 holds cells (32-bit: the matching's lists) or their keys (64-bit: the
// barcode's columns, whose ranks the host has no table for).
template <class T>
SEGLOSSES_HD T cell_or_key(Key key) {
  if constexpr (sizeof(T) == sizeof(Key)) return T(key);
  else return T(key & 0xffffffffu);
}

// Phase 4's tables (cubical::H1Tables, what the host's reduction reads), per element. The squares are put in
// filtration order by a sort of their keys (cell_key); position p of that order is a square's name.
// The dense number of a square (KhalimskyGrid::dense_square_number): where the host's reduction looks up its
// position.
SEGLOSSES_HD index_t dense_square_number(const Grid& g, index_t square) {
  index_t k[3];
  g.coords(square, k);
  return g.dense_square_number(k);
}
// Per position p = 0..count of the sorted square keys (count of them): first[r] = p for the ranks r that begin
// at p (those above the rank at p - 1, up to the rank at p; past the last square, up to num_ranks), so that
// first[r] is the first position of rank r and first[num_ranks] = count.
SEGLOSSES_HD void first_positions(const Key* sorted, index_t count, index_t num_ranks, index_t p, std::uint32_t* first) {
  const index_t lo = p == 0 ? 0 : index_t(sorted[p - 1] >> 32) + 1;
  const index_t hi = p == count ? num_ranks : index_t(sorted[p] >> 32);
  for (index_t r = lo; r <= hi; ++r) first[r] = std::uint32_t(p);
}
// Per edge e: whether it forms an apparent pair, and if so its square's entry of the pivot table, -(e + 1) at
// the square's position (`position`, per cell), the flag `apparent[e]`, and whether the pair has nonzero
// persistence in rank (`nonzero`, the ranks in `ranks`). Returns false for every other cell.
SEGLOSSES_HD bool apparent_entry(const Grid& g, const std::uint32_t* rank, const std::uint32_t* position, index_t e,
                                 std::int32_t* pivot, std::uint8_t* apparent, bool& nonzero, std::uint32_t ranks[2]) {
  if (g.cell_dim(e) != 1) return false;
  const index_t t = apparent_partner(g, rank, e);
  if (t == kNoCell) return false;
  pivot[position[t]] = std::int32_t(-(e + 1));
  apparent[e] = 1;
  ranks[0] = rank[e];
  ranks[1] = rank[t];
  nonzero = ranks[0] != ranks[1];
  return true;
}

SEGLOSSES_HD index_t find_root(const index_t* parent, index_t v) {
  while (parent[v] != v) v = parent[v];
  return v;
}

// Boruvka, step 1 (per edge): the edge's key is offered to both components it joins. `offer(root,
// key)` is atomicMin on the device and a plain min in emulation; min is commutative, so the order of
// the offers does not matter.
template <class G, class Offer>
SEGLOSSES_HD void offer_edge(const G& graph, const index_t* parent, index_t e, Offer&& offer) {
  index_t a, b;
  graph.ends(e, a, b);
  const index_t ra = find_root(parent, a), rb = find_root(parent, b);
  if (ra == rb) return;
  const Key key = graph.edge_key(e);
  offer(ra, key);
  offer(rb, key);
}

// Boruvka, step 2 (per root, reads only): the root across the root's cheapest edge, or kNoCell.
template <class G>
SEGLOSSES_HD index_t hook_target(const G& graph, const index_t* parent, const Key* cheapest, index_t r) {
  if (parent[r] != r || cheapest[r] == kNoKey) return kNoCell;
  const Key key = cheapest[r];
  const index_t e = graph.edge_of_key(key);
  index_t a, b;
  graph.ends(e, a, b);
  const index_t ra = find_root(parent, a);
  return ra == r ? find_root(parent, b) : ra;
}

// Boruvka, step 3 (per root): hook onto the target unless the two chose each other and this root has
// the smaller index (it then stays the root of the merged component). Returns the forest edge to mark,
// or kNoCell. Reads `target` only, so all roots can hook at once.
template <class G>
SEGLOSSES_HD index_t hook(const G& graph, index_t* parent, const index_t* target, const Key* cheapest,
                          index_t r) {
  const index_t t = target[r];
  if (t == kNoCell) return kNoCell;
  const Key key = cheapest[r];
  const index_t e = graph.edge_of_key(key);
  if (target[t] == r && r < t) return e;  // mutual choice: the other root hooks onto this one
  parent[r] = t;
  return e;
}

// Pointer jumping (per node, after the hooks): point the node straight at its root. Run by all nodes
// at once this stays correct: a node only ever moves its pointer up its own path to the root, so every
// concurrent reader still walks to the same root.
SEGLOSSES_HD void compress(index_t* parent, index_t v) { parent[v] = find_root(parent, v); }

// The Kruskal merge of the sorted forest edges (sequential): `parent` holds every node as its own root,
// and a root is the node of smallest key of its component. Calls emit(dying root, surviving root, edge)
// per edge, before the dying root is hooked.
template <class G, class Emit>
SEGLOSSES_HD void merge_forest(const G& graph, index_t* parent, const index_t* forest_edges, index_t count,
                               Emit&& emit) {
  for (index_t i = 0; i < count; ++i) {
    const index_t e = forest_edges[i];
    index_t a, b;
    graph.ends(e, a, b);
    index_t ra = a, rb = b;
    while (parent[ra] != ra) ra = parent[ra] = parent[parent[ra]];
    while (parent[rb] != rb) rb = parent[rb] = parent[parent[rb]];
    const bool a_older = graph.node_key(ra) < graph.node_key(rb);
    const index_t young = a_older ? rb : ra, old = a_older ? ra : rb;
    emit(young, old, e);
    parent[young] = old;
  }
}

// Host side: the merge of a graph's sorted forest edges into critical-pixel pairs (birth, death) of
// nonzero persistence in rank, appended to `pairs`: the emulation, and the device engine's host-merge
// mode (on host copies of the cell ranks, `graph.rank`, and of `pixel_of_rank`).
inline void merge_to_pixel_pairs(const Graph& graph, const index_t* forest, index_t count,
                                 const std::uint32_t* pixel_of_rank, std::vector<index_t>& pairs) {
  std::vector<index_t> parent(static_cast<std::size_t>(graph.num_nodes()));
  std::iota(parent.begin(), parent.end(), index_t(0));
  merge_forest(graph, parent.data(), forest, count, [&](index_t young, index_t, index_t e) {
    const std::uint32_t rb = graph.rank[graph.dual ? e : young], rd = graph.rank[graph.dual ? young : e];
    if (rb != rd) pairs.push_back(index_t(pixel_of_rank[rb])), pairs.push_back(index_t(pixel_of_rank[rd]));
  });
}

// Host side: H1 of a 3D image, the hybrid's reduction (phase 4): the CPU engine's coboundary reduction
// (persistence.cpp, on `threads` threads) on the tables made by the phases (consumed), with the pixel order
// and the values in that order (consumed). Appends the critical-pixel pairs (birth, death) of nonzero
// persistence to `pairs`.
inline void h1_to_pixel_pairs(const Grid& grid, std::vector<std::uint32_t>&& pixel_of_rank,
                              std::vector<double>&& sorted_value, cubical::H1Tables&& tables, int threads,
                              std::vector<index_t>& pairs) {
  cubical::Grid g;
  static_cast<KhalimskyGrid&>(g) = grid;
  const cubical::Filtration f(g, std::move(pixel_of_rank), std::move(sorted_value), std::vector<std::uint32_t>{});
  const std::vector<cubical::PersistencePair> h1 = cubical::h1_from_tables(f, std::move(tables), threads);
  pairs.reserve(pairs.size() + 2 * h1.size());
  for (const cubical::PersistencePair& p : h1)
    pairs.push_back(index_t(f.pixel_of_rank[p.birth_rank])), pairs.push_back(index_t(f.pixel_of_rank[p.death_rank]));
}

}  // namespace seglosses::gpu
