r"""The soft skeleton (Shit et al., "clDice - a Novel Topology-Preserving Loss Function for Tubular Structure
Segmentation", CVPR 2021), an op of its own: a backward pass that recomputes instead of storing.

The soft skeleton of a probability map :math:`x` (the paper's Algorithm 1, MONAI's ``soft_skel``) is

.. math:: x_0 = x,\quad x_{i+1} = \operatorname{erode}(x_i),\quad
          d_i = \operatorname{relu}(x_i - \operatorname{dilate}(x_{i+1})),\quad
          s_0 = d_0,\quad s_i = s_{i-1} + \operatorname{relu}(d_i - s_{i-1} d_i),\quad i = 1 \dots K,

with ``erode`` the minimum over the pixel and its 2D 4- / 3D 6-neighbours, ``dilate`` the maximum over the
3x3(x3) box (image borders ignored), and :math:`S(x) = s_K` for ``iterations`` = K. (The opening of
:math:`x_i` is :math:`\operatorname{dilate}(x_{i+1})`, so each step needs one erosion, where MONAI computes two.)

Why not plain autograd: it keeps every intermediate of every step for backward (max-pool indices
included), which is why clDice needed 16.2 GiB where other losses needed 5.6 GiB (TopoMortar). Here the
forward pass runs without a graph, one chunk of (sample, class) channels at a time (one channel of a 3D
patch), and the backward pass replays the chunk's steps: segments of ``_SEGMENT`` steps, last first, are
recomputed from the input (nothing is kept from forward but the input), their states held, and the segment
reversed by hand. Backward then holds at most 12 chunk-sized volumes and 2 boolean masks whatever B, C and
``iterations``, plus the input-sized gradient. The price is time: about (K + 1)^2 / (2 ``_SEGMENT``)
replayed steps, 41 for K = 10, next to 11 reversed ones; still several times faster than autograd through
MONAI's version (see benchmarks/bench_cldice.py), whose max-pooling over 3x3x3 windows dominates.

The gradient is exact. Erosion and dilation output copies of input values, so their transposes send each
output's gradient to one input position holding the same value; with distinct input values every choice
reaches the same input voxel, the one plain autograd reaches (ties between equal input values are
measure-zero for real-valued predictions; there any choice is a valid subgradient). The dilation is
computed separably (a 3-window along each axis), which gives the same values as the 3x3(x3) box.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import torch
from torch.autograd.function import once_differentiable

from seglosses._validation import check_count
from seglosses.losses._common import compiling

__all__ = ["SPATIAL_DIMS", "skeleton_overlaps", "soft_skeleton"]

# The soft skeleton is defined on any grid; in 1D (B, C, N) it is a segment's interior (no MONAI reference there).
SPATIAL_DIMS = (1, 2, 3)
# Steps recomputed and held at once in backward: more holds more volumes, fewer replays more steps.
_SEGMENT = 2
# Channels are processed in chunks of at most this many elements (at least one channel per chunk):
# large enough that Python overhead vanishes on small 2D images, small enough to bound memory.
_CHUNK_ELEMENTS = 1 << 20

_LO = slice(None, -1)
_HI = slice(1, None)


class _Buffers:
    """Scratch tensors of one chunk's shape, taken and given back by hand.

    Every intermediate of the skeleton lives in one of these, written with ``out=``. They are carved out of
    one block sized by :func:`_buffers_needed`: thousands of short-lived volume-sized allocations would
    fragment the C heap (glibc serves them from the heap once a larger tensor has been freed), and resident
    memory would grow well beyond what is alive. ``reserve`` = (value buffers, boolean mask buffers); a
    buffer taken beyond the reserve is allocated on its own and counted in ``created``.
    """

    def __init__(self, like: torch.Tensor, reserve: tuple[int, int] = (0, 0)) -> None:
        self.shape, self.device, self.dtype = like.shape, like.device, like.dtype
        self.free: dict[torch.dtype, list[torch.Tensor]] = {}
        self.created: dict[torch.dtype, int] = {}
        for dtype, count in zip((self.dtype, torch.bool), reserve):
            if count:
                self.free[dtype] = list(torch.empty((count, *self.shape), dtype=dtype, device=self.device).unbind(0))

    def take(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        dtype = dtype or self.dtype
        stack = self.free.setdefault(dtype, [])
        if stack:
            return stack.pop()
        self.created[dtype] = self.created.get(dtype, 0) + 1
        return torch.empty(self.shape, dtype=dtype, device=self.device)

    def give(self, *tensors: torch.Tensor | None) -> None:
        for tensor in tensors:
            if tensor is not None:
                self.free[tensor.dtype].append(tensor)


def _along(ndim: int, axis: int, part: slice) -> tuple[slice, ...]:
    index = [slice(None)] * ndim
    index[axis] = part
    return tuple(index)


def _erode_into(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Minimum over each voxel and its face neighbours of (N, *spatial) ``x``; outside the image is ignored."""
    out.copy_(x)
    for axis in range(1, x.dim()):
        hi, lo = _along(x.dim(), axis, _HI), _along(x.dim(), axis, _LO)
        torch.minimum(out[hi], x[lo], out=out[hi])
        torch.minimum(out[lo], x[hi], out=out[lo])
    return out


def _max3_into(y: torch.Tensor, axis: int, out: torch.Tensor) -> torch.Tensor:
    """Maximum over a window of 3 along ``axis`` of (N, *spatial) ``y``; outside the image is ignored."""
    out.copy_(y)
    hi, lo = _along(y.dim(), axis, _HI), _along(y.dim(), axis, _LO)
    torch.maximum(out[hi], y[lo], out=out[hi])
    torch.maximum(out[lo], y[hi], out=out[lo])
    return out


def _dilate(x: torch.Tensor, pool: _Buffers) -> torch.Tensor:
    """3x3(x3) box maximum of ``x``, as a 3-window maximum along each axis in turn."""
    current = x
    for axis in range(1, x.dim()):
        stage = _max3_into(current, axis, pool.take())
        pool.give(None if current is x else current)
        current = stage
    return current


def _dilation_stage(x: torch.Tensor, axis: int, pool: _Buffers) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and output of the dilation's pass along ``axis`` (the input is ``x`` itself for axis 1).

    Recomputed for each pass of the transpose: holding two stages instead of all of them is worth the few
    extra passes.
    """
    current = x
    for earlier in range(1, axis):
        stage = _max3_into(current, earlier, pool.take())
        pool.give(None if current is x else current)
        current = stage
    return current, _max3_into(current, axis, pool.take())


def _route(
    grad: torch.Tensor,
    source: torch.Tensor,
    out: torch.Tensor,
    axes: range | tuple[int, ...],
    pool: _Buffers,
    into: torch.Tensor | None = None,
) -> torch.Tensor:
    """Transpose of ``out`` = min or max of ``source`` over each voxel and its neighbours ±1 along ``axes``.

    Each output's gradient goes to one window position whose value equals the output (the voxel itself
    first, then the neighbours in a fixed order), which is what the min/max selected. The result is added
    to ``into`` when given (saving a buffer), else written to a new buffer.
    """
    scratch = pool.take()
    pending, hit = pool.take(torch.bool), pool.take(torch.bool)
    torch.eq(source, out, out=hit)
    if into is None:
        routed = torch.mul(grad, hit, out=pool.take())
    else:
        routed = into.add_(torch.mul(grad, hit, out=scratch))
    torch.logical_not(hit, out=pending)
    for axis in axes:
        hi, lo = _along(source.dim(), axis, _HI), _along(source.dim(), axis, _LO)
        for at, neighbour in ((hi, lo), (lo, hi)):
            torch.eq(source[neighbour], out[at], out=hit[at])
            hit[at].logical_and_(pending[at])
            routed[neighbour].add_(torch.mul(grad[at], hit[at], out=scratch[at]))
            pending[at].logical_xor_(hit[at])  # hit is a subset of pending: this removes it
    pool.give(scratch, pending, hit)
    return routed


def _step(x: torch.Tensor, skel: torch.Tensor | None, pool: _Buffers) -> tuple[torch.Tensor, torch.Tensor]:
    """One skeleton step: new buffers ``(x_{i+1}, s_i)`` from ``(x_i, s_{i-1})``, with ``s_{-1}`` = None."""
    eroded = _erode_into(x, pool.take())
    delta = _dilate(eroded, pool)
    torch.sub(x, delta, out=delta).relu_()
    if skel is None:
        return eroded, delta
    # s + relu(delta - s * delta): the paper's and MONAI's expression, so the values agree to the last bit.
    update = torch.mul(skel, delta, out=pool.take())
    torch.sub(delta, update, out=update).relu_()
    torch.add(skel, update, out=delta)
    pool.give(update)
    return eroded, delta


def _skeleton(x: torch.Tensor, iterations: int, pool: _Buffers) -> torch.Tensor:
    """Soft skeleton of (N, *spatial) ``x`` without a graph, in a buffer of ``pool``."""
    state, skel = x, None
    for _ in range(iterations + 1):
        eroded, new_skel = _step(state, skel, pool)
        pool.give(None if state is x else state, skel)
        state, skel = eroded, new_skel
    pool.give(state)
    assert skel is not None  # iterations + 1 >= 1 steps
    return skel


def _step_vjp(
    x: torch.Tensor,
    eroded: torch.Tensor,
    skel_prev: torch.Tensor | None,
    grad_skel: torch.Tensor,
    grad_eroded: torch.Tensor | None,
    pool: _Buffers,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Reverse of :func:`_step`: cotangents of ``(s_{i-1}, x_i)`` from those of ``(s_i, x_{i+1})``.

    ``grad_eroded`` is what later steps sent to ``x_{i+1}`` (None for the last step). Gives back
    ``skel_prev``, ``grad_skel`` and ``grad_eroded`` (the cotangent of ``s_{i-1}`` reuses ``grad_skel``'s buffer).
    """
    diff = _dilate(eroded, pool)
    torch.sub(x, diff, out=diff)
    mask = pool.take(torch.bool)
    if skel_prev is None:
        grad_delta, grad_skel_prev = grad_skel, None
    else:
        # s_i = s + relu(u), u = delta - s * delta
        delta = torch.clamp(diff, min=0, out=pool.take())
        grad_u = torch.mul(skel_prev, delta, out=pool.take())
        torch.gt(torch.sub(delta, grad_u, out=grad_u), 0, out=mask)
        torch.mul(grad_skel, mask, out=grad_u)
        grad_skel_prev = grad_skel.sub_(delta.mul_(grad_u))
        grad_delta = torch.mul(grad_u, skel_prev, out=delta)
        torch.sub(grad_u, grad_delta, out=grad_delta)
        pool.give(grad_u, skel_prev)
    grad_diff = torch.mul(grad_delta, torch.gt(diff, 0, out=mask), out=diff)
    pool.give(mask, grad_delta)
    # diff = x - dilate(eroded): the dilation's transpose, pass by pass, carries -grad_diff to `eroded`,
    # where the gradient from later steps already waits.
    grad = torch.neg(grad_diff, out=pool.take())
    for axis in reversed(range(1, x.dim())):
        source, out = _dilation_stage(eroded, axis, pool)
        routed = _route(grad, source, out, (axis,), pool, into=grad_eroded if axis == 1 else None)
        pool.give(grad, out, None if source is eroded else source)
        grad = routed
    grad_x = _route(grad, x, eroded, range(1, x.dim()), pool, into=grad_diff)
    pool.give(grad)
    return grad_skel_prev, grad_x


def _skeleton_vjp(x: torch.Tensor, grad_skel: torch.Tensor, iterations: int, pool: _Buffers) -> torch.Tensor:
    """``grad_skel^T dS/dx`` for (N, *spatial) ``x``, in a buffer of ``pool``; ``grad_skel`` is a buffer of
    ``pool`` and is consumed.

    Segments of ``_SEGMENT`` steps, last first: each is replayed from ``x``, its states kept, then reversed.
    """
    n_steps = iterations + 1
    grad_next: torch.Tensor | None = None
    for start in reversed(range(0, n_steps, _SEGMENT)):
        stop = min(start + _SEGMENT, n_steps)
        state: torch.Tensor = x
        skel: torch.Tensor | None = None
        for _ in range(start):
            eroded, new_skel = _step(state, skel, pool)
            pool.give(None if state is x else state, skel)
            state, skel = eroded, new_skel
        states: list[torch.Tensor] = [state]
        skels: list[torch.Tensor | None] = [skel]  # skels[0] is None before the first step
        for _ in range(start, stop):
            eroded, new_skel = _step(states[-1], skels[-1], pool)
            states.append(eroded)
            skels.append(new_skel)
        pool.give(skels.pop())
        for _ in range(start, stop):
            eroded = states.pop()
            earlier, grad_next = _step_vjp(states[-1], eroded, skels.pop(), grad_skel, grad_next, pool)
            if earlier is not None:  # None after the first step, the last one reversed: nothing comes after it
                grad_skel = earlier
            pool.give(eroded)
        pool.give(None if states[0] is x else states[0])
    assert grad_next is not None
    return grad_next


def _chunks(x: torch.Tensor) -> Iterator[tuple[int, slice]]:
    """Index pairs ``(b, channels)`` covering (B, C, *spatial) ``x`` in chunks of about ``_CHUNK_ELEMENTS``."""
    per_channel = max(1, x[0, 0].numel())
    step = max(1, _CHUNK_ELEMENTS // per_channel)
    for b in range(x.shape[0]):
        for c in range(0, x.shape[1], step):
            yield b, slice(c, c + step)


def _skeleton_chunk(x: torch.Tensor, iterations: int, pool: _Buffers, out: torch.Tensor) -> None:
    """``out`` = S(x) for one chunk."""
    skel = _skeleton(x, iterations, pool)
    out.copy_(skel)
    pool.give(skel)


def _skeleton_vjp_chunk(
    x: torch.Tensor, grad_skel: torch.Tensor, iterations: int, pool: _Buffers, out: torch.Tensor
) -> None:
    """``out`` = grad_skel^T dS/dx for one chunk."""
    grad = _skeleton_vjp(x, pool.take().copy_(grad_skel), iterations, pool)
    out.copy_(grad)
    pool.give(grad)


def _overlaps_chunk(p: torch.Tensor, t: torch.Tensor, iterations: int, pool: _Buffers, out: torch.Tensor) -> None:
    """``out`` (N, 4) = sums over space of ``(S(p) t, S(p), S(t) p, S(t))`` for one chunk (N, *spatial)."""
    skel_p, skel_t, product = _skeleton(p, iterations, pool), _skeleton(t, iterations, pool), pool.take()
    out[:, 0] = torch.mul(skel_p, t, out=product).flatten(1).sum(1)
    out[:, 1] = skel_p.flatten(1).sum(1)
    out[:, 2] = torch.mul(skel_t, p, out=product).flatten(1).sum(1)
    out[:, 3] = skel_t.flatten(1).sum(1)
    pool.give(skel_p, skel_t, product)


def _overlaps_vjp_chunk(
    p: torch.Tensor, t: torch.Tensor, grad_sums: torch.Tensor, iterations: int, pool: _Buffers, out: torch.Tensor
) -> None:
    """``out`` = gradient for ``p`` of the sums of :func:`_overlaps_chunk` given their (N, 4) cotangents.

    ``S(t)`` is recomputed rather than kept from forward: one volume per channel saved, for a replay that
    costs a small part of the vjp.
    """
    g_pt, g_p, g_tp, _ = grad_sums.reshape(*grad_sums.shape, *([1] * (p.dim() - 1))).unbind(1)
    cotangent = torch.mul(t, g_pt, out=pool.take()).add_(g_p)
    grad = _skeleton_vjp(p, cotangent, iterations, pool)
    skel_t = _skeleton(t, iterations, pool)
    torch.add(grad, skel_t.mul_(g_tp), out=out)
    pool.give(grad, skel_t)


@functools.cache
def _buffers_needed(task: Callable, ndim: int, iterations: int, segment: int) -> tuple[int, int]:
    """How many (value, boolean mask) buffers one chunk of ``task`` (a ``*_chunk`` function) holds at its peak.

    The use of buffers depends neither on the values nor on the size, so one run on a 2^d chunk with a
    counting pool tells (``segment`` is part of the cache key because it changes the count).
    """
    tiny = torch.zeros((1,) + (2,) * (ndim - 1))
    pool = _Buffers(tiny)
    if task is _skeleton_chunk:
        task(tiny, iterations, pool, torch.empty_like(tiny))
    elif task is _skeleton_vjp_chunk:
        task(tiny, tiny, iterations, pool, torch.empty_like(tiny))
    elif task is _overlaps_chunk:
        task(tiny, tiny, iterations, pool, tiny.new_empty(1, 4))
    else:
        task(tiny, tiny, tiny.new_zeros(1, 4), iterations, pool, torch.empty_like(tiny))
    return pool.created.get(tiny.dtype, 0), pool.created.get(torch.bool, 0)


def _pools(task: Callable, x: torch.Tensor, iterations: int) -> Callable[[torch.Tensor], _Buffers]:
    """A function giving the reserved :class:`_Buffers` for a chunk of ``x`` (only a sample's last chunk may
    have fewer channels, so a new block is made only when the shape changes)."""
    needed = _buffers_needed(task, x.dim() - 1, iterations, _SEGMENT)
    current: list[_Buffers] = []

    def pool_for(chunk: torch.Tensor) -> _Buffers:
        if not current or current[0].shape != chunk.shape:
            current[:] = [_Buffers(chunk, needed)]
        return current[0]

    return pool_for


class _SoftSkeleton(torch.autograd.Function):
    """``S(x)`` with a backward pass that replays the steps instead of storing them."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, iterations: int) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.iterations = iterations
        out = torch.empty_like(x)
        pools = _pools(_skeleton_chunk, x, iterations)
        for index in _chunks(x):
            _skeleton_chunk(x[index], iterations, pools(x[index]), out[index])
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        grad = torch.empty_like(x)
        pools = _pools(_skeleton_vjp_chunk, x, ctx.iterations)
        for index in _chunks(x):
            _skeleton_vjp_chunk(x[index], grad_out[index], ctx.iterations, pools(x[index]), grad[index])
        return grad, None


class _SkeletonOverlaps(torch.autograd.Function):
    """(B, C, 4) sums over space of ``S(p) t``, ``S(p)``, ``S(t) p`` and ``S(t)``: clDice's sufficient statistics.

    Fused so that neither skeleton nor the cotangent of a skeleton ever exists at full size: each chunk's
    cotangent ``a t + b`` is built from the four per-channel gradients when the chunk is reached.
    """

    @staticmethod
    def forward(ctx, probs: torch.Tensor, target: torch.Tensor, iterations: int) -> torch.Tensor:
        ctx.save_for_backward(probs, target)
        ctx.iterations = iterations
        sums = probs.new_empty((*probs.shape[:2], 4))
        pools = _pools(_overlaps_chunk, probs, iterations)
        for index in _chunks(probs):
            _overlaps_chunk(probs[index], target[index], iterations, pools(probs[index]), sums[index])
        return sums

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_sums: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        probs, target = ctx.saved_tensors
        need_p, need_t = ctx.needs_input_grad[:2]
        grads: list[torch.Tensor | None] = []
        # Swapping the inputs swaps the pairs of sums: (S(t) p, S(t), S(p) t, S(p)).
        swapped = grad_sums[..., [2, 3, 0, 1]]
        for x, other, g, needed in ((probs, target, grad_sums, need_p), (target, probs, swapped, need_t)):
            if not needed:
                grads.append(None)
                continue
            grad = torch.empty_like(x)
            pools = _pools(_overlaps_vjp_chunk, x, ctx.iterations)
            for index in _chunks(x):
                _overlaps_vjp_chunk(x[index], other[index], g[index], ctx.iterations, pools(x[index]), grad[index])
            grads.append(grad)
        return grads[0], grads[1], None


def soft_skeleton(x: torch.Tensor, iterations: int = 3) -> torch.Tensor:
    r"""Soft skeleton of (B, C, *spatial) maps (Shit et al., CVPR 2021), with a memory-light backward.

    Values equal ``monai.losses.cldice.soft_skel(x, iterations)`` exactly; gradients are exact too (see the
    module's notes) but backward recomputes the steps instead of storing them.

    Args:
        x: (B, C, N), (B, C, H, W) or (B, C, H, W, D) floating tensor, usually probabilities in [0, 1].
        iterations: K, the number of erosion steps after the first opening (>= 0).

    Returns:
        (B, C, *spatial) skeleton, same dtype as ``x``.

    Raises:
        TypeError: ``x`` is not a floating point tensor.
        ValueError: ``x`` is not 3D/4D/5D or ``iterations`` is not a non-negative integer.

    Example:
        >>> x = torch.zeros(1, 1, 9, 9)
        >>> x[..., 3:6, :] = 1.0  # a horizontal bar, 3 pixels thick
        >>> soft_skeleton(x, iterations=3)[0, 0, :, 4].tolist()
        [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        given = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"Expected `x` to be a floating point torch.Tensor, but got {given}.")
    if x.dim() - 2 not in SPATIAL_DIMS:
        raise ValueError(
            f"Expected `x` to be 3D (B, C, N), 4D (B, C, H, W) or 5D (B, C, H, W, D), but got shape {tuple(x.shape)}."
        )
    if compiling():
        return _traced_skeleton(x, check_count("iterations", iterations))
    return _SoftSkeleton.apply(x, check_count("iterations", iterations))


def _traced_skeleton(x: torch.Tensor, iterations: int) -> torch.Tensor:
    """The soft skeleton as plain tensor ops, for ``torch.compile``: MONAI's ``soft_skel`` (a 1D map as one row
    of a 2D image, on which our 1D skeleton equals it)."""
    from monai.losses.cldice import soft_skel

    if x.dim() == 3:
        return soft_skel(x.unsqueeze(2), iterations).squeeze(2)
    return soft_skel(x, iterations)


def skeleton_overlaps(probs: torch.Tensor, target: torch.Tensor, iterations: int) -> torch.Tensor:
    """(B, C, 4) sums over space of ``S(p) t``, ``S(p)``, ``S(t) p`` and ``S(t)`` for (B, C, *spatial) maps:
    clDice's sufficient statistics, without either skeleton existing at full size (gradients to both inputs).

    Under ``torch.compile`` the skeletons are traced as plain tensor ops (MONAI's ``soft_skel`` formulation, the
    same values), which the compiler fuses; memory is then the compiler's, not this op's.
    """
    iterations = check_count("iterations", iterations)
    if compiling():
        dims = tuple(range(2, probs.dim()))
        skel_p, skel_t = _traced_skeleton(probs, iterations), _traced_skeleton(target, iterations)
        return torch.stack(
            [(skel_p * target).sum(dims), skel_p.sum(dims), (skel_t * probs).sum(dims), skel_t.sum(dims)], -1
        )
    return _SkeletonOverlaps.apply(probs, target, iterations)
