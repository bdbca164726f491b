"""Whole-volume maximum intensity projections (MIPs) of a label that stay aligned with random patches.

SPOCKMIP (Radhakrishna et al., 2024) compares the MIP of the predicted patch with the MIP of the label taken
over the whole volume, not over the patch: along the projected axis the label's MIP sees vessels outside the
patch. This needs the projections computed before cropping and then cut to the patch's window along the
other axes, through whatever random crops and flips the pipeline applies.

How it is done here: the projection of the label along spatial axis k is stored as a tensor of the label's
full shape, *broadcast* along axis k (``torch.expand``: a view of the projection, no copy). To MONAI it is one
more image of the label's shape, so every spatial transform that moves voxels the same way for all its keys
cuts and flips it exactly as the label: ``RandSpatialCropd``, ``RandCropByPosNegLabeld``,
``RandSpatialCropSamplesd``, ``SpatialPadd``, ``RandFlipd`` (a flip along k leaves it unchanged, as it
should), ``RandRotate90d`` in the plane of the two other axes. After those, the patch's copy is still constant
along k (but for zero padding) and equals the whole-volume MIP restricted to the patch's window; the loss reads
it back with a max along k, which absorbs the padding. Nothing is parsed from ``applied_operations``, so it works with
numpy or torch data, with or without meta tracking, and with crops that do not record their box.

What breaks it: a transform that moves axis k elsewhere (a rotation across k, a transpose) or that resamples
(``Spacingd``, affine augmentation): run those before :class:`MIPTargetd`, or not at all on these keys.
:func:`seglosses.losses.mip_loss` rejects a projection holding values other than its maximum and 0 along its
axis, which catches this for soft labels (not for binary ones, whose rotated projection looks like padding).

Memory: the broadcast view costs one projection. MONAI's crops keep it a view (checked with MONAI 1.6);
a transform that copies (a flip, a pad, collation into a batch) materializes it at the size of its output,
so flip after cropping.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.data import MetaTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_to_tensor, ensure_tuple

from seglosses._validation import check_optional_count

__all__ = ["MIPTarget", "MIPTargetd", "validate_axes"]


def validate_axes(axes: int | Sequence[int]) -> tuple[int, ...]:
    """Spatial axes of a 3D volume as non-negative spatial indices 0, 1, 2 (tensor dims 2, 3, 4 of (B, C, H, W, D)).

    Accepts an int or a non-empty sequence of distinct ints in [-3, 2]: 0, 1, 2 count spatial axes from the
    first (as MONAI's ``spatial_axis``), -3, -2, -1 from the last (as tensor dims).

    Raises:
        TypeError: not an int or a sequence of ints.
        ValueError: empty, out of range, or naming one axis twice.
    """
    items = (axes,) if isinstance(axes, (int, np.integer)) else axes
    if not isinstance(items, Sequence) or any(
        isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items
    ):
        raise TypeError(f"Expected `axes` to be an int or a sequence of ints, but got {axes!r}.")
    if not items or any(not -3 <= a <= 2 for a in items):
        raise ValueError(
            f"Expected `axes` to be one or more spatial axes of a 3D volume in [-3, 2], but got {tuple(items)!r}."
        )
    spatial = tuple(int(a) % 3 for a in items)
    if len(set(spatial)) != len(spatial):
        raise ValueError(
            f"Expected `axes` to name distinct spatial axes, but got {tuple(items)!r} (the same axis twice)."
        )
    return spatial


class MIPTarget(Transform):
    """Array transform: the label's MIP along each of ``axes``, broadcast back to the label's shape.

    Input: a channel-first 3D label (C, H, W, D), numpy or torch. With ``num_classes`` it must be (1, H, W, D)
    class indices and is projected class by class: channel k of a projection is 1 where some voxel on the ray
    has class k, i.e. the projection of the one-hot label (the max of class indices would lose the lower
    classes). Without it, the C channels (one-hot, soft or a binary mask) are projected as they are.

    Output: a tuple with one tensor per axis, in ``axes`` order, each (C', H, W, D) with C' = ``num_classes``
    or C, constant along its axis (a broadcast view, see the module notes), of the label's dtype; a MetaTensor
    with the label's meta data when meta tracking is on (MONAI's default), so it follows the label through
    the pipeline. This is the layout :func:`seglosses.losses.mip_loss` takes as ``target_mips`` once collated.

    Args:
        axes: spatial axes to project along, see :func:`validate_axes` (``(-1,)``: the last axis, ``(-3, -2,
            -1)``: all three).
        num_classes: project class indices class by class (one-hot), or None to project the channels as given.

    Raises:
        TypeError, ValueError: bad ``axes`` or ``num_classes``; a label that is not (C, H, W, D); class indices
            outside [0, ``num_classes``) or a multi-channel label with ``num_classes``.

    Example:
        >>> label = torch.zeros(1, 8, 8, 6)
        >>> label[0, 2, 3, 4] = 1
        >>> (z_mip,) = MIPTarget(axes=-1)(label)
        >>> z_mip.shape, float(z_mip[0, 2, 3, 0])
        (torch.Size([1, 8, 8, 6]), 1.0)
    """

    # The projections are torch views whatever the input: numpy input is converted first.
    backend = [TransformBackends.TORCH]

    def __init__(self, axes: int | Sequence[int] = (-1,), num_classes: int | None = None) -> None:
        self.axes = validate_axes(axes)
        self.num_classes = check_optional_count("num_classes", num_classes, minimum=1)

    def __call__(self, label: NdarrayOrTensor) -> tuple[torch.Tensor, ...]:
        """``label`` (C, H, W, D) → one (C', H, W, D) broadcast projection per axis."""
        if not isinstance(label, (np.ndarray, torch.Tensor)):
            raise TypeError(f"Expected `label` to be a numpy array or torch tensor, but got {type(label).__name__}.")
        if isinstance(label, np.ndarray) and (label.dtype.kind not in "biuf" or label.dtype == np.uint64):
            raise TypeError(f"Expected `label` to hold real numbers of a torch dtype, but got dtype {label.dtype}.")
        img = convert_to_tensor(label, track_meta=get_track_meta())
        if img.dim() != 4:
            raise ValueError(
                f"Expected `label` to be a channel-first 3D volume (C, H, W, D), but got shape {tuple(img.shape)}."
            )
        if img.numel() == 0:
            raise ValueError(f"Expected `label` to be non-empty, but got shape {tuple(img.shape)}.")
        values = img.as_subclass(torch.Tensor) if isinstance(img, MetaTensor) else img
        if values.is_floating_point() and not torch.isfinite(values).all():
            raise ValueError("Expected `label` to contain only finite values, but got NaN or Inf.")
        if self.num_classes is not None:
            if values.shape[0] != 1:
                raise ValueError(
                    "Expected `label` to be (1, H, W, D) class indices with `num_classes`, "
                    f"but got shape {tuple(values.shape)}."
                )
            if values.numel() and (values.min() < 0 or values.max() >= self.num_classes):
                raise ValueError(
                    f"Expected `label` class indices in [0, {self.num_classes}), but got values in "
                    f"[{values.min().item():g}, {values.max().item():g}]."
                )
        out = []
        for axis in self.axes:
            dim = axis + 1
            if self.num_classes is None:
                projection = values.amax(dim=dim, keepdim=True)
            else:
                projection = torch.cat(
                    [(values == k).any(dim=dim, keepdim=True) for k in range(self.num_classes)]
                ).to(values.dtype)
            shape = (projection.shape[0], *values.shape[1:])
            mip = projection.expand(shape)
            if isinstance(img, MetaTensor):
                mip = MetaTensor(mip)
                mip.copy_meta_from(img)
            out.append(mip)
        return tuple(out)


class MIPTargetd(MapTransform):
    """Dictionary form of :class:`MIPTarget`: stores the projections of ``d[key]`` under new keys.

    The projection along spatial axis ``a`` of key ``"label"`` goes to ``"label_mip{a}"`` (``a`` in 0, 1, 2,
    whatever sign ``axes`` used); :attr:`mip_keys` maps each key to its names in ``axes`` order. Apply it
    before the crops and flips, on the whole volume, and list these names in those transforms' ``keys`` next to
    the label: the crops then cut them to the patch's window. Pass them to the loss in the same order::

        mips = MIPTargetd(keys="label", axes=(-3, -2, -1))
        pipeline = Compose([..., mips,
                            RandCropByPosNegLabeld(keys=["image", "label", *mips.mip_keys["label"]], ...),
                            RandFlipd(keys=["image", "label", *mips.mip_keys["label"]], ...)])
        loss = MIPLoss(axes=(-3, -2, -1))(logits, batch["label"], [batch[k] for k in mips.mip_keys["label"]])

    Args:
        keys: label keys to project.
        axes, num_classes: as :class:`MIPTarget`.
        mip_key_postfix: the names are ``f"{key}_{mip_key_postfix}{axis}"``.
        allow_missing_keys: skip absent label keys instead of raising ``KeyError``.

    Raises:
        As :class:`MIPTarget`.

    Example:
        >>> mips = MIPTargetd(keys="label", axes=(-3, -1))
        >>> out = mips({"label": torch.zeros(1, 8, 8, 6)})
        >>> mips.mip_keys["label"], out["label_mip2"].shape
        (('label_mip0', 'label_mip2'), torch.Size([1, 8, 8, 6]))
    """

    backend = MIPTarget.backend

    def __init__(
        self,
        keys: KeysCollection,
        axes: int | Sequence[int] = (-1,),
        num_classes: int | None = None,
        mip_key_postfix: str = "mip",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.projector = MIPTarget(axes=axes, num_classes=num_classes)
        self.mip_keys: dict[Hashable, tuple[str, ...]] = {
            key: tuple(f"{key}_{mip_key_postfix}{axis}" for axis in self.projector.axes)
            for key in ensure_tuple(self.keys)
        }

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        """Add the projections of every label key under its names in :attr:`mip_keys`."""
        d = dict(data)
        for key in self.key_iterator(d):
            for name, mip in zip(self.mip_keys[key], self.projector(d[key]), strict=True):
                d[name] = mip
        return d
