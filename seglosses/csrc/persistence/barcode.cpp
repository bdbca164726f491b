// The barcode of an image: which algorithm computes its pairs, and the documented bar order.
#include <algorithm>

#include "common/parallel.h"
#include "common/profile.h"
#include "persistence/cubical.h"

namespace seglosses::cubical {
namespace {

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

}  // namespace

std::vector<std::vector<PixelPair>> barcode(const double* image, const index_t* shape, int ndim, Construction c,
                                            const BarcodeOptions& options) {
  PhaseTimer timer("barcode");
  std::array<std::vector<PixelPair>, 3> pairs;
  const Grid grid(shape, ndim, c);
  BarcodeOptions opt = options;
  if (grid.num_pixels < kMinPixelsForThreads) opt.threads = 1;
  const index_t padded = (shape[0] + 2) * (shape[1] + 2) * (ndim == 3 ? shape[2] + 2 : 1);
  if (options.planar && grid.dim == 2 && !options.keep_zero_persistence) {
    index_t hw[2], k = 0;  // the two non-flat axes; flat pixel indices are those of the image
    for (int a = 0; a < 3; ++a)
      if (!grid.flat[a]) hw[k++] = grid.shape[a];
    auto planar_pairs = planar_persistence(image, hw[0], hw[1], c, options.negate);
    for (int d = 0; d < 2; ++d) pairs[d] = std::move(planar_pairs[d]);
  } else if (options.dual && grid.dim == 3 && c == Construction::T && !options.keep_zero_persistence &&
             !options.wide_keys && padded < index_t(0xffffffffu)) {
    pairs = t_persistence_by_duality(image, shape, opt.threads, options.negate);
  } else {
    Filtration f(image, shape, ndim, c, options.negate, opt.threads);
    timer.mark("filtration");
    const PersistenceDiagram diagram =
        compute_persistence(f, options.keep_zero_persistence, options.wide_keys, opt.threads);
    for (int d = 0; d < 3; ++d) {
      pairs[d].reserve(diagram.pairs[d].size());
      for (const PersistencePair& p : diagram.pairs[d])
        pairs[d].push_back({f.pixel_of_rank[p.birth_rank], p.essential ? index_t(-1) : index_t(f.pixel_of_rank[p.death_rank]),
                            f.sorted_value[p.birth_rank],
                            p.essential ? std::numeric_limits<double>::infinity() : f.sorted_value[p.death_rank]});
    }
  }
  timer.mark("pairs");
  std::vector<std::vector<PixelPair>> bars(static_cast<std::size_t>(ndim));
  for (int d = 0; d < ndim; ++d) {
    bars[d] = in_bar_order(pairs[d]);
    pairs[d] = {};
  }
  timer.mark("bar_order");
  return bars;
}

}  // namespace seglosses::cubical
