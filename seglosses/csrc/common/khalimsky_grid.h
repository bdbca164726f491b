// The Khalimsky numbering of a cubical complex on an image of up to three axes, as plain data with
// per-element functions that nvcc compiles for host and device (common/hd.h): the persistence engine's
// grid on the CPU (cubical::Grid adds host-only helpers to it) and the CUDA engine's, one type.
//
// Every cell is a point of the grid of Khalimsky coordinates k (0 <= k_a < extent_a); its dimension is
// the number of odd coordinates. Construction V: pixels are the vertices (all coordinates even),
// extent 2n - 1. Construction T: pixels are the top cells (all coordinates odd), extent 2n + 1. A flat
// axis (one pixel) has extent 1. Cells are numbered in C order of k.
//
// The matching engine numbers its cells differently (matching/vgrid.h: 3 v + type at the lowest vertex
// v, three edges and three squares per vertex); the two numberings are the two grid types of the engine.
#pragma once

#include "common/hd.h"
#include "common/types.h"

namespace seglosses {

struct KhalimskyGrid {
  index_t shape[3] = {1, 1, 1};   // image shape padded to three axes (leading axes of size 1)
  index_t extent[3] = {1, 1, 1};  // Khalimsky extents
  index_t stride[3] = {0, 0, 1};  // Khalimsky strides (C order)
  bool flat[3] = {true, true, true};
  bool t_construction = false;
  int dim = 0;  // dimension of the top cells = number of non-flat axes
  index_t num_cells = 1;
  index_t num_pixels = 1;

  static KhalimskyGrid make(const index_t* image_shape, int ndim, bool t) {
    KhalimskyGrid g;
    g.t_construction = t;
    for (int a = 0; a < ndim && a < 3; ++a) g.shape[3 - ndim + a] = image_shape[a];
    g.num_pixels = 1;
    for (int a = 0; a < 3; ++a) {
      g.num_pixels *= g.shape[a];
      g.flat[a] = g.shape[a] <= 1;
      g.extent[a] = g.flat[a] ? 1 : t ? 2 * g.shape[a] + 1 : 2 * g.shape[a] - 1;
      g.dim += g.flat[a] ? 0 : 1;
    }
    g.stride[2] = 1;
    g.stride[1] = g.extent[2];
    g.stride[0] = g.extent[1] * g.extent[2];
    g.num_cells = g.extent[0] * g.stride[0];
    return g;
  }

  SEGLOSSES_HD void coords(index_t c, index_t k[3]) const {
    k[0] = c / stride[0];
    const index_t r = c - k[0] * stride[0];
    k[1] = r / stride[1];
    k[2] = r - k[1] * stride[1];
  }
  SEGLOSSES_HD index_t cell(index_t k0, index_t k1, index_t k2) const { return k0 * stride[0] + k1 * stride[1] + k2; }
  SEGLOSSES_HD int cell_dim(index_t c) const {
    index_t k[3];
    coords(c, k);
    return int(k[0] & 1) + int(k[1] & 1) + int(k[2] & 1);
  }
  // The vertices of a solid grid, numbered in C order (every cell has a lowest vertex, at its coordinates
  // halved): their number, and the dense number 3 v + normal of a square with coordinates k (v its lowest
  // vertex, normal the axis on which it is flat), the numbering the 3D H1 reduction names squares by.
  SEGLOSSES_HD index_t num_vertices() const {
    return ((extent[0] + 1) / 2) * ((extent[1] + 1) / 2) * ((extent[2] + 1) / 2);
  }
  SEGLOSSES_HD index_t dense_square_number(const index_t k[3]) const {
    const int normal = !(k[0] & 1) ? 0 : !(k[1] & 1) ? 1 : 2;
    return 3 * (((k[0] >> 1) * ((extent[1] + 1) / 2) + (k[1] >> 1)) * ((extent[2] + 1) / 2) + (k[2] >> 1)) + normal;
  }
  // Khalimsky coordinate of pixel coordinate i on axis a (of the cell that *is* the pixel: a vertex in V,
  // a top cell in T).
  SEGLOSSES_HD index_t pixel_to_k(int a, index_t i) const {
    if (flat[a]) return 0;
    return t_construction ? 2 * i + 1 : 2 * i;
  }
};

}  // namespace seglosses
