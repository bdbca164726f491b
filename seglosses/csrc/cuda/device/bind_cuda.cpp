// The CUDA module seglosses._cuda (built only with a CUDA toolkit, see CMakeLists.txt). Python passes
// raw device pointers and torch's current stream; validation happens in seglosses/topology/_cuda.py.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <tuple>
#include <vector>

#include "cuda/device/engine.h"
#include "matching/to_numpy.h"

namespace nb = nanobind;
using seglosses::gpu::index_t;

namespace {

using Pairs = nb::ndarray<nb::numpy, index_t, nb::ndim<2>>;

std::vector<index_t> shape_of(const nb::tuple& shape) {
  std::vector<index_t> out;
  for (nb::handle h : shape) out.push_back(nb::cast<index_t>(h));
  return out;
}

std::tuple<Pairs, index_t> union_find_pairs(std::uintptr_t image, const nb::tuple& shape, int construction, bool dual,
                                            bool host_merge, std::uintptr_t stream) {
  const std::vector<index_t> s = shape_of(shape);
  auto* pairs = new std::vector<index_t>();
  nb::capsule owner(pairs, [](void* p) noexcept { delete static_cast<std::vector<index_t>*>(p); });
  index_t essential;
  {
    nb::gil_scoped_release release;
    essential = seglosses::gpu::union_find_pixel_pairs(reinterpret_cast<const double*>(image), s.data(),
                                                       int(s.size()), construction == 0, dual,
                                                       host_merge, reinterpret_cast<void*>(stream), *pairs);
  }
  return {Pairs(pairs->data(), {pairs->size() / 2, 2}, owner), essential};
}

index_t apparent_pairs(std::uintptr_t image, const nb::tuple& shape, int construction, int dim, std::uintptr_t stream) {
  const std::vector<index_t> s = shape_of(shape);
  nb::gil_scoped_release release;
  return seglosses::gpu::count_apparent_pairs(reinterpret_cast<const double*>(image), s.data(), int(s.size()),
                                              construction == 0, dim, reinterpret_cast<void*>(stream));
}

void cell_ranks(std::uintptr_t image, const nb::tuple& shape, int construction, std::uintptr_t stream,
                std::uintptr_t out) {
  const std::vector<index_t> s = shape_of(shape);
  nb::gil_scoped_release release;
  seglosses::gpu::cell_ranks(reinterpret_cast<const double*>(image), s.data(), int(s.size()), construction == 0,
                             reinterpret_cast<void*>(stream), reinterpret_cast<std::uint32_t*>(out));
}

seglosses::matching::PythonMatching betti_matching(std::uintptr_t f, std::uintptr_t g, const nb::tuple& shape,
                                                   int construction, bool negate, bool host_merge,
                                                   std::uintptr_t stream) {
  const std::vector<index_t> s = shape_of(shape);
  seglosses::matching::MatchingResult result;
  {
    nb::gil_scoped_release release;
    result = seglosses::gpu::union_find_matching(reinterpret_cast<const double*>(f), reinterpret_cast<const double*>(g),
                                                 s.data(), int(s.size()), construction == 0, negate,
                                                 host_merge, reinterpret_cast<void*>(stream));
  }
  return seglosses::matching::to_python(std::move(result));
}

}  // namespace

NB_MODULE(_cuda, m) {
  m.doc() = "seglosses CUDA engine (private; use seglosses.topology with backend='cuda')";
  m.def("device_count", &seglosses::gpu::device_count, "Number of CUDA devices (0 without a driver).");
  m.def("union_find_pairs", &union_find_pairs, nb::arg("image"), nb::arg("shape"), nb::arg("construction"),
        nb::arg("dual"), nb::arg("host_merge"), nb::arg("stream"),
        "((n, 2) critical pixels (birth, death) of H0 or, with dual, of the top dimension, nonzero persistence "
        "in rank; essential H0 birth pixel) of a C-contiguous float64 CUDA image at address `image`.");
  m.def("betti_matching", &betti_matching, nb::arg("prediction"), nb::arg("target"), nb::arg("shape"),
        nb::arg("construction"), nb::arg("negate"), nb::arg("host_merge"), nb::arg("stream"),
        "Betti matching of H0 and the top dimension of two C-contiguous float64 CUDA images at addresses "
        "`prediction` and `target` (the layout of seglosses._core.betti_matching; a solid 3D image's H1 entry "
        "is empty; host_merge: the sequential merges on the host).");
  m.def("apparent_pairs", &apparent_pairs, nb::arg("image"), nb::arg("shape"), nb::arg("construction"),
        nb::arg("dim"), nb::arg("stream"), "Number of apparent pairs whose first cell has dimension `dim`.");
  m.def("cell_ranks", &cell_ranks, nb::arg("image"), nb::arg("shape"), nb::arg("construction"), nb::arg("stream"),
        nb::arg("out"), "Ranks of all Khalimsky cells into the uint32 CUDA buffer at address `out`.");
}
