// The lock-free parallel column reduction over Z/2 shared by the barcode engine (H1 of a 3D grid) and the
// matching engine (its five H1 reductions): the scheme of Morozov and Nigmetov, "Towards lockfree
// persistent homology" (SPAA 2020); the code is ours.
//
// Columns 0..n-1 are reduced in that order by a one-thread sweep; here the threads take blocks of
// consecutive columns instead. A column is published by a compare-and-swap of the owner of its pivot (the
// smallest key): free, the owner becomes the column; owned by an earlier column, that column is added; owned
// by a later column, this one takes the pivot over and the thread reduces the displaced column on (its
// pivot is now this one's). Published forms are never changed: a new form goes to the thread's arena, so a
// reader that meets an owner's older or newer form adds a sum of columns earlier than its own either way,
// which is all a reduction needs. The pivots of a reduced matrix are unique for the matrix and its orders,
// so the pivots found are those of the sweep, whatever the interleaving.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

#include "common/parallel.h"
#include "common/working_column.h"

namespace seglosses {

// Owner values, per pivot slot: 0, none; i + 1, column i in its raw form; kStored | (i + 1), column i with
// a stored form; negative (signed owners only), a column of the caller's own (e.g. the barcode's apparent
// pairs, set before the reduction), which the policy adds.
//
// Policy: `Key`, `Owner` (an integer type), and
//   std::size_t slot(Key key) const;            the owner slot of a pivot key
//   int raw(std::size_t i, Key* out) const;     column i's raw keys, sorted (at most 4); returns how many
//   void foreign(Owner o, WorkingColumn<Key>&) const;  adds the column of a negative owner
//   void ahead(std::size_t i) const;            a hint: column i comes soon (prefetch its raw keys' inputs)
// Returns, per column, its pivot's slot, or kNoPivot for a column that reduced to zero or had no keys.
template <class Policy>
class LockFreeReduction {
 public:
  using Key = typename Policy::Key;
  using Owner = typename Policy::Owner;
  static constexpr Owner kStored = Owner(1) << (sizeof(Owner) * 8 - 2);
  // A pivot slot, as wide as the keys (slots index tables of at most as many entries as keys can name).
  using Slot = std::conditional_t<sizeof(Key) <= 4, std::uint32_t, std::uint64_t>;
  static constexpr Slot kNoPivot = ~Slot(0);
  static constexpr std::size_t kBlock = 256;  // consecutive columns a thread takes at a time
  static constexpr std::size_t kAhead = 16;   // columns ahead for Policy::ahead

  struct Result {
    std::vector<Slot> pivot_slot;  // per column
    std::vector<std::uint8_t> stored;     // per column: whether it needed additions
    std::size_t additions = 0;
  };

  // Whether n columns fit the owner encoding.
  static bool fits(std::size_t n) { return n < std::size_t(kStored) - 1; }
  // `owner`: the owner table (zero where free, negative where the caller's own columns are), indexed by
  // slot. n must fit (see fits).
  static Result run(const Policy& policy, std::size_t n, Owner* owner, int threads) {
    Result result;
    result.pivot_slot.assign(n, kNoPivot);
    result.stored.assign(n, 0);
    // Zeroed up front: calloc's lazily zeroed pages, faulted by several threads at once, cost 10-15%.
    const std::unique_ptr<const Key*[]> content(new const Key*[n]());
    std::vector<Arena> arenas(static_cast<std::size_t>(threads));
    std::vector<std::size_t> additions(static_cast<std::size_t>(threads), 0);
    std::atomic<std::size_t> next{0};
    std::vector<std::function<void()>> tasks;
    for (int t = 0; t < threads; ++t)
      tasks.emplace_back([&, t] {
        Worker worker{policy, owner, content.get(), arenas[std::size_t(t)], result.pivot_slot.data(), {}, 0};
        for (std::size_t first; (first = next.fetch_add(kBlock)) < n;) {
          const std::size_t last = std::min(n, first + kBlock);
          for (std::size_t i = first; i < last; ++i) {
            if (i + kAhead < last) policy.ahead(i + kAhead);
            worker.reduce(i);
          }
        }
        additions[std::size_t(t)] = worker.additions;
      });
    run_tasks(threads, tasks);
    for (std::size_t i = 0; i < n; ++i) result.stored[i] = content[i] != nullptr;
    for (const std::size_t a : additions) result.additions += a;
    return result;
  }

 private:
  // Reduced forms of one thread, each its length and its keys, never moved or freed while the reduction
  // runs (other threads read them by pointer).
  class Arena {
   public:
    const Key* add(const Key* first, const Key* last) {
      const std::size_t n = std::size_t(last - first) + 1;
      if (blocks_.empty() || used_ + n > capacity_) {
        capacity_ = std::max<std::size_t>(std::size_t(1) << 18, n);
        blocks_.emplace_back(new Key[capacity_]);
        used_ = 0;
      }
      Key* at = blocks_.back().get() + used_;
      at[0] = Key(n - 1);
      std::copy(first, last, at + 1);
      used_ += n;
      return at;
    }

   private:
    std::vector<std::unique_ptr<Key[]>> blocks_;
    std::size_t used_ = 0, capacity_ = 0;
  };

  struct Worker {
    const Policy& policy;
    Owner* owner;
    const Key** content;
    Arena& arena;
    Slot* pivot_slot;
    WorkingColumn<Key> work;
    std::size_t additions;

    // Column k's latest form into the working column (reset) or added to it. Owners tagged kStored have
    // one; untagged owners are read from their raw keys without looking at content[].
    void take(std::size_t k, bool stored, bool reset) {
      const Key* c = stored ? __atomic_load_n(content + k, __ATOMIC_ACQUIRE) : nullptr;
      Key keys[4];
      const Key* first = c ? c + 1 : keys;
      const Key* last = c ? first + std::size_t(c[0]) : keys + policy.raw(k, keys);
      if (reset) {
        work.reset(first, last);
      } else {
        if (last - first > 1) __builtin_prefetch(owner + policy.slot(first[1]));
        work.add(first, last);
        ++additions;
      }
    }

    void reduce(std::size_t i) {
      take(i, false, true);
      std::size_t j = i;     // the column being reduced
      bool changed = false;  // whether the working column differs from content[j]
      Key pivot;
      bool nonzero;
      while ((nonzero = work.pivot(pivot))) {
        Key ahead;
        if (work.second(ahead)) __builtin_prefetch(owner + policy.slot(ahead));
        Owner* entry = owner + policy.slot(pivot);
        Owner o = __atomic_load_n(entry, __ATOMIC_ACQUIRE);
        if constexpr (std::is_signed_v<Owner>) {
          if (o < 0) {  // the caller's own column: always earlier
            policy.foreign(o, work);
            ++additions;
            changed = true;
            continue;
          }
        }
        const std::size_t k = std::size_t(o & ~kStored) - 1;
        if (o != 0 && k < j) {  // an earlier column's pivot: add that column
          take(k, (o & kStored) != 0, false);
          changed = true;
          continue;
        }
        // The pivot is free, or a later column's: column j takes it.
        if (changed) {
          const auto column = work.finish();
          __atomic_store_n(content + j, arena.add(column.first, column.second), __ATOMIC_RELEASE);
          changed = false;
        }
        // Written before the claim: a thread that displaces j later sees it (acquire) and overwrites it.
        pivot_slot[j] = Slot(policy.slot(pivot));
        const Owner claim = Owner(j + 1) | (content[j] ? kStored : Owner(0));
        if (!__atomic_compare_exchange_n(entry, &o, claim, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
          continue;  // taken meanwhile: look again
        if (o == 0) return;
        j = k;  // the displaced column, whose pivot j now owns, is reduced on
        take(j, true, true);
      }
      if (!nonzero) pivot_slot[j] = kNoPivot;  // a zero column
    }
  };
};

}  // namespace seglosses
