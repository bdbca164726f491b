// Persistence of a 2D image by pixels: the fast path for images with two non-flat axes.
//
// In 2D every pair of the sublevel filtration comes from a union-find, and a union-find needs no
// Khalimsky grid: the cells of a given rank r are all faces of pixel r (the pixel of rank r), so the
// edges of rank r are found as the neighbours of that pixel, in its neighbourhood, as it enters. The
// pairs by pixel (critical pixels and values) are those of `compute_persistence` on the Khalimsky grid:
// which of several same-rank cells merges first can change the cells of a pair but not its pixels,
// since every cell of rank r has pixel r as its critical pixel (tests compare both paths).
//
// The union-finds work in *rank space*: a node is identified by its rank, so the elder of two roots
// is found by comparing two integers (no lookup of a per-cell order), and a pixel's neighbours, read
// from a rank image padded with a sentinel, are next to it in memory.
//   - V, H0: pixels in increasing rank join their 4-neighbours of lower rank; the elder is the smaller
//     rank (the component's first pixel).
//   - T, H0: the same with 8-neighbours (a closed sublevel set of top cells is 8-connected).
//   - T, H1: the dual graph of pixels plus an outer node; pixels in decreasing rank join their
//     4-neighbours of higher rank, and the outer node across the image border (the padding is the
//     outer node, id n, elder than every pixel); the elder is the larger id.
//   - V, H1: the dual graph of squares plus an outer node; an edge of rank r joins the two squares on
//     either side. The squares whose max vertex is pixel r are one node, id r: they are joined at rank
//     r anyway, with zero persistence (the sides from r of such a square lead to lower pixels, so they
//     are edges of rank r; two such squares share one, or, if diagonal, all four edges from r have rank
//     r and join the four squares around r in a cycle). Squares touching the padding are the outer node (id n).
#include <memory>

#include "persistence/cubical.h"

namespace seglosses::cubical {
namespace {

// Union-find over ids with path halving; the caller links the younger root under the elder.
class Forest {
 public:
  explicit Forest(std::size_t n) : parent_(new std::uint32_t[n]) {}
  void make(std::uint32_t x) { parent_[x] = x; }
  std::uint32_t find(std::uint32_t x) { return find_root(parent_.get(), x); }
  void link(std::uint32_t child, std::uint32_t parent) { parent_[child] = parent; }

 private:
  std::unique_ptr<std::uint32_t[]> parent_;  // uninitialized: ids are made before they are used
};

struct RankedPixels {
  index_t h, w, wp;                   // image rows, columns; padded row length w + 2
  std::uint32_t n;                    // number of pixels (the sentinel rank of the padding)
  std::vector<std::uint32_t> at;      // padded index of the pixel of rank r
  std::vector<double> value;          // value of rank r
  std::vector<std::uint32_t> padded;  // rank per padded pixel, (h + 2) x (w + 2), border n

  RankedPixels(const double* image, index_t rows, index_t cols, bool negate)
      : h(rows), w(cols), wp(cols + 2), n(std::uint32_t(rows * cols)) {
    const std::vector<std::uint32_t> order = sort_by_value(image, n, negate);
    at.resize(n);
    value.resize(n);
    padded.assign(std::size_t((h + 2) * wp), n);
    for (std::uint32_t r = 0; r < n; ++r) value[r] = negate ? -image[order[r]] : image[order[r]];
    for (std::uint32_t r = 0; r < n; ++r) {
      const std::uint32_t q = order[r], i = q / std::uint32_t(w);
      at[r] = std::uint32_t((i + 1) * wp + (q - i * w) + 1);
      padded[at[r]] = r;
    }
  }
  // Flat image index of the pixel of rank r.
  index_t pixel(std::uint32_t r) const {
    const index_t i = at[r] / wp;
    return (i - 1) * w + (at[r] - i * wp) - 1;
  }
  void push(std::vector<PixelPair>& out, std::uint32_t birth, std::uint32_t death) const {
    if (value[birth] != value[death]) out.push_back({pixel(birth), pixel(death), value[birth], value[death]});
  }
};

// H0: pixels in increasing rank join the components of their neighbours of lower rank (`Ring`: the 8
// neighbours in T, where two neighbours next to each other on the ring are adjacent pixels, so one run
// of lower neighbours is one component and needs one find; the 4 neighbours in V, where none are
// adjacent). The elder of two roots is the smaller rank; the younger dies at r.
template <bool Ring, int K>
void h0(const RankedPixels& px, const std::array<index_t, K>& offsets, std::vector<PixelPair>& out) {
  Forest forest(px.n);
  for (std::uint32_t r = 0; r < px.n; ++r) {
    forest.make(r);
    const std::uint32_t* c = px.padded.data() + px.at[r];
    bool lower[K], all = true;
    for (int k = 0; k < K; ++k) {
      lower[k] = c[offsets[k]] < r;  // the padding (rank n) is never lower
      all = all && lower[k];
    }
    std::uint32_t root = r;  // the root of r's component, kept up to date
    for (int k = 0; k < K; ++k) {
      if (!lower[k]) continue;
      // On the ring, a lower neighbour after a lower one is in its component; when all are lower (a
      // run without a start), neighbour 0 stands for them.
      if (Ring && lower[(k + K - 1) % K] && !(all && k == 0)) continue;
      const std::uint32_t other = forest.find(c[offsets[k]]);
      if (other == root) continue;
      const std::uint32_t young = other > root ? other : root, elder = other > root ? root : other;
      px.push(out, young, r);
      forest.link(young, elder);
      root = elder;
    }
  }
  out.push_back({px.pixel(0), -1, px.value[0], std::numeric_limits<double>::infinity()});
}

// T, H1: pixels in decreasing rank join their 4-neighbours of higher rank and, on the border, the
// outer node (id n, the padding's rank); the younger root (smaller id) dies at r.
void h1_t(const RankedPixels& px, std::vector<PixelPair>& out) {
  const std::array<index_t, 4> offsets{-px.wp, -1, 1, px.wp};
  Forest forest(std::size_t(px.n) + 1);
  forest.make(px.n);
  for (std::uint32_t r = px.n; r-- > 0;) {
    forest.make(r);
    const std::uint32_t* centre = px.padded.data() + px.at[r];
    std::uint32_t root = r;
    for (const index_t o : offsets) {
      const std::uint32_t q = centre[o];
      if (q <= r) continue;  // earlier in the filtration: not yet in the dual graph
      const std::uint32_t other = forest.find(q);
      if (other == root) continue;
      const std::uint32_t young = other < root ? other : root, elder = other < root ? root : other;
      px.push(out, r, young);  // young == r: the pixel's own class, zero persistence
      forest.link(young, elder);
      root = elder;
    }
  }
}

// V, H1: edges in decreasing rank join the squares on either side (see the file comment for the ids).
void h1_v(const RankedPixels& px, std::vector<PixelPair>& out) {
  const index_t wp = px.wp;
  Forest forest(std::size_t(px.n) + 1);
  forest.make(px.n);
  // The edges to the neighbours up, left, right and down, and the two squares beside each (0 up-left,
  // 1 up-right, 2 down-left, 3 down-right of the pixel).
  constexpr int kBeside[4][2] = {{0, 1}, {0, 2}, {1, 3}, {2, 3}};
  for (std::uint32_t r = px.n; r-- > 0;) {
    forest.make(r);
    const std::uint32_t* c = px.padded.data() + px.at[r];
    const std::uint32_t up = c[-wp], left = c[-1], right = c[1], down = c[wp];
    const std::uint32_t lower[4] = {up < r, left < r, right < r, down < r};
    if (!(lower[0] | lower[1] | lower[2] | lower[3])) continue;  // no edge of rank r
    // Node of each square: the rank of its max vertex (n, the outer node, if it touches the padding).
    const std::uint32_t node[4] = {std::max({c[-wp - 1], up, left, r}), std::max({up, c[-wp + 1], right, r}),
                                   std::max({left, c[wp - 1], down, r}), std::max({right, down, c[wp + 1], r})};
    // The roots of the four squares, found once each and kept up to date through the merges here.
    std::uint32_t root[4];
    bool known[4] = {false, false, false, false};
    const auto root_of = [&](int i) {
      if (!known[i]) root[i] = forest.find(node[i]), known[i] = true;
      return root[i];
    };
    for (int k = 0; k < 4; ++k) {
      if (!lower[k]) continue;
      const std::uint32_t x = root_of(kBeside[k][0]), y = root_of(kBeside[k][1]);
      if (x == y) continue;
      const std::uint32_t young = x < y ? x : y, elder = x < y ? y : x;
      px.push(out, r, young);  // young == r: squares of max vertex r, zero persistence
      forest.link(young, elder);
      for (int i = 0; i < 4; ++i)
        if (known[i] && root[i] == young) root[i] = elder;
    }
  }
}

}  // namespace

std::array<std::vector<PixelPair>, 2> planar_persistence(const double* image, index_t h, index_t w, Construction c,
                                                         bool negate) {
  const RankedPixels px(image, h, w, negate);
  std::array<std::vector<PixelPair>, 2> pairs;
  const index_t wp = px.wp;
  if (c == Construction::V) {
    h0<false, 4>(px, {-wp, -1, 1, wp}, pairs[0]);
    h1_v(px, pairs[1]);
  } else {
    h0<true, 8>(px, {-wp - 1, -wp, -wp + 1, 1, wp + 1, wp, wp - 1, -1}, pairs[0]);  // ring order
    h1_t(px, pairs[1]);
  }
  return pairs;
}

}  // namespace seglosses::cubical
