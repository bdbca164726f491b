// Python binding of the Betti matching engine: seglosses._core.betti_matching.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <tuple>
#include <vector>

#include "matching/betti_matching.h"
#include "matching/to_numpy.h"

namespace nb = nanobind;
using seglosses::matching::index_t;

namespace {

using Image = nb::ndarray<const double, nb::c_contig, nb::device::cpu>;

seglosses::matching::PythonMatching betti_matching(Image f, Image g, int construction, int reduction,
                                                                    int num_threads, bool negate) {
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
  seglosses::matching::MatchingResult result;
  {
    nb::gil_scoped_release release;
    result = seglosses::matching::betti_matching(f.data(), g.data(), shape, ndim, construction == 0,
                                                    seglosses::matching::Reduction(reduction), num_threads, negate);
  }
  return seglosses::matching::to_python(std::move(result));
}

}  // namespace

void bind_matching(nb::module_& m) {
  m.def("betti_matching", &betti_matching, nb::arg("prediction"), nb::arg("target"), nb::arg("construction"),
        nb::arg("reduction") = 0, nb::arg("num_threads") = 1, nb::arg("negate") = false,
        "Sublevel Betti matching (construction 0: T, 1: V) of two C-contiguous float64 2D/3D images of one shape "
        "(reduction: the direction of the 3D H1 reductions, 0 auto, 1 homology, 2 cohomology; the result does not "
        "depend on it; num_threads: threads for the independent parts of this one pair; negate: the matching of -prediction "
        "and -target (superlevel filtrations) without negated copies). "
        "Returns (per dimension: (matched prediction, matched target, unmatched prediction, unmatched "
        "target) as (n, 2) int64 flat (birth, death) voxel indices; essential H0 birth voxel of the "
        "prediction; of the target).");
}
