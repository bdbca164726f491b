// Betti matching in dimension 1 of a 3D image, by reduction of coboundary matrices (cohomology).
//
// The H1 pairs of an image, and the image pairs of an inclusion, are the pivot pairs of the boundary
// matrix of the squares with rows (edges) in one order and columns (squares) in another: f by f, g by
// g, c by c for the barcodes; rows by f (by g) and columns by c for the image barcodes. Pivot pairs
// depend only on the matrix and the two orders (each is where the rank of a lower-left submatrix
// steps), and that rank profile is unchanged by the anti-transpose. So we reduce the anti-transpose
// instead: a column per edge in decreasing row order, holding the edge's cofaces, whose pivot is the
// smallest square in the column order. This is persistent cohomology, which in practice pairs far more
// columns without any addition than the homology reduction does. Consequences used below:
// - edges that merge components in the row image never carry a pivot (the largest edge of a cycle
//   cannot join two components), so their columns reduce to zero and are skipped (clearing);
// - a column whose smallest cofacet is not yet a pivot is reduced already and is paired without being
//   stored (an emergent pair);
// - the other columns are reduced by merging sorted lists of row keys, and stored for later additions.
// Keys are (rank of the value, cell index): the tie-break is Betti-Matching-3D's cube order.
#include <algorithm>
#include <functional>

#include "matching/betti_matching.h"

namespace seglosses::matching::detail {
namespace {

class CoboundaryReducer {
 public:
  CoboundaryReducer(const VGrid& grid, const RankedImage& rows) : grid_(grid), rows_(rows) {
    pivot_column_.assign(std::size_t(3 * grid.num_vertices), kNone);
  }

  // Reduces the columns (edges) in the given order; calls on_pair(edge, pivot square) for every
  // nonzero column.
  template <class OnPair>
  void run(const std::vector<std::uint32_t>& columns, OnPair&& on_pair) {
    stored_start_.assign(columns.size(), kNoStore);
    stored_end_.assign(columns.size(), 0);
    stored_.clear();
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const std::uint32_t edge = columns[i];
      std::uint64_t keys[4];
      const int n = coboundary_keys(edge, keys);
      if (n == 0) continue;
      const std::uint64_t lowest = *std::min_element(keys, keys + n);
      const std::uint32_t lowest_square = std::uint32_t(lowest);
      if (pivot_column_[lowest_square] == kNone) {  // emergent pair
        pivot_column_[lowest_square] = std::uint32_t(i);
        on_pair(edge, lowest_square);
        continue;
      }
      work_.assign(keys, keys + n);
      std::sort(work_.begin(), work_.end());
      std::uint64_t pivot = lowest;
      while (true) {
        add_column(columns, pivot_column_[std::uint32_t(pivot)]);
        if (work_.empty()) break;
        pivot = work_.front();
        if (pivot_column_[std::uint32_t(pivot)] == kNone) break;
      }
      if (work_.empty()) continue;  // zero column: an edge that never gives birth to a pair
      pivot_column_[std::uint32_t(pivot)] = std::uint32_t(i);
      on_pair(edge, std::uint32_t(pivot));
      stored_start_[i] = stored_.size();
      stored_.insert(stored_.end(), work_.begin(), work_.end());
      stored_end_[i] = stored_.size();
    }
  }

 private:
  static constexpr std::uint64_t kNoStore = ~std::uint64_t(0);

  // Keys of the squares that contain the edge (two per other axis, where inside the grid).
  int coboundary_keys(std::uint32_t edge, std::uint64_t* keys) const {
    const index_t v = edge / 3;
    const int t = int(edge % 3);
    int n = 0;
    for (int o = 0; o < 3; ++o) {
      if (o == t) continue;
      const int normal = 3 - t - o;
      const index_t c = grid_.coord(v, o);
      if (c + 1 < grid_.n[o]) {
        const std::uint32_t s = std::uint32_t(3 * v + normal);
        keys[n++] = RankedImage::key(rows_.square_rank(s), s);
      }
      if (c > 0) {
        const std::uint32_t s = std::uint32_t(3 * (v - grid_.stride[o]) + normal);
        keys[n++] = RankedImage::key(rows_.square_rank(s), s);
      }
    }
    return n;
  }

  // work_ += column j (mod 2): a merge of two sorted lists that drops the rows present in both.
  void add_column(const std::vector<std::uint32_t>& columns, std::uint32_t j) {
    const std::uint64_t* begin;
    const std::uint64_t* end;
    std::uint64_t keys[4];
    if (stored_start_[j] == kNoStore) {
      const int n = coboundary_keys(columns[j], keys);
      std::sort(keys, keys + n);
      begin = keys;
      end = keys + n;
    } else {
      begin = stored_.data() + stored_start_[j];
      end = stored_.data() + stored_end_[j];
    }
    merged_.clear();
    auto a = work_.begin();
    const auto a_end = work_.end();
    while (a != a_end && begin != end) {
      if (*a < *begin) {
        merged_.push_back(*a++);
      } else if (*begin < *a) {
        merged_.push_back(*begin++);
      } else {
        ++a;
        ++begin;
      }
    }
    merged_.insert(merged_.end(), a, a_end);
    merged_.insert(merged_.end(), begin, end);
    work_.swap(merged_);
  }

  const VGrid& grid_;
  const RankedImage& rows_;
  std::vector<std::uint32_t> pivot_column_;  // per square: the column whose pivot it is
  std::vector<std::uint64_t> work_, merged_;  // the column being reduced, sorted by row key
  std::vector<std::uint64_t> stored_;
  std::vector<std::uint64_t> stored_start_, stored_end_;
};

// Edges that may give birth to a cycle, in decreasing order of their image.
std::vector<std::uint32_t> columns_of(const std::vector<std::uint32_t>& sorted, const std::vector<std::uint8_t>& negative) {
  std::vector<std::uint32_t> out;
  out.reserve(sorted.size());
  for (auto it = sorted.rbegin(); it != sorted.rend(); ++it)
    if (!negative[*it]) out.push_back(*it);
  return out;
}

}  // namespace

void match_h1_solid(const Images& im, const std::array<std::vector<std::uint8_t>, 3>& negative,
                    const std::array<std::vector<std::uint32_t>, 3>& edges_sorted, DimensionMatching& out) {
  const VGrid& grid = im.grid;
  const std::size_t num_cells = std::size_t(3 * grid.num_vertices);
  // Pairs are listed by increasing death (as the homology reduction would find them), so that the
  // output order agrees with Betti-Matching-3D.
  const auto by_death = [](const RankedImage& img) {
    return [&img](const std::array<std::uint32_t, 2>& p, const std::array<std::uint32_t, 2>& q) {
      return RankedImage::key(img.square_rank(p[1]), p[1]) < RankedImage::key(img.square_rank(q[1]), q[1]);
    };
  };

  InputPairs pairs[2];
  std::array<std::vector<std::uint32_t>, 2> pair_of_birth;  // per edge: the nontrivial pair it gives birth to
  std::array<std::vector<std::uint32_t>, 2> image_pivot;    // per square of c: the image pair's edge
  for (int k = 0; k < 2; ++k) {
    const RankedImage& img = im[k];
    const std::vector<std::uint32_t> columns = columns_of(edges_sorted[k], negative[k]);
    std::vector<std::array<std::uint32_t, 2>> found;
    {
      CoboundaryReducer reducer(grid, img);
      reducer.run(columns, [&](std::uint32_t edge, std::uint32_t square) {
        if (img.edge_rank(edge) != img.square_rank(square)) found.push_back({edge, square});
      });
    }
    std::sort(found.begin(), found.end(), by_death(img));
    pair_of_birth[k].assign(num_cells, kNone);
    for (const auto& p : found) pair_of_birth[k][p[0]] = pairs[k].add(img.edge_voxel(p[0]), img.square_voxel(p[1]));

    // Image barcode of the inclusion into c: rows (squares) by c, columns (edges) by image k.
    image_pivot[k].assign(num_cells, kNone);
    CoboundaryReducer reducer(grid, im.c);
    reducer.run(columns, [&](std::uint32_t edge, std::uint32_t square) { image_pivot[k][square] = edge; });
  }

  std::vector<std::array<std::uint32_t, 2>> pairs_c;
  {
    CoboundaryReducer reducer(grid, im.c);
    reducer.run(columns_of(edges_sorted[2], negative[2]), [&](std::uint32_t edge, std::uint32_t square) {
      if (im.c.edge_rank(edge) != im.c.square_rank(square)) pairs_c.push_back({edge, square});
    });
  }
  std::sort(pairs_c.begin(), pairs_c.end(), by_death(im.c));
  std::vector<std::array<std::uint32_t, 2>> matches;
  for (const auto& p : pairs_c) {
    const std::uint32_t ef = image_pivot[0][p[1]], eg = image_pivot[1][p[1]];
    if (ef == kNone || eg == kNone) continue;
    const std::uint32_t pf = pair_of_birth[0][ef], pg = pair_of_birth[1][eg];
    if (pf != kNone && pg != kNone) {
      matches.push_back({pf, pg});
      pairs[0].matched[pf] = pairs[1].matched[pg] = 1;
    }
  }
  finish_dimension(pairs[0], pairs[1], matches, out);
}

}  // namespace seglosses::matching::detail
