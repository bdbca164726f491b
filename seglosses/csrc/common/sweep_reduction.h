// The one-thread column reduction over Z/2 shared by the barcode engine (H1 of a 3D grid) and the matching
// engine (its five H1 reductions): a sweep over the columns in order, the pivot at the smallest key, with
// emergent pairs (a column whose raw pivot is free is reduced already and is not stored) and the
// caller's own columns in the pivot table before the sweep (the barcode's apparent pairs). Its pairs are
// those of LockFreeReduction (common/lockfree_reduction.h), the same reduction on several threads.
//
// The pivot table's entries are the policy's: the barcode keeps one integer per row (the partner edge of
// an emergent or apparent pair, whose raw column it reads again from the grid), the matching 16 bytes (the
// emergent column's other keys beside its owner: no second cache miss when it is added).
#pragma once

#include <cstddef>

#include "common/working_column.h"

namespace seglosses {

// What a sweep met: columns with no keys, emergent pairs (paired with no addition), columns reduced to
// zero, columns reduced to a new pivot after additions (stored), the additions, the stored columns' keys.
struct SweepCounts {
  std::size_t empty = 0, emergent = 0, zeroed = 0, stored = 0, additions = 0, stored_keys = 0;
};

// Policy: `Key`, `Entry` (a pivot table entry; zero-filled means free), and
//   std::size_t slot(Key key) const;                 the table entry of a pivot key
//   int raw(std::size_t i, Key* out);                column i's raw keys, sorted (at most 4); how many
//   void ahead(std::size_t i) const;                 a hint: column i comes soon
//   static bool is_free(const Entry&);
//   static bool is_stored(const Entry&, std::size_t& index);  a column of the sweep's store, and which
//   void claim_raw(Entry&, std::size_t i, const Key* keys, int n);  column i, raw, takes this pivot
//   static void claim_stored(Entry&, std::size_t index);           stored column `index` takes it
//   void add_unstored(const Entry&, Key pivot, WorkingColumn<Key>&, const Entry* table) const;
//                                                    adds a column not stored (table: for prefetching)
//   void pair(std::size_t i, Key pivot);             column i is reduced, with this pivot
// `table` is indexed by slot. Columns 0..n-1 are reduced in order.
template <class Policy>
SweepCounts sweep_reduction(Policy& policy, std::size_t n, typename Policy::Entry* table) {
  using Key = typename Policy::Key;
  using Entry = typename Policy::Entry;
  constexpr std::size_t kAhead = 16;  // columns ahead for Policy::ahead
  SweepCounts counts;
  WorkingColumn<Key> work;
  ColumnStore<Key> store;  // reduced columns that needed additions
  for (std::size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) policy.ahead(i + kAhead);
    Key keys[4];
    const int length = policy.raw(i, keys);
    if (length == 0) {
      ++counts.empty;
      continue;
    }
    Entry& first = table[policy.slot(keys[0])];
    if (Policy::is_free(first)) {  // emergent pair: the raw column is reduced
      policy.claim_raw(first, i, keys, length);
      policy.pair(i, keys[0]);
      ++counts.emergent;
      continue;
    }
    work.reset(keys, keys + length);
    Key pivot;
    bool nonzero = work.pivot(pivot);
    while (nonzero) {
      const Entry& entry = table[policy.slot(pivot)];
      // The chain of pivots is a chain of cache misses: start loading the likely next pivots (the working
      // column's next key, the added column's second) while this one arrives.
      Key next;
      if (work.second(next)) __builtin_prefetch(table + policy.slot(next));
      if (Policy::is_free(entry)) break;
      ++counts.additions;
      std::size_t c;
      if (Policy::is_stored(entry, c)) {
        const Key *column = store.begin(c), *end = store.end(c);
        if (end - column > 1) __builtin_prefetch(table + policy.slot(column[1]));
        work.add(column, end);
      } else {
        policy.add_unstored(entry, pivot, work, table);
      }
      nonzero = work.pivot(pivot);
    }
    if (!nonzero) {
      ++counts.zeroed;
      continue;
    }
    Policy::claim_stored(table[policy.slot(pivot)], store.size());
    policy.pair(i, pivot);
    const auto column = work.finish();
    store.add(column.first, column.second);
    ++counts.stored;
    counts.stored_keys += std::size_t(column.second - column.first);
  }
  return counts;
}

}  // namespace seglosses
