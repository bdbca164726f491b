// Python binding of the persistence engine: seglosses._core.persistence. Checks and converts only.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <tuple>
#include <vector>

#include "common/numpy.h"
#include "persistence/cubical.h"

namespace nb = nanobind;
using namespace seglosses::cubical;
using seglosses::PairArray;
using seglosses::pairs_to_numpy;

namespace {

using DimResult = std::tuple<PairArray<double>, PairArray<index_t>>;

std::vector<DimResult> persistence(nb::ndarray<const double, nb::c_contig, nb::device::cpu> image, int construction,
                                   bool keep_zero_persistence, bool wide_keys, bool planar, bool dual,
                                   int num_threads, bool negate) {
  const int ndim = int(image.ndim());
  if (ndim < 2 || ndim > 3) throw nb::value_error("Expected `image` to be a 2D or 3D array.");
  if (construction != 0 && construction != 1) throw nb::value_error("Expected `construction` to be 0 (T) or 1 (V).");
  if (num_threads < 1) throw nb::value_error("Expected `num_threads` to be a positive integer.");
  index_t shape[3];
  for (int a = 0; a < ndim; ++a) {
    shape[a] = index_t(image.shape(a));
    if (shape[a] < 1) throw nb::value_error("Expected `image` to be non-empty.");
  }
  const index_t pixels = shape[0] * shape[1] * (ndim == 3 ? shape[2] : 1);
  if (pixels >= index_t(0xffffffffu))
    throw nb::value_error("Expected `image` to have fewer than 2**32 - 1 pixels (ranks are 32-bit).");
  BarcodeOptions options;
  options.keep_zero_persistence = keep_zero_persistence;
  options.wide_keys = wide_keys;
  options.planar = planar;
  options.dual = dual;
  options.threads = num_threads;
  options.negate = negate;
  std::vector<std::vector<double>> values(ndim);
  std::vector<std::vector<index_t>> cells(ndim);
  {
    nb::gil_scoped_release release;
    const auto bars = barcode(image.data(), shape, ndim, Construction(construction), options);
    for (int d = 0; d < ndim; ++d) {
      values[d].reserve(2 * bars[d].size());
      cells[d].reserve(2 * bars[d].size());
      for (const PixelPair& bar : bars[d]) {
        values[d].insert(values[d].end(), {bar.birth, bar.death});
        cells[d].insert(cells[d].end(), {bar.birth_pixel, bar.death_pixel});
      }
    }
  }
  std::vector<DimResult> out;
  for (int d = 0; d < ndim; ++d)
    out.emplace_back(pairs_to_numpy(std::move(values[d])), pairs_to_numpy(std::move(cells[d])));
  return out;
}

}  // namespace

void bind_persistence(nb::module_& m) {
  m.def("persistence", &persistence, nb::arg("image"), nb::arg("construction"),
        nb::arg("keep_zero_persistence") = false, nb::arg("wide_keys") = false, nb::arg("planar") = true,
        nb::arg("dual") = true, nb::arg("num_threads") = 1, nb::arg("negate") = false,
        "Sublevel persistence of a C-contiguous float64 2D/3D image. Returns, per dimension, "
        "((n, 2) birth/death values, (n, 2) int64 flat pixel indices; -1 for an essential death), "
        "bars ordered by persistence descending, then birth, birth pixel and death pixel. 2D images go to the "
        "union-finds on pixels unless planar=False or zero-persistence pairs are kept; 3D images in T to "
        "construction V of the padded negated image (duality) unless dual=False, wide_keys=True or zero-persistence "
        "pairs are kept. num_threads: threads for the parts of one 3D image that parallelise. negate: the sublevel "
        "filtration of -image (a superlevel filtration), without a negated copy.");
}
