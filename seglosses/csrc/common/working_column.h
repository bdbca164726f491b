// The working column of a matrix reduction over Z/2, shared by the persistence engine and the Betti
// matching engine.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "common/memory.h"

namespace seglosses {

// The working column of a reduction, a set of keys mod 2. Columns added to it are merged into a
// sorted vector (sequential, branch-predictable), except short columns added to a long working column:
// those go to a min-heap of pending keys, since a merge would cost the working column's length each
// time. Reading the pivot consumes the sorted vector from the front (head_). "Short" is under 1/32 of
// the live length: a sequential merge beats the heap's scattered sifting well past 1/8 (3D noise
// barcodes ~5% faster at 1/32 than at 1/8; the matching unchanged within noise).
template <class K>
class WorkingColumn {
 public:
  void reset(const K* first, const K* last) {
    sorted_.assign(first, last);
    head_ = 0;
    pending_.clear();
  }
  // Adds a sorted column without duplicates.
  void add(const K* first, const K* last) {
    const std::size_t n = std::size_t(last - first), live = sorted_.size() - head_;
    if (n * kLazyRatio < live) {
      for (; first != last; ++first) {
        pending_.push_back(*first);
        std::push_heap(pending_.begin(), pending_.end(), greater);
      }
      if (pending_.size() * 2 > live) flush();
    } else {
      merge_into_sorted(first, last);
    }
  }
  // The smallest key surviving mod-2 cancellation; false if the column is zero.
  bool pivot(K& out) {
    for (;;) {
      const bool in_sorted = head_ < sorted_.size();
      if (!in_sorted && pending_.empty()) return false;
      K c = in_sorted ? sorted_[head_] : pending_.front();
      if (in_sorted && !pending_.empty() && pending_.front() < c) c = pending_.front();
      const bool sorted_copy = in_sorted && sorted_[head_] == c;
      std::size_t copies = sorted_copy ? 1 : 0;
      while (!pending_.empty() && pending_.front() == c) {
        std::pop_heap(pending_.begin(), pending_.end(), greater);
        pending_.pop_back();
        ++copies;
      }
      if (copies % 2 == 1) {
        if (!sorted_copy) {  // keep the one surviving copy
          pending_.push_back(c);
          std::push_heap(pending_.begin(), pending_.end(), greater);
        }
        out = c;
        return true;
      }
      if (sorted_copy) ++head_;
    }
  }
  // The key after the front of the sorted keys (a guess at the pivot after the next addition, for
  // prefetching; pending keys are not looked at); false if there is none.
  bool second(K& out) const {
    if (head_ + 1 >= sorted_.size()) return false;
    out = sorted_[head_ + 1];
    return true;
  }
  // The column's keys, sorted (after folding the pending keys in).
  std::pair<const K*, const K*> finish() {
    flush();
    return {sorted_.data() + head_, sorted_.data() + sorted_.size()};
  }

 private:
  static constexpr std::size_t kLazyRatio = 32;
  static bool greater(const K& a, const K& b) { return b < a; }

  void flush() {
    if (pending_.empty()) return;
    std::sort(pending_.begin(), pending_.end());
    std::size_t kept = 0;
    for (std::size_t i = 0; i < pending_.size();) {
      std::size_t j = i;
      while (j < pending_.size() && pending_[j] == pending_[i]) ++j;
      if ((j - i) % 2 == 1) pending_[kept++] = pending_[i];
      i = j;
    }
    pending_.resize(kept);
    std::vector<K> keys;
    keys.swap(pending_);
    merge_into_sorted(keys.data(), keys.data() + keys.size());
    keys.clear();
    pending_.swap(keys);  // keep the capacity
  }
  void merge_into_sorted(const K* first, const K* last) {
    merged_.resize(sorted_.size() - head_ + std::size_t(last - first));
    K* o = merged_.data();
    const K* a = sorted_.data() + head_;
    const K* a_end = sorted_.data() + sorted_.size();
    while (a != a_end && first != last) {
      if (*a < *first) {
        *o++ = *a++;
      } else if (*first < *a) {
        *o++ = *first++;
      } else {  // mod 2: equal keys cancel
        ++a;
        ++first;
      }
    }
    o = std::copy(a, a_end, o);
    o = std::copy(first, last, o);
    merged_.resize(std::size_t(o - merged_.data()));
    sorted_.swap(merged_);
    head_ = 0;
  }

  std::vector<K> sorted_, merged_, pending_;
  std::size_t head_ = 0;
};

// Reduced columns kept for later additions, back to back in blocks of at least kBlock keys: a
// growing vector would hold up to twice its keys while it doubles (measured at 128^3 noise: 16.4M
// keys in a 25.5M-key buffer, 49 of the barcode's 261 bytes per voxel).
template <class K>
class ColumnStore {
 public:
  // Stores a column; returns its index.
  std::size_t add(const K* first, const K* last) {
    const std::size_t n = std::size_t(last - first);
    if (blocks_.empty() || used_ + n > capacity_) {
      capacity_ = std::max(kBlock, n);
      blocks_.emplace_back(new K[capacity_]);
      used_ = 0;
    }
    K* at = blocks_.back().get() + used_;
    std::copy(first, last, at);
    used_ += n;
    columns_.push_back({at, at + n});
    return columns_.size() - 1;
  }
  std::size_t size() const { return columns_.size(); }
  const K* begin(std::size_t i) const { return columns_[i].first; }
  const K* end(std::size_t i) const { return columns_[i].second; }

 private:
  static constexpr std::size_t kBlock = std::size_t(1) << 20;
  std::vector<std::unique_ptr<K[]>> blocks_;
  std::size_t used_ = 0, capacity_ = 0;
  PageVector<std::pair<const K*, const K*>> columns_;
};

}  // namespace seglosses
