r"""Topograph (Lux et al., "Topograph: An Efficient Graph-Based Framework for Strictly Topology Preserving Image
Segmentation", ICLR 2025): a loss on the prediction's topological errors found in the component graph of the
overlay of prediction and label, at the cost of a connected-component labelling instead of persistent homology.

Per (sample, class): the prediction is binarised at 1/2 and overlaid on the binary label, which splits the image
into four kinds of pixels (true negative, false positive, false negative, true positive). Their 4-connected
regions are the nodes of a graph whose edges join regions that touch: along an axis always; across a diagonal
where the two diagonal pixels belong together under 8-connected foreground (construction ``"T"``; 4-connected
foreground with ``"V"``), decided by the classes of the 2x2 window as in the paper. Regions of the same kind
joined by such an edge are one node; a false-positive or false-negative pair that touches only across a
diagonal whose other two pixels are a true negative and the opposite error is a *special* edge, which joins
clusters but is not a neighbour relation below. Predicted foreground (false and true positives) forms the
prediction's clusters, label foreground (false negatives and true positives) the label's.

An error node (false positive or false negative) is *critical* unless it has exactly one true-negative
neighbour and its other neighbours lie in exactly one cluster of the other map (the label's clusters for a false
positive, the prediction's for a false negative): only then can it be removed, or filled, without changing the
topology of the overlay (strict topology preservation, the paper's Theorem). The loss of the map is the sum over
critical nodes of the mean, over the node's pixels, of the probability of the wrong class there (:math:`p` on a
false positive, :math:`1 - p` on a false negative), so the gradient pushes each critical region towards the
label, with weight 1/|region| per pixel. Agreement, or an overlay that is a single region, gives 0.

Where ours differs from the authors' code (topolosses 0.2.0, ``TopographLoss``): the topology term only
(theirs adds ``(1 - alpha)`` times a Dice term by default; here weights and base losses combine through
:class:`seglosses.losses.CombinedLoss`, e.g. ``"dice_ce+0.1*topograph"``); MONAI's activation options and a value
per (sample, class) (theirs binarises a multi-class prediction by argmax, ours each class's probability at 1/2:
the same for two classes with a softmax, where it equals theirs with ``use_base_loss=False, alpha=1``, tested);
``construction`` names the connectivity as our other topology losses do (``"T"`` is their default
``eight_connectivity=True``). Topograph is defined on 2D images; 3D input raises ``ValueError`` (the paper's
diagonal rules are those of a 2x2 window, which the paper does not extend to 3D).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from seglosses._validation import DEFAULT_CONSTRUCTION
from seglosses.losses._common import SettingsModule, construction_settings, given, per_binary_map, prepare, reduce

__all__ = ["TopographLoss", "topograph_loss", "critical_regions"]

_TN, _FP, _FN, _TP = 0, 1, 2, 3
_topograph_settings = construction_settings  # the one validator of topograph_loss and TopographLoss


def _components(edges: np.ndarray, n: int) -> np.ndarray:
    """Connected components of ``n`` nodes joined by ``edges`` ((2, m)): a component label per node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(edges.shape[1], np.int8), (edges[0], edges[1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _unique_pairs(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """The distinct unordered pairs {a_i, b_i} with a_i != b_i, as (2, m) with row 0 < row 1."""
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    codes = np.unique(lo.astype(np.int64) * n + hi)
    return np.stack([codes // n, codes % n])


def critical_regions(prediction: np.ndarray, label: np.ndarray, construction: str = DEFAULT_CONSTRUCTION) -> np.ndarray:
    """The critical regions of a binary 2D ``prediction`` against a binary ``label`` (see the module doc).

    Returns an int array of the image's shape: 0 outside critical regions, k > 0 on the pixels of the k-th
    critical node (a node can be several 4-connected regions of the same kind, joined across diagonals).

    Example:
        >>> label = np.zeros((7, 7), bool); label[1:6, 1:6] = True; label[3, 3] = False   # a ring
        >>> gap = label.copy(); gap[3, 1] = False                                         # cut once
        >>> int(critical_regions(gap, label).max()), int(critical_regions(label, label).max())
        (0, 0)
        >>> cut = label.copy(); cut[3, 1:3] = False                                       # cut through
        >>> np.argwhere(critical_regions(cut, label)).tolist()
        [[3, 1], [3, 2]]
    """
    from scipy.ndimage import label as label_components

    prediction, label = np.asarray(prediction, bool), np.asarray(label, bool)
    kind = prediction.astype(np.int8) + 2 * label.astype(np.int8)
    region = np.zeros(kind.shape, np.int64)
    kinds = []
    count = 0
    for k in (_TN, _FP, _FN, _TP):
        labelled, n = label_components(kind == k)
        region[labelled > 0] = labelled[labelled > 0] + count - 1
        kinds.append(np.full(n, k, np.int8))
        count += n
    if count <= 1:
        return np.zeros(kind.shape, np.int64)
    node_kind = np.concatenate(kinds)

    # Edges between regions: along both axes where the kind changes, across diagonals by the 2x2 window's code
    # (true negatives -4 and true positives 16 for 8-connected foreground, the other way round for 4-connected;
    # errors 1 and 2): TL - TR - BL + BR above 7 joins TL and BR, below -7 joins TR and BL; 4 or 7 (-4 or -7)
    # is a special edge between two errors of the same kind across a true negative and the opposite error.
    code = np.array([-4, 1, 2, 16] if construction == "T" else [16, 1, 2, -4], np.int64)[kind]
    a_parts, b_parts, special_a, special_b = [], [], [], []
    for axis in (0, 1):
        lo = tuple(slice(None, -1) if ax == axis else slice(None) for ax in (0, 1))
        hi = tuple(slice(1, None) if ax == axis else slice(None) for ax in (0, 1))
        differ = kind[lo] != kind[hi]
        a_parts.append(region[lo][differ])
        b_parts.append(region[hi][differ])
    tl, tr, bl, br = (region[:-1, :-1], region[:-1, 1:], region[1:, :-1], region[1:, 1:])
    window = code[:-1, :-1] - code[:-1, 1:] - code[1:, :-1] + code[1:, 1:]
    for mask, (x, y) in ((window > 7, (tl, br)), (window < -7, (tr, bl))):
        a_parts.append(x[mask])
        b_parts.append(y[mask])
    for mask, (x, y) in (((window == 4) | (window == 7), (tl, br)), ((window == -4) | (window == -7), (tr, bl))):
        special_a.append(x[mask])
        special_b.append(y[mask])
    edges = _unique_pairs(np.concatenate(a_parts), np.concatenate(b_parts), count)
    special = _unique_pairs(np.concatenate(special_a), np.concatenate(special_b), count)
    # A pair with a special edge is special, whatever other edges it has.
    is_special = np.isin(edges[0] * count + edges[1], special[0] * count + special[1])
    normal = edges[:, ~is_special]

    # One node per set of same-kind regions (never true negatives) joined by normal edges.
    same = (node_kind[normal[0]] == node_kind[normal[1]]) & (node_kind[normal[0]] != _TN)
    node = _components(normal[:, same], count)
    # The contracted graph: every edge kept (a special edge between two nodes of different kinds cannot
    # exist; one between same-kind nodes stays special, else the two would have been contracted).
    all_edges = np.concatenate([normal, special], axis=1)
    contracted = _unique_pairs(node[all_edges[0]], node[all_edges[1]], count)
    node_ids = np.unique(node)
    kind_of_node = np.full(count, -1, np.int8)
    kind_of_node[node] = node_kind  # one kind per contracted node
    x_kind, y_kind = kind_of_node[contracted[0]], kind_of_node[contracted[1]]
    contracted_special = x_kind == y_kind

    # Clusters of each map over all contracted edges (special ones too).
    predicted = np.isin(kind_of_node, (_FP, _TP))
    labelled_fg = np.isin(kind_of_node, (_FN, _TP))
    pred_cluster = _components(contracted[:, predicted[contracted[0]] & predicted[contracted[1]]], count)
    label_cluster = _components(contracted[:, labelled_fg[contracted[0]] & labelled_fg[contracted[1]]], count)

    # Neighbours of error nodes along normal edges, both directions.
    plain = contracted[:, ~contracted_special]
    source = np.concatenate([plain[0], plain[1]])
    target = np.concatenate([plain[1], plain[0]])
    source_kind, target_kind = kind_of_node[source], kind_of_node[target]
    errors = (source_kind == _FP) | (source_kind == _FN)
    source, target, source_kind, target_kind = source[errors], target[errors], source_kind[errors], target_kind[errors]
    true_negative_neighbours = np.bincount(source[target_kind == _TN], minlength=count)
    other = target_kind != _TN
    counter = np.where(source_kind[other] == _FP, label_cluster[target[other]], pred_cluster[target[other]])
    distinct = np.unique(source[other].astype(np.int64) * count + counter)
    cluster_neighbours = np.bincount(distinct // count, minlength=count)
    error_nodes = node_ids[np.isin(kind_of_node[node_ids], (_FP, _FN))]
    critical = error_nodes[~((true_negative_neighbours[error_nodes] == 1) & (cluster_neighbours[error_nodes] == 1))]

    numbering = np.zeros(count, np.int64)
    numbering[critical] = np.arange(1, len(critical) + 1)
    return numbering[node[region]]


def _weights_of(prediction: np.ndarray, label: np.ndarray, construction: str) -> np.ndarray:
    """1/|R| on the pixels of each critical region R of one binary map pair, 0 elsewhere."""
    regions = critical_regions(prediction, label, construction)
    if not regions.any():
        return np.zeros(regions.shape)
    return np.where(regions > 0, 1.0 / np.bincount(regions.ravel())[regions], 0.0)


@torch.compiler.disable  # the graph is built on host copies: outside any compiled graph
def _region_weights(probs: torch.Tensor, target: torch.Tensor, construction: str) -> torch.Tensor:
    """Per pixel of every map, 1/|R| on the pixels of each critical region R and 0 elsewhere (host, float64)."""
    return per_binary_map(probs, target, lambda p, g: _weights_of(p, g, construction), np.float64)


def topograph_loss(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Callable | None = None,
    reduction: str = "mean",
    construction: str = DEFAULT_CONSTRUCTION,
) -> torch.Tensor:
    r"""Topograph loss (Lux et al., ICLR 2025) per sample and class: the sum over the critical regions of the
    overlay of prediction and label of the mean probability of the wrong class there (see
    :mod:`seglosses.losses.topograph`).

    Args:
        input: (B, C, H, W) logits (or probabilities with no activation set).
        target: (B, 1, H, W) class indices with ``to_onehot_y``, otherwise (B, C, H, W) labels (thresholded at 1/2).
        include_background, to_onehot_y, sigmoid, softmax, other_act: as in MONAI's losses.
        reduction: ``"none"`` returns (B, C); ``"mean"``/``"sum"`` reduce those values.
        construction: ``"T"`` (foreground 8-connected across diagonals, the paper's default) or ``"V"``.

    Returns:
        Scalar for ``"mean"``/``"sum"``, (B, C) for ``"none"``; float32 for half-precision input. Unbounded: one
        term of at most 1 per critical region.

    Raises:
        TypeError, ValueError: as every loss (shapes, NaN, labels outside [0, C), activations), input that is
            not 2D, an unknown ``construction``.

    Example:
        >>> label = torch.zeros(1, 1, 7, 7); label[0, 0, 1:6, 1:6] = 1; label[0, 0, 3, 3] = 0   # a ring
        >>> cut = label.clone(); cut[0, 0, 3, 1:3] = 0                                      # cut through
        >>> round(float(topograph_loss(cut * 0.8 + 0.1, label)), 4)   # one critical region, 1 - p = 0.9 on it
        0.9
    """
    settings = _topograph_settings(given(locals()))
    probs, target = prepare(
        input, target, include_background=include_background, to_onehot_y=to_onehot_y,
        sigmoid=sigmoid, softmax=softmax, other_act=other_act, spatial_dims=(2,),
    )
    weights = _region_weights(probs, target, settings["construction"]).to(probs.device, probs.dtype)
    predicted = probs.detach() > 0.5
    wrong_class = torch.where(predicted, probs, 1.0 - probs)  # p on false positives, 1 - p on false negatives
    return reduce((weights * wrong_class).sum((2, 3)), reduction)


class TopographLoss(SettingsModule):
    """Module form of :func:`topograph_loss`: stores the settings (checked here) and calls the function.

    Example:
        >>> loss = TopographLoss(softmax=True, to_onehot_y=True, include_background=False)
        >>> loss(torch.randn(2, 2, 32, 32), torch.randint(0, 2, (2, 1, 32, 32))).shape
        torch.Size([])
    """

    def __init__(
        self,
        *,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool = False,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: str = "mean",
        construction: str = DEFAULT_CONSTRUCTION,
    ) -> None:
        super().__init__()
        self._keep(_topograph_settings(given(locals())))

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``input`` (B, C, H, W) logits, ``target`` (B, 1 or C, H, W); see :func:`topograph_loss`."""
        return topograph_loss(input, target, **self._arguments())
