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
#include "common/numpy.h"
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

std::tuple<std::vector<Pairs>, index_t> barcode(std::uintptr_t image, const nb::tuple& shape, int construction,
                                                bool host_merge, int threads, std::uintptr_t stream) {
  const std::vector<index_t> s = shape_of(shape);
  if (threads < 1) throw nb::value_error("Expected `threads` to be a positive integer.");
  std::vector<std::vector<index_t>> dims;
  index_t essential;
  {
    nb::gil_scoped_release release;
    essential = seglosses::gpu::barcode_pixel_pairs(reinterpret_cast<const double*>(image), s.data(), int(s.size()),
                                                    construction == 0, host_merge, threads,
                                                    reinterpret_cast<void*>(stream), dims);
  }
  std::vector<Pairs> out;
  for (auto& d : dims) out.push_back(seglosses::pairs_to_numpy(std::move(d)));
  return {std::move(out), essential};
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
                                                   int construction, bool negate, bool host_merge, int threads,
                                                   std::uintptr_t stream) {
  const std::vector<index_t> s = shape_of(shape);
  if (threads < 1) throw nb::value_error("Expected `threads` to be a positive integer.");
  seglosses::matching::MatchingResult result;
  {
    nb::gil_scoped_release release;
    result = seglosses::gpu::betti_matching(reinterpret_cast<const double*>(f), reinterpret_cast<const double*>(g),
                                            s.data(), int(s.size()), construction == 0, negate, host_merge, threads,
                                            reinterpret_cast<void*>(stream));
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
  m.def("barcode", &barcode, nb::arg("image"), nb::arg("shape"), nb::arg("construction"), nb::arg("host_merge"),
        nb::arg("threads"), nb::arg("stream"),
        "([(n, 2) critical pixels (birth, death) of the nonzero-rank-persistence pairs of each dimension of the "
        "sublevel filtration], essential H0 birth pixel) of a C-contiguous float64 CUDA image at address `image`: "
        "H0 and the top dimension on the device, a solid 3D image's H1 on the host on `threads` threads.");
  m.def("betti_matching", &betti_matching, nb::arg("prediction"), nb::arg("target"), nb::arg("shape"),
        nb::arg("construction"), nb::arg("negate"), nb::arg("host_merge"), nb::arg("threads"), nb::arg("stream"),
        "Betti matching of two C-contiguous float64 CUDA images at addresses `prediction` and `target` (the "
        "layout of seglosses._core.betti_matching): H0 and the top dimension on the device, a solid pair's H1 "
        "on the host on `threads` threads; host_merge: the sequential merges on the host.");
  m.def("apparent_pairs", &apparent_pairs, nb::arg("image"), nb::arg("shape"), nb::arg("construction"),
        nb::arg("dim"), nb::arg("stream"), "Number of apparent pairs whose first cell has dimension `dim`.");
  m.def("cell_ranks", &cell_ranks, nb::arg("image"), nb::arg("shape"), nb::arg("construction"), nb::arg("stream"),
        nb::arg("out"), "Ranks of all Khalimsky cells into the uint32 CUDA buffer at address `out`.");
}
