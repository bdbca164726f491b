// Results to numpy without a copy, for the bindings.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <vector>

namespace seglosses {

template <class T>
using PairArray = nanobind::ndarray<nanobind::numpy, T, nanobind::ndim<2>>;

// An (n, 2) array over a vector of 2n entries (row i: entries 2i, 2i + 1), which it takes over.
template <class T>
PairArray<T> pairs_to_numpy(std::vector<T>&& data) {
  auto* heap = new std::vector<T>(std::move(data));
  nanobind::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return PairArray<T>(heap->data(), {heap->size() / 2, 2}, owner);
}

}  // namespace seglosses
