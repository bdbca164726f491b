// Betti matching in dimension 1 of a 3D image, by reduction of boundary or coboundary matrices.
//
// The H1 pairs of an image, and the image pairs of an inclusion, are the pivot pairs of the boundary
// matrix of the squares with rows (edges) in one order and columns (squares) in another: f by f, g by
// g, c by c for the barcodes; rows by f (by g) and columns by c for the image barcodes. Pivot pairs
// depend only on the matrix and the two orders (each is where the rank of a lower-left submatrix
// steps), and that rank profile is unchanged by the anti-transpose. So either matrix may be reduced:
// - homology: a column per square in increasing column order, pivot = its largest edge;
// - cohomology (the anti-transpose): a column per edge in decreasing row order, holding the squares
//   that contain it, pivot = its smallest square in the column order. Edges that merge components in
//   the row image never carry a pivot (the largest edge of a cycle cannot join two components), so
//   their columns reduce to zero and are skipped (clearing); likewise the squares that merge dual
//   components of the column image (positive in H2) are left out of the homology columns.
// Each reduction picks its direction from the inputs' ties (see barcode_by_homology and
// image_by_homology). In both, a column whose pivot is not yet taken is reduced already and is paired
// without being stored (an emergent pair); the other columns are reduced by merging sorted lists of
// row keys, and stored for later additions. Keys are (rank of the value, cell index): the tie-break is
// Betti-Matching-3D's cube order.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>

#include "matching/betti_matching.h"
#include "common/lockfree_reduction.h"
#include "common/memory.h"
#include "common/parallel.h"
#include "common/profile.h"
#include "common/sweep_reduction.h"
#include "common/working_column.h"

namespace seglosses::matching::detail {
namespace {

// What one reduction met (SEGLOSSES_PROFILE prints it): the columns given, the sweep's counts (on several
// threads the same but the stored keys), and the seconds of the raw columns and of the reduction proper.
struct ReductionStats : SweepCounts {
  std::size_t columns = 0;
  double raw_seconds = 0, reduce_seconds = 0;
  double peak_mb = -1;  // the process's peak resident memory after it (with SEGLOSSES_PROFILE)
};

// Column reduction over Z/2 with the pivot at the smallest row key. Rows are named by their position
// in the row order (so keys are 32-bit and the pivot table is read near where the sweep is: the pivots
// of the columns lie mostly just past the ones before). `Rows::keys(cell, keys)` writes the row keys of
// a column's raw entries, `Rows::position(key)` and `Rows::cell(key)` read the row back. The homology
// reduction (pivot = largest edge) uses complemented positions as keys, so one code path serves both
// directions.
template <class Rows>
class Reducer {
 public:
  Reducer(const Rows& rows, std::size_t num_rows) : rows_(rows), num_rows_(num_rows) {}

  // Reduces the columns in the given order; calls on_pair(column cell, pivot row cell) for every
  // nonzero column, in column order. With threads > 1 (and enough columns), by the lock-free parallel
  // reduction (see run_parallel).
  template <class OnPair>
  ReductionStats run(const CellList& columns, std::size_t num_cells, OnPair&& on_pair,
                     int threads = 1) {
    ReductionStats stats;
    stats.columns = columns.size();
    const auto start = std::chrono::steady_clock::now();
    if (columns.size() < kMinParallel || !LockFreeReduction<RawColumns>::fits(columns.size())) threads = 1;
    if (threads > 1) {
      PageVector<std::array<std::uint32_t, 4>> raw(columns.size());
      fill_raw(columns, num_cells, 0, columns.size(), raw.data(), threads);
      stats.raw_seconds = seconds_since(start);
      run_parallel(columns, raw, on_pair, threads, stats);
    } else {
      run_sequential(columns, num_cells, on_pair, stats);
    }
    stats.reduce_seconds = seconds_since(start) - stats.raw_seconds;
    if (PhaseTimer::enabled()) stats.peak_mb = PhaseTimer::resident_mb("VmHWM:");
    return stats;
  }

 private:
  static constexpr std::uint32_t kUnowned = 0, kSentinel = ~std::uint32_t(0);
  static constexpr std::size_t kMinParallel = 1 << 12;  // fewer columns: one thread
  static int length(const std::uint32_t* keys) {
    return keys[3] != kSentinel ? 4 : keys[2] != kSentinel ? 3 : keys[1] != kSentinel ? 2 : keys[0] != kSentinel;
  }

  // Per row: the column whose pivot it is (kUnowned; kRaw: an emergent column, whose other keys are
  // kept beside it, padded with kSentinel; or kFirstStored + the index of a stored reduced column). The
  // raw columns are made a chunk at a time (an eighth of them, at least 2^18), so they cost 6 bytes per
  // voxel, not 48; the emergent columns' keys beside their owners (16 bytes per row) spare the additions
  // a second cache miss (a 4-byte owner reading all raw columns back was 7-10% slower at 128^3).
  static constexpr std::uint32_t kRaw = 1, kFirstStored = 2;
  struct PivotEntry {
    std::uint32_t owner;
    std::uint32_t rest[3];
  };
  // The one-thread sweep (common/sweep_reduction.h), its raw columns filled a chunk at a time.
  template <class OnPair>
  struct Sweep {
    using Key = std::uint32_t;
    using Entry = PivotEntry;
    const Reducer& reducer;
    const CellList& columns;
    std::size_t num_cells;
    OnPair& on_pair;
    ReductionStats& stats;
    PageVector<std::array<std::uint32_t, 4>> chunk;  // raw columns [begin, filled)
    std::size_t begin = 0, filled = 0;

    std::size_t slot(std::uint32_t key) const { return reducer.rows_.position(key); }
    int raw(std::size_t i, std::uint32_t* out) {
      if (i == filled) {
        const auto fill_start = std::chrono::steady_clock::now();
        begin = i;
        filled = std::min(columns.size(), i + chunk.size());
        reducer.fill_raw(columns, num_cells, begin, filled, chunk.data(), 1);
        stats.raw_seconds += seconds_since(fill_start);
      }
      const std::uint32_t* keys = chunk[i - begin].data();
      const int n = length(keys);
      std::copy(keys, keys + n, out);
      return n;
    }
    void ahead(std::size_t) const {}  // the raw columns are read in order
    static bool is_free(const PivotEntry& e) { return e.owner == kUnowned; }
    static bool is_stored(const PivotEntry& e, std::size_t& index) {
      index = std::size_t(e.owner) - kFirstStored;
      return e.owner >= kFirstStored;
    }
    static void claim_raw(PivotEntry& e, std::size_t, const std::uint32_t* keys, int n) {
      e.owner = kRaw;
      for (int j = 1; j < 4; ++j) e.rest[j - 1] = j < n ? keys[j] : kSentinel;
    }
    static void claim_stored(PivotEntry& e, std::size_t index) { e.owner = std::uint32_t(kFirstStored + index); }
    void add_unstored(const PivotEntry& e, std::uint32_t pivot, WorkingColumn<std::uint32_t>& work,
                      const PivotEntry* table) const {
      if (e.rest[0] != kSentinel) __builtin_prefetch(table + slot(e.rest[0]));
      const std::uint32_t keys[4] = {pivot, e.rest[0], e.rest[1], e.rest[2]};
      work.add(keys, keys + length(keys));
    }
    void pair(std::size_t i, std::uint32_t pivot) { on_pair(columns[i], reducer.rows_.cell(pivot)); }
  };
  template <class OnPair>
  void run_sequential(const CellList& columns, std::size_t num_cells, OnPair& on_pair, ReductionStats& stats) {
    const ZeroedArray<PivotEntry> pivot_table(num_rows_ + 1);  // every row without a column (kUnowned)
    const std::size_t chunk = std::max<std::size_t>(std::size_t(1) << 18, columns.size() / 8 + 1);
    Sweep<OnPair> sweep{*this, columns, num_cells, on_pair, stats, {}};
    sweep.chunk.resize(std::min(chunk, columns.size()));
    static_cast<SweepCounts&>(stats) = sweep_reduction(sweep, columns.size(), pivot_table.get());
  }

  // The lock-free parallel reduction (common/lockfree_reduction.h) over the raw columns; the pairs are those
  // of the sequential run, reported at the end, in column order.
  struct RawColumns {
    using Key = std::uint32_t;
    using Owner = std::uint32_t;
    const Rows& rows;
    const PageVector<std::array<std::uint32_t, 4>>& keys;
    std::size_t slot(std::uint32_t key) const { return rows.position(key); }
    int raw(std::size_t i, std::uint32_t* out) const {
      const int n = length(keys[i].data());
      std::copy(keys[i].data(), keys[i].data() + n, out);
      return n;
    }
    void foreign(Owner, WorkingColumn<std::uint32_t>&) const {}  // unsigned owners: none
    void ahead(std::size_t) const {}                              // the raw columns are read in order
  };
  template <class OnPair>
  void run_parallel(const CellList& columns, const PageVector<std::array<std::uint32_t, 4>>& raw,
                    OnPair& on_pair, int threads, ReductionStats& stats) {
    using Parallel = LockFreeReduction<RawColumns>;
    // Zeroed up front (calloc's lazily zeroed pages, faulted by several threads at once, cost 10-15%).
    const std::unique_ptr<std::uint32_t[]> owner(new std::uint32_t[num_rows_ + 1]());
    const auto result = Parallel::run(RawColumns{rows_, raw}, columns.size(), owner.get(), threads);
    stats.additions += result.additions;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (raw[i][0] == kSentinel) {
        ++stats.empty;
      } else if (result.pivot_slot[i] == Parallel::kNoPivot) {
        ++stats.zeroed;
      } else {
        ++(result.stored[i] ? stats.stored : stats.emergent);
        on_pair(columns[i], rows_.cell(rows_.key(std::uint32_t(result.pivot_slot[i]))));
      }
    }
  }

  // The raw keys of columns [first, last) (sorted, padded with kSentinel) into out[0, last - first).
  // Computed in memory order of the cells, by blocks of 2^10 cells (a counting sort of the columns by
  // block), where the rows' positions are read from neighbouring cells, and scattered to the column
  // order; the reduction then reads them sequentially (reading them in column order, which is a random
  // order in space, was a good part of its time). With threads > 1, by slices of that order.
  void fill_raw(const CellList& columns, std::size_t num_cells, std::size_t first, std::size_t last,
                std::array<std::uint32_t, 4>* out, int threads) const {
    constexpr int kShift = 10;
    CellList at((num_cells >> kShift) + 2, 0);  // per block: where its columns go
    for (std::size_t i = first; i < last; ++i) ++at[(columns[i] >> kShift) + 1];
    for (std::size_t b = 1; b < at.size(); ++b) at[b] += at[b - 1];
    CellList by_block(last - first);
    for (std::size_t i = first; i < last; ++i) by_block[at[columns[i] >> kShift]++] = std::uint32_t(i - first);
    for_each_slice(by_block.size(), std::size_t(threads), [&](std::size_t, std::size_t begin, std::size_t end) {
      for (std::size_t j = begin; j < end; ++j) {
        const std::uint32_t i = by_block[j];
        std::uint32_t keys[4];
        const int n = rows_.keys(columns[first + i], keys);
        std::sort(keys, keys + n);
        for (int k = 0; k < 4; ++k) out[i][k] = k < n ? keys[k] : kSentinel;
      }
    });
  }
  static double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  const Rows& rows_;
  std::size_t num_rows_;
};

// Row positions of one image: position[cell] = index of the cell in the image's sorted list of the rows
// (kNone for the cells that are not rows).
struct RowOrder {
  const CellList& sorted;  // the rows in increasing order of the image
  CellList position;       // per cell index
  RowOrder(const CellList& cells_sorted, std::size_t num_cells, int threads)
      : sorted(cells_sorted), position(num_cells, kNone) {
    for_each_slice(sorted.size(), std::size_t(threads), [&](std::size_t, std::size_t first, std::size_t last) {
      for (std::size_t i = first; i < last; ++i) position[sorted[i]] = std::uint32_t(i);  // a scatter
    });
  }
};

// The rows of a reduction are only the cells that can be pivots: in cohomology, the squares that kill a
// loop of the row image (the top dimension's unmerged squares), in homology, the edges that close one
// (those that dimension 0 leaves). The others are left out of the columns: a reduction only ever looks
// at a column's pivot, and the pivot of a column during the reduction is either the pivot of a column
// before it (and is added away) or its final pivot, so a row that is no column's final pivot is never
// looked at, and leaving it out changes no step. (The image reductions' pivots are image pairs: their
// births are births of the row image, their deaths deaths of the comparison image, so the same rows.)
// Shorter columns, a third fewer rows: 16 bytes per voxel less of pivot table, 4 less of row list.

// Cohomology: a column per edge holds the squares containing it, keyed by their position in the row
// image's order.
struct Cofaces {
  const VGrid& grid;
  const RowOrder& rows;  // squares
  int keys(std::uint32_t edge, std::uint32_t* out) const {
    const index_t v = edge / 3;
    const int t = int(edge % 3);
    int n = 0;
    const auto row = [&](index_t square) {
      const std::uint32_t p = rows.position[square];
      if (p != kNone) out[n++] = p;
    };
    for (int o = 0; o < 3; ++o) {
      if (o == t) continue;
      const int normal = 3 - t - o;
      const index_t c = grid.coord(v, o);
      if (c + 1 < grid.n[o]) row(3 * v + normal);
      if (c > 0) row(3 * (v - grid.stride[o]) + normal);
    }
    return n;
  }
  static std::uint32_t position(std::uint32_t key) { return key; }
  static std::uint32_t key(std::uint32_t position) { return position; }
  std::uint32_t cell(std::uint32_t key) const { return rows.sorted[key]; }
};

// Homology: a column per square holds its edges (of the four, those that are rows); the pivot is the
// largest edge, so keys count down from kTop (never the reducer's padding, ~0).
struct Faces {
  static constexpr std::uint32_t kTop = ~std::uint32_t(1);
  const VGrid& grid;
  const RowOrder& rows;  // edges
  int keys(std::uint32_t square, std::uint32_t* out) const {
    const auto edges = grid.square_edges(square / 3, int(square % 3));
    int n = 0;
    for (int j = 0; j < 4; ++j) {
      const std::uint32_t p = rows.position[edges[j]];
      if (p != kNone) out[n++] = kTop - p;
    }
    return n;
  }
  static std::uint32_t position(std::uint32_t key) { return kTop - key; }
  static std::uint32_t key(std::uint32_t position) { return kTop - position; }
  std::uint32_t cell(std::uint32_t key) const { return rows.sorted[kTop - key]; }
};

// Both directions give the same pairs; which one is fast depends on ties. Cells of equal value are
// ordered by index, and a large plateau in the column order (squares by the column image in homology,
// edges by the row image in cohomology) makes long chains of additions. Without large plateaus,
// homology with clearing keeps the reduced columns shorter and scales better (uniform noise, seconds
// at 96^3 on one core: 1.8 vs 3.6 per barcode); with them, cohomology can be 30x faster. A plateau is
// large above 1% of the pixels.
bool large_plateau(const RankedImage& image) { return image.largest_plateau * 100 > image.grid.num_pixels; }

//
// Construction T differs: a cell takes the minimum over the voxels that contain it, so a plateau at
// the bottom of the order swallows every cell that touches it, and cohomology, not homology, meets
// long chains. Measured on 40^3 pairs of noise, random binary masks, 4-level images and smooth binary
// blobs (every pairing of the four), homology was the faster barcode in T in all but two (blob
// against noise: 0.033 s vs 0.013 s; cohomology was up to 30x slower elsewhere: 0.412 s vs 0.021 s).
//
// In V the measure is the squares (the homology columns), not the pixels: a cell takes the maximum over its
// vertices, so a plateau at the top of the order swallows the squares that touch it and one at the bottom
// does not. Homology unless at least 3/8 of the squares share one rank (counted per rank over the grid's
// squares, so no sorted list of them is needed and a caller that never sorts all squares, the GPU engine,
// plans the same; such a share needs a pixel plateau of over 9%, since a pixel lies in 12 squares, so only
// images with a large pixel plateau are counted). Measured
// (40^3, barcodes of f and c on the 40 pairings of bench_reduction.py, seconds by homology / cohomology):
// random binary masks (94% of the squares at the top rank) 0.113 / 0.006, the comparison images of a
// 3-level image or a binary mask, superlevel (91-93%), 0.10 / 0.007; the comparison images of noise or a
// likelihood and a random mask (a 50% pixel plateau at the bottom, 6-27% of the squares) 0.015 / 0.032,
// which the pixel plateau sent to cohomology; likelihoods superlevel (clipped at 1: 48% of the squares)
// 0.019 / 0.015; binary against a random mask (69%) 0.009 / 0.012, the one pairing this rule gets wrong;
// 3-level images and vessel-mask comparisons (95-98%) equal either way.
bool barcode_by_homology(const RankedImage& image) {
  if (image.grid.top_cells || !large_plateau(image)) return true;
  const VGrid& grid = image.grid;
  std::vector<std::uint32_t> count(image.num_ranks, 0);
  std::uint32_t longest = 0;
  std::size_t squares = 0;
  for (index_t v = 0; v < grid.num_vertices; ++v)
    for (int t = 0; t < 3; ++t)
      if (grid.has_square(v, t)) {
        ++squares;
        longest = std::max(longest, ++count[image.square_rank(std::uint32_t(3 * v + t))]);
      }
  return std::size_t(longest) * 8 < squares * 3;
}

// Image reduction of image -> comparison: homology orders its columns by the comparison image,
// cohomology by the input image, and a large plateau in the column order makes long chains; so the
// columns follow the image with the smaller plateaus. (A binary target has a plateau of half the
// volume; the comparison image min(likelihood, mask) has one over the background.) Homology when
// neither plateau is large; otherwise, in V, homology when the input's plateau is at least the
// comparison's, and in T, unless the comparison's is more than twice the input's.
// Measured (benchmarks/bench_reduction.py, 40^3, the image reduction f -> c alone, seconds by homology
// / cohomology): T, sublevel, likelihood (clipped at 0: a 15% plateau) against a vessel mask (c: 98%)
// 0.139 / 0.009, noise against it 0.237 / 0.014; binary against noise (50% / 50%) 0.009 / 0.150;
// 3-level against noise, superlevel (97% / 1%) 0.012 / 0.206. V: binary against noise 0.013 / 0.033,
// binary against a vessel mask 0.188 / 0.006. On all 40 pairings (noise, likelihoods, binary and
// 3-level images against vessel masks, random masks, noise and 3-level images, both filtrations) the
// rule's direction is the faster one or within 30% of it (at most 7 ms there), in T and in V. (Before
// it, T sent the first two to homology: a 64^3 likelihood against a vessel mask took 2.05 s in T
// against 0.35 s in V, and 0.34 s now.)
bool image_by_homology(const RankedImage& image, const RankedImage& comparison) {
  if (!large_plateau(image) && !large_plateau(comparison)) return true;
  if (image.grid.top_cells) return comparison.largest_plateau <= 2 * image.largest_plateau;
  return image.largest_plateau >= comparison.largest_plateau;
}

// The cohomology columns: the edges that close a loop, in decreasing order of their image.
CellList columns_of(const CellList& edges) {
  return CellList(edges.rbegin(), edges.rend());
}

}  // namespace

H1Plan plan_h1_solid(const Images& im, Reduction reduction) {
  const auto homology = [reduction](bool automatic) {
    return reduction == Reduction::Auto ? automatic : reduction == Reduction::Homology;
  };
  H1Plan plan;
  for (int k = 0; k < 3; ++k) plan.barcode_by_homology[k] = homology(barcode_by_homology(im[k]));
  for (int k = 0; k < 2; ++k) plan.image_by_homology[k] = homology(image_by_homology(im[k], im.c));
  return plan;
}

void match_h1_solid(const Images& im, const H1Plan& plan, std::array<CellList, 3>& edges_sorted,
                    std::array<CellList, 3>& squares, DimensionMatching& out, int threads) {
  const VGrid& grid = im.grid;
  const std::size_t num_cells = std::size_t(3 * grid.num_vertices);
  // Row orders of the edges and of the squares of each image (the rows of its reductions, see Faces),
  // made when a reduction first needs them and freed, with the lists they come from, after the last one
  // that does (see `done_with`).
  std::array<std::unique_ptr<RowOrder>, 3> edge_order, square_order;
  const auto edges_of = [&](int k) -> const RowOrder& {
    if (!edge_order[k]) edge_order[k] = std::make_unique<RowOrder>(edges_sorted[k], num_cells, threads);
    return *edge_order[k];
  };
  const auto squares_of = [&](int k) -> const RowOrder& {
    if (!square_order[k]) square_order[k] = std::make_unique<RowOrder>(squares[k], num_cells, threads);
    return *square_order[k];
  };
  const auto by_homology = [&](int rows, const CellList& columns, auto&& on_pair) {
    const Faces faces{grid, edges_of(rows)};
    return Reducer<Faces>(faces, edges_sorted[rows].size()).run(columns, num_cells, on_pair, threads);
  };
  const auto by_cohomology = [&](int rows, const CellList& columns, auto&& on_pair) {
    const Cofaces cofaces{grid, squares_of(rows)};
    return Reducer<Cofaces>(cofaces, squares[rows].size()).run(columns, num_cells, on_pair, threads);
  };
  // Gives the pages of what was freed back to the system before the next reduction allocates its tables.
  const auto trim = [&] { release_free_memory(std::size_t(grid.num_vertices)); };
  // Image k's edges and squares (orders and lists) are read by no later reduction.
  const auto done_with = [&](int k) {
    edge_order[k].reset();
    square_order[k].reset();
    CellList().swap(edges_sorted[k]);
    CellList().swap(squares[k]);
    trim();
  };

  // Persistence pairs (edge, square) of image k with nonzero persistence, by increasing death (the
  // order of Betti-Matching-3D's homology reduction).
  const auto barcode = [&](int k, ReductionStats& stats) {
    const RankedImage& img = im[k];
    PageVector<std::array<std::uint32_t, 2>> found;
    // At most a pair per column; reserved (pages untouched until written) rather than grown by doubling,
    // whose abandoned blocks stay in the heap for the rest of the reduction.
    found.reserve(squares[k].size());
    const auto keep = [&](std::uint32_t edge, std::uint32_t square) {
      if (img.edge_rank(edge) != img.square_rank(square)) found.push_back({edge, square});
    };
    if (plan.barcode_by_homology[k]) {
      stats = by_homology(k, squares[k], [&](std::uint32_t s, std::uint32_t e) { keep(e, s); });
    } else {
      stats = by_cohomology(k, columns_of(edges_sorted[k]), keep);
      std::sort(found.begin(), found.end(), [&img](const auto& p, const auto& q) {
        return RankedImage::key(img.square_rank(p[1]), p[1]) < RankedImage::key(img.square_rank(q[1]), q[1]);
      });
    }
    return found;
  };

  trim();  // what dimension 0 and the top dimension freed
  // Per reduction: barcodes of f, g, c, image barcodes of f and g.
  std::array<ReductionStats, 5> stats;
  // The comparison image's bars first: only the image pairs that die at one of its death squares can
  // match, so the image reductions record those alone (`bar_of_death`), not an edge per cell.
  const PageVector<std::array<std::uint32_t, 2>> barcode_c = barcode(2, stats[2]);
  // A square's bar: the squares as one bit per cell, the bits counted per word of 64 (a rank query), and
  // the bars in the order of their death squares.
  PageVector<std::uint64_t> is_death((num_cells + 63) / 64, 0);
  for (const auto& p : barcode_c) is_death[p[1] / 64] |= std::uint64_t(1) << (p[1] % 64);
  CellList deaths_before(is_death.size() + 1, 0);
  for (std::size_t w = 0; w < is_death.size(); ++w)
    deaths_before[w + 1] = deaths_before[w] + std::uint32_t(__builtin_popcountll(is_death[w]));
  CellList bar_by_square(barcode_c.size());
  for (std::size_t i = 0; i < barcode_c.size(); ++i) {
    const std::uint32_t s = barcode_c[i][1];
    const std::uint64_t below = is_death[s / 64] & ((std::uint64_t(1) << (s % 64)) - 1);
    bar_by_square[deaths_before[s / 64] + std::uint32_t(__builtin_popcountll(below))] = std::uint32_t(i);
  }
  const auto bar_of_death = [&](std::uint32_t square) {  // index in barcode_c, or kNone
    const std::uint64_t word = is_death[square / 64], bit = std::uint64_t(1) << (square % 64);
    if (!(word & bit)) return kNone;
    return bar_by_square[deaths_before[square / 64] + std::uint32_t(__builtin_popcountll(word & (bit - 1)))];
  };
  edge_order[2].reset();  // c's edges are rows of no image reduction, its squares only of cohomology ones
  if (plan.image_by_homology[0] && plan.image_by_homology[1]) square_order[2].reset();
  CellList().swap(edges_sorted[2]);
  trim();

  InputPairs pairs[2];
  std::array<CellList, 2> image_edge;  // per bar of c: the edge of image k's pair dying there
  std::array<PageVector<std::array<std::uint32_t, 2>>, 2> birth_of;  // (birth edge, pair index), by edge
  for (int k = 0; k < 2; ++k) {
    // Image barcode of the inclusion into c: rows (edges) by image k, columns (squares) by c.
    image_edge[k].assign(barcode_c.size(), kNone);
    const auto record = [&](std::uint32_t edge, std::uint32_t square) {
      const std::uint32_t bar = bar_of_death(square);
      if (bar != kNone) image_edge[k][bar] = edge;
    };
    if (plan.image_by_homology[k])
      stats[3 + k] = by_homology(k, squares[2], [&](std::uint32_t s, std::uint32_t e) { record(e, s); });
    else
      stats[3 + k] = by_cohomology(2, columns_of(edges_sorted[k]), record);
    if (k == 0 && plan.image_by_homology[1]) square_order[2].reset();  // c's squares are rows no more
    if (k == 1) done_with(2);
    const RankedImage& img = im[k];
    const auto bars = barcode(k, stats[k]);
    birth_of[k].reserve(bars.size());
    pairs[k].reserve(bars.size());
    for (const auto& p : bars) {
      birth_of[k].push_back({p[0], std::uint32_t(birth_of[k].size())});
      pairs[k].add(img.edge_voxel(p[0]), img.square_voxel(p[1]));
    }
    std::sort(birth_of[k].begin(), birth_of[k].end());
    done_with(k);
  }
  if (PhaseTimer::enabled()) {
    const char* names[5] = {"barcode f", "barcode g", "barcode c", "image f->c", "image g->c"};
    const bool hom[5] = {plan.barcode_by_homology[0], plan.barcode_by_homology[1], plan.barcode_by_homology[2],
                         plan.image_by_homology[0], plan.image_by_homology[1]};
    for (int i = 0; i < 5; ++i)
      std::fprintf(stderr,
                   "seglosses profile h1 %s (%s): columns %zu empty %zu emergent %zu zeroed %zu stored %zu "
                   "additions %zu stored keys %zu raw %.4f s reduce %.4f s peak %.0f MB\n",
                   names[i], hom[i] ? "homology" : "cohomology", stats[i].columns, stats[i].empty, stats[i].emergent,
                   stats[i].zeroed, stats[i].stored, stats[i].additions, stats[i].stored_keys, stats[i].raw_seconds,
                   stats[i].reduce_seconds, stats[i].peak_mb);
  }

  const auto pair_born_at = [&](int k, std::uint32_t edge) {  // the pair of image k born at edge, or kNone
    const auto& list = birth_of[k];
    const auto it = std::lower_bound(list.begin(), list.end(), std::array<std::uint32_t, 2>{edge, 0});
    return it != list.end() && (*it)[0] == edge ? (*it)[1] : kNone;
  };
  std::vector<std::array<std::uint32_t, 2>> matches;
  for (std::size_t i = 0; i < barcode_c.size(); ++i) {
    const std::uint32_t ef = image_edge[0][i], eg = image_edge[1][i];
    if (ef == kNone || eg == kNone) continue;
    const std::uint32_t pf = pair_born_at(0, ef), pg = pair_born_at(1, eg);
    if (pf != kNone && pg != kNone) {
      matches.push_back({pf, pg});
      pairs[0].matched[pf] = pairs[1].matched[pg] = 1;
    }
  }
  finish_dimension(pairs[0], pairs[1], matches, out);
}

}  // namespace seglosses::matching::detail
