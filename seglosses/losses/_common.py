"""Validation and preparation shared by every loss.

All losses follow MONAI's conventions (``include_background``, ``to_onehot_y``, ``sigmoid``,
``softmax``, ``other_act``, ``reduction``). The helpers here are the one place where inputs are checked
and where logits become probabilities, so every loss raises the same messages for the same mistakes.

Message form: "Expected `name` to be <what>, but got <what was given>."

Half precision: float16 and bfloat16 logits (plain, or from a network under ``torch.autocast``) are computed in
float32 from the activation on (:func:`prepare` upcasts them), so every loss returns float32 for half input. In
half precision an absent class's gradient (1/``smooth_dr`` = 1e5) overflows to inf and whole-volume sums overflow
past 65,504 voxels; in float32 neither does. Through an activation the gradient that flows back into the half-
precision logits is small (the probability's derivative damps the 1/``smooth_dr`` of an absent class) and finite;
float16 *probabilities* given without an activation can receive gradients beyond float16's range, which
``torch.amp.GradScaler`` treats as any overflow (it skips the step).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from seglosses._checks import value_checks_enabled
from seglosses._validation import CONSTRUCTIONS, check_activation, check_choice, check_reduction


def given(namespace: dict) -> dict:
    """The settings among a loss function's or module constructor's ``locals()`` taken on entry: its arguments
    less ``self`` and the tensors of a call. The one validator of a loss takes and returns this dict."""
    return {
        key: value for key, value in namespace.items()
        if key not in ("self", "input", "target", "skeleton", "target_mips") and not key.startswith("__")
    }


def validate_common(settings: dict) -> dict:
    """The settings every loss has: ``reduction`` and at most one activation."""
    check_reduction(settings["reduction"])
    check_activation(settings["sigmoid"], settings["softmax"], settings["other_act"])
    return settings


def construction_settings(settings: dict) -> dict:
    """The common settings and ``construction`` (``"T"`` or ``"V"``): every topology loss has both."""
    validate_common(settings)
    check_choice("construction", settings["construction"], CONSTRUCTIONS)
    return settings


def per_binary_map(probs: torch.Tensor, target: torch.Tensor, function: Callable, dtype) -> torch.Tensor:
    """``function(prediction, label)`` on every (sample, class) map of ``probs`` and ``target``, both binarised at
    1/2 and copied to the host as bool arrays; the (B, C, *spatial) results stacked as a CPU tensor of ``dtype``
    (a NumPy dtype). For the losses that find their pixels on binary maps (Topograph, Warping)."""
    import numpy as np

    predictions = (probs.detach() > 0.5).cpu().numpy()
    labels = (target.detach() > 0.5).cpu().numpy()
    out = np.zeros(predictions.shape, dtype)
    for index in np.ndindex(*predictions.shape[:2]):
        out[index] = function(predictions[index], labels[index])
    return torch.from_numpy(out)


HALF_DTYPES = (torch.float16, torch.bfloat16)


def compute_dtype(tensor: torch.Tensor) -> torch.dtype:
    """The dtype a loss computes in for ``tensor``: float32 for half precision, the tensor's own dtype otherwise."""
    return torch.float32 if tensor.dtype in HALF_DTYPES else tensor.dtype


def upcast(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` in :func:`compute_dtype` (itself when no cast is needed); autograd flows through the cast."""
    return tensor.to(compute_dtype(tensor))


def all_finite(tensor: torch.Tensor) -> bool:
    """Whether a floating ``tensor`` holds no NaN/Inf, without an input-sized temporary in the usual case.

    Any NaN or Inf makes the sum non-finite, so a finite sum proves the tensor finite; a non-finite sum
    (NaN/Inf present, or finite values whose sum overflows) is settled element by element.
    """
    total = tensor.sum(dtype=torch.float32 if tensor.dtype in HALF_DTYPES else None)
    return bool(torch.isfinite(total)) or bool(torch.isfinite(tensor).all())


def validate_input_target(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    to_onehot_y: bool,
    check_finite: bool = True,
    spatial_dims: tuple[int, ...] | None = (2, 3),
    extra_check: tuple[list[torch.Tensor], Callable[[], None]] | None = None,
) -> None:
    """Check ``input`` (B, C, *spatial) logits and ``target`` labels before anything is computed.

    Args:
        input: floating tensor of shape (B, C, *spatial) with ``len(spatial)`` in ``spatial_dims`` (any number
            >= 1 when None, as MONAI's pixel losses take).
        target: (B, 1, *spatial) class indices when ``to_onehot_y`` (and C > 1), otherwise (B, C, *spatial).
        to_onehot_y: whether ``target`` holds class indices.
        check_finite: reject NaN/Inf in ``input``, class indices outside [0, C) and, for one-hot or soft labels,
            ``target`` values outside [0, 1] (a reduction over each tensor and one host synchronisation in all;
            cheap next to the loss). Off here or by the package's switch (:mod:`seglosses._checks`,
            ``SEGLOSSES_CHECKS=0``), no value is read.
        spatial_dims: allowed numbers of spatial dimensions, or None for any number >= 1.
        extra_check: a loss's own value checks, read in the same host synchronisation: (flags, check), where
            ``flags`` are 0-dim bool tensors that are all True when the values are good, and ``check()`` raises
            the loss's message when one is not.

    Raises:
        TypeError: ``input``/``target`` not tensors, or ``input`` not floating point.
        ValueError: wrong rank, an empty axis (batch size, channels or a spatial size of 0), shape mismatch,
            NaN/Inf in ``input``, labels outside [0, C), one-hot or soft labels outside [0, 1].
    """
    for name, t in (("input", input), ("target", target)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"Expected `{name}` to be a torch.Tensor, but got {type(t).__name__}.")
    if not input.is_floating_point():
        raise TypeError(f"Expected `input` to be a floating point tensor (logits), but got dtype {input.dtype}.")
    if spatial_dims is None:
        if input.dim() < 3:
            raise ValueError(
                f"Expected `input` to be (B, C, *spatial) with at least one spatial axis, but got shape {tuple(input.shape)}."
            )
    elif input.dim() - 2 not in spatial_dims:
        names = {1: "N", 2: "H, W", 3: "H, W, D"}
        ranks_text = " or ".join(f"{d + 2}D (B, C, {names.get(d, '*spatial')})" for d in spatial_dims)
        raise ValueError(f"Expected `input` to be {ranks_text}, but got shape {tuple(input.shape)}.")
    if input.numel() == 0:
        # One rule for every loss: a mean over no samples or voxels is undefined, so it is refused, not NaN.
        raise ValueError(
            "Expected `input` to have at least one sample, one channel and non-empty spatial axes, "
            f"but got shape {tuple(input.shape)}."
        )
    if target.dim() != input.dim():
        raise ValueError(
            f"Expected `target` to have the same number of dimensions as `input` ({input.dim()}), "
            f"but got shape {tuple(target.shape)} for input shape {tuple(input.shape)}."
        )
    n_classes = input.shape[1]
    onehot = to_onehot_y and n_classes > 1
    expected_c = 1 if onehot else n_classes
    if target.shape[0] != input.shape[0] or target.shape[2:] != input.shape[2:] or target.shape[1] != expected_c:
        expected = (input.shape[0], expected_c, *input.shape[2:])
        what = "class indices" if onehot else "one-hot or soft labels"
        raise ValueError(
            f"Expected `target` ({what}) to have shape {tuple(expected)}, but got {tuple(target.shape)}."
        )
    if check_finite and value_checks_enabled():
        _check_values(input, target, onehot=onehot, n_classes=n_classes, extra_check=extra_check)


def _check_values(
    input: torch.Tensor, target: torch.Tensor, *, onehot: bool, n_classes: int,
    extra_check: tuple[list[torch.Tensor], Callable[[], None]] | None = None,
) -> None:
    """The value checks, with one host synchronisation when they pass: every flag goes into one small tensor
    and is read once. Only a failure (or a finite input whose sum overflows) reads more, to say what failed."""
    flags = [torch.isfinite(input.detach().sum(dtype=torch.float32 if input.dtype in HALF_DTYPES else None))]
    labels = target.detach()
    if labels.dtype != torch.bool:
        low, high = torch.aminmax(labels)
        flags += [low >= 0, high < n_classes] if onehot else [low >= 0, high <= 1]  # NaN fails both
        if onehot and labels.is_floating_point():
            flags.append(torch.eq(labels, labels.round()).all())
    if extra_check is not None:
        flags += extra_check[0]
    if bool(torch.stack(flags).all()):
        return
    if not all_finite(input):
        raise ValueError("Expected `input` to contain only finite values, but got NaN or Inf.")
    if onehot:
        if target.is_floating_point() and not torch.equal(target, target.round()):
            raise ValueError("Expected `target` to hold integer class indices (to_onehot_y=True), but got fractional values.")
        if target.numel() and (target.min() < 0 or target.max() >= n_classes):
            raise ValueError(
                f"Expected `target` labels in [0, {n_classes}) (to_onehot_y=True with {n_classes} channels), "
                f"but got values in [{target.min().item():g}, {target.max().item():g}]."
            )
    elif target.dtype != torch.bool:
        low, high = torch.aminmax(labels)
        if not (low >= 0 and high <= 1):
            if target.is_floating_point() and not all_finite(target):
                raise ValueError("Expected `target` to contain only finite values, but got NaN or Inf.")
            raise ValueError(
                "Expected `target` values in [0, 1] (one-hot or soft labels), "
                f"but got values in [{float(low):g}, {float(high):g}]."
            )
    if extra_check is not None:
        extra_check[1]()


def compiling() -> bool:
    """Whether ``torch.compile`` is tracing the caller (False on torch versions without the query)."""
    query = getattr(torch.compiler, "is_compiling", None)
    return bool(query()) if query is not None else False


def activate(input: torch.Tensor, *, sigmoid: bool, softmax: bool, other_act: Callable | None) -> torch.Tensor:
    """Logits to probabilities, exactly as MONAI's losses do (a warning for softmax on one channel)."""
    if sigmoid:
        input = torch.sigmoid(input)
    if softmax:
        if input.shape[1] == 1:
            warnings.warn("single channel prediction, `softmax=True` ignored.", stacklevel=3)
        else:
            input = torch.softmax(input, 1)
    if other_act is not None:
        input = other_act(input)
    return input


def one_hot(labels: torch.Tensor, num_classes: int, dtype: torch.dtype) -> torch.Tensor:
    """(B, 1, *spatial) class indices to (B, num_classes, *spatial) one-hot of ``dtype``."""
    out = torch.zeros((labels.shape[0], num_classes, *labels.shape[2:]), dtype=dtype, device=labels.device)
    return out.scatter_(1, labels.long(), 1)


def prepare(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    include_background: bool,
    to_onehot_y: bool,
    sigmoid: bool,
    softmax: bool,
    other_act: Callable | None,
    check_finite: bool = True,
    spatial_dims: tuple[int, ...] | None = (2, 3),
    extra_check: tuple[list[torch.Tensor], Callable[[], None]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate, activate, one-hot encode and drop the background channel: MONAI's order of steps.

    Returns probabilities and target of the same shape (B, C', *spatial), C' = C or C - 1, in
    :func:`compute_dtype` of ``input`` (float32 for half precision, see the module's notes).
    """
    validate_input_target(input, target, to_onehot_y=to_onehot_y, check_finite=check_finite, spatial_dims=spatial_dims,
                          extra_check=extra_check)
    probs = activate(upcast(input), sigmoid=sigmoid, softmax=softmax, other_act=other_act)
    n_classes = probs.shape[1]
    if to_onehot_y:
        if n_classes == 1:
            warnings.warn("single channel prediction, `to_onehot_y=True` ignored.", stacklevel=3)
        else:
            target = one_hot(target, n_classes, probs.dtype)
    if not include_background:
        if n_classes == 1:
            warnings.warn("single channel prediction, `include_background=False` ignored.", stacklevel=3)
        else:
            probs, target = probs[:, 1:], target[:, 1:]
    return probs, target.to(probs.dtype)


def reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce per-(sample, class) values of shape (B, C): "none" keeps them, "mean"/"sum" as MONAI."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


class SettingsModule(torch.nn.Module):
    """Base of the loss modules: the settings are checked once, by the same validator the loss function calls,
    and kept as attributes, as MONAI's losses keep theirs (``loss.iterations``, ``loss.reduction``); each call
    hands them to the loss function, which checks them again, so a setting changed after construction is
    checked too. A ``weight`` tensor is registered as the buffer ``class_weight``, the name MONAI's
    ``DiceLoss`` gives it: it moves with ``.to(device)`` and is saved in ``state_dict`` (a MONAI state dict
    loads). ``repr`` shows the settings; ``settings`` returns them as a dict."""

    def _keep(self, settings: dict) -> None:
        if "weight" in settings:
            self.register_buffer("class_weight", settings.pop("weight"))
        self._setting_names = tuple(settings)
        for key, value in settings.items():
            setattr(self, key, value)

    @property
    def settings(self) -> dict:
        """The settings by name (``weight`` is the buffer ``class_weight``)."""
        return {key: getattr(self, key) for key in self._setting_names}

    def _arguments(self) -> dict:
        """The keyword arguments of the loss function."""
        if "class_weight" in self._buffers:
            return {**self.settings, "weight": self.class_weight}
        return self.settings

    def extra_repr(self) -> str:
        def show(value) -> str:
            if isinstance(value, torch.Tensor):
                return repr(value.tolist())
            if callable(value):
                return getattr(value, "__qualname__", None) or type(value).__name__
            return repr(value)

        items = list(self.settings.items())
        if "class_weight" in self._buffers:
            items.append(("weight", self.class_weight))
        return ", ".join(f"{key}={show(value)}" for key, value in items)
