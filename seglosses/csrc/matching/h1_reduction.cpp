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
#include <functional>

#include "matching/betti_matching.h"

namespace seglosses::matching::detail {
namespace {

// Column reduction over Z/2 with the pivot at the smallest row key. Columns are given as cells;
// `Rows::keys(cell, keys)` writes the row keys of a column's raw entries, `Rows::cell(key)` reads the
// row cell back. The homology reduction (pivot = largest edge) uses complemented keys, so one code
// path serves both directions.
template <class Rows>
class Reducer {
 public:
  Reducer(const Rows& rows, std::size_t num_row_cells) : rows_(rows) { pivot_column_.assign(num_row_cells, kNone); }

  // Reduces the columns in the given order; calls on_pair(column cell, pivot row cell) for every
  // nonzero column.
  template <class OnPair>
  void run(const std::vector<std::uint32_t>& columns, OnPair&& on_pair) {
    stored_start_.assign(columns.size(), kNoStore);
    stored_end_.assign(columns.size(), 0);
    stored_.clear();
    for (std::size_t i = 0; i < columns.size(); ++i) {
      std::uint64_t keys[4];
      const int n = rows_.keys(columns[i], keys);
      if (n == 0) continue;
      const std::uint64_t lowest = *std::min_element(keys, keys + n);
      if (pivot_column_[rows_.cell(lowest)] == kNone) {  // emergent pair
        pivot_column_[rows_.cell(lowest)] = std::uint32_t(i);
        on_pair(columns[i], rows_.cell(lowest));
        continue;
      }
      work_.assign(keys, keys + n);
      std::sort(work_.begin(), work_.end());
      std::uint64_t pivot = lowest;
      while (true) {
        add_column(columns, pivot_column_[rows_.cell(pivot)]);
        if (work_.empty()) break;
        pivot = work_.front();
        if (pivot_column_[rows_.cell(pivot)] == kNone) break;
      }
      if (work_.empty()) continue;  // zero column
      pivot_column_[rows_.cell(pivot)] = std::uint32_t(i);
      on_pair(columns[i], rows_.cell(pivot));
      stored_start_[i] = stored_.size();
      stored_.insert(stored_.end(), work_.begin(), work_.end());
      stored_end_[i] = stored_.size();
    }
  }

 private:
  static constexpr std::uint64_t kNoStore = ~std::uint64_t(0);

  // work_ += column j (mod 2): a merge of two sorted lists that drops the rows present in both.
  void add_column(const std::vector<std::uint32_t>& columns, std::uint32_t j) {
    const std::uint64_t* begin;
    const std::uint64_t* end;
    std::uint64_t keys[4];
    if (stored_start_[j] == kNoStore) {
      const int n = rows_.keys(columns[j], keys);
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

  const Rows& rows_;
  std::vector<std::uint32_t> pivot_column_;   // per row cell: the column whose pivot it is
  std::vector<std::uint64_t> work_, merged_;  // the column being reduced, sorted by row key
  std::vector<std::uint64_t> stored_;         // reduced columns that needed additions
  std::vector<std::uint64_t> stored_start_, stored_end_;
};

// Cohomology: a column per edge holds the squares containing it, keyed in the row image's order.
struct Cofaces {
  const VGrid& grid;
  const RankedImage& rows;
  int keys(std::uint32_t edge, std::uint64_t* out) const {
    const index_t v = edge / 3;
    const int t = int(edge % 3);
    int n = 0;
    for (int o = 0; o < 3; ++o) {
      if (o == t) continue;
      const int normal = 3 - t - o;
      const index_t c = grid.coord(v, o);
      if (c + 1 < grid.n[o]) out[n++] = key(std::uint32_t(3 * v + normal));
      if (c > 0) out[n++] = key(std::uint32_t(3 * (v - grid.stride[o]) + normal));
    }
    return n;
  }
  std::uint64_t key(std::uint32_t square) const { return RankedImage::key(rows.square_rank(square), square); }
  static std::uint32_t cell(std::uint64_t key) { return std::uint32_t(key); }
};

// Homology: a column per square holds its four edges; the pivot is the largest edge, so keys are
// complemented.
struct Faces {
  const VGrid& grid;
  const RankedImage& rows;
  int keys(std::uint32_t square, std::uint64_t* out) const {
    const auto edges = grid.square_edges(square / 3, int(square % 3));
    for (int j = 0; j < 4; ++j) out[j] = ~RankedImage::key(rows.edge_rank(edges[j]), edges[j]);
    return 4;
  }
  static std::uint32_t cell(std::uint64_t key) { return std::uint32_t(~key); }
};

// Both directions give the same pairs; which one is fast depends on ties. Cells of equal value are
// ordered by index, and a large plateau in the column order (squares by the column image in homology,
// edges by the row image in cohomology) makes long chains of additions. Without large plateaus,
// homology with clearing keeps the reduced columns shorter and scales better (uniform noise, seconds
// at 96^3 on one core: 1.8 vs 3.6 per barcode); with them, cohomology can be 30x faster. A plateau is
// large above 1% of the pixels.
bool large_plateau(const RankedImage& image) { return image.largest_plateau * 100 > image.grid->num_pixels; }

bool barcode_by_homology(const RankedImage& image) { return !large_plateau(image); }

// Image reduction of image -> comparison: homology orders its columns by the comparison image,
// cohomology by the input image; the columns follow the image with the smaller plateaus. (A binary
// target has a plateau of half the volume; the comparison image max(likelihood, mask) has one over
// the mask.)
bool image_by_homology(const RankedImage& image, const RankedImage& comparison) {
  if (!large_plateau(image) && !large_plateau(comparison)) return true;
  return image.largest_plateau > 2 * comparison.largest_plateau;
}

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
                    const std::array<std::vector<std::uint32_t>, 3>& edges_sorted,
                    const std::array<std::vector<std::uint32_t>, 3>& squares, DimensionMatching& out) {
  const VGrid& grid = im.grid;
  const std::size_t num_cells = std::size_t(3 * grid.num_vertices);

  // Persistence pairs (edge, square) of image k with nonzero persistence, by increasing death (the
  // order of Betti-Matching-3D's homology reduction).
  const auto barcode = [&](int k) {
    const RankedImage& img = im[k];
    std::vector<std::array<std::uint32_t, 2>> found;
    const auto keep = [&](std::uint32_t edge, std::uint32_t square) {
      if (img.edge_rank(edge) != img.square_rank(square)) found.push_back({edge, square});
    };
    if (barcode_by_homology(img)) {
      const Faces rows{grid, img};
      Reducer<Faces>(rows, num_cells).run(squares[k], [&](std::uint32_t s, std::uint32_t e) { keep(e, s); });
    } else {
      const Cofaces rows{grid, img};
      Reducer<Cofaces>(rows, num_cells).run(columns_of(edges_sorted[k], negative[k]), keep);
      std::sort(found.begin(), found.end(), [&img](const auto& p, const auto& q) {
        return RankedImage::key(img.square_rank(p[1]), p[1]) < RankedImage::key(img.square_rank(q[1]), q[1]);
      });
    }
    return found;
  };

  InputPairs pairs[2];
  std::array<std::vector<std::uint32_t>, 2> pair_of_birth;  // per edge: the nontrivial pair it gives birth to
  std::array<std::vector<std::uint32_t>, 2> image_pivot;    // per square of c: the image pair's edge
  for (int k = 0; k < 2; ++k) {
    const RankedImage& img = im[k];
    pair_of_birth[k].assign(num_cells, kNone);
    for (const auto& p : barcode(k)) pair_of_birth[k][p[0]] = pairs[k].add(img.edge_voxel(p[0]), img.square_voxel(p[1]));

    // Image barcode of the inclusion into c: rows (edges) by image k, columns (squares) by c.
    image_pivot[k].assign(num_cells, kNone);
    const auto record = [&](std::uint32_t edge, std::uint32_t square) { image_pivot[k][square] = edge; };
    if (image_by_homology(img, im.c)) {
      const Faces rows{grid, img};
      Reducer<Faces>(rows, num_cells).run(squares[2], [&](std::uint32_t s, std::uint32_t e) { record(e, s); });
    } else {
      const Cofaces rows{grid, im.c};
      Reducer<Cofaces>(rows, num_cells).run(columns_of(edges_sorted[k], negative[k]), record);
    }
  }

  std::vector<std::array<std::uint32_t, 2>> matches;
  for (const auto& p : barcode(2)) {
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
