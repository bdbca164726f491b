// Homotopic warping of a binary image (Hu, "Structure-Aware Image Segmentation with Homotopy Warping", NeurIPS
// 2022): the candidate pixels, in the order given, are flipped where they are simple points, i.e. where the flip
// changes no topology. Binding: seglosses._core.warp.
//
// Simple points by topological numbers (Bertrand and Malandain): with foreground connectivity n and background
// connectivity m (construction T: 8/4 in 2D, 26/6 in 3D; V: 4/8, 6/26), x is simple iff T_n(x, X) = 1 and
// T_m(x, X^c) = 1, where T counts the components of the foreground (background) pixels of x's 3x3(x3)
// neighbourhood, x excluded, that are adjacent to x; for the face connectivities (4, 6) only the pixels sharing at
// most an edge with x count (N8 in 2D, N18 in 3D), and a component counts if it holds a face neighbour of x. The
// test depends on the neighbours only, so it is the same for removing x from X and for adding it. Pixels outside
// the image are background.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <array>
#include <cstdint>
#include <cstdlib>

#include "common/types.h"

namespace nb = nanobind;
using seglosses::index_t;

namespace {

// The 3^d cells of a neighbourhood (d = 2: the middle slice of the 3D cube), their offsets and adjacencies.
struct Cube {
  int ndim = 0, cells = 0, centre = 0;
  std::array<std::array<int, 3>, 27> offset{};  // (dz, dy, dx)
  std::array<int, 27> l1{};                     // |dz| + |dy| + |dx|
  std::array<std::array<int, 27>, 27> face{}, full{};
  std::array<int, 27> n_face{}, n_full{};

  explicit Cube(int d) : ndim(d) {
    cells = d == 3 ? 27 : 9;
    for (int c = 0; c < cells; ++c) {
      const int dz = d == 3 ? c / 9 - 1 : 0, dy = (c / 3) % 3 - 1, dx = c % 3 - 1;
      offset[c] = {dz, dy, dx};
      l1[c] = std::abs(dz) + std::abs(dy) + std::abs(dx);
      if (l1[c] == 0) centre = c;
    }
    for (int a = 0; a < cells; ++a)
      for (int b = 0; b < cells; ++b) {
        if (a == b) continue;
        const int ddz = std::abs(offset[a][0] - offset[b][0]), ddy = std::abs(offset[a][1] - offset[b][1]),
                  ddx = std::abs(offset[a][2] - offset[b][2]);
        if (ddz > 1 || ddy > 1 || ddx > 1) continue;
        full[a][n_full[a]++] = b;
        if (ddz + ddy + ddx == 1) face[a][n_face[a]++] = b;
      }
  }

  // Components of the cells c != centre with in[c] (face or full adjacency), counted as T_n / T_m above.
  int topological_number(const std::array<bool, 27>& in, bool full_adjacency) const {
    std::array<int, 27> seen{};
    std::array<int, 27> stack{};
    int components = 0;
    for (int start = 0; start < cells; ++start) {
      if (start == centre || !in[start] || seen[start]) continue;
      if (!full_adjacency && l1[start] > 2) continue;  // N8 / N18 only
      int top = 0;
      stack[top++] = start;
      seen[start] = 1;
      bool touches = full_adjacency || l1[start] == 1;
      while (top > 0) {
        const int c = stack[--top];
        const auto& next = full_adjacency ? full[c] : face[c];
        const int n = full_adjacency ? n_full[c] : n_face[c];
        for (int k = 0; k < n; ++k) {
          const int b = next[k];
          if (b == centre || !in[b] || seen[b] || (!full_adjacency && l1[b] > 2)) continue;
          seen[b] = 1;
          touches = touches || (!full_adjacency && l1[b] == 1);
          stack[top++] = b;
        }
      }
      if (touches) ++components;
      if (components > 1) return components;
    }
    return components;
  }
};

const Cube& cube(int ndim) {
  static const Cube two(2), three(3);
  return ndim == 3 ? three : two;
}

using Image = nb::ndarray<std::uint8_t, nb::c_contig, nb::device::cpu>;
using Indices = nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

// Flips, in order, the candidates that are simple in the current image; returns how many were flipped.
index_t warp(Image image, Indices candidates, int construction) {
  const int ndim = int(image.ndim());
  if (ndim < 2 || ndim > 3) throw nb::value_error("Expected a 2D or 3D image.");
  if (construction != 0 && construction != 1) throw nb::value_error("Expected `construction` to be 0 (T) or 1 (V).");
  index_t shape[3] = {1, 1, 1};
  for (int a = 0; a < ndim; ++a) shape[3 - ndim + a] = index_t(image.shape(a));
  const index_t size = shape[0] * shape[1] * shape[2];
  const std::int64_t* order = candidates.data();
  const index_t n = index_t(candidates.shape(0));
  for (index_t i = 0; i < n; ++i)
    if (order[i] < 0 || order[i] >= size) throw nb::value_error("Expected candidate indices inside the image.");
  std::uint8_t* x = image.data();
  const Cube& c = cube(ndim);
  const bool foreground_full = construction == 0;  // T: foreground 8/26-connected, background 4/6
  index_t flipped = 0;
  {
    nb::gil_scoped_release release;
    std::array<bool, 27> fg{}, bg{};
    for (index_t i = 0; i < n; ++i) {
      const index_t p = order[i];
      const index_t z = p / (shape[1] * shape[2]), y = (p / shape[2]) % shape[1], w = p % shape[2];
      for (int k = 0; k < c.cells; ++k) {
        const index_t zz = z + c.offset[k][0], yy = y + c.offset[k][1], ww = w + c.offset[k][2];
        const bool inside = zz >= 0 && zz < shape[0] && yy >= 0 && yy < shape[1] && ww >= 0 && ww < shape[2];
        fg[k] = inside && x[(zz * shape[1] + yy) * shape[2] + ww] != 0;
        bg[k] = !fg[k];
      }
      if (c.topological_number(fg, foreground_full) == 1 && c.topological_number(bg, !foreground_full) == 1) {
        x[p] = x[p] ? 0 : 1;
        ++flipped;
      }
    }
  }
  return flipped;
}

}  // namespace

void bind_warping(nb::module_& m) {
  m.def("warp", &warp, nb::arg("image"), nb::arg("candidates"), nb::arg("construction"),
        "Homotopic warping, in place: flips the candidate pixels of a C-contiguous uint8 2D/3D image (0/1), in the "
        "order given (int64 flat indices), where each is a simple point of the image as it stands (construction "
        "0: T, foreground 8/26-connected; 1: V, 4/6). Returns the number of pixels flipped.");
}
