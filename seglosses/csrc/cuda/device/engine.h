// Host entry points of the CUDA engine (phases.cu), plain C++ so that the nanobind module that calls
// them is compiled by the host compiler. Images are C-contiguous float64 arrays in device memory (a
// torch CUDA tensor's data_ptr); work is queued on the caller's stream (torch's current stream).
// Errors throw std::runtime_error with the CUDA error's text.
#pragma once

#include <cstdint>
#include <vector>

#include "matching/betti_matching.h"

namespace seglosses::gpu {

using index_t = std::int64_t;

// Number of CUDA devices; 0 when there is no driver or no device (never throws).
int device_count();

// The rank of every Khalimsky cell (C order) into `cell_rank` (device memory, num_cells entries).
void cell_ranks(const double* image, const index_t* shape, int ndim, bool t_construction, void* stream,
                std::uint32_t* cell_rank);

// The number of apparent pairs whose first cell has dimension `dim`.
index_t count_apparent_pairs(const double* image, const index_t* shape, int ndim, bool t_construction, int dim,
                             void* stream);

// The union-find phases: critical-pixel pairs (birth, death) of H0 or, with `dual`, of the top
// dimension, with the pairs of equal rank (zero persistence) dropped, appended to `pairs`; returns the
// essential H0 class's birth pixel (the pixel of rank 0).
// host_merge: the sequential merge runs on the host (copies of the cell ranks and the sorted forest).
index_t union_find_pixel_pairs(const double* image, const index_t* shape, int ndim, bool t_construction, bool dual,
                               bool host_merge, void* stream, std::vector<index_t>& pairs);

// The barcode of an image in device memory: per axis of the image, the critical-pixel pairs (birth, death)
// of the sublevel filtration with the pairs of equal rank dropped, into `dims` (one list per axis; a flat
// axis leaves the top one empty); returns the essential H0 class's birth pixel. H0 and the top dimension
// on the device (union-find phases); H1 of a solid 3D image by the hybrid: the reduction's tables, apparent
// pairs and columns made on the device (phase 4 of ../phases.h), the reduction itself on the host (the CPU
// engine's, `threads` threads) with the pixel order and the values in it.
index_t barcode_pixel_pairs(const double* image, const index_t* shape, int ndim, bool t_construction, bool host_merge,
                            int threads, void* stream, std::vector<std::vector<index_t>>& dims);

// The Betti matching of two images in device memory: the CPU engine's result (matching/betti_matching.h),
// pair for pair. H0 and the top dimension (all of a 2D matching) on the device; H1 of a solid pair by the
// CPU engine's reductions on the host, on `threads` threads, from copies of the ranks and of the lists of
// cells the union-find phases leave. negate: the matching of -f and -g (superlevel filtrations).
// host_merge: the sequential merges run on the host (copies of the ranks and forests) instead of one device
// thread per image.
matching::MatchingResult betti_matching(const double* f, const double* g, const index_t* shape, int ndim,
                                        bool t_construction, bool negate, bool host_merge, int threads, void* stream);

}  // namespace seglosses::gpu
