// Construction T of a 3D image by duality from construction V (Bleile, Garin, Heiss, Maggs, Robins,
// "The persistent homology of dual digital image constructions", 2022; the argument is Alexander
// duality, the code is ours).
//
// Rank the pixels of the image x by (value, index) as the T filtration does: K_r, the union of the
// closed voxels of rank <= r, grows with r. Its complement in space deformation-retracts onto the
// V-complex (6-connected) of the voxels of rank > r together with a one-voxel shell around the image.
// So give the pixels of a padded image the reversed order, shell first: dual rank P + (n - 1 - r) for
// the pixel of T-rank r (P shell pixels, n image pixels). The V-sublevel sets of that order are the
// complements, and Alexander duality turns a p-dimensional T bar born at rank b and dying at rank d
// into a (2 - p)-dimensional V bar born at the pixel of T-rank d and dying at the pixel of T-rank b:
// the same critical pixels, with birth and death swapped. Two classes have no partner: the essential
// component of the V complex (the shell itself), and the cavity the shell encloses, which is born
// when the shell is complete and dies at the last pixel, T's rank 0, as T's essential component.
//
// Both filtrations are indexed by the same total order of the pixels, so the pairs by pixel are
// determined by it (which of several cells of one rank is paired can differ, the pixels cannot): the
// result is exactly that of `compute_persistence` on the T grid, which the tests check on random,
// tied and binary images. What it buys: V's H0 by union-find over the voxels in rank order, and V's
// apparent pairs and reduction, which the T grid loses on plateaus (a random binary 48^3 mask: 0.43 s
// on the T grid, 0.05 s here).
//
// The padded grid is numbered backwards (every axis flipped: padded pixel q is stored at m - 1 - q). The
// dual order runs T's ranks backwards, and T breaks ties by increasing index, so on a plateau the dual's
// ranks would fall as the index rises; numbered backwards they rise with it, as in a V image of its own,
// and the reduction meets the short chains it meets in V (random binary 96^3: 0.248 -> 0.200 s, V
// 0.189 s). The pairs by pixel do not depend on how the cells are numbered (above), only the work does.
#include <cmath>
#include <limits>
#include <stdexcept>

#include "common/profile.h"
#include "persistence/cubical.h"

namespace seglosses::cubical {

std::array<std::vector<PixelPair>, 3> t_persistence_by_duality(const double* image, const index_t* shape, int threads,
                                                               bool negate) {
  PhaseTimer timer("duality");
  const auto value = [&](index_t p) { return negate ? -image[p] : image[p]; };
  const index_t n = shape[0] * shape[1] * shape[2];
  const index_t padded_shape[3] = {shape[0] + 2, shape[1] + 2, shape[2] + 2};
  const Grid grid(padded_shape, 3, Construction::V);
  const index_t m = grid.num_pixels, shell = m - n;
  const index_t ps1 = padded_shape[1] * padded_shape[2], ps2 = padded_shape[2];
  std::vector<std::uint32_t> order(static_cast<std::size_t>(m));
  std::vector<double> values(static_cast<std::size_t>(m));
  {
    // The shell first (any order: its pairs are among shell pixels, of zero persistence at -inf).
    index_t q = 0, at = 0;
    for (index_t i0 = 0; i0 < padded_shape[0]; ++i0)
      for (index_t i1 = 0; i1 < padded_shape[1]; ++i1)
        for (index_t i2 = 0; i2 < padded_shape[2]; ++i2, ++q) {
          const bool inside = i0 > 0 && i0 <= shape[0] && i1 > 0 && i1 <= shape[1] && i2 > 0 && i2 <= shape[2];
          if (inside) continue;
          order[at] = std::uint32_t(m - 1 - q);
          values[at++] = -std::numeric_limits<double>::infinity();
        }
    // Then the image pixels from the last T-rank to the first, with negated values.
    const std::vector<std::uint32_t> t_order = sort_by_value(image, n, negate, threads);
    timer.mark("sort");
    for (index_t s = 0; s < n; ++s) {
      const index_t p = t_order[std::size_t(n - 1 - s)];
      const index_t i0 = p / (shape[1] * shape[2]), r = p - i0 * shape[1] * shape[2], i1 = r / shape[2];
      order[std::size_t(shell + s)] =
          std::uint32_t(m - 1 - ((i0 + 1) * ps1 + (i1 + 1) * ps2 + (r - i1 * shape[2]) + 1));
      values[std::size_t(shell + s)] = -value(p);
    }
  }
  timer.mark("order");
  Filtration dual(grid, std::move(order), std::move(values), threads);
  timer.mark("ranks");
  const PersistenceDiagram diagram = compute_persistence(dual, false, false, threads);
  timer.mark("pairs");

  // The image pixel of a dual rank (of an image pixel, not the shell).
  const auto pixel = [&](std::uint32_t dual_rank) {
    const index_t q = m - 1 - index_t(dual.pixel_of_rank[dual_rank]);
    const index_t i0 = q / ps1, r = q - i0 * ps1, i1 = r / ps2;
    return ((i0 - 1) * shape[1] + (i1 - 1)) * shape[2] + (r - i1 * ps2) - 1;
  };
  std::array<std::vector<PixelPair>, 3> out;
  for (int k = 0; k < 3; ++k) {
    out[2 - k].reserve(diagram.pairs[k].size());
    for (const PersistencePair& p : diagram.pairs[k]) {
      if (p.essential) continue;  // the shell's component
      const index_t death_pixel = pixel(p.death_rank);  // T's birth pixel
      if (index_t(p.birth_rank) < shell) {
        if (k != 2) throw std::logic_error("duality: a pair born in the shell outside dimension 2");
        out[0].push_back({death_pixel, -1, value(death_pixel), std::numeric_limits<double>::infinity()});
        continue;
      }
      const index_t birth_pixel = pixel(p.birth_rank);  // T's death pixel
      out[2 - k].push_back({death_pixel, birth_pixel, value(death_pixel), value(birth_pixel)});
    }
  }
  timer.mark("convert");
  return out;
}

}  // namespace seglosses::cubical
