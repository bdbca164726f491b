// Persistence pairs of the sublevel filtration of a cubical complex (see cubical.h for the complex).
//
// The work splits by dimension, as in CubicalRipser and Betti-Matching-3D (the algorithms are the
// textbook ones; this is an independent implementation):
// - H0: Kruskal-style union-find over the edges in increasing order; the elder rule pairs the younger
//   component's birth vertex with the merging edge.
// - H_{D-1} for top dimension D >= 2: union-find on the dual graph (top cells plus one outer cell),
//   processing (D-1)-cells in decreasing order (Alexander duality). In 2D this is all of H1.
// - H1 in 3D: reduction of the coboundary matrix of the edges (persistent cohomology), columns in
//   decreasing order. Edges that kill an H0 class have zero reduced coboundary and are skipped
//   (clearing). Apparent pairs are found first, in one pass in memory order; a column whose smallest
//   cofacet is not yet a pivot is reduced already (an emergent pair): it is paired without being
//   materialized or stored. Only the remaining columns are reduced and stored.
#include "common/lockfree_reduction.h"
#include "common/memory.h"
#include "common/parallel.h"
#include "common/profile.h"
#include "common/sweep_reduction.h"
#include "persistence/cubical.h"
#include "common/working_column.h"

#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>

namespace seglosses::cubical {
namespace {

// Records a pair by the ranks of its cells (the callers have them at hand: random reads of the per-cell
// ranks are a noticeable part of the run). A pair is its two ranks, 12 bytes: its pixels and values are
// looked up from the ranks by the caller, once, for the pairs that remain.
void push_pair(std::vector<PersistencePair>& out, const Filtration& f, std::uint32_t birth_rank,
               std::uint32_t death_rank, bool keep_zero) {
  // Most pairs of noisy images join a cell to another of the same pixel: skip them before any lookup.
  if (!keep_zero && (birth_rank == death_rank || f.sorted_value[birth_rank] == f.sorted_value[death_rank])) return;
  out.push_back({birth_rank, death_rank, false});
}
// The essential class born at the cell of rank `birth_rank`.
void push_essential(std::vector<PersistencePair>& out, std::uint32_t birth_rank) {
  out.push_back({birth_rank, 0, true});
}

// An edge left for the H1 reduction, with its rank (so the reduction need not read the rank table at
// random). `Cell` is 32-bit where the grid's cells fit (8 bytes an edge instead of 16).
template <class Cell>
struct RankedEdge {
  Cell cell;
  std::uint32_t rank;
};

// H0 by union-find over the vertices; a component's root is its oldest vertex (elder rule), so the
// younger root is attached under the older one. `edges` are the edges in filtration order. Edges
// flagged in `apparent` (paired with a square already, so they cannot merge components) are skipped;
// the other edges that kill no H0 class are appended to `positive` (if given), in filtration order.
template <class Cell = index_t>
void compute_h0(const Filtration& f, const std::vector<index_t>& edges, bool keep_zero,
                std::vector<PersistencePair>& out, const std::vector<std::uint8_t>& apparent,
                std::vector<RankedEdge<Cell>>* positive) {
  const Grid& g = f.grid;
  const std::array<index_t, 3> ve{(g.extent[0] + 1) / 2, (g.extent[1] + 1) / 2, (g.extent[2] + 1) / 2};
  const std::array<index_t, 3> vstride{ve[1] * ve[2], ve[2], 1};
  const index_t nv = ve[0] * ve[1] * ve[2];
  std::vector<std::uint32_t> vrank(nv);
  {
    index_t v = 0;
    for (index_t k0 = 0; k0 < g.extent[0]; k0 += 2)
      for (index_t k1 = 0; k1 < g.extent[1]; k1 += 2)
        for (index_t k2 = 0; k2 < g.extent[2]; k2 += 2) vrank[v++] = f.rank[g.cell(k0, k1, k2)];
  }
  // Vertex order = (rank, vertex index), the filtration order restricted to vertices.
  const auto older = [&](index_t a, index_t b) { return vrank[a] < vrank[b] || (vrank[a] == vrank[b] && a < b); };
  UnionFind uf(nv);
  for (const index_t e : edges) {
    if (!apparent.empty() && apparent[e]) continue;
    const auto k = g.coords(e);
    const int a = (k[0] & 1) ? 0 : (k[1] & 1) ? 1 : 2;
    // Halving the coordinates rounds the odd one down: the lower endpoint.
    const index_t lo = ((k[0] >> 1) * ve[1] + (k[1] >> 1)) * ve[2] + (k[2] >> 1);
    const index_t r0 = uf.find(lo), r1 = uf.find(lo + vstride[a]);
    if (r0 == r1) {
      if (positive) positive->push_back({Cell(e), f.rank[e]});
      continue;
    }
    const index_t young = older(r0, r1) ? r1 : r0;
    push_pair(out, f, vrank[young], f.rank[e], keep_zero);
    uf.attach(young, young == r0 ? r1 : r0);
  }
  push_essential(out, vrank[uf.find(0)]);
}

// H0 of the V-construction of a 3D image by union-find over the voxels in rank order, the result of
// `compute_h0` without sorting the edges: in V an edge takes the rank of its later endpoint, so the
// edges in filtration order are, voxel by voxel in rank order, the edges to its earlier neighbours in
// increasing cell index (the neighbours along axis 0, 1, 2 below, then 2, 1, 0 above).
template <class Cell>
void compute_h0_vertices(const Filtration& f, bool keep_zero, std::vector<PersistencePair>& out,
                         const std::vector<std::uint8_t>& apparent, std::vector<RankedEdge<Cell>>& positive) {
  const Grid& g = f.grid;
  const index_t n = g.num_pixels;
  const std::array<index_t, 3> pstride{g.shape[1] * g.shape[2], g.shape[2], 1};
  std::vector<std::uint32_t> vrank(static_cast<std::size_t>(n));
  for (index_t r = 0; r < n; ++r) vrank[f.pixel_of_rank[r]] = std::uint32_t(r);
  // Bit b of todo[p], for the edge to p's neighbour on side b < 3 ? -1 : +1 of axis b < 3 ? b : 5 - b
  // (increasing cell index): the edge comes with p (the neighbour is earlier) and is in no apparent
  // pair, so the union-find must look at it. Found in one pass in memory order, where the neighbours'
  // ranks and the edges' flags are read sequentially; the pass in rank order then reads one byte per
  // voxel instead of the scattered ranks and flags of six neighbours.
  std::vector<std::uint8_t> todo(static_cast<std::size_t>(n));
  {
    index_t p = 0;
    std::array<index_t, 3> x;
    for (x[0] = 0; x[0] < g.shape[0]; ++x[0])
      for (x[1] = 0; x[1] < g.shape[1]; ++x[1])
        for (x[2] = 0; x[2] < g.shape[2]; ++x[2], ++p) {
          const index_t c = g.cell(2 * x[0], 2 * x[1], 2 * x[2]);
          std::uint8_t bits = 0;
          for (int b = 0; b < 6; ++b) {
            const int side = b < 3 ? -1 : 1, a = b < 3 ? b : 5 - b;
            if (side < 0 ? x[a] == 0 : x[a] + 1 == g.shape[a]) continue;
            if (vrank[p + side * pstride[a]] < vrank[p] && !apparent[std::size_t(c + side * g.stride[a])])
              bits |= std::uint8_t(1u << b);
          }
          todo[p] = bits;
        }
  }
  // Pixels are ranked without ties, so a root's rank alone says which is older.
  UnionFind uf(n);
  for (index_t r = 0; r < n; ++r) {
    const index_t p = f.pixel_of_rank[r];
    const unsigned bits = todo[p];
    if (bits == 0) continue;
    const index_t c = f.pixel_cell(p);
    for (int b = 0; b < 6; ++b) {
      if (!(bits & (1u << b))) continue;
      const int side = b < 3 ? -1 : 1, a = b < 3 ? b : 5 - b;
      const index_t q = p + side * pstride[a], e = c + side * g.stride[a];
      const index_t r0 = uf.find(p), r1 = uf.find(q);
      if (r0 == r1) {
        positive.push_back({Cell(e), std::uint32_t(r)});
        continue;
      }
      const index_t young = vrank[r0] < vrank[r1] ? r1 : r0;
      push_pair(out, f, vrank[young], std::uint32_t(r), keep_zero);
      uf.attach(young, young == r0 ? r1 : r0);
    }
  }
  push_essential(out, 0);  // the oldest voxel never dies
}

// The ranks of the top cells, numbered in C order on the grid of top cells.
std::vector<std::uint32_t> top_ranks(const Filtration& f) {
  const Grid& g = f.grid;
  std::vector<std::uint32_t> rank;
  rank.reserve(std::size_t((g.flat[0] ? 1 : g.extent[0] / 2) * (g.flat[1] ? 1 : g.extent[1] / 2) *
                           (g.flat[2] ? 1 : g.extent[2] / 2)));
  for (index_t k0 = g.flat[0] ? 0 : 1; k0 < g.extent[0]; k0 += 2)
    for (index_t k1 = g.flat[1] ? 0 : 1; k1 < g.extent[1]; k1 += 2)
      for (index_t k2 = g.flat[2] ? 0 : 1; k2 < g.extent[2]; k2 += 2) rank.push_back(f.rank[g.cell(k0, k1, k2)]);
  return rank;
}

// H_{D-1} for the top dimension D by union-find on the dual graph (top cells and one outer cell),
// `cells` being the (D-1)-cells in filtration order, processed backwards. A component is born, in the
// reversed filtration, at its latest top cell, which is kept as its root; the outer cell, at
// +infinity, is older than every top cell. `skip(i)` says that cells[i] is known to kill a (D-2)-class
// (an apparent pair), so it joins no two components and need not be looked at.
// `cell_rank(i)` is the rank of cells[i]. `top_rank`, if given, holds the ranks of the top cells (see
// `top_ranks`); otherwise they are read from the rank table.
template <class Cell, class CellRank, class Skip>
void compute_top(const Filtration& f, const std::vector<Cell>& cells, bool keep_zero,
                 std::vector<PersistencePair>& out, CellRank cell_rank, Skip skip,
                 const std::vector<std::uint32_t>* top_rank = nullptr) {
  const Grid& g = f.grid;
  std::array<index_t, 3> te{};
  for (int a = 0; a < 3; ++a) te[a] = g.flat[a] ? 1 : (g.extent[a] - 1) / 2;
  const std::array<index_t, 3> tstride{te[1] * te[2], te[2], 1};
  const index_t outer = te[0] * te[1] * te[2];
  std::vector<std::uint32_t> own_rank;
  if (!top_rank) {
    own_rank = top_ranks(f);
    top_rank = &own_rank;
  }
  const std::vector<std::uint32_t>& trank = *top_rank;
  const auto earlier = [&](index_t a, index_t b) {  // in the filtration; the outer cell is last
    if (a == outer || b == outer) return b == outer && a != outer;
    return trank[a] < trank[b] || (trank[a] == trank[b] && a < b);
  };
  UnionFind uf(outer + 1);
  for (std::size_t i = cells.size(); i-- > 0;) {
    if (skip(i)) continue;
    const index_t s = index_t(cells[i]);
    const auto k = g.coords(s);
    int a = 0;
    while (g.flat[a] || (k[a] & 1)) ++a;  // the one non-flat axis with an even coordinate
    // Halving the coordinates gives the top cell above s on axis a; the one below is a stride back.
    const index_t above = ((k[0] >> 1) * te[1] + (k[1] >> 1)) * te[2] + (k[2] >> 1);
    const index_t n0 = k[a] > 0 ? above - tstride[a] : outer;
    const index_t n1 = k[a] + 1 < g.extent[a] ? above : outer;
    const index_t r0 = uf.find(n0), r1 = uf.find(n1);
    if (r0 == r1) continue;
    // The component born later in the reversed order (the earlier root) dies here.
    const index_t dying = earlier(r0, r1) ? r0 : r1;
    push_pair(out, f, cell_rank(i), trank[dying], keep_zero);
    uf.attach(dying, dying == r0 ? r1 : r0);
  }
}

// The rank of every position of a list of cells in filtration order (ranks non-decreasing along it), in
// 4 bytes per pixel instead of 4 per cell (a third of the squares' 12 per voxel): the first position of
// each rank, and per block of 64 positions the rank of its first one. A lookup is a binary search among
// the ranks of its block, which share one or two cache lines of the first-position table.
template <class Pos>
class PositionRanks {
 public:
  static constexpr int kShift = 6;
  // `first[r]`: the first position of rank r, for r = 0..n (first[n]: the number of positions).
  explicit PositionRanks(std::vector<Pos>&& first) : first_(std::move(first)) {
    const std::size_t positions = std::size_t(first_.back());
    if (positions == 0) {
      hint_.assign(1, 0);
      return;
    }
    const std::size_t blocks = (positions + (std::size_t(1) << kShift) - 1) >> kShift;
    hint_.resize(blocks + 1);
    std::uint32_t r = 0;  // rank(p) for the p below: the last r with first[r] <= p (first[n] > p stops it)
    for (std::size_t b = 0; b <= blocks; ++b) {
      const std::size_t p = b < blocks ? b << kShift : positions - 1;
      while (std::size_t(first_[r + 1]) <= p) ++r;
      hint_[b] = r;  // block b's first position (the last entry: the last position, an upper bound)
    }
  }
  // The rank of position p.
  std::uint32_t operator[](Pos p) const {
    const std::size_t b = std::size_t(p) >> kShift;
    const auto lo = first_.begin() + hint_[b], hi = first_.begin() + hint_[b + 1] + 1;
    return std::uint32_t(std::upper_bound(lo, hi, p) - first_.begin() - 1);
  }
  // The first position of rank >= r.
  Pos first(std::uint32_t r) const { return first_[std::min<std::size_t>(r, first_.size() - 1)]; }
  // The rank of p for positions visited downwards: `r` starts at the last rank (ranks() - 1) and is moved
  // down to p's rank (no search: a sweep over all positions costs one pass over the ranks).
  std::uint32_t rank_downwards(Pos p, std::uint32_t& r) const {
    while (first_[r] > p) --r;
    return r;
  }
  std::uint32_t ranks() const { return std::uint32_t(first_.size() - 1); }

 private:
  std::vector<Pos> first_;
  std::vector<std::uint32_t> hint_;
};

// H1 of a 3D grid by coboundary reduction (persistent cohomology), columns = edges in decreasing
// order, with clearing (an edge that kills an H0 class has zero reduced coboundary), apparent pairs and
// emergent pairs.
//
// A square is named by its position in the filtration order of the squares (`squares`), so a key is
// one integer (32 bits where the squares fit) and the per-square tables are indexed by filtration
// position: the reduction sweeps the edges downwards and its pivots lie mostly just above the sweep,
// so those tables are read where they were just read, instead of at random places of the grid (random
// reads of per-cell arrays were most of the time).
//
// `pivot_[p]` says which column has square p as pivot: a reduced column kept by the sweep (> 0), the
// raw coboundary of the square's partner edge (< 0: an apparent or emergent pair; the coboundary is
// read again from the grid when a reduction adds it), or none (kNone). One integer per square: the
// partner's coboundary kept beside it (16 bytes per square, 48 per voxel) made the reduction about 9%
// faster on 128^3 noise, at a fifth of the barcode's memory. (On several threads, the reduction's own
// entries follow common/lockfree_reduction.h instead: sweep index + 1, tagged when stored; the apparent
// pairs' entries stay negative either way.)
template <class Pos>
class H1Reduction {
 public:
  using Owner = std::make_signed_t<Pos>;
  static constexpr Owner kNone = 0;  // a reduced column c is c + 1, a partner edge e is -(e + 1)

  // `position[c]` is the index of square c in `squares` (see Filtration::cells_in_order), for every
  // cell of the grid (only the squares' entries are read).
  H1Reduction(const Filtration& f, const std::vector<Pos>& squares, const Pos* position,
              PositionRanks<Pos>&& square_rank, bool keep_zero, std::vector<PersistencePair>& out)
      : f_(f), squares_(&squares), num_squares_(squares.size()), keep_zero_(keep_zero), out_(out), position_(position),
        square_rank_(std::move(square_rank)),
        pivot_(static_cast<Owner*>(std::calloc(squares.size() + 1, sizeof(Owner)))) {
    // calloc: all kNone, and large blocks come as zero pages from the system, without a fill pass.
    if (!pivot_) throw std::bad_alloc();
  }

  // The tables made elsewhere (the GPU engine's hybrid, h1_from_tables): the squares' positions by dense number
  // (what compact_positions makes), their ranks by position, and the pivot table's entries of the apparent
  // pairs (`pivot`, one per square position: kNone or -(edge + 1)). Zero-persistence pairs are not kept.
  H1Reduction(const Filtration& f, std::vector<Pos>&& dense, PositionRanks<Pos>&& square_rank, const Owner* pivot,
              std::size_t num_squares, std::vector<PersistencePair>& out)
      : f_(f), squares_(nullptr), num_squares_(num_squares), keep_zero_(false), out_(out), position_(nullptr),
        dense_(std::move(dense)), square_rank_(std::move(square_rank)),
        pivot_(static_cast<Owner*>(std::calloc(num_squares + 1, sizeof(Owner)))) {
    if (!pivot_) throw std::bad_alloc();
    std::copy(pivot, pivot + num_squares, pivot_.get());
    set_vertex_strides();
  }

  // The apparent pairs (e, s): s is the smallest cofacet of e and e is the largest facet of s. Every
  // apparent pair is a persistence pair, and when a reduction meets s as a pivot, e is an edge reduced
  // before (every facet of s is at most e), so the reduction may add e's coboundary. Found in one pass
  // over the edges in memory order, whose reads stay in cache, they spare H0 and the reduction most
  // edges (on noise, nine in ten of those the reduction would see). Sets `apparent[e]`.
  // With threads > 1, slabs of the grid are searched in parallel: the pairs are disjoint, so every
  // write goes to an edge's flag or a square's entry of its own (the pairs found are appended per slab).
  void find_apparent_pairs(std::vector<std::uint8_t>& apparent, int threads) {
    const index_t rows = f_.grid.extent[0];
    const int slabs = int(std::min<index_t>(threads, rows));
    if (slabs <= 1) {
      find_apparent_pairs(apparent, 0, rows, out_);
      return;
    }
    std::vector<std::vector<PersistencePair>> found(static_cast<std::size_t>(slabs));
    for_each_slice(std::size_t(rows), std::size_t(slabs), [&](std::size_t t, std::size_t first, std::size_t last) {
      find_apparent_pairs(apparent, index_t(first), index_t(last), found[t]);
    });
    for (const auto& pairs : found) out_.insert(out_.end(), pairs.begin(), pairs.end());
  }

  // The apparent pairs of the edges with first Khalimsky coordinate in [first, last).
  void find_apparent_pairs(std::vector<std::uint8_t>& apparent, index_t first, index_t last,
                           std::vector<PersistencePair>& out) {
    const Grid& g = f_.grid;
    const auto& rank = f_.rank;
    const auto later = [&](index_t a, index_t b) {  // a after b in the filtration (same dimension)
      return rank[a] > rank[b] || (rank[a] == rank[b] && a > b);
    };
    // Every axis is solid (3D); an edge has one odd coordinate, its axis.
    std::array<index_t, 3> k;
    for (k[0] = first; k[0] < last; ++k[0])
      for (k[1] = 0; k[1] < g.extent[1]; ++k[1]) {
        const int odd01 = int(k[0] & 1) + int(k[1] & 1);
        if (odd01 > 1) continue;
        const index_t row = k[0] * g.stride[0] + k[1] * g.stride[1];
        for (k[2] = odd01 == 1 ? 0 : 1; k[2] < g.extent[2]; k[2] += 2) {
          const index_t e = row + k[2];
          const int axis = (k[0] & 1) ? 0 : (k[1] & 1) ? 1 : 2;
          // The cofacets: one stride either way on the two other axes, inside the grid.
          Pos cob[4];
          int n = 0;
          index_t s = 0, min_step = 0;
          for (int b = 0; b < 3; ++b) {
            if (b == axis) continue;
            for (int side = -1; side <= 1; side += 2) {
              if (side < 0 ? k[b] == 0 : k[b] + 1 == g.extent[b]) continue;
              const index_t t = e + side * g.stride[b];
              const Pos pos = position_[std::size_t(t)];
              int i = n++;
              for (; i > 0 && pos < cob[i - 1]; --i) cob[i] = cob[i - 1];
              cob[i] = pos;
              if (i == 0) {
                s = t;
                min_step = side * g.stride[b];
              }
            }
          }
          // e is the largest facet of s: compare the opposite edge and the two edges across axis.
          const index_t sa = g.stride[axis];
          if (later(s + min_step, e) || later(s - sa, e) || later(s + sa, e)) continue;
          apparent[std::size_t(e)] = 1;
          // In V a cell's rank is the largest of its vertices', hence of its facets': the largest facet
          // e of s has s's rank (every apparent pair of V has zero persistence), no lookup needed.
          pair_with_partner(e, rank[e], cob[0], v_ ? rank[e] : square_rank_[cob[0]], out);
        }
      }
  }

  // Whether the square at position p is the pivot of a column already (after find_apparent_pairs:
  // whether it is in an apparent pair).
  bool is_paired(Pos p) const { return pivot_[p] != kNone; }

  // Numbers the squares densely, 3 v + (normal axis) at their lowest vertex v (12 bytes per voxel
  // instead of the grid's 32), for the reduction: afterwards the per-cell positions are no longer
  // read, and the caller may free them (and the rank table they were written over).
  void compact_positions() {
    const Grid& g = f_.grid;
    const index_t vertices = set_vertex_strides();
    dense_.assign(std::size_t(3 * vertices), Pos(0));
    const std::vector<Pos>& squares = *squares_;
    for (std::size_t p = 0; p < squares.size(); ++p) {
      const auto k = g.coords(index_t(squares[p]));
      dense_[std::size_t(g.dense_square_number(k.data()))] = Pos(p);
    }
    position_ = nullptr;
    squares_ = nullptr;  // no longer read: the caller may free the squares
  }
  std::uint32_t square_rank(Pos p) const { return square_rank_[p]; }
  const PositionRanks<Pos>& square_ranks() const { return square_rank_; }

  // Reduces the columns of `edges` (neither apparent nor negative), given in filtration order.
  //
  // With threads > 1, by the lock-free parallel reduction of common/lockfree_reduction.h (blocks of the
  // sweep on all threads, pivots claimed by compare-and-swap); the pairs are those of the one-thread sweep.
  using Edge = RankedEdge<Pos>;
  void reduce(const std::vector<Edge>& edges, int threads) {
    if (threads <= 1 || edges.size() < kMinParallel || !LockFreeReduction<SweepColumns>::fits(edges.size()))
      reduce_sequential(edges);
    else
      reduce_in_parallel(edges, threads);
  }

 private:
  // The one-thread sweep (common/sweep_reduction.h): column i is edges[n - 1 - i] (decreasing filtration
  // order), stored columns are owners index + 1, emergent and apparent pairs' partner edges -(edge + 1).
  struct Sweep {
    using Key = Pos;
    using Entry = Owner;
    H1Reduction& h1;
    const std::vector<Edge>& edges;
    const Edge& edge(std::size_t i) const { return edges[edges.size() - 1 - i]; }
    static std::size_t slot(Pos key) { return std::size_t(key); }
    int raw(std::size_t i, Pos* out) const { return h1.raw_coboundary(index_t(edge(i).cell), out); }
    void ahead(std::size_t i) const { h1.prefetch_coboundary(index_t(edge(i).cell)); }
    static bool is_free(Owner o) { return o == kNone; }
    static bool is_stored(Owner o, std::size_t& index) {
      index = std::size_t(o) - 1;
      return o > 0;
    }
    void claim_raw(Owner& o, std::size_t i, const Pos*, int) const { o = Owner(-(index_t(edge(i).cell) + 1)); }
    static void claim_stored(Owner& o, std::size_t index) { o = Owner(index + 1); }
    void add_unstored(Owner o, Pos, WorkingColumn<Pos>& work, const Owner*) const { h1.add_raw(index_t(-(o + 1)), work); }
    // Most pairs of noise have zero persistence: push_pair drops them on the ranks.
    void pair(std::size_t i, Pos pivot) const {
      push_pair(h1.out_, h1.f_, edge(i).rank, h1.square_rank_[pivot], h1.keep_zero_);
    }
  };
  void reduce_sequential(const std::vector<Edge>& edges) {
    Sweep sweep{*this, edges};
    sweep_reduction(sweep, edges.size(), pivot_.get());
  }

  static constexpr std::size_t kMinParallel = 2048;  // fewer columns: one thread

  // Loads the dense numbers of an edge's squares, numbered at its lowest vertex v or one vertex back.
  void prefetch_coboundary(index_t edge) const {
    const index_t v = lowest_vertex(f_.grid.coords(edge));
    __builtin_prefetch(dense_.data() + 3 * v);
    for (int b = 0; b < 3; ++b)
      if (v >= vstride_[b]) __builtin_prefetch(dense_.data() + 3 * (v - vstride_[b]));
  }
  // Adds the raw coboundary of an edge, read again from the grid, to a working column.
  void add_raw(index_t edge, WorkingColumn<Pos>& work) const {
    Pos keys[4];
    const int k = raw_coboundary(edge, keys);
    if (k > 1) __builtin_prefetch(pivot_.get() + keys[1]);
    work.add(keys, keys + k);
  }

  // The parallel reduction (see reduce): column i of the sweep is edges[n - 1 - i]; the apparent pairs'
  // partner edges are the owners the policy adds itself.
  struct SweepColumns {
    using Key = Pos;
    using Owner = typename H1Reduction::Owner;
    const H1Reduction& h1;
    const std::vector<Edge>& edges;
    index_t cell(std::size_t i) const { return index_t(edges[edges.size() - 1 - i].cell); }
    std::size_t slot(Pos key) const { return std::size_t(key); }
    int raw(std::size_t i, Pos* out) const { return h1.raw_coboundary(cell(i), out); }
    void foreign(Owner o, WorkingColumn<Pos>& work) const { h1.add_raw(index_t(-(o + 1)), work); }
    void ahead(std::size_t i) const { h1.prefetch_coboundary(cell(i)); }
  };
  void reduce_in_parallel(const std::vector<Edge>& edges, int threads) {
    using Parallel = LockFreeReduction<SweepColumns>;
    const std::size_t n = edges.size();
    const auto result = Parallel::run(SweepColumns{*this, edges}, n, pivot_.get(), threads);
    for (std::size_t i = 0; i < n; ++i) {
      const auto p = result.pivot_slot[i];
      if (p == Parallel::kNoPivot) continue;  // a zero column: none in a grid, which is contractible
      const std::uint32_t birth_rank = edges[n - 1 - i].rank, death_rank = square_rank_[Pos(p)];
      if (keep_zero_ || birth_rank != death_rank) push_pair(out_, f_, birth_rank, death_rank, keep_zero_);
    }
  }

  // The positions of the squares of an edge's coboundary (two to four), sorted. Reads the dense numbering
  // (after compact_positions).
  int raw_coboundary(index_t edge, Pos* dst) const {
    const Grid& g = f_.grid;
    const auto k = g.coords(edge);
    const int a = (k[0] & 1) ? 0 : (k[1] & 1) ? 1 : 2;  // the edge's axis
    const index_t v = lowest_vertex(k);
    int n = 0;
    for (int b = 0; b < 3; ++b) {
      if (b == a) continue;
      const index_t type = 3 - a - b;  // the square across axis b has the third axis as its normal
      for (int side = -1; side <= 1; side += 2) {
        if (side < 0 ? k[b] == 0 : k[b] + 1 == g.extent[b]) continue;
        const Pos pos = dense_[std::size_t(3 * (side < 0 ? v - vstride_[b] : v) + type)];
        int i = n++;
        for (; i > 0 && pos < dst[i - 1]; --i) dst[i] = dst[i - 1];
        dst[i] = pos;
      }
    }
    return n;
  }
  // The strides of the grid of vertices (vstride_); returns its number of vertices.
  index_t set_vertex_strides() {
    const Grid& g = f_.grid;
    const index_t ve1 = (g.extent[1] + 1) / 2, ve2 = (g.extent[2] + 1) / 2;
    vstride_ = {ve1 * ve2, ve2, 1};
    return g.num_vertices();
  }
  // The vertex of lowest coordinates of a cell, numbered on the grid of vertices.
  index_t lowest_vertex(const std::array<index_t, 3>& k) const {
    return (k[0] >> 1) * vstride_[0] + (k[1] >> 1) * vstride_[1] + (k[2] >> 1);
  }
  // Pairs an edge with the smallest square of its coboundary, at position `pivot`.
  void pair_with_partner(index_t edge, std::uint32_t edge_rank, Pos pivot, std::uint32_t square_rank,
                         std::vector<PersistencePair>& out) {
    pivot_[pivot] = Owner(-(edge + 1));
    push_pair(out, f_, edge_rank, square_rank, keep_zero_);
  }

  const Filtration& f_;
  const bool v_ = f_.grid.construction() == Construction::V;
  const std::vector<Pos>* squares_;  // the squares in filtration order (until compact_positions)
  std::size_t num_squares_;
  bool keep_zero_;
  std::vector<PersistencePair>& out_;
  const Pos* position_;  // per Khalimsky cell: a square's filtration position (until compact_positions)
  std::vector<Pos> dense_;  // per dense square number: its filtration position (from compact_positions)
  std::array<index_t, 3> vstride_{};
  PositionRanks<Pos> square_rank_;  // per square position: the square's rank
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<Owner[], Free> pivot_;  // per square position: its owner
};

// H0, H1 and H2 of a 3D grid; Pos holds a square's filtration position.
// With threads > 1, the apparent pairs are searched by slabs in parallel, and H0 and the top
// dimension (two union-finds that only read what the apparent pairs left) run side by side.
//
// The squares' positions: with 32-bit positions they are written over the squares' entries of the
// rank table, which nothing reads as ranks afterwards (the squares' ranks are kept by position, as
// PositionRanks), and so cost no memory of their own (a quarter of the Khalimsky grid's cells... 32
// bytes per voxel). What a 3D barcode holds at its peak, the end of the reduction, is in
// benchmarks/README.md (about 100 bytes per voxel on noise).
template <class Pos>
void compute_3d(Filtration& f, bool keep_zero, PersistenceDiagram& diagram, int threads) {
  PhaseTimer timer("barcode 3d");
  std::vector<Pos> own_position;
  std::vector<Pos>* position = nullptr;
  if constexpr (std::is_same_v<Pos, std::uint32_t>) {
    position = &f.rank;
  } else {
    own_position.resize(std::size_t(f.grid.num_cells));
    position = &own_position;
  }
  std::vector<Pos> first_of_rank;
  std::vector<Pos> squares = f.cells_in_order<Pos, Pos>(2, position, &first_of_rank);
  PositionRanks<Pos> square_rank(std::move(first_of_rank));
  timer.mark("sort_squares");
  H1Reduction<Pos> h1(f, squares, position->data(), std::move(square_rank), keep_zero, diagram.pairs[1]);
  std::vector<std::uint8_t> apparent(std::size_t(f.grid.num_cells), 0);
  h1.find_apparent_pairs(apparent, threads);
  timer.mark("apparent");
  std::vector<RankedEdge<Pos>> positive;  // the edges left for the reduction: neither apparent nor negative
  // In V neither union-find reads the rank table (H0 goes by the pixel order, the top dimension by its
  // cubes' ranks, taken here): it is freed before them, which keeps the peak of the call down by its
  // 32 bytes per voxel less the cubes' 4.
  std::vector<std::uint32_t> cube_rank;
  const bool v = f.grid.construction() == Construction::V;
  if (v) {
    cube_rank = top_ranks(f);
    std::vector<std::uint32_t>().swap(f.rank);
    std::vector<Pos>().swap(own_position);
  }
  run_tasks(threads, {
      [&] {
        // A square in an apparent pair kills an H1 class, so it joins no two components of the dual graph.
        // compute_top visits the squares downwards, so their ranks are read by a sweep, not by lookups.
        std::uint32_t sweep = h1.square_ranks().ranks() - 1;
        compute_top(f, squares, keep_zero, diagram.pairs[2],
                    [&](std::size_t i) { return h1.square_ranks().rank_downwards(Pos(i), sweep); },
                    [&](std::size_t i) { return h1.is_paired(Pos(i)); }, v ? &cube_rank : nullptr);
        std::vector<std::uint32_t>().swap(cube_rank);
      },
      [&] {
        if (v)
          compute_h0_vertices(f, keep_zero, diagram.pairs[0], apparent, positive);
        else
          compute_h0(f, f.cells_in_order(1), keep_zero, diagram.pairs[0], apparent, &positive);
      },
  });
  timer.mark("h0_top");
  apparent = {};
  // The rank table (and the positions written over it) is no longer read: freed before the dense
  // numbering is made (which reads only the squares), then the squares, whose cells the reduction never
  // needs (pairs are reported by ranks).
  std::vector<std::uint32_t>().swap(f.rank);
  std::vector<Pos>().swap(own_position);
  h1.compact_positions();
  std::vector<Pos>().swap(squares);
  // Give the pages of what was freed (the rank table, the union-finds' arrays) back to the system before
  // the reduction stores its columns (128^3 noise: 21 bytes per voxel).
  release_free_memory(std::size_t(f.grid.num_cells));
  timer.mark("compact");
  h1.reduce(positive, threads);
  timer.mark("h1");
}

}  // namespace

std::vector<PersistencePair> h1_from_tables(const Filtration& f, H1Tables&& tables, int threads) {
  const Grid& g = f.grid;
  if (g.dim != 3 || g.num_cells >= (index_t(1) << 31) - 2)
    throw std::invalid_argument("h1_from_tables: expected a 3D grid of fewer than 2**31 - 2 cells.");
  PhaseTimer timer("h1 from tables");
  std::vector<PersistencePair> out;
  const std::size_t num_squares = tables.pivot.size();
  H1Reduction<std::uint32_t> h1(f, std::move(tables.dense), PositionRanks<std::uint32_t>(std::move(tables.first_of_rank)),
                                tables.pivot.data(), num_squares, out);
  std::vector<std::int32_t>().swap(tables.pivot);
  for (std::size_t i = 0; i + 1 < tables.apparent_ranks.size(); i += 2)
    push_pair(out, f, tables.apparent_ranks[i], tables.apparent_ranks[i + 1], false);
  std::vector<RankedEdge<std::uint32_t>> columns(tables.columns.size());
  for (std::size_t i = 0; i < columns.size(); ++i)
    columns[i] = {std::uint32_t(tables.columns[i] & 0xffffffffu), std::uint32_t(tables.columns[i] >> 32)};
  std::vector<std::uint64_t>().swap(tables.columns);
  timer.mark("setup");
  h1.reduce(columns, threads);
  timer.mark("reduce");
  return out;
}

PersistenceDiagram compute_persistence(Filtration& f, bool keep_zero_persistence, bool wide_keys, int threads) {
  PersistenceDiagram diagram;
  const Grid& g = f.grid;
  if (g.dim < 3) {
    const std::vector<index_t> edges = f.cells_in_order(1);
    compute_h0<index_t>(f, edges, keep_zero_persistence, diagram.pairs[0], {}, nullptr);
    if (g.dim == 2)
      compute_top(f, edges, keep_zero_persistence, diagram.pairs[1], [&](std::size_t i) { return f.rank[edges[i]]; },
                  [](std::size_t) { return false; });
    return diagram;
  }
  // 32-bit square positions wherever the squares (and so the reduced columns) fit.
  if (!wide_keys && g.num_cells < (index_t(1) << 31) - 2)
    compute_3d<std::uint32_t>(f, keep_zero_persistence, diagram, threads);
  else
    compute_3d<std::uint64_t>(f, keep_zero_persistence, diagram, threads);
  return diagram;
}

}  // namespace seglosses::cubical
