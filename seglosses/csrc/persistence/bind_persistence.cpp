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

// The documented bar order: persistence descending (essential first), then birth ascending, then birth
// pixel and death pixel (so the order never depends on the algorithm's internals). A radix sort by
// persistence, then a comparison sort within runs of equal persistence (long only on plateaus).
std::vector<PixelPair> in_bar_order(const std::vector<PixelPair>& pairs) {
  std::vector<std::uint64_t> key(pairs.size());
  for (std::size_t i = 0; i < pairs.size(); ++i) key[i] = ~order_key(pairs[i].death - pairs[i].birth);
  const std::vector<std::uint32_t> order = radix_order(key);
  std::vector<PixelPair> bars(pairs.size());
  for (std::size_t i = 0; i < order.size(); ++i) bars[i] = pairs[order[i]];
  const auto persistence = [](const PixelPair& p) { return p.death - p.birth; };
  for (std::size_t i = 0; i < bars.size();) {
    std::size_t j = i + 1;
    while (j < bars.size() && persistence(bars[j]) == persistence(bars[i])) ++j;
    if (j - i > 1)
      std::sort(bars.begin() + i, bars.begin() + j, [](const PixelPair& a, const PixelPair& b) {
        if (a.birth != b.birth) return a.birth < b.birth;
        if (a.birth_pixel != b.birth_pixel) return a.birth_pixel < b.birth_pixel;
        return a.death_pixel < b.death_pixel;
      });
    i = j;
  }
  return bars;
}

std::vector<DimResult> persistence(nb::ndarray<const double, nb::c_contig, nb::device::cpu> image, int construction,
                                   bool keep_zero_persistence, bool wide_keys, bool planar, bool dual,
                                   int num_threads) {
  if (num_threads < 1) throw nb::value_error("Expected `num_threads` to be a positive integer.");
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
  // Threads pay off from about this size (a thread start costs tens of microseconds).
  if (shape[0] * shape[1] * (ndim == 3 ? shape[2] : 1) < (index_t(1) << 16)) num_threads = 1;
  std::vector<std::vector<double>> values(ndim);
  std::vector<std::vector<index_t>> cells(ndim);
  {
    nb::gil_scoped_release release;
    std::array<std::vector<PixelPair>, 3> pairs;
    const Grid grid(shape, ndim, Construction(construction));
    if (planar && grid.dim == 2 && !keep_zero_persistence) {
      index_t hw[2], k = 0;  // the two non-flat axes; flat pixel indices are those of the image
      for (int a = 0; a < 3; ++a)
        if (!grid.flat[a]) hw[k++] = grid.shape[a];
      auto planar_pairs = planar_persistence(image.data(), hw[0], hw[1], Construction(construction));
      for (int d = 0; d < 2; ++d) pairs[d] = std::move(planar_pairs[d]);
    } else if (dual && grid.dim == 3 && grid.construction == Construction::T && !keep_zero_persistence && !wide_keys &&
               (shape[0] + 2) * (shape[1] + 2) * (shape[2] + 2) < index_t(0xffffffffu)) {
      pairs = t_persistence_by_duality(image.data(), shape, num_threads);
    } else {
      Filtration f(image.data(), shape, ndim, Construction(construction));
      const PersistenceDiagram diagram = compute_persistence(f, keep_zero_persistence, wide_keys, num_threads);
      for (int d = 0; d < 3; ++d) {
        pairs[d].reserve(diagram.pairs[d].size());
        for (const PersistencePair& p : diagram.pairs[d])
          pairs[d].push_back({f.pixel_of_rank[p.birth_rank],
                              p.death_cell < 0 ? index_t(-1) : index_t(f.pixel_of_rank[p.death_rank]), p.birth,
                              p.death});
      }
    }
    for (int d = 0; d < ndim; ++d) {
      const std::vector<PixelPair> bars = in_bar_order(pairs[d]);
      values[d].reserve(2 * bars.size());
      cells[d].reserve(2 * bars.size());
      for (const PixelPair& bar : bars) {
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
        nb::arg("keep_zero_persistence") = false, nb::arg("wide_keys") = false, nb::arg("planar") = true,
        nb::arg("dual") = true, nb::arg("num_threads") = 1,
        "Sublevel persistence of a C-contiguous float64 2D/3D image. Returns, per dimension, "
        "((n, 2) birth/death values, (n, 2) int64 flat pixel indices; -1 for an essential death), "
        "bars ordered by persistence descending, then birth, birth pixel and death pixel. 2D images go to the "
        "union-finds on pixels unless planar=False or zero-persistence pairs are kept; 3D images in T to "
        "construction V of the padded negated image (duality) unless dual=False, wide_keys=True or zero-persistence "
        "pairs are kept. num_threads: threads for the parts of one 3D image that parallelise.");
}
