"""Appendix "Where the time goes": a GRU forward with the input projection hoisted out of the loop,
and the FLOP count of a GRU's forward + backward pass.

The reference solutions are the two public functions here
(:func:`gru_forward_hoisted`, :func:`gru_matmul_flops`); the checkers compare a
learner's function with them on seeded cases (the values of the first also with
:func:`companion.numpy.gru.gru_forward`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from companion.exercises._common import copies, generator, normal, sigmoid
from companion.exercises.feedback import Feedback
from companion.exercises.runner import Array, Case, Exercise, Integer, Variant, run
from companion.numpy.gru import gru_forward

__all__ = ["gru_forward_hoisted", "gru_matmul_flops", "check_gru_forward_hoisted", "check_gru_matmul_flops"]


# -- reference solutions ----------------------------------------------------------------------


def gru_forward_hoisted(
    x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, bx: np.ndarray, bh: np.ndarray
) -> np.ndarray:
    """GRU over a sequence (torch's form) with ``x_t Wx + bx`` of all steps computed in ONE product before the loop.

    x (N, T, D), h0 (N, H), Wx (D, 3H), Wh (H, 3H), bx and bh (3H,) with gate blocks
    ``[r, z, n]`` -> h (N, T, H).  Only the hidden side ``h_{t-1} Wh + bh`` must wait
    for the previous step, so it is the only product left inside the loop.
    """
    N, T, D = x.shape
    H = h0.shape[1]
    xw = (x.reshape(N * T, D) @ Wx + bx).reshape(N, T, 3 * H)  # every step's input side, one product
    h, hs = h0, np.empty((N, T, H))
    for t in range(T):
        hw = h @ Wh + bh  # the hidden side
        r = sigmoid(xw[:, t, :H] + hw[:, :H])
        z = sigmoid(xw[:, t, H : 2 * H] + hw[:, H : 2 * H])
        n = np.tanh(xw[:, t, 2 * H :] + r * hw[:, 2 * H :])  # r scales h Wh_n + bh_n, bias included
        h = (1.0 - z) * n + z * h
        hs[:, t] = h
    return hs


def gru_matmul_flops(N: int, T: int, D: int, H: int) -> int:
    """FLOPs in the matrix products of one GRU forward + backward pass (batch N, length T, sizes D, H).

    A product ``(m, k) @ (k, n)`` costs ``2 m k n`` (a multiply and an add per term).
    The forward pass has the input projection ``(N T, D) @ (D, 3H)`` and T recurrent
    products ``(N, H) @ (H, 3H)``; the backward pass, for each of them, the gradient
    of its input and of its weight, two products of the same size.
    """
    forward = 2 * (N * T) * D * (3 * H) + T * 2 * N * H * (3 * H)
    return 3 * forward


# -- check_gru_forward_hoisted ------------------------------------------------------------


class _CountingInput(np.ndarray):
    """An input array that counts the matrix products it, or a view or copy of it, takes part in.

    Results of arithmetic are plain arrays, so only ``x`` itself (sliced, reshaped,
    transposed, copied) is counted, never what was computed from it.
    """

    counter: list

    def __array_finalize__(self, obj: Any) -> None:
        self.counter = getattr(obj, "counter", None)

    @staticmethod
    def _plain(values: Any) -> Any:
        return [v.view(np.ndarray) if isinstance(v, _CountingInput) else v for v in values]

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc is np.matmul and method == "__call__":
            self.counter[0] += 1
        if "out" in kwargs:
            kwargs["out"] = tuple(self._plain(kwargs["out"]))
        return getattr(ufunc, method)(*self._plain(inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func in (np.dot, np.einsum, np.tensordot, np.inner, np.matmul, np.vdot):
            self.counter[0] += 1
        return super().__array_function__(func, types, args, kwargs)


def _counting(x: np.ndarray) -> _CountingInput:
    counted = x.copy().view(_CountingInput)
    counted.counter = [0]
    return counted


def _one_input_product(case: Case, got: Any) -> str | None:
    x = case.args[0]
    products, T = x.counter[0], x.shape[1]
    x.counter[0] = 0  # the next call on this case starts again
    if products > 1:
        return (
            f"Your function multiplied x (or slices of it) by a matrix {products} times for T = {T} steps; the "
            "exercise asks for the input part of ALL steps in ONE product before the loop, e.g. "
            "x.reshape(N * T, D) @ Wx + bx, then reshape the result back to (N, T, 3H) and take [:, t] in the loop."
        )
    return None


def _gru_variant(c: Case, kind: str) -> np.ndarray:
    x, h0, Wx, Wh, bx, bh = (c.raw[k] for k in ("x", "h0", "Wx", "Wh", "bx", "bh"))
    N, T, D = x.shape
    H = h0.shape[1]
    bx = np.zeros_like(bx) if kind == "no_bx" else bx
    bh = np.zeros_like(bh) if kind == "no_bh" else bh
    xw = (x.reshape(N * T, D) @ Wx + bx).reshape(N, T, 3 * H)
    if kind == "reshape_time_major":  # the (N T, 3H) product reshaped as if its rows were ordered (t, n)
        xw = xw.reshape(T, N, 3 * H).transpose(1, 0, 2)
    h, hs = h0, []
    for t in range(T):
        hw = h @ Wh + bh
        r = sigmoid(xw[:, t, :H] + hw[:, :H])
        z = sigmoid(xw[:, t, H : 2 * H] + hw[:, H : 2 * H])
        if kind == "bias_outside_r":
            n = np.tanh(xw[:, t, 2 * H :] + r * (h @ Wh[:, 2 * H :]) + bh[2 * H :])
        elif kind == "reset_before_product":
            n = np.tanh(xw[:, t, 2 * H :] + (r * h) @ Wh[:, 2 * H :] + bh[2 * H :])
        else:
            n = np.tanh(xw[:, t, 2 * H :] + r * hw[:, 2 * H :])
        h = z * n + (1.0 - z) * h if kind == "z_swapped" else (1.0 - z) * n + z * h
        hs.append(h)
    return np.stack(hs, axis=1)


def check_gru_forward_hoisted(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``gru_forward_hoisted(x, h0, Wx, Wh, bx, bh) -> h`` (N, T, H): torch's GRU, blocks ``[r, z, n]``.

    Besides the values, the checker counts the matrix products in which ``x`` (or a
    slice, reshape or copy of it) takes part: more than one means the input
    projection was not hoisted out of the loop.
    """
    rng = generator("gru_forward_hoisted")
    specs = [(2, 5, 3, 4), (1, 4, 2, 3), (3, 1, 4, 2), (2, 7, 1, 5)]
    names = ("x", "h0", "Wx", "Wh", "bx", "bh")
    cases = []
    for N, T, D, H in specs:
        shapes = ((N, H), (D, 3 * H), (H, 3 * H), (3 * H,), (3 * H,))
        raw = dict(zip(names, (normal(rng, N, T, D), *(normal(rng, *shape, scale=0.5) for shape in shapes))))
        cases.append(
            Case(
                args=(_counting(raw["x"]), *copies(*(raw[k] for k in names[1:]))),
                expected=gru_forward(*copies(*(raw[k] for k in names)))[0],
                label=f"N={N}, T={T}, D={D}, H={H}",
                dims={"N": N, "T": T, "D": D, "H": H},
                raw={k: v.copy() for k, v in raw.items()},
            )
        )

    def var(kind: str) -> Callable[[Case], np.ndarray]:
        return lambda c: _gru_variant(c, kind)

    ex = Exercise(
        name="gru_forward_hoisted",
        signature="gru_forward_hoisted(x, h0, Wx, Wh, bx, bh)",
        returns=Array("h", axes="N T H"),
        variants=(
            Variant(
                "the reset gate multiplies h_{t-1} Wh_n + bh_n INCLUDING its bias (torch's form): "
                "n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n)).",
                var("bias_outside_r"),
            ),
            Variant(
                "that is Cho et al.'s variant, r applied before the product, (r * h) Wh_n; torch's GRU (and this "
                "exercise) computes r * (h Wh_n + bh_n), so that one product h Wh serves all three gates.",
                var("reset_before_product"),
            ),
            Variant("h_t = (1 - z) * n + z * h_{t-1}: in torch's convention z keeps the past.", var("z_swapped")),
            Variant("the input-side bias bx is missing: the input side of every step is x_t Wx + bx.", var("no_bx")),
            Variant("the hidden-side bias bh is missing: the hidden side is h_{t-1} Wh + bh.", var("no_bh")),
            Variant(
                "x.reshape(N * T, D) keeps the samples' order, rows (n, t): reshape the product back to (N, T, 3H), "
                "not (T, N, 3H).",
                var("reshape_time_major"),
            ),
        ),
        requirements=(_one_input_product,),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)


# -- check_gru_matmul_flops -------------------------------------------------------------------


def check_gru_matmul_flops(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``gru_matmul_flops(N, T, D, H) -> int``: FLOPs of the matrix products of a GRU forward + backward."""
    specs = [(32, 50, 96, 128), (2, 3, 5, 7), (1, 1, 1, 1), (64, 100, 32, 256)]
    cases = [
        Case(
            args=(N, T, D, H),
            expected=gru_matmul_flops(N, T, D, H),
            label=f"N={N}, T={T}, D={D}, H={H}",
            dims={"N": N, "T": T, "D": D, "H": H},
            raw={"N": N, "T": T, "D": D, "H": H},
        )
        for N, T, D, H in specs
    ]

    def scaled(factor: float) -> Callable[[Case], int]:
        return lambda c: int(round(gru_matmul_flops(*c.args) * factor))

    def without(part: str) -> Callable[[Case], int]:
        def count(c: Case) -> int:
            N, T, D, H = c.args
            inner = D if part == "recurrent" else H  # what is left when the other product is forgotten
            return 3 * 2 * N * T * inner * 3 * H

        return count

    ex = Exercise(
        name="gru_matmul_flops",
        signature="gru_matmul_flops(N, T, D, H)",
        returns=Integer("flops"),
        variants=(
            Variant(
                "that is the forward pass only: the backward pass computes, for every product, the gradients of "
                "both of its factors, two products of the same size (3 x the forward count in total).",
                scaled(1 / 3),
            ),
            Variant("a product (m, k) @ (k, n) costs 2 m k n FLOPs: one multiply and one add per term.", scaled(1 / 2)),
            Variant("the GRU has 3 gate blocks (r, z, n), so its weights have 3H columns, not 4H.", scaled(4 / 3)),
            Variant("the recurrent products h_{t-1} Wh (one per step) are missing.", without("recurrent")),
            Variant("the input projection x_t Wx is missing.", without("input")),
        ),
    )
    return run(ex, learner_fn, cases, time_limit=time_limit)
