// Cubical complexes of 2D/3D images: grid and cell indexing, filtration values for the T- and
// V-constructions, union-find, and persistence pair records, for any part of the engine that needs
// them; `compute_persistence` (persistence.cpp) computes the pairs.
//
// Cells live on the Khalimsky ("doubled") grid: a cell has integer coordinates (k0, k1, k2) and its
// dimension is the number of odd coordinates. Cell indices are C-order flat indices on that grid.
//
// Images are padded to three axes with leading extents of 1 (a 2D image is (1, H, W)). An axis of
// image extent 1 is *flat*: its Khalimsky extent is 1 and every cell has coordinate 0 there. For the
// V-construction this is exactly the lower-dimensional complex; for the T-construction it replaces the
// one-cell-thick slab by its middle section, which is homotopy equivalent in every sublevel set, so the
// barcode is unchanged while the complex stays as small as the lower-dimensional one.
//
// Construction T (pixels are top cells, gudhi's `top_dimensional_cells`): pixel i sits at Khalimsky
//   coordinate 2i+1 on each non-flat axis, extent 2n+1; a lower cell takes the minimum over the top
//   cells that contain it (so a sublevel set is closed and 8-/26-connected).
// Construction V (pixels are vertices, CubicalRipser / Betti-Matching-3D): pixel i sits at coordinate
//   2i, extent 2n-1; a cell takes the maximum over its vertices (4-/6-connected).
//
// Filtration order (a total order compatible with the face relation, so every algorithm works on the
// same filtered complex): (rank of the critical pixel, dimension, cell index), see `Filtration`.
// Algorithms only compare cells of one dimension, by (rank, cell index).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "common/khalimsky_grid.h"
#include "common/order.h"
#include "common/parallel.h"
#include "common/types.h"
#include "common/union_find.h"

namespace seglosses::cubical {

using seglosses::index_t;

enum class Construction : int { T = 0, V = 1 };

// The Khalimsky grid (common/khalimsky_grid.h, shared with the CUDA engine) with the host-side helpers
// of the CPU engine.
struct Grid : KhalimskyGrid {
  Grid() = default;
  Grid(const index_t* image_shape, int ndim, Construction c)
      : KhalimskyGrid(KhalimskyGrid::make(image_shape, ndim, c == Construction::T)) {}
  Construction construction() const { return t_construction ? Construction::T : Construction::V; }

  using KhalimskyGrid::cell;
  using KhalimskyGrid::coords;
  std::array<index_t, 3> coords(index_t cell) const {
    if (num_cells <= index_t(0xffffffffu)) {  // 32-bit division: several times faster than 64-bit
      const std::uint32_t c = std::uint32_t(cell), s0 = std::uint32_t(stride[0]), s1 = std::uint32_t(stride[1]);
      const std::uint32_t k0 = c / s0, r = c - k0 * s0, k1 = r / s1;
      return {index_t(k0), index_t(k1), index_t(r - k1 * s1)};
    }
    index_t k[3];
    coords(cell, k);
    return {k[0], k[1], k[2]};
  }
  index_t cell(const std::array<index_t, 3>& k) const { return cell(k[0], k[1], k[2]); }
  // Calls f(cell) for every cell of dimension d, in increasing index order.
  template <class F>
  void for_each_cell_of_dim(int d, F&& f) const {
    for (index_t k0 = 0; k0 < extent[0]; ++k0)
      for (index_t k1 = 0; k1 < extent[1]; ++k1) {
        const int need = d - int(k0 & 1) - int(k1 & 1);  // k2 parity is fixed by what is missing
        if (need < 0 || need > 1) continue;
        const index_t base = k0 * stride[0] + k1 * stride[1];
        if (extent[2] == 1) {
          if (need == 0) f(base);
          continue;
        }
        if (need == 0)
          for (index_t k2 = 0; k2 < extent[2]; k2 += 2) f(base + k2);
        else
          for (index_t k2 = 1; k2 < extent[2]; k2 += 2) f(base + k2);
      }
  }
};

// Sublevel filtration of a grid, from a C-contiguous float64 image, or of the negated image with `negate`
// (a superlevel filtration of f is the sublevel filtration of -f), read negated, never copied.
//
// Pixels are ranked by (value, flat index); a cell stores the rank of its critical pixel, the pixel
// whose value it takes: V, the max-rank vertex; T, the min-rank top cell containing it. Ranks refine
// values, so the filtration order (rank, dimension, cell index) is compatible with the face relation
// and with the value filtration, every comparison is an integer one, and the cells of a dimension are
// put in order by a counting sort (`cells_in_order`). Ranks are 32-bit: images of fewer than 2^32 - 1
// pixels (callers check).
struct Filtration {
  Grid grid;
  std::vector<double> sorted_value;    // value of rank r
  std::vector<std::uint32_t> pixel_of_rank;  // flat pixel index of rank r
  std::vector<std::uint32_t> rank;     // per Khalimsky cell

  Filtration() = default;
  // threads: the pixel sort and the rank table are made on up to that many.
  Filtration(const double* image, const index_t* shape, int ndim, Construction c, bool negate = false,
             int threads = 1)
      : grid(shape, ndim, c) {
    const index_t n = grid.num_pixels;
    pixel_of_rank = sort_by_value(image, n, negate, threads);
    sorted_value.resize(n);
    for (index_t r = 0; r < n; ++r) sorted_value[r] = negate ? -image[pixel_of_rank[r]] : image[pixel_of_rank[r]];
    fill_ranks(threads);
  }
  // A filtration computed elsewhere (the GPU engine's, copied to the host): the pixel order, the values in
  // that order and the rank of every cell.
  Filtration(const Grid& g, std::vector<std::uint32_t>&& order, std::vector<double>&& values,
             std::vector<std::uint32_t>&& cell_rank)
      : grid(g), sorted_value(std::move(values)), pixel_of_rank(std::move(order)), rank(std::move(cell_rank)) {}
  // A filtration whose pixel order is given: pixel_of_rank[r] is the flat pixel index of rank r (a
  // permutation of the grid's pixels) and sorted_value[r] its value, non-decreasing.
  Filtration(const Grid& g, std::vector<std::uint32_t>&& order, std::vector<double>&& values, int threads = 1)
      : grid(g), sorted_value(std::move(values)), pixel_of_rank(std::move(order)) {
    fill_ranks(threads);
  }

 private:
  // Runs body(first, last) over [0, n) in consecutive slices, one per thread, of at least `grain` each.
  template <class Body>
  static void in_slices(index_t n, int threads, index_t grain, Body&& body) {
    const index_t slices = std::max<index_t>(1, std::min<index_t>(threads, n / std::max<index_t>(grain, 1)));
    for_each_slice(std::size_t(n), std::size_t(slices),
                   [&](std::size_t, std::size_t first, std::size_t last) { body(index_t(first), index_t(last)); });
  }

  // The pixels' ranks scattered to their cells, then the other cells' ranks axis by axis; on several
  // threads by slices (of ranks, then of the first axis: an axis pass writes only cells of the other
  // parity on its axis and reads only cells of the pixels' parity there, written before it).
  void fill_ranks(int threads) {
    const Grid& g = grid;
    const index_t n = g.num_pixels;
    const Construction c = g.construction();
    rank.assign(g.num_cells, 0);
    in_slices(n, threads, index_t(1) << 16, [&](index_t first, index_t last) {
      for (index_t r = first; r < last; ++r) rank[pixel_cell(pixel_of_rank[r])] = std::uint32_t(r);
    });
    // The max (V) or min (T) over a product of intervals is separable: fill axis by axis. At step a,
    // the cells still missing are those whose coordinate on axis a differs in parity from the pixels
    // while every axis after a still has the pixels' parity.
    const bool is_t = c == Construction::T;
    const index_t pix_parity = is_t ? 1 : 0;
    for (int a = 0; a < 3; ++a) {
      if (g.flat[a]) continue;
      // Per axis, the coordinates to visit: all (before a), the other parity (a), the pixels' (after a).
      std::array<index_t, 3> first{}, step{};
      for (int b = 0; b < 3; ++b) {
        const bool any = b < a || g.flat[b];
        first[b] = any ? 0 : b == a ? 1 - pix_parity : pix_parity;
        step[b] = any ? 1 : 2;
      }
      const index_t s = g.stride[a];
      const index_t rows = (g.extent[0] - first[0] + step[0] - 1) / step[0];  // values of k0 to visit
      const index_t cells_per_row = std::max<index_t>(1, g.stride[0] / (step[1] * step[2]));
      in_slices(rows, threads, (index_t(1) << 16) / cells_per_row, [&](index_t row_first, index_t row_last) {
        std::array<index_t, 3> k{};
        for (index_t row = row_first; row < row_last; ++row) {
          k[0] = first[0] + row * step[0];
          for (k[1] = first[1]; k[1] < g.extent[1]; k[1] += step[1])
            for (k[2] = first[2]; k[2] < g.extent[2]; k[2] += step[2]) {
              const index_t c0 = g.cell(k);
              if (is_t) {  // the top cells on either side, where they exist
                const bool lo = k[a] > 0, hi = k[a] + 1 < g.extent[a];
                rank[c0] = lo && hi ? std::min(rank[c0 - s], rank[c0 + s]) : lo ? rank[c0 - s] : rank[c0 + s];
              } else {
                rank[c0] = std::max(rank[c0 - s], rank[c0 + s]);
              }
            }
        }
      });
    }
  }

 public:

  double value(index_t c) const { return sorted_value[rank[c]]; }

  // The Khalimsky cell that is the pixel (a vertex in V, a top cell in T).
  std::array<index_t, 3> pixel_coords(index_t p) const {
    const Grid& g = grid;
    const index_t i0 = p / (g.shape[1] * g.shape[2]);
    const index_t r = p - i0 * g.shape[1] * g.shape[2];
    const index_t i1 = r / g.shape[2];
    return {g.pixel_to_k(0, i0), g.pixel_to_k(1, i1), g.pixel_to_k(2, r - i1 * g.shape[2])};
  }
  index_t pixel_cell(index_t p) const { return grid.cell(pixel_coords(p)); }

  // The cells of dimension d in increasing filtration order: a counting sort by rank, stable over the
  // increasing cell indices of the scan (sequential reads; far faster than a comparison sort). If
  // `position` is given (num_cells entries), position[c] is set to the index of cell c in the result,
  // and if `first_of_rank` is given too, it gets, for r = 0..n, the index in the result of the first
  // cell of rank r (entry n: the number of cells), which gives the rank of every cell of the result.
  // `Cell` is the type of the cell indices returned. `position` may be the rank table itself (for
  // 32-bit positions): a cell's rank is read before its entry is written.
  template <class Pos = std::uint32_t, class Cell = index_t>
  std::vector<Cell> cells_in_order(int d, std::vector<Pos>* position = nullptr,
                                   std::vector<Pos>* first_of_rank = nullptr) const {
    const index_t n = grid.num_pixels;
    std::vector<index_t> start(n + 1, 0);
    grid.for_each_cell_of_dim(d, [&](index_t c) { ++start[index_t(rank[c]) + 1]; });
    for (index_t r = 0; r < n; ++r) start[r + 1] += start[r];
    std::vector<Cell> out(start[n]);
    if (first_of_rank) first_of_rank->assign(start.begin(), start.end());
    if (position)
      grid.for_each_cell_of_dim(d, [&](index_t c) {
        const index_t at = start[rank[c]]++;
        out[at] = Cell(c);
        (*position)[c] = Pos(at);
      });
    else
      grid.for_each_cell_of_dim(d, [&](index_t c) { out[start[rank[c]]++] = Cell(c); });
    return out;
  }
};

// Union-find with path halving. The caller decides which root survives a union (`attach`), so a root
// can stand for its component's oldest (H0) or youngest (dual graph) cell and no per-root record is
// needed; path halving alone keeps the trees shallow in practice. Parents are 32-bit (half the cache
// footprint of the random walks up the trees): at most 2^32 - 1 elements, which images of fewer than
// 2^32 - 1 pixels (callers check) only exceed in T's vertices of a ~2^32-pixel image.
struct UnionFind {
  std::vector<std::uint32_t> parent;
  explicit UnionFind(index_t n) {
    if (n > index_t(0xffffffffu)) throw std::length_error("Too many cells for the union-find (at most 2**32 - 1).");
    parent.resize(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) parent[i] = std::uint32_t(i);
  }
  index_t find(index_t x) { return find_root(parent.data(), std::uint32_t(x)); }
  void attach(index_t child_root, index_t parent_root) { parent[child_root] = std::uint32_t(parent_root); }
};

// One persistence pair of the sublevel filtration, by the ranks of its cells' critical pixels:
// pixel_of_rank gives those pixels and sorted_value their values. `essential`: the class never dies
// (death_rank is then meaningless). 12 bytes, where cells and values took 40: noise has about a third
// of a pair per voxel.
struct PersistencePair {
  std::uint32_t birth_rank;
  std::uint32_t death_rank;
  bool essential;
};

// Pairs per homology dimension 0..2 (dimensions above grid.dim stay empty).
struct PersistenceDiagram {
  std::array<std::vector<PersistencePair>, 3> pairs;
};

// All persistence pairs of the sublevel filtration. Zero-persistence pairs (birth == death) are kept
// only with keep_zero_persistence (the induced-matching code needs the full pairing). wide_keys forces
// the 64-bit square positions of the H1 reduction that grids of 2^31 cells or more need (so tests can
// cover that path). threads: the parts of a 3D grid that parallelise (see compute_3d) use up to that many.
// A 3D grid's filtration is consumed: its rank table is overwritten, then freed (the pixel order and
// the values stay).
PersistenceDiagram compute_persistence(Filtration& filtration, bool keep_zero_persistence = false,
                                       bool wide_keys = false, int threads = 1);

// The tables of H1 of a 3D grid, made elsewhere (the GPU engine's hybrid), for `h1_from_tables`. Positions
// are 32-bit: grids of fewer than 2^31 - 2 Khalimsky cells.
struct H1Tables {
  // Per dense square number 3 v + normal (v: the square's lowest vertex, numbered on the grid of vertices;
  // normal: the axis on which the square is flat): the square's position in the filtration order of squares.
  std::vector<std::uint32_t> dense;
  // Per rank r = 0..num_pixels: the first position of the squares of rank r (the last: the number of squares).
  std::vector<std::uint32_t> first_of_rank;
  // Per square position: -(e + 1) where edge e forms an apparent pair with the square, else 0.
  std::vector<std::int32_t> pivot;
  // (edge rank, square rank) of every apparent pair of nonzero persistence in rank, flat.
  std::vector<std::uint32_t> apparent_ranks;
  // (rank << 32 | cell) of the edges left for the reduction (in no apparent pair, outside the H0 spanning
  // forest), in filtration order.
  std::vector<std::uint64_t> columns;
};

// H1 of a 3D grid whose H0, top dimension and apparent pairs are computed elsewhere (the GPU engine's union-find
// phases and apparent-pair test): compute_persistence's coboundary reduction on the tables (consumed) on
// `threads` threads. `filtration` needs its grid and values only (no rank table). Zero-persistence pairs are
// not kept.
std::vector<PersistencePair> h1_from_tables(const Filtration& filtration, H1Tables&& tables, int threads = 1);

// One persistence pair by pixels: flat pixel indices of the critical pixels (death_pixel == -1:
// essential) and their values.
struct PixelPair {
  index_t birth_pixel;
  index_t death_pixel;
  double birth;
  double death;
};

// The nonzero-persistence pairs of H0, H1 and H2 of the sublevel filtration of construction T of a 3D
// image (every axis of extent >= 2), by Alexander duality from construction V of the negated image
// (duality.cpp): the pairs of `compute_persistence` on the T grid by pixel, a few times faster on
// plateaus and binary masks.
std::array<std::vector<PixelPair>, 3> t_persistence_by_duality(const double* image, const index_t* shape,
                                                               int threads = 1, bool negate = false);

// How `barcode` computes: planar (2D images by the union-finds on pixels), dual (3D images in T by
// duality from V), both unless zero-persistence pairs are kept or wide keys forced; threads for the
// parts of one 3D image that parallelise.
struct BarcodeOptions {
  bool keep_zero_persistence = false;
  bool wide_keys = false;
  bool planar = true;
  bool dual = true;
  int threads = 1;
  bool negate = false;  // the sublevel filtration of the negated image (a superlevel filtration), no copy made
};

// The persistence pairs by pixel of the sublevel filtration of a C-contiguous 2D/3D image (ndim axes,
// fewer than 2^32 - 1 pixels), one list per dimension 0..ndim-1, each in the documented bar order:
// persistence descending (essential first), then birth, birth pixel and death pixel.
std::vector<std::vector<PixelPair>> barcode(const double* image, const index_t* shape, int ndim, Construction c,
                                            const BarcodeOptions& options);

// The nonzero-persistence pairs of H0 and H1 of the sublevel filtration of an h x w image (h, w >= 2),
// by union-finds on the pixels (planar.cpp): the pairs of `compute_persistence` by pixel, faster.
std::array<std::vector<PixelPair>, 2> planar_persistence(const double* image, index_t h, index_t w, Construction c,
                                                         bool negate = false);

}  // namespace seglosses::cubical
