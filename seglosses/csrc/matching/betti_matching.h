// Betti matching (Stucki et al., ICML 2023, "Topologically faithful image segmentation via induced
// matching of persistence barcodes") of two images, sublevel filtration, construction V (pixels are
// vertices, as Betti-Matching-3D) or T (pixels are top cells, as gudhi's top_dimensional_cells).
//
// The comparison image is the pointwise minimum c = min(f, g), so every sublevel set of f and of g lies
// in the sublevel set of c at the same value. Each inclusion induces maps in homology; their image
// barcodes connect the bars of f (and of g) to the bars of c. A bar of f and a bar of g are matched
// when both connect to the same bar of c:
//   - bar of f -> image bar: same birth cell (the image bar is born when the f-class is born);
//   - image bar -> bar of c: same death cell (the image bar dies when its class dies in c).
// Dimension 0 and the top dimension are union-find problems (the top one on the dual graph of top cells
// plus an outer cell); H1 of a 3D image needs boundary-matrix reduction (image persistence: columns in
// the order of c, rows in the order of f). The algorithm is the one of Betti-Matching-3D
// (github.com/nstucki/Betti-Matching-3D); this is an independent implementation.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "matching/vgrid.h"

namespace seglosses::matching {

// Flat voxel indices (birth voxel, death voxel) of persistence pairs, two entries per pair.
using VoxelPairs = std::vector<index_t>;

struct DimensionMatching {
  VoxelPairs matched_f, matched_g;  // row i of both: the i-th matched pair
  VoxelPairs unmatched_f, unmatched_g;
};

struct MatchingResult {
  std::vector<DimensionMatching> dims;  // one per image dimension (planar 3D inputs: dimension 2 empty)
  index_t essential_f = 0;              // birth voxel of the essential H0 class of f (and of g)
  index_t essential_g = 0;
};

// The comparison image at one pixel: min(f, g), or with `negate` (superlevel) min(-f, -g) = -max(f, g),
// exactly (std::min / std::max order; shared with the GPU matching).
SEGLOSSES_HD double comparison_value(double f, double g, bool negate) {
  return negate ? -(f < g ? g : f) : (g < f ? g : f);
}

// Sublevel Betti matching of two C-contiguous float64 images of the same shape (ndim 2 or 3).
// Finite pairs only; the essential H0 classes are returned by birth voxel. Zero-persistence pairs are
// not reported (as in Betti-Matching-3D).
// `reduction` picks the direction of every H1 reduction of a 3D matching (for tests: the result must
// not depend on it): Reduction::Auto (by the inputs' plateaus), Homology or Cohomology.
enum class Reduction : int { Auto = 0, Homology = 1, Cohomology = 2 };
// `threads`: the independent parts (the three images' rankings, sorts and union-finds, the five H1
// reductions) run on up to that many threads.
// negate: the matching of -f and -g (superlevel filtrations), read without negated copies.
MatchingResult betti_matching(const double* f, const double* g, const index_t* shape, int ndim, bool construction_t,
                              Reduction reduction = Reduction::Auto, int threads = 1, bool negate = false);

namespace detail {
// Bookkeeping shared by the per-dimension algorithms.
struct Images {
  const VGrid& grid;
  const RankedImage& f;
  const RankedImage& g;
  const RankedImage& c;
  const RankedImage& operator[](int k) const { return k == 0 ? f : (k == 1 ? g : c); }
};

// Pairs of one input image in one dimension, and which of them were matched.
struct InputPairs {
  VoxelPairs voxels;
  std::vector<std::uint8_t> matched;
  void reserve(std::size_t pairs) {
    voxels.reserve(2 * pairs);
    matched.reserve(pairs);
  }
  std::uint32_t add(index_t birth, index_t death) {
    voxels.push_back(birth);
    voxels.push_back(death);
    matched.push_back(0);
    return std::uint32_t(matched.size() - 1);
  }
};

// The result layout: matched pairs in the order of `matches`, then each image's unmatched pairs in its
// own order (inline: the CUDA module assembles its results with it too).
inline void finish_dimension(const InputPairs& f, const InputPairs& g,
                      const std::vector<std::array<std::uint32_t, 2>>& matches, DimensionMatching& out) {
  for (const auto& m : matches) {
    out.matched_f.insert(out.matched_f.end(), {f.voxels[2 * m[0]], f.voxels[2 * m[0] + 1]});
    out.matched_g.insert(out.matched_g.end(), {g.voxels[2 * m[1]], g.voxels[2 * m[1] + 1]});
  }
  for (std::size_t i = 0; i < f.matched.size(); ++i)
    if (!f.matched[i]) out.unmatched_f.insert(out.unmatched_f.end(), {f.voxels[2 * i], f.voxels[2 * i + 1]});
  for (std::size_t i = 0; i < g.matched.size(); ++i)
    if (!g.matched[i]) out.unmatched_g.insert(out.unmatched_g.end(), {g.voxels[2 * i], g.voxels[2 * i + 1]});
}


// The directions of the five H1 reductions of a solid grid (barcodes of f, g, c; image barcodes of f
// and g into c), decided from the images' ties (their ranks alone) before the reductions.
struct H1Plan {
  bool barcode_by_homology[3] = {true, true, true};
  bool image_by_homology[2] = {true, true};
};
H1Plan plan_h1_solid(const Images& im, Reduction reduction);

// H1 of a solid (3D) grid by reduction. `edges[k]` lists the edges that merge no components in image k
// (f, g, c: the edges that close a loop, which dimension 0 leaves), `squares[k]` the squares that merge
// no dual components (those that kill a loop, which the top dimension leaves), both in increasing order of
// image k. Only they can be pivots of the reductions, and the others are left out of its rows too (see
// h1_reduction.cpp). The lists are consumed: each is freed after the last reduction that reads it.
void match_h1_solid(const Images& im, const H1Plan& plan, std::array<CellList, 3>& edges,
                    std::array<CellList, 3>& squares, DimensionMatching& out, int threads);
}  // namespace detail

}  // namespace seglosses::matching
