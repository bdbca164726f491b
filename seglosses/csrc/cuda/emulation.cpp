// CPU emulation of the GPU engine's phases (phases.h): the kernels' per-element functions run here
// one element at a time, in the same rounds as on the device, so that tests on a machine without a GPU
// can prove them equal to the CPU engine (persistence/persistence.cpp). Registered in seglosses._core
// as private functions `_gpu_*`; the device module seglosses._cuda runs the same functions in kernels.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <array>
#include <memory>
#include <numeric>
#include <tuple>
#include <vector>

#include "cuda/matching_phases.h"
#include "cuda/phases.h"
#include "common/numpy.h"
#include "common/order.h"
#include "matching/to_numpy.h"
#include "persistence/cubical.h"

namespace nb = nanobind;
using namespace seglosses::gpu;

namespace {

using seglosses::pairs_to_numpy;
using Image = nb::ndarray<const double, nb::c_contig, nb::device::cpu>;
using Pairs = seglosses::PairArray<index_t>;
using Ranks = nb::ndarray<nb::numpy, std::uint32_t, nb::ndim<1>>;

// A 1D array over a vector, which it takes over (pairs go through common/numpy.h's pairs_to_numpy).
Ranks ranks_to_numpy(std::vector<std::uint32_t>&& data) {
  auto* heap = new std::vector<std::uint32_t>(std::move(data));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<std::uint32_t>*>(p); });
  return Ranks(heap->data(), {heap->size()}, owner);
}

Grid grid_of(const Image& image, int construction) {
  const int ndim = int(image.ndim());
  if (ndim < 2 || ndim > 3) throw nb::value_error("Expected `image` to be a 2D or 3D array.");
  if (construction != 0 && construction != 1) throw nb::value_error("Expected `construction` to be 0 (T) or 1 (V).");
  index_t shape[3];
  for (int a = 0; a < ndim; ++a) shape[a] = index_t(image.shape(a));
  const Grid g = Grid::make(shape, ndim, construction == 0);
  if (g.num_cells >= (index_t(1) << 32) || g.num_pixels < 1)
    throw nb::value_error("Expected `image` to be non-empty with fewer than 2**32 Khalimsky cells.");
  return g;
}

// Phase 1. The device sorts (order_key_bits, pixel) pairs with a stable radix sort: the permutation of
// the CPU engine's stable radix sort by the same keys (common/order.h), which the emulation uses.
struct Ranked {
  std::vector<std::uint32_t> pixel_rank, cell_rank;
  std::vector<std::uint32_t> pixel_of_rank;
};

Ranked rank_cells(const Grid& g, const double* values) {
  Ranked out;
  out.pixel_of_rank = seglosses::sort_by_value(values, g.num_pixels);
  out.pixel_rank.resize(g.num_pixels);
  for (index_t r = 0; r < g.num_pixels; ++r) out.pixel_rank[out.pixel_of_rank[r]] = std::uint32_t(r);
  out.cell_rank.resize(g.num_cells);
  for (index_t c = 0; c < g.num_cells; ++c) out.cell_rank[c] = cell_rank(g, out.pixel_rank.data(), c);
  return out;
}

// Phase 3: Boruvka rounds, each kernel of the device emulated by a loop over its elements.
template <class G>
std::vector<std::uint8_t> spanning_forest(const G& graph) {
  const index_t nodes = graph.num_nodes(), slots = graph.num_edge_slots();
  std::vector<index_t> parent(nodes), target(nodes);
  std::iota(parent.begin(), parent.end(), index_t(0));
  std::vector<Key> cheapest(nodes);
  std::vector<std::uint8_t> in_forest(slots, 0);
  for (bool hooked = true; hooked;) {
    hooked = false;
    std::fill(cheapest.begin(), cheapest.end(), kNoKey);
    for (index_t e = 0; e < slots; ++e)
      if (graph.is_edge(e))
        offer_edge(graph, parent.data(), e, [&](index_t r, Key k) { cheapest[r] = std::min(cheapest[r], k); });
    for (index_t v = 0; v < nodes; ++v) target[v] = hook_target(graph, parent.data(), cheapest.data(), v);
    for (index_t v = 0; v < nodes; ++v) {
      const index_t e = hook(graph, parent.data(), target.data(), cheapest.data(), v);
      if (e != kNoCell) in_forest[e] = 1, hooked = true;
    }
    for (index_t v = 0; v < nodes; ++v) compress(parent.data(), v);
  }
  return in_forest;
}

// The spanning forest's edges in Kruskal order (the device: CUB select, then a radix sort by key) and, if
// `loops` is given, the edge slots H1 reads (left_for_h1) in filtration order (the same on the device).
template <class G, class List = std::vector<std::uint32_t>>
std::vector<index_t> sorted_forest(const G& graph, List* loops = nullptr) {
  const std::vector<std::uint8_t> in_forest = spanning_forest(graph);
  std::vector<index_t> forest;
  for (index_t e = 0; e < index_t(in_forest.size()); ++e)
    if (in_forest[e]) forest.push_back(e);
  std::sort(forest.begin(), forest.end(), [&](index_t a, index_t b) { return graph.edge_key(a) < graph.edge_key(b); });
  if (loops) {
    std::vector<Key> keys;
    for (index_t e = 0; e < index_t(in_forest.size()); ++e)
      if (left_for_h1(graph, in_forest.data(), e)) keys.push_back(filtration_key(graph, e));
    std::sort(keys.begin(), keys.end());
    loops->resize(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) (*loops)[i] = cell_or_key<typename List::value_type>(keys[i]);
  }
  return forest;
}

// Pairs (birth cell, death cell) of H0 (dual = false) or of the top dimension (dual = true), zero
// persistence included, and the essential H0 class's birth cell (-1 for the top dimension).
std::tuple<std::vector<index_t>, index_t> union_find_pairs(const Grid& g, const std::vector<std::uint32_t>& rank,
                                                           bool dual) {
  const Graph graph{g, rank.data(), dual};
  const std::vector<index_t> forest = sorted_forest(graph);
  std::vector<index_t> parent(g.num_cells + 1);
  std::iota(parent.begin(), parent.end(), index_t(0));
  std::vector<index_t> pairs;
  merge_forest(graph, parent.data(), forest.data(), index_t(forest.size()), [&](index_t young, index_t, index_t e) {
    pairs.push_back(dual ? e : young);
    pairs.push_back(dual ? young : e);
  });
  index_t essential = kNoCell;
  if (!dual) {
    Key best = kNoKey;
    for (index_t c = 0; c < g.num_cells; ++c)
      if (g.cell_dim(c) == 0 && graph.node_key(c) < best) best = graph.node_key(c), essential = c;
  }
  return {std::move(pairs), essential};
}

Ranks gpu_cell_ranks(Image image, int construction) {
  const Grid g = grid_of(image, construction);
  Ranked r = rank_cells(g, image.data());
  return ranks_to_numpy(std::move(r.cell_rank));
}

Pairs gpu_apparent_pairs(Image image, int construction, int dim) {
  const Grid g = grid_of(image, construction);
  const Ranked r = rank_cells(g, image.data());
  std::vector<index_t> pairs;
  for (index_t c = 0; c < g.num_cells; ++c) {
    if (g.cell_dim(c) != dim) continue;
    const index_t t = apparent_partner(g, r.cell_rank.data(), c);
    if (t != kNoCell) pairs.push_back(c), pairs.push_back(t);
  }
  return pairs_to_numpy(std::move(pairs));
}

std::tuple<Pairs, index_t> gpu_union_find_pairs(Image image, int construction, bool dual) {
  const Grid g = grid_of(image, construction);
  const Ranked r = rank_cells(g, image.data());
  auto [pairs, essential] = union_find_pairs(g, r.cell_rank, dual);
  return {pairs_to_numpy(std::move(pairs)), essential};
}

// Critical-pixel pairs of nonzero persistence (in rank), the form the device module returns to Python
// (which reads the values at the pixels): the emulated end-to-end union-find phases.
std::tuple<Pairs, index_t> gpu_pixel_pairs(Image image, int construction, bool dual) {
  const Grid g = grid_of(image, construction);
  const Ranked r = rank_cells(g, image.data());
  const Graph graph{g, r.cell_rank.data(), dual};
  const std::vector<index_t> forest = sorted_forest(graph);
  std::vector<index_t> pixels;
  merge_to_pixel_pairs(graph, forest.data(), index_t(forest.size()), r.pixel_of_rank.data(), pixels);
  // The essential H0 class is born at the pixel of rank 0 (the vertex of smallest key).
  const index_t essential_pixel = dual ? kNoCell : index_t(r.pixel_of_rank[0]);
  return {pairs_to_numpy(std::move(pixels)), essential_pixel};
}

// Phase 4's tables of a 3D image (the device: a radix sort of the square keys, then one thread per position
// or cell), but the columns, which the H0 forest gives; `apparent` gets the apparent pairs' edges.
seglosses::cubical::H1Tables h1_tables(const Grid& g, const std::vector<std::uint32_t>& rank,
                                       std::vector<std::uint8_t>& apparent) {
  seglosses::cubical::H1Tables tables;
  std::vector<Key> keys;
  for (index_t c = 0; c < g.num_cells; ++c)
    if (g.cell_dim(c) == 2) keys.push_back(cell_key(rank.data(), c));
  std::sort(keys.begin(), keys.end());
  const index_t count = index_t(keys.size());
  const index_t vertices = g.num_vertices();
  std::vector<std::uint32_t> position(std::size_t(g.num_cells), 0);
  tables.dense.assign(std::size_t(3 * vertices), 0);
  for (index_t p = 0; p < count; ++p) {
    const index_t square = index_t(keys[p] & 0xffffffffu);
    position[square] = std::uint32_t(p);
    tables.dense[dense_square_number(g, square)] = std::uint32_t(p);
  }
  tables.first_of_rank.assign(std::size_t(g.num_pixels + 1), 0);
  for (index_t p = 0; p <= count; ++p) first_positions(keys.data(), count, g.num_pixels, p, tables.first_of_rank.data());
  tables.pivot.assign(std::size_t(count), 0);
  apparent.assign(std::size_t(g.num_cells), 0);
  for (index_t e = 0; e < g.num_cells; ++e) {
    bool nonzero = false;
    std::uint32_t ranks[2];
    if (apparent_entry(g, rank.data(), position.data(), e, tables.pivot.data(), apparent.data(), nonzero, ranks) &&
        nonzero)
      tables.apparent_ranks.insert(tables.apparent_ranks.end(), {ranks[0], ranks[1]});
  }
  return tables;
}

// The emulated GPU barcode end to end, as the device module's `barcode` returns it: per dimension the
// critical-pixel pairs (birth, death) of nonzero persistence in rank of the sublevel filtration (H0 and
// the top dimension by the union-find phases, a 3D image's H1 by the hybrid's host reduction on
// `threads` threads from phase 4's tables), and the essential H0 class's birth pixel.
std::tuple<std::vector<Pairs>, index_t> gpu_barcode(Image image, int construction, int threads) {
  if (threads < 1) throw nb::value_error("Expected `threads` to be a positive integer.");
  const Grid g = grid_of(image, construction);
  Ranked r = rank_cells(g, image.data());
  const bool solid = g.dim == 3;
  seglosses::cubical::H1Tables tables;
  std::vector<std::uint8_t> apparent;
  if (solid) tables = h1_tables(g, r.cell_rank, apparent);
  // One list per axis of the image: a flat axis lowers the top dimension, whose list stays empty (g.dim <= 1
  // has no dual phase: its top dimension is H0).
  std::vector<std::vector<index_t>> dims(image.ndim());
  for (const bool dual : {false, true}) {
    if (dual && g.dim < 2) continue;
    const Graph graph{g, r.cell_rank.data(), dual, solid && !dual ? apparent.data() : nullptr};
    const std::vector<index_t> forest = sorted_forest(graph, solid && !dual ? &tables.columns : nullptr);
    merge_to_pixel_pairs(graph, forest.data(), index_t(forest.size()), r.pixel_of_rank.data(),
                         dims[dual ? std::size_t(g.dim - 1) : 0]);
  }
  const index_t essential_pixel = index_t(r.pixel_of_rank[0]);
  if (solid) {
    std::vector<double> sorted_value(std::size_t(g.num_pixels));
    for (index_t k = 0; k < g.num_pixels; ++k) sorted_value[k] = image.data()[r.pixel_of_rank[k]];
    h1_to_pixel_pairs(g, std::move(r.pixel_of_rank), std::move(sorted_value), std::move(tables), threads, dims[1]);
  }
  std::vector<Pairs> out;
  for (auto& d : dims) out.push_back(pairs_to_numpy(std::move(d)));
  return {std::move(out), essential_pixel};
}

// The CPU engine's rank of every Khalimsky cell (its Filtration): the oracle of phase 1.
Ranks gpu_reference_cell_ranks(Image image, int construction) {
  grid_of(image, construction);  // the checks
  index_t shape[3];
  for (int a = 0; a < int(image.ndim()); ++a) shape[a] = index_t(image.shape(a));
  seglosses::cubical::Filtration f(image.data(), shape, int(image.ndim()),
                                   seglosses::cubical::Construction(construction));
  std::vector<std::uint32_t> rank = std::move(f.rank);
  return ranks_to_numpy(std::move(rank));
}

// The GPU Betti matching (matching_phases.h), emulated: the three images' dense ranks (the device computes
// the same ranks with a radix sort and a scan; here the CPU engine's RankedImage), each graph's Boruvka
// forest and the sequential merges, then, for a solid grid, H1 on the host from copies of the ranks and the
// lists the forests leave (on `threads` threads). Returns what _core.betti_matching returns.
seglosses::matching::PythonMatching gpu_betti_matching(Image f, Image g, int construction, bool negate, int threads) {
  if (threads < 1) throw nb::value_error("Expected `threads` to be a positive integer.");
  using seglosses::matching::RankedImage;
  using seglosses::matching::VGrid;
  const int ndim = int(f.ndim());
  if (ndim < 2 || ndim > 3 || int(g.ndim()) != ndim) throw nb::value_error("Expected two 2D or 3D arrays of one shape.");
  index_t shape[3];
  for (int a = 0; a < ndim; ++a) {
    shape[a] = index_t(f.shape(a));
    if (index_t(g.shape(a)) != shape[a] || shape[a] < 1) throw nb::value_error("Expected two non-empty arrays of one shape.");
  }
  const VGrid grid(shape, ndim, construction == 0);
  std::vector<double> comparison(std::size_t(grid.num_pixels));
  for (index_t i = 0; i < grid.num_pixels; ++i)
    comparison[i] = seglosses::matching::comparison_value(f.data()[i], g.data()[i], negate);
  const RankedImage rf(grid, f.data(), negate), rg(grid, g.data(), negate), rc(grid, comparison.data());

  seglosses::matching::MatchingResult result;
  result.dims.resize(static_cast<std::size_t>(ndim));
  index_t essential[2] = {0, 0};
  // Solid: the lists H1 reads, what the union-find phases leave (edges, then squares, of f, g, c).
  std::array<seglosses::matching::CellList, 3> loops[2];
  for (const bool dual : {false, true}) {
    const MatchGraph graphs[3] = {{rf, dual}, {rg, dual}, {rc, dual}};
    std::vector<index_t> forest[3];
    for (int k = 0; k < 3; ++k) forest[k] = sorted_forest(graphs[k], grid.planar ? nullptr : &loops[dual][k]);
    result.dims[dual ? (grid.planar ? 1 : 2) : 0] = merge_dimension(graphs, forest, essential);
  }
  result.essential_f = essential[0];
  result.essential_g = essential[1];
  if (!grid.planar) {
    // H1 on the host, from copies of the ranks as the device engine hands them over (V: per vertex; T: the
    // padded pixel ranks), so the host side of the hybrid is what runs here.
    std::unique_ptr<RankedImage> copies[3];
    const RankedImage* ranked[3] = {&rf, &rg, &rc};
    for (int k = 0; k < 3; ++k) {
      const RankedImage& im = *ranked[k];
      std::vector<std::uint32_t> vertex_rank, padded;
      if (grid.top_cells)
        padded.assign(im.padded, im.padded + RankedImage::padded_size(grid));
      else
        vertex_rank.assign(im.rank, im.rank + grid.num_vertices);
      copies[k] = std::make_unique<RankedImage>(grid, std::move(vertex_rank), std::move(padded));
    }
    const RankedImage* host[3] = {copies[0].get(), copies[1].get(), copies[2].get()};
    result.dims[1] = match_h1_on_host(host, loops[0], loops[1], threads);
  }
  return seglosses::matching::to_python(std::move(result));
}

}  // namespace

void bind_gpu_emulation(nb::module_& m) {
  m.def("_gpu_cell_ranks", &gpu_cell_ranks, nb::arg("image"), nb::arg("construction"),
        "Emulated GPU phase 1: the rank of every Khalimsky cell (C order).");
  m.def("_gpu_apparent_pairs", &gpu_apparent_pairs, nb::arg("image"), nb::arg("construction"), nb::arg("dim"),
        "Emulated GPU phase 2: (n, 2) (cell, cofacet) apparent pairs whose first cell has dimension `dim`.");
  m.def("_gpu_union_find_pairs", &gpu_union_find_pairs, nb::arg("image"), nb::arg("construction"),
        nb::arg("dual"),
        "Emulated GPU phase 3: ((n, 2) (birth, death) cells of H0 or, with dual, of the top dimension, zero "
        "persistence included; essential H0 birth cell or -1).");
  m.def("_gpu_pixel_pairs", &gpu_pixel_pairs, nb::arg("image"), nb::arg("construction"), nb::arg("dual"),
        "Emulated GPU union-find phase end to end: ((n, 2) critical pixels of nonzero-rank-persistence pairs, "
        "essential H0 birth pixel or -1).");
  m.def("_gpu_betti_matching", &gpu_betti_matching, nb::arg("prediction"), nb::arg("target"),
        nb::arg("construction"), nb::arg("negate") = false, nb::arg("threads") = 1,
        "Emulated GPU Betti matching: H0 and the top dimension by the GPU phases, a solid image's H1 by the host "
        "part of the hybrid on `threads` threads (the layout of betti_matching).");
  m.def("_gpu_barcode", &gpu_barcode, nb::arg("image"), nb::arg("construction"), nb::arg("threads") = 1,
        "Emulated GPU barcode: ([(n, 2) critical pixels of the nonzero-rank-persistence pairs of each dimension], "
        "essential H0 birth pixel); a 3D image's H1 by the hybrid's host reduction.");
  m.def("_gpu_reference_cell_ranks", &gpu_reference_cell_ranks, nb::arg("image"), nb::arg("construction"),
        "The CPU engine's rank of every Khalimsky cell (C order), the oracle of _gpu_cell_ranks.");
}
