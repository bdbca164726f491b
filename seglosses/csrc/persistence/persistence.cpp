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
//   (clearing). A column whose smallest cofacet is not yet a pivot is reduced already (an emergent pair,
//   which includes every apparent pair): it is paired without being materialized or stored. Only the
//   remaining columns are reduced with a heap and stored.
#include "persistence/cubical.h"

#include <functional>
#include <queue>
#include <unordered_map>

namespace seglosses::cubical {
namespace {

// A cell with its filtration key, for the reduction heap (ordered by (rank, cell index)).
struct Keyed {
  std::uint32_t rank;
  index_t cell;
  bool operator<(const Keyed& o) const { return rank < o.rank || (rank == o.rank && cell < o.cell); }
  bool operator>(const Keyed& o) const { return o < *this; }
};

void push_pair(std::vector<PersistencePair>& out, const Filtration& f, index_t birth, index_t death, bool keep_zero) {
  const double b = f.value(birth);
  const double d = death < 0 ? std::numeric_limits<double>::infinity() : f.value(death);
  if (!keep_zero && b == d) return;
  out.push_back({birth, death, b, d});
}

// H0 by union-find. Marks the edges that kill an H0 class in `negative_edge`.
void compute_h0(const Filtration& f, bool keep_zero, std::vector<PersistencePair>& out,
                std::vector<std::uint8_t>& negative_edge) {
  const Grid& g = f.grid;
  const std::array<index_t, 3> ve{(g.extent[0] + 1) / 2, (g.extent[1] + 1) / 2, (g.extent[2] + 1) / 2};
  const auto vertex_of = [&](const std::array<index_t, 3>& k) { return ((k[0] / 2) * ve[1] + k[1] / 2) * ve[2] + k[2] / 2; };
  const index_t nv = ve[0] * ve[1] * ve[2];
  UnionFind uf(nv);
  std::vector<index_t> elder(nv);  // birth vertex (Khalimsky cell) of each root's component
  for (index_t k0 = 0; k0 < g.extent[0]; k0 += 2)
    for (index_t k1 = 0; k1 < g.extent[1]; k1 += 2)
      for (index_t k2 = 0; k2 < g.extent[2]; k2 += 2) elder[vertex_of({k0, k1, k2})] = g.cell(k0, k1, k2);
  for (const index_t e : f.cells_in_order(1)) {
    const auto k = g.coords(e);
    int a = 0;
    while (!(k[a] & 1)) ++a;
    auto lo = k, hi = k;
    --lo[a];
    ++hi[a];
    const index_t r0 = uf.find(vertex_of(lo)), r1 = uf.find(vertex_of(hi));
    if (r0 == r1) continue;
    const index_t e0 = elder[r0], e1 = elder[r1];
    const bool first_older = f.less(e0, e1);
    push_pair(out, f, first_older ? e1 : e0, e, keep_zero);
    negative_edge[e] = 1;
    elder[uf.link(r0, r1)] = first_older ? e0 : e1;
  }
  push_pair(out, f, elder[uf.find(0)], -1, keep_zero);
}

// H_{D-1} for the top dimension D by union-find on the dual graph.
void compute_top(const Filtration& f, bool keep_zero, std::vector<PersistencePair>& out) {
  const Grid& g = f.grid;
  std::array<index_t, 3> te{};
  for (int a = 0; a < 3; ++a) te[a] = g.flat[a] ? 1 : (g.extent[a] - 1) / 2;
  const auto top_of = [&](const std::array<index_t, 3>& k) {
    return ((k[0] >> 1) * te[1] + (k[1] >> 1)) * te[2] + (k[2] >> 1);
  };
  const index_t outer = te[0] * te[1] * te[2];
  UnionFind uf(outer + 1);
  // Each component is born (in the reversed filtration) at its latest top cell; the outer cell, at
  // +infinity, is older than all of them (-1 stands for it).
  std::vector<index_t> youngest(outer + 1, -1);
  g.for_each_cell_of_dim(g.dim, [&](index_t c) { youngest[top_of(g.coords(c))] = c; });
  const std::vector<index_t> order = f.cells_in_order(g.dim - 1);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const index_t s = *it;
    const auto k = g.coords(s);
    int a = 0;
    while (g.flat[a] || (k[a] & 1)) ++a;  // the one non-flat axis with an even coordinate
    index_t nodes[2] = {outer, outer};
    if (k[a] > 0) {
      auto lo = k;
      --lo[a];
      nodes[0] = top_of(lo);
    }
    if (k[a] + 1 < g.extent[a]) {
      auto hi = k;
      ++hi[a];
      nodes[1] = top_of(hi);
    }
    const index_t r0 = uf.find(nodes[0]), r1 = uf.find(nodes[1]);
    if (r0 == r1) continue;
    const index_t y0 = youngest[r0], y1 = youngest[r1];
    // The component born later in the reversed order (the smaller maximum) dies here.
    const bool first_dies = y0 >= 0 && (y1 < 0 || f.less(y0, y1));
    push_pair(out, f, s, first_dies ? y0 : y1, keep_zero);
    youngest[uf.link(r0, r1)] = first_dies ? y1 : y0;
  }
}

// H1 of a 3D complex by coboundary reduction with clearing and emergent pairs.
void compute_h1_3d(const Filtration& f, bool keep_zero, std::vector<PersistencePair>& out,
                   const std::vector<std::uint8_t>& negative_edge) {
  const Grid& g = f.grid;
  // pivot_owner[face] = the edge whose reduced column has this face as pivot.
  std::vector<index_t> pivot_owner(g.num_cells, -1);
  std::unordered_map<index_t, std::vector<Keyed>> reduced;  // only columns that needed additions
  std::priority_queue<Keyed, std::vector<Keyed>, std::greater<Keyed>> heap;

  const auto push_column = [&](index_t edge, index_t skip) {
    auto it = reduced.find(edge);
    if (it != reduced.end()) {
      for (const Keyed& k : it->second)
        if (k.cell != skip) heap.push(k);
    } else {
      g.for_each_cofacet(edge, [&](index_t t) {
        if (t != skip) heap.push({f.rank[t], t});
      });
    }
  };
  // Pops the smallest face that survives mod-2 cancellation; -1 when the column is zero.
  const auto pop_pivot = [&]() -> index_t {
    while (!heap.empty()) {
      const Keyed top = heap.top();
      heap.pop();
      if (!heap.empty() && heap.top().cell == top.cell) {
        heap.pop();
        continue;
      }
      return top.cell;
    }
    return -1;
  };

  const std::vector<index_t> order = f.cells_in_order(1);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const index_t e = *it;
    if (negative_edge[e]) continue;  // cleared: kills an H0 class, so its reduced coboundary is zero
    const auto k = g.coords(e);
    index_t smallest = -1;
    g.for_each_cofacet(e, k, [&](index_t t) {
      if (smallest < 0 || f.less(t, smallest)) smallest = t;
    });
    if (pivot_owner[smallest] < 0) {  // emergent pair: the raw coboundary is already reduced
      pivot_owner[smallest] = e;
      push_pair(out, f, e, smallest, keep_zero);
      continue;
    }
    heap = {};
    push_column(e, -1);
    index_t pivot = pop_pivot();
    while (pivot >= 0 && pivot_owner[pivot] >= 0) {
      push_column(pivot_owner[pivot], pivot);
      pivot = pop_pivot();
    }
    if (pivot < 0) continue;  // zero column: an essential class (none in a grid, which is contractible)
    pivot_owner[pivot] = e;
    push_pair(out, f, e, pivot, keep_zero);
    std::vector<Keyed> column{{f.rank[pivot], pivot}};
    for (index_t c = pop_pivot(); c >= 0; c = pop_pivot()) column.push_back({f.rank[c], c});
    reduced.emplace(e, std::move(column));
  }
}

}  // namespace

PersistenceDiagram compute_persistence(const Filtration& f, bool keep_zero_persistence) {
  PersistenceDiagram diagram;
  const Grid& g = f.grid;
  std::vector<std::uint8_t> negative_edge(g.num_cells, 0);
  compute_h0(f, keep_zero_persistence, diagram.pairs[0], negative_edge);
  if (g.dim >= 2) compute_top(f, keep_zero_persistence, diagram.pairs[g.dim - 1]);
  if (g.dim == 3) compute_h1_3d(f, keep_zero_persistence, diagram.pairs[1], negative_edge);
  return diagram;
}

}  // namespace seglosses::cubical
