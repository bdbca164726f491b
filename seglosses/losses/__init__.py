"""Segmentation losses. Every loss takes ``(input, target)`` = ((B, C, *spatial) logits, labels).

Each family lives in its own module: a pure function plus a thin ``nn.Module``.
"""

__all__: list[str] = []
