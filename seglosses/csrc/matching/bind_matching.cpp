// Python binding of the Betti matching engine: seglosses._core.betti_matching.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <tuple>
#include <vector>

#include "matching/betti_matching.h"

namespace nb = nanobind;
using seglosses::matching::index_t;

namespace {

constexpr index_t kMinPixelsPerThread = index_t(1) << 16;

using Cells = nb::ndarray<nb::numpy, index_t, nb::ndim<2>>;

Cells to_numpy(std::vector<index_t>&& data) {
  auto* heap = new std::vector<index_t>(std::move(data));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<index_t>*>(p); });
  return Cells(heap->data(), {heap->size() / 2, 2}, owner);
}

using DimResult = std::tuple<Cells, Cells, Cells, Cells>;
using Image = nb::ndarray<const double, nb::c_contig, nb::device::cpu>;

std::tuple<std::vector<DimResult>, index_t, index_t> betti_matching(Image f, Image g, int construction, int reduction,
                                                                    int num_threads) {
  if (num_threads < 1) throw nb::value_error("Expected `num_threads` to be a positive integer.");
  if (reduction < 0 || reduction > 2) throw nb::value_error("Expected `reduction` to be 0 (auto), 1 (homology) or 2 (cohomology).");
  if (construction != 0 && construction != 1) throw nb::value_error("Expected `construction` to be 0 (T) or 1 (V).");
  const int ndim = int(f.ndim());
  if (ndim < 2 || ndim > 3) throw nb::value_error("Expected `prediction` to be a 2D or 3D array.");
  if (int(g.ndim()) != ndim) throw nb::value_error("Expected `prediction` and `target` to have the same shape.");
  index_t shape[3];
  for (int a = 0; a < ndim; ++a) {
    shape[a] = index_t(f.shape(a));
    if (index_t(g.shape(a)) != shape[a])
      throw nb::value_error("Expected `prediction` and `target` to have the same shape.");
    if (shape[a] < 1) throw nb::value_error("Expected `prediction` to be non-empty.");
  }
  // Threads pay off from about this size (a thread start costs tens of microseconds; a 2D pair of
  // 128^2 takes about a millisecond).
  if (shape[0] * shape[1] * (ndim == 3 ? shape[2] : 1) < kMinPixelsPerThread) num_threads = 1;
  seglosses::matching::MatchingResult result;
  {
    nb::gil_scoped_release release;
    result = seglosses::matching::betti_matching(f.data(), g.data(), shape, ndim, construction == 0,
                                                    seglosses::matching::Reduction(reduction), num_threads);
  }
  std::vector<DimResult> dims;
  for (auto& d : result.dims)
    dims.emplace_back(to_numpy(std::move(d.matched_f)), to_numpy(std::move(d.matched_g)),
                      to_numpy(std::move(d.unmatched_f)), to_numpy(std::move(d.unmatched_g)));
  return {std::move(dims), result.essential_f, result.essential_g};
}

}  // namespace

void bind_matching(nb::module_& m) {
  m.def("betti_matching", &betti_matching, nb::arg("prediction"), nb::arg("target"), nb::arg("construction"),
        nb::arg("reduction") = 0, nb::arg("num_threads") = 1,
        "Sublevel Betti matching (construction 0: T, 1: V) of two C-contiguous float64 2D/3D images of one shape "
        "(reduction: the direction of the 3D H1 reductions, 0 auto, 1 homology, 2 cohomology; the result does not "
        "depend on it; num_threads: threads for the independent parts of this one pair). "
        "Returns (per dimension: (matched prediction, matched target, unmatched prediction, unmatched "
        "target) as (n, 2) int64 flat (birth, death) voxel indices; essential H0 birth voxel of the "
        "prediction; of the target).");
}
