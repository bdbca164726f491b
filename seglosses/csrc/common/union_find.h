// The find step every union-find of the engine uses (H0, the dual graphs, the matching's elder
// forests); each keeps its own parents and decides which root survives a union.
#pragma once

namespace seglosses {

// The root of x, halving the path on the way (every node visited is linked to its grandparent).
template <class P>
inline P find_root(P* parent, P x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

}  // namespace seglosses
