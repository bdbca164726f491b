// The cubical complex of a 2D/3D image, as the Betti matching engine needs it: a grid of vertices
// whose cells are indexed by (lowest vertex, type). In construction V the pixels/voxels are the
// vertices; in construction T they are the top cells, on a grid with one more vertex per axis.
//
// Why not the engine's shared Khalimsky grid (persistence/cubical.h): the induced matching depends on
// how cells of equal value are ordered, and Betti-Matching-3D (the reference we must agree with on
// plateaus and binary masks) breaks ties by the cube index (x, y, z, type). Here a cell of dimension
// 1 or 2 has the index 3 * v + type, with v the flat index of its lowest vertex and type the axis of an
// edge or the normal axis of a square, which is that same order. Cells are compared through 64-bit
// keys (dense rank of the value, index), so no per-cell float array is stored: three images of 128^3
// voxels would otherwise need ~0.4 GB of cell values.
//
// A 2D image, or a 3D image with an axis of extent 1, is stored as (1, n1, n2): flat voxel indices are
// unchanged by moving a singleton axis to the front, and the cube order is preserved. Such a grid is
// "planar": its top cells are the squares of type 0. (In T, a one-pixel-thick slab and its middle
// section have homotopy-equivalent sublevel sets, so dropping the axis keeps the barcodes.)
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "common/hd.h"
#include "common/memory.h"
#include "common/order.h"
#include "common/types.h"

namespace seglosses::matching {

using seglosses::index_t;
constexpr std::uint32_t kNone = 0xffffffffu;

// Lists and tables of cells (see PageAllocator: mapped pages once large, given back when freed).
using CellList = PageVector<std::uint32_t>;

struct VGrid {
  std::array<index_t, 3> n{1, 1, 1};  // vertices per axis
  std::array<index_t, 3> stride{0, 0, 1};
  index_t num_vertices = 1;
  bool planar = true;
  // Construction T: the pixels are the top cells (squares when planar, cubes otherwise), and the
  // vertex grid has one more vertex than pixels on every axis but the flat one of a planar grid.
  bool top_cells = false;
  std::array<index_t, 3> pixels{1, 1, 1};  // the image's shape after dropping a singleton axis
  index_t num_pixels = 1;

  VGrid(const index_t* shape, int ndim, bool construction_t = false) : top_cells(construction_t) {
    index_t others[3] = {1, 1, 1};
    int k = 0;
    bool singleton = ndim == 2;
    for (int a = 0; a < ndim; ++a) {
      if (ndim == 3 && shape[a] == 1 && !singleton) {
        singleton = true;  // drop one singleton axis: the grid becomes planar
        continue;
      }
      others[k++] = shape[a];
    }
    if (singleton) {
      pixels = {1, others[0], others[1]};
    } else {
      pixels = {others[0], others[1], others[2]};
    }
    planar = pixels[0] == 1;
    num_pixels = pixels[0] * pixels[1] * pixels[2];
    n = pixels;
    if (top_cells)
      for (int a = planar ? 1 : 0; a < 3; ++a) n[a] += 1;
    stride = {n[1] * n[2], n[2], 1};
    num_vertices = n[0] * n[1] * n[2];
    // Cell indices and ranks are stored as uint32.
    if (3 * num_vertices + 3 >= index_t(kNone)) throw std::length_error("image too large for the matching engine");
  }

  // 32-bit division: cell indices fit (checked above), and it is about twice as fast as 64-bit.
  SEGLOSSES_HD index_t coord(index_t v, int axis) const {
    return (std::uint32_t(v) / std::uint32_t(stride[axis])) % std::uint32_t(n[axis]);
  }
  SEGLOSSES_HD bool has_step(index_t v, int axis) const { return coord(v, axis) + 1 < n[axis]; }

  // Edge 3v+t joins v and v + stride[t]. Square 3v+t spans the two axes other than t.
  SEGLOSSES_HD static void square_axes(int t, int& a, int& b) {
    a = t == 0 ? 1 : 0;
    b = t == 2 ? 1 : 2;
  }
  SEGLOSSES_HD bool has_edge(index_t v, int t) const { return has_step(v, t); }
  SEGLOSSES_HD bool has_square(index_t v, int t) const {
    int a, b;
    square_axes(t, a, b);
    return has_step(v, a) && has_step(v, b);
  }
  SEGLOSSES_HD bool has_cube(index_t v) const { return has_step(v, 0) && has_step(v, 1) && has_step(v, 2); }

  // The four edges of square 3v+t.
  SEGLOSSES_HD std::array<std::uint32_t, 4> square_edges(index_t v, int t) const {
    int a, b;
    square_axes(t, a, b);
    return {std::uint32_t(3 * v + a), std::uint32_t(3 * (v + stride[b]) + a), std::uint32_t(3 * v + b),
            std::uint32_t(3 * (v + stride[a]) + b)};
  }
  SEGLOSSES_HD std::array<index_t, 4> square_vertices(index_t v, int t) const {
    int a, b;
    square_axes(t, a, b);
    return {v, v + stride[a], v + stride[b], v + stride[a] + stride[b]};
  }

  // Top-cell neighbours of a codimension-1 cell, for the dual union-find; `outer` stands for the
  // cell outside the image. Planar: the squares (indexed by their lowest vertex) beside an in-plane
  // edge 3v+t. Solid: the cubes (indexed by their lowest vertex) beside square 3v+t.
  SEGLOSSES_HD std::array<index_t, 2> dual_neighbours(index_t v, int t, index_t outer) const {
    const int normal = planar ? 3 - t : t;
    const index_t c = coord(v, normal);
    return {c > 0 ? v - stride[normal] : outer, c + 1 < n[normal] ? v : outer};
  }
};

// One image on the grid, as ranks: a cell's rank compares like its filtration value.
// V: a cell takes the max over its vertices (the voxels). T: a cell takes the min over the pixels that
// contain it, read from the pixel ranks on a grid padded with kNone (see RankedImage::pad_t).
//
// RankView is the per-element part, plain data over borrowed arrays, written once as
// __host__ __device__ code (common/hd.h): the CPU engine reads its ranks and critical voxels through it,
// and the GPU matching (cuda/matching_phases.h) runs the same functions in its kernels.
struct RankView {
  VGrid grid;
  const std::uint32_t* rank = nullptr;    // per vertex of the grid
  const std::uint32_t* padded = nullptr;  // T: the padded pixel ranks
  // T: the pixels containing a cell at vertex v that spans the axes in `span` are v + offsets[span][i].
  index_t offsets[8][8] = {};
  int num_offsets[8] = {};

  explicit RankView(const VGrid& g) : grid(g) {}

  SEGLOSSES_HD static std::uint32_t max2(std::uint32_t a, std::uint32_t b) { return a > b ? a : b; }

  SEGLOSSES_HD std::uint32_t vertex_rank(index_t v) const { return rank[v]; }
  SEGLOSSES_HD std::uint32_t edge_rank(std::uint32_t e) const {
    if (grid.top_cells) return min_over(e / 3, 1 << (e % 3));
    const index_t v = e / 3;
    return max2(rank[v], rank[v + grid.stride[e % 3]]);
  }
  SEGLOSSES_HD std::uint32_t square_rank(std::uint32_t s) const {
    if (grid.top_cells) return min_over(s / 3, 7 & ~(1 << (s % 3)));
    const auto vs = grid.square_vertices(s / 3, int(s % 3));
    return max2(max2(rank[vs[0]], rank[vs[1]]), max2(rank[vs[2]], rank[vs[3]]));
  }
  SEGLOSSES_HD std::uint32_t cube_rank(index_t v) const {
    if (grid.top_cells) return min_over(v, 7);
    std::uint32_t r = 0;
    for (int dx = 0; dx < 2; ++dx)
      for (int dy = 0; dy < 2; ++dy)
        for (int dz = 0; dz < 2; ++dz)
          r = max2(r, rank[v + dx * grid.stride[0] + dy * grid.stride[1] + dz * grid.stride[2]]);
    return r;
  }
  // Top cell of the dual union-find: a square (planar) or a cube, indexed by its lowest vertex.
  SEGLOSSES_HD std::uint32_t top_rank(index_t v) const {
    return grid.planar ? square_rank(std::uint32_t(3 * v)) : cube_rank(v);
  }
  // Codimension-1 cells of the top dimension: in-plane edges (planar) or squares (solid).
  SEGLOSSES_HD std::uint32_t codim1_rank(std::uint32_t cell) const {
    return grid.planar ? edge_rank(cell) : square_rank(cell);
  }

  // Sort key of a cell among cells of its dimension: (rank, index), as Betti-Matching-3D orders cubes.
  SEGLOSSES_HD static std::uint64_t key(std::uint32_t r, std::uint32_t cell) { return (std::uint64_t(r) << 32) | cell; }

  // The voxel whose value is the cell's value (a loss gathers gradients there). V: ties resolve like
  // Betti-Matching-3D, the last vertex in C order for edges and squares, the first for cubes. T: the
  // first pixel in C order.
  SEGLOSSES_HD index_t vertex_voxel(index_t v) const { return grid.top_cells ? t_pixel(v, 0) : v; }
  SEGLOSSES_HD index_t edge_voxel(std::uint32_t e) const {
    if (grid.top_cells) return t_pixel(e / 3, 1 << (e % 3));
    const index_t v = e / 3, w = v + grid.stride[e % 3];
    return rank[w] >= rank[v] ? w : v;
  }
  SEGLOSSES_HD index_t square_voxel(std::uint32_t s) const {
    if (grid.top_cells) return t_pixel(s / 3, 7 & ~(1 << (s % 3)));
    const auto vs = grid.square_vertices(s / 3, int(s % 3));
    index_t best = vs[0];
    for (int i = 1; i < 4; ++i)
      if (rank[vs[i]] > rank[best] || (rank[vs[i]] == rank[best] && vs[i] > best)) best = vs[i];
    return best;
  }
  SEGLOSSES_HD index_t cube_voxel(index_t v) const {
    if (grid.top_cells) return t_pixel(v, 7);
    index_t best = v;
    for (int dx = 0; dx < 2; ++dx)
      for (int dy = 0; dy < 2; ++dy)
        for (int dz = 0; dz < 2; ++dz) {
          const index_t w = v + dx * grid.stride[0] + dy * grid.stride[1] + dz * grid.stride[2];
          if (rank[w] > rank[best]) best = w;
        }
    return best;
  }
  SEGLOSSES_HD index_t top_voxel(index_t v) const {
    return grid.planar ? square_voxel(std::uint32_t(3 * v)) : cube_voxel(v);
  }
  SEGLOSSES_HD index_t codim1_voxel(std::uint32_t cell) const {
    return grid.planar ? edge_voxel(cell) : square_voxel(cell);
  }

  // T: the padded index of image pixel p (see RankedImage::pad_t).
  SEGLOSSES_HD index_t padded_pixel(index_t p) const {
    const index_t off = grid.planar ? 0 : 1;
    const index_t plane = grid.pixels[1] * grid.pixels[2];
    const index_t i = p / plane, r = p - i * plane, j = r / grid.pixels[2];
    return (i + off) * grid.stride[0] + (j + 1) * grid.stride[1] + (r - j * grid.pixels[2]) + 1;
  }

  SEGLOSSES_HD std::uint32_t min_over(index_t v, int span) const {
    const std::uint32_t* at = padded + v;
    std::uint32_t r = kNone;
    for (int i = 0; i < num_offsets[span]; ++i) r = at[offsets[span][i]] < r ? at[offsets[span][i]] : r;
    return r;
  }

  // T: the pixels containing the cell at vertex v that spans the axes in `span` (bit a = axis a) are,
  // on a spanned axis, pixel x_a, and otherwise pixels x_a - 1 and x_a (where inside the image; the
  // flat axis of a planar grid has pixel 0 only). Returns the one of smallest (rank, index).
  SEGLOSSES_HD index_t t_pixel(index_t v, int span) const {
    index_t best = -1;
    std::uint32_t best_rank = kNone;
    const index_t x[3] = {grid.coord(v, 0), grid.coord(v, 1), grid.coord(v, 2)};
    for (int mask = 0; mask < 8; ++mask) {
      index_t p[3];
      bool inside = true;
      for (int a = 0; a < 3 && inside; ++a) {
        const bool low = (mask >> a) & 1;  // take pixel x_a - 1 instead of x_a
        if ((grid.planar && a == 0) || ((span >> a) & 1)) {
          if (low) inside = false;  // one candidate only: count it once
          p[a] = x[a];
        } else {
          p[a] = low ? x[a] - 1 : x[a];
        }
        inside = inside && p[a] >= 0 && p[a] < grid.pixels[a];
      }
      if (!inside) continue;
      const index_t pixel = (p[0] * grid.pixels[1] + p[1]) * grid.pixels[2] + p[2];
      const std::uint32_t r = padded[padded_pixel(pixel)];
      if (r < best_rank || (r == best_rank && pixel < best)) {
        best_rank = r;
        best = pixel;
      }
    }
    return best;
  }
};

// A RankView with its own arrays: the dense ranks of a host image (common/order.h).
struct RankedImage : RankView {
  std::uint32_t num_ranks = 0;
  index_t largest_plateau = 0;  // the most pixels that share one value

  // negate: the ranks of -values (a superlevel filtration), without a negated copy.
  RankedImage(const VGrid& g, const double* values, bool negate = false) : RankView(g) {
    if (!g.top_cells) {
      rank_ = dense_ranks(values, g.num_vertices, num_ranks, negate);
      count_plateau(rank_);
      rank = rank_.data();
      return;
    }
    {
      const std::vector<std::uint32_t> pixel_rank = dense_ranks(values, g.num_pixels, num_ranks, negate);
      count_plateau(pixel_rank);
      pad_t(pixel_rank);
    }
    rank_.resize(std::size_t(g.num_vertices));
    for (index_t v = 0; v < g.num_vertices; ++v) rank_[v] = min_over(v, 0);
    rank = rank_.data();
  }
  // Dense ranks computed elsewhere (the GPU engine's, copied to the host): V, the ranks per vertex
  // (`vertex_rank`; `padded` empty); T, the padded pixel ranks (`padded`, the layout of pad_t) and the vertex
  // ranks if dimension 0 is still to be read (else empty: H1 reads the padded ranks only).
  RankedImage(const VGrid& g, std::vector<std::uint32_t>&& vertex_rank, std::vector<std::uint32_t>&& padded_rank)
      : RankView(g), rank_(std::move(vertex_rank)), padded_(std::move(padded_rank)) {
    const std::vector<std::uint32_t>& pixel_rank = g.top_cells ? padded_ : rank_;
    std::uint32_t top = 0;
    for (const std::uint32_t r : pixel_rank)
      if (r != kNone) top = std::max(top, r + 1);
    num_ranks = top;
    count_plateau(pixel_rank);
    rank = rank_.empty() ? nullptr : rank_.data();
    if (g.top_cells) {
      padded = padded_.data();
      t_offsets(*this);
    }
  }
  RankedImage(const RankedImage&) = delete;
  RankedImage& operator=(const RankedImage&) = delete;

  // T: frees the vertex ranks, which only dimension 0 reads (every other cell's rank and voxel comes
  // from the padded pixel ranks): 4 bytes per voxel. No-op in V, where they are the only ranks.
  void release_vertex_ranks() {
    if (!grid.top_cells) return;
    std::vector<std::uint32_t>().swap(rank_);
    rank = nullptr;
  }

  // T: the padding layout and its offsets, for ranks given per pixel (the GPU fills the padded array
  // itself with padded_pixel, and only needs the offsets).
  static void t_offsets(RankView& view) {
    const VGrid& g = view.grid;
    for (int span = 0; span < 8; ++span) {
      int n = 0;
      for (int mask = 0; mask < 8; ++mask) {
        index_t at = 0;
        bool valid = true;
        for (int a = 0; a < 3; ++a) {
          const bool high = (mask >> a) & 1;
          const bool fixed = (g.planar && a == 0) || ((span >> a) & 1);
          if (fixed) {
            if (!high) valid = false;  // one candidate only: the "high" one
            if (!(g.planar && a == 0)) at += g.stride[a];
          } else if (high) {
            at += g.stride[a];
          }
        }
        if (valid) view.offsets[span][n++] = at;
      }
      view.num_offsets[span] = n;
    }
  }
  // T: the size of the padded array: the last padding slot has coordinates (n0 or 0 if flat, n1, n2).
  static index_t padded_size(const VGrid& g) {
    const index_t off = g.planar ? 0 : 1;
    return off * g.n[0] * g.stride[0] + g.n[1] * g.stride[1] + g.n[2] + 1;
  }

 private:
  std::vector<std::uint32_t> rank_;
  // T: the pixel ranks, padded by one pixel of rank kNone before and after every non-flat axis, laid
  // out with the vertex grid's strides: pixel p sits at (p0 + 1) s0 + (p1 + 1) s1 + p2 + 1 (no shift
  // on the flat axis of a planar grid). A padding pixel past the end of a row lands on the first
  // padding pixel of the next row (coordinate n, one more than the vertex grid holds, carries over
  // with a 0), so padding only ever shares a slot with padding, and vertex v itself is the index of
  // the pixel before it on every axis: the pixels containing a cell at v are v plus fixed offsets,
  // `offsets[span]` for the axes it spans (pixel x_a on a spanned axis, x_a - 1 and x_a on the
  // others). A cell's rank is the minimum there (the border never wins), read when asked instead of
  // tabulated (three images of 6 cell ranks per vertex were 72 bytes per voxel).
  std::vector<std::uint32_t> padded_;

  // The padding's kNone entries (T, ranks given padded) are not pixels.
  void count_plateau(const std::vector<std::uint32_t>& ranks) {
    std::vector<index_t> count(num_ranks, 0);
    for (const std::uint32_t r : ranks)
      if (r != kNone) largest_plateau = std::max(largest_plateau, ++count[r]);
  }

  void pad_t(const std::vector<std::uint32_t>& pixel_rank) {
    padded_.assign(std::size_t(padded_size(grid)), kNone);
    for (index_t p = 0; p < grid.num_pixels; ++p) padded_[std::size_t(padded_pixel(p))] = pixel_rank[std::size_t(p)];
    padded = padded_.data();
    t_offsets(*this);
  }
};

// Cells (given in increasing index order) sorted by (rank, index): a stable counting sort by rank.
template <class RankOf>
CellList sort_by_rank(const CellList& cells, std::uint32_t num_ranks, RankOf rank_of) {
  CellList r(cells.size());
  CellList start(std::size_t(num_ranks) + 1, 0);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    r[i] = rank_of(cells[i]);
    ++start[r[i] + 1];
  }
  for (std::size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
  CellList out(cells.size());
  for (std::size_t i = 0; i < cells.size(); ++i) out[start[r[i]]++] = cells[i];
  return out;
}

}  // namespace seglosses::matching
