// Per-element code that the CPU engine and the CUDA kernels share: SEGLOSSES_HD marks a function
// that nvcc compiles for both host and device, and that the host compiler compiles as an ordinary
// inline function. Everything here is plain data and arithmetic (no std:: containers), so that it can
// run inside a kernel.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define SEGLOSSES_HD __host__ __device__ __forceinline__
#else
#define SEGLOSSES_HD inline
#endif

namespace seglosses {

// Order-preserving map of a float64, given by its bits, to an unsigned integer: a < b as doubles iff
// order_key_bits(a) < order_key_bits(b). -0.0 is mapped as +0.0, so that equal values get equal keys
// (and tie by index wherever the engine breaks ties).
SEGLOSSES_HD std::uint64_t order_key_bits(std::uint64_t bits) {
  if (bits == (std::uint64_t(1) << 63)) bits = 0;
  return (bits >> 63) ? ~bits : bits | (std::uint64_t(1) << 63);
}

}  // namespace seglosses
