// The integer types every part of the engine shares.
#pragma once

#include <cstdint>

namespace seglosses {

// Flat indices of pixels and cells, and sizes: signed 64-bit, as numpy's intp.
using index_t = std::int64_t;

}  // namespace seglosses
