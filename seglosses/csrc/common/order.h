// Putting values in order: order-preserving integer keys of doubles, a radix sort of positions by key,
// and the ranks both engines derive from it (persistence: one rank per pixel, ties broken by index;
// matching: dense ranks, ties shared).
#pragma once

#include <cstdint>
#include <algorithm>
#include <cstring>
#include <vector>

#include "common/hd.h"
#include "common/parallel.h"
#include "common/types.h"

namespace seglosses {

// Order-preserving map of a double to unsigned bits (the per-element function the CUDA kernels share,
// common/hd.h; -0.0 and +0.0 get one key).
inline std::uint64_t order_key(double value) {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return order_key_bits(bits);
}

// The positions 0..n-1 sorted by key, ties by position: a stable LSD radix sort, 6 passes of 11 bits
// whose histograms are all counted in one read of the keys; passes whose digit is the same for every
// key are skipped (the low bits of float32 data, the high bits of small ranges). n < 2^32. Several
// times faster than a comparison sort. `key` is consumed: on return it holds the keys in sorted order.
// With threads > 1, each pass is split into consecutive slices of the input, one per thread: a thread
// counts its slice's digits (again for every pass after the first that moved the keys) and scatters its
// slice to the positions that the counts of the slices before it leave (so the sort stays stable and
// the result is that of one thread).
inline std::vector<std::uint32_t> radix_order(std::vector<std::uint64_t>& key, int threads = 1) {
  const std::size_t n = key.size();
  constexpr int kBits = 11, kPasses = 6;
  constexpr std::size_t kBuckets = std::size_t(1) << kBits;
  std::vector<std::uint32_t> idx(n), idx_tmp(n);
  for (std::size_t i = 0; i < n; ++i) idx[i] = std::uint32_t(i);
  if (n < 2) return idx;
  const std::size_t slices = std::size_t(std::max(1, std::min<int>(threads, int(n / (1 << 16)) + 1)));
  // count[(t * kPasses + pass) * kBuckets + digit]: slice t's digits of every pass, counted in one read.
  std::vector<std::uint32_t> count(slices * kPasses * kBuckets, 0);
  for_each_slice(n, slices, [&](std::size_t t, std::size_t first, std::size_t last) {
    std::uint32_t* c = count.data() + t * kPasses * kBuckets;
    for (std::size_t i = first; i < last; ++i)
      for (int pass = 0; pass < kPasses; ++pass) ++c[pass * kBuckets + ((key[i] >> (kBits * pass)) & (kBuckets - 1))];
  });
  std::vector<std::uint64_t> key_tmp(n);
  bool permuted = false;
  for (int pass = 0; pass < kPasses; ++pass) {
    const int shift = kBits * pass;
    const auto at = [&](std::size_t t, std::size_t b) -> std::uint32_t& {
      return count[(t * kPasses + std::size_t(pass)) * kBuckets + b];
    };
    std::size_t in_first = 0;  // one bucket holds every key: the pass is a no-op
    for (std::size_t t = 0; t < slices; ++t) in_first += at(t, (key[0] >> shift) & (kBuckets - 1));
    if (in_first == n) continue;
    if (permuted && slices > 1)  // the slices hold other keys since the last pass: count them again
      for_each_slice(n, slices, [&](std::size_t t, std::size_t first, std::size_t last) {
        std::fill(&at(t, 0), &at(t, 0) + kBuckets, 0u);
        for (std::size_t i = first; i < last; ++i) ++at(t, (key[i] >> shift) & (kBuckets - 1));
      });
    permuted = true;
    std::uint32_t total = 0;  // each slice's first position per digit: after all smaller digits, then earlier slices
    for (std::size_t b = 0; b < kBuckets; ++b)
      for (std::size_t t = 0; t < slices; ++t) {
        const std::uint32_t here = at(t, b);
        at(t, b) = total;
        total += here;
      }
    for_each_slice(n, slices, [&](std::size_t t, std::size_t first, std::size_t last) {
      for (std::size_t i = first; i < last; ++i) {
        const std::uint32_t dst = at(t, (key[i] >> shift) & (kBuckets - 1))++;
        key_tmp[dst] = key[i];
        idx_tmp[dst] = idx[i];
      }
    });
    key.swap(key_tmp);
    idx.swap(idx_tmp);
  }
  return idx;
}

// Pixel indices sorted by (value, index).
// With `negate`, the order of the negated values (the complemented keys order them so; equal values stay
// tied), without a negated copy of the values.
inline std::vector<std::uint32_t> sort_by_value(const double* values, index_t n, bool negate = false,
                                                int threads = 1) {
  std::vector<std::uint64_t> key(static_cast<std::size_t>(n));
  const std::uint64_t flip = negate ? ~std::uint64_t(0) : 0;
  for (index_t i = 0; i < n; ++i) key[i] = order_key(values[i]) ^ flip;
  return radix_order(key, threads);
}

// Dense ranks of values: equal values share a rank and the order is preserved. `num_ranks` gets the
// number of distinct values. With `negate`, the dense ranks of the negated values, without a negated copy.
inline std::vector<std::uint32_t> dense_ranks(const double* values, index_t n, std::uint32_t& num_ranks,
                                              bool negate = false) {
  std::vector<std::uint64_t> key(static_cast<std::size_t>(n));
  const std::uint64_t flip = negate ? ~std::uint64_t(0) : 0;
  for (index_t i = 0; i < n; ++i) key[i] = order_key(values[i]) ^ flip;
  const std::vector<std::uint32_t> order = radix_order(key);  // key is now sorted
  std::vector<std::uint32_t> rank(static_cast<std::size_t>(n));
  std::uint32_t r = 0;
  for (index_t i = 0; i < n; ++i) {
    if (i > 0 && key[i] != key[i - 1]) ++r;
    rank[order[i]] = r;
  }
  num_ranks = n > 0 ? r + 1 : 0;
  return rank;
}

}  // namespace seglosses
