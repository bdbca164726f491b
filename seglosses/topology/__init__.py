"""seglosses.topology: persistence, Betti numbers and Betti matching of 2D/3D images (cubical complexes)."""

from seglosses.topology.matching import BettiMatching, betti_matching
from seglosses.topology.persistence import Barcode, betti_numbers, persistence

__all__ = ["Barcode", "persistence", "betti_numbers", "BettiMatching", "betti_matching"]
