// Python binding of the persistence engine: seglosses._core.persistence.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <memory>
#include <tuple>
#include <vector>

#include "persistence/cubical.h"

namespace nb = nanobind;
using namespace seglosses::cubical;

namespace {

template <class T>
using Array2 = nb::ndarray<nb::numpy, T, nb::ndim<2>>;

template <class T>
Array2<T> to_numpy(std::vector<T>&& data) {
  auto* heap = new std::vector<T>(std::move(data));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return Array2<T>(heap->data(), {heap->size() / 2, 2}, owner);
}

using DimResult = std::tuple<Array2<double>, Array2<index_t>>;

std::vector<DimResult> persistence(nb::ndarray<const double, nb::c_contig, nb::device::cpu> image, int construction,
                                   bool keep_zero_persistence, bool wide_keys) {
  const int ndim = int(image.ndim());
  if (ndim < 2 || ndim > 3) throw nb::value_error("Expected `image` to be a 2D or 3D array.");
  if (construction != 0 && construction != 1) throw nb::value_error("Expected `construction` to be 0 (T) or 1 (V).");
  index_t shape[3];
  for (int a = 0; a < ndim; ++a) {
    shape[a] = index_t(image.shape(a));
    if (shape[a] < 1) throw nb::value_error("Expected `image` to be non-empty.");
  }
  if (shape[0] * shape[1] * (ndim == 3 ? shape[2] : 1) >= index_t(0xffffffffu))
    throw nb::value_error("Expected `image` to have fewer than 2**32 - 1 pixels (ranks are 32-bit).");
  std::vector<std::vector<double>> values(ndim);
  std::vector<std::vector<index_t>> cells(ndim);
  {
    nb::gil_scoped_release release;
    const Filtration f(image.data(), shape, ndim, Construction(construction));
    const PersistenceDiagram diagram = compute_persistence(f, keep_zero_persistence, wide_keys);
    for (int d = 0; d < ndim; ++d) {
      // The documented bar order: persistence descending (essential first), then birth ascending,
      // then birth pixel and death pixel (so the order never depends on the algorithm's internals).
      struct Bar {
        double birth, death;
        index_t birth_pixel, death_pixel;
      };
      std::vector<Bar> bars;
      bars.reserve(diagram.pairs[d].size());
      for (const PersistencePair& p : diagram.pairs[d])
        bars.push_back({p.birth, p.death, f.critical_pixel(p.birth_cell),
                        p.death_cell < 0 ? -1 : f.critical_pixel(p.death_cell)});
      std::sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) {
        const double la = a.death - a.birth, lb = b.death - b.birth;
        if (la != lb) return la > lb;
        if (a.birth != b.birth) return a.birth < b.birth;
        if (a.birth_pixel != b.birth_pixel) return a.birth_pixel < b.birth_pixel;
        return a.death_pixel < b.death_pixel;
      });
      values[d].reserve(2 * bars.size());
      cells[d].reserve(2 * bars.size());
      for (const Bar& bar : bars) {
        values[d].push_back(bar.birth);
        values[d].push_back(bar.death);
        cells[d].push_back(bar.birth_pixel);
        cells[d].push_back(bar.death_pixel);
      }
    }
  }
  std::vector<DimResult> out;
  for (int d = 0; d < ndim; ++d) out.emplace_back(to_numpy(std::move(values[d])), to_numpy(std::move(cells[d])));
  return out;
}

}  // namespace

void bind_persistence(nb::module_& m) {
  m.def("persistence", &persistence, nb::arg("image"), nb::arg("construction"),
        nb::arg("keep_zero_persistence") = false, nb::arg("wide_keys") = false,
        "Sublevel persistence of a C-contiguous float64 2D/3D image. Returns, per dimension, "
        "((n, 2) birth/death values, (n, 2) int64 flat pixel indices; -1 for an essential death), "
        "bars ordered by persistence descending, then birth, birth pixel and death pixel.");
}
