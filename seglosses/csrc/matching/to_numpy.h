// A MatchingResult as the Python bindings return it (seglosses._core.betti_matching, the CUDA module's
// betti_matching and the emulation): per dimension (matched prediction, matched target, unmatched
// prediction, unmatched target) as (n, 2) int64 arrays, then the essential H0 birth voxels.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <tuple>
#include <vector>

#include "common/numpy.h"
#include "matching/betti_matching.h"

namespace seglosses::matching {

using Cells = PairArray<index_t>;
using DimResult = std::tuple<Cells, Cells, Cells, Cells>;
using PythonMatching = std::tuple<std::vector<DimResult>, index_t, index_t>;

inline PythonMatching to_python(MatchingResult&& result) {
  std::vector<DimResult> dims;
  for (auto& d : result.dims)
    dims.emplace_back(pairs_to_numpy(std::move(d.matched_f)), pairs_to_numpy(std::move(d.matched_g)),
                      pairs_to_numpy(std::move(d.unmatched_f)), pairs_to_numpy(std::move(d.unmatched_g)));
  return {std::move(dims), result.essential_f, result.essential_g};
}

}  // namespace seglosses::matching
