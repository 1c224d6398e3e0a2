"""Chapter 5 (gated cells) exercises: LSTM step forward and backward, GRU step forward."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from companion.exercises._common import copies, generator, normal, sigmoid
from companion.exercises.ch2 import STEP_SIZES
from companion.exercises.feedback import Feedback, failed
from companion.exercises.runner import Anything, Array, Case, Exercise, Tuple, Variant, run
from companion.numpy.gru import gru_step_forward
from companion.numpy.lstm import lstm_step_backward, lstm_step_forward

__all__ = ["check_lstm_step_forward", "check_lstm_step_backward", "check_gru_step_forward"]


def _gate_hint(exc: BaseException, case: Any) -> str | None:
    msg = str(exc)
    if isinstance(exc, ValueError) and ("matmul" in msg or "broadcast" in msg or "shapes" in msg):
        return (
            "a shape mismatch. x (N, D) @ Wx (D, kH) and h_prev (N, H) @ Wh (H, kH) give all gates at once, "
            "(N, kH); gate j is the column block a[:, j*H:(j+1)*H]. The checker uses D != H."
        )
    return None


def _gated_inputs(name: str, gates: int) -> list[dict[str, Any]]:
    rng = generator(name)
    out = []
    for N, D, H in STEP_SIZES:
        out.append(
            {
                "x": normal(rng, N, D),
                "h_prev": normal(rng, N, H, scale=0.8),
                "c_prev": normal(rng, N, H),
                "Wx": normal(rng, D, gates * H, scale=0.5),
                "Wh": normal(rng, H, gates * H, scale=0.5),
                "b": normal(rng, gates * H, scale=0.5),
                "bx": normal(rng, gates * H, scale=0.5),
                "bh": normal(rng, gates * H, scale=0.5),
                "dh": normal(rng, N, H),
                "dc": normal(rng, N, H),
                "N": N, "D": D, "H": H,
            }
        )
    return out


def _label(r: dict[str, Any]) -> str:
    return f"N={r['N']}, D={r['D']}, H={r['H']}"


def _dims(r: dict[str, Any]) -> dict[str, int]:
    return {"N": r["N"], "D": r["D"], "H": r["H"]}


# -- LSTM forward -----------------------------------------------------------------------------


def lstm_gates(r: dict[str, Any], order: str = "ifgo", bias: bool = True) -> dict[str, np.ndarray]:
    """Gate activations read from the blocks in ``order`` (the reference order is i, f, g, o)."""
    H = r["H"]
    a = r["x"] @ r["Wx"] + r["h_prev"] @ r["Wh"] + (r["b"] if bias else 0.0)
    blocks = {name: a[:, k * H : (k + 1) * H] for k, name in enumerate(order)}
    return {"i": sigmoid(blocks["i"]), "f": sigmoid(blocks["f"]), "g": np.tanh(blocks["g"]), "o": sigmoid(blocks["o"]),
            "a_g": blocks["g"]}


def _lstm_forward_variant(kind: str) -> Callable[[Case], tuple]:
    def variant(case: Case) -> tuple:
        r = case.raw
        order = kind if kind in ("ifog", "igfo", "fiog") else "ifgo"
        gt = lstm_gates(r, order=order, bias=kind != "no_bias")
        i, f, g, o = gt["i"], gt["f"], gt["g"], gt["o"]
        if kind == "g_sigmoid":
            g = sigmoid(gt["a_g"])
        c = f * r["c_prev"] + (g if kind == "no_i" else i * g)
        if kind == "h_no_tanh":
            h = o * c
        elif kind == "h_from_c_prev":
            h = o * np.tanh(r["c_prev"])
        else:
            h = o * np.tanh(c)
        return h, c, None

    return variant


def check_lstm_step_forward(learner_fn: Callable) -> Feedback:
    """Check ``lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b) -> (h_next, c_next, cache)``.

    Gate blocks are stacked ``[i, f, g, o]`` along the 4H axis of Wx (D, 4H), Wh (H, 4H), b (4H,).
    """
    ex = Exercise(
        name="lstm_step_forward",
        signature="lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)",
        returns=Tuple(Array("h_next", axes="N H"), Array("c_next", axes="N H"), Anything("cache")),
        variants=(
            Variant(
                "you read the gates in the order i, f, o, g; the blocks are stacked [i, f, g, o] (as in PyTorch): "
                "g is the third block a[:, 2H:3H], o the fourth.",
                _lstm_forward_variant("ifog"),
            ),
            Variant(
                "you read the gates in the order i, g, f, o (TensorFlow's layout); here the blocks are [i, f, g, o].",
                _lstm_forward_variant("igfo"),
            ),
            Variant(
                "you swapped the input and forget gates: block 0 is i, block 1 is f.",
                _lstm_forward_variant("fiog"),
            ),
            Variant("you forgot the tanh in h_next = o * tanh(c_next).", _lstm_forward_variant("h_no_tanh")),
            Variant(
                "h_next must use the NEW cell state: h_next = o * tanh(c_next).",
                _lstm_forward_variant("h_from_c_prev"),
            ),
            Variant("you forgot the input gate: c_next = f * c_prev + i * g.", _lstm_forward_variant("no_i")),
            Variant(
                "the candidate g uses tanh, not the sigmoid (only i, f, o are sigmoids).",
                _lstm_forward_variant("g_sigmoid"),
            ),
            Variant(
                "your output equals the reference without the bias b: did you forget `+ b`?",
                _lstm_forward_variant("no_bias"),
            ),
        ),
        exception_hint=_gate_hint,
    )
    cases = []
    for r in _gated_inputs("lstm_step_forward", 4):
        args = (r["x"], r["h_prev"], r["c_prev"], r["Wx"], r["Wh"], r["b"])
        expected = lstm_step_forward(*copies(*args))
        cases.append(Case(args=copies(*args), expected=expected, label=_label(r), dims=_dims(r), raw=r))
    return run(ex, learner_fn, cases)


# -- LSTM backward ----------------------------------------------------------------------------


def _lstm_backward_variant(kind: str) -> Callable[[Case], tuple]:
    def variant(case: Case) -> tuple:
        r = case.raw
        gt = lstm_gates(r)
        i, f, g, o = gt["i"], gt["f"], gt["g"], gt["o"]
        c = f * r["c_prev"] + i * g
        tc = np.tanh(c)
        dh, dc_next = r["dh"], r["dc"]
        do = dh * tc
        if kind == "no_dc_from_h":
            dc = dc_next
        elif kind == "no_tanh_derivative":
            dc = dc_next + dh * o
        elif kind == "no_dc_next":
            dc = dh * o * (1.0 - tc**2)
        else:
            dc = dc_next + dh * o * (1.0 - tc**2)
        dc_prev = dc if kind == "dc_prev_no_f" else dc * f
        blocks = {
            "i": dc * g * i * (1.0 - i),
            "f": dc * r["c_prev"] * f * (1.0 - f),
            "g": dc * i * (g * (1.0 - g) if kind == "g_sigmoid_derivative" else 1.0 - g**2),
            "o": do * o * (1.0 - o),
        }
        order = "ifog" if kind == "order_ifog" else "ifgo"
        da = np.concatenate([blocks[k] for k in order], axis=1)
        return da @ r["Wx"].T, da @ r["Wh"].T, dc_prev, r["x"].T @ da, r["h_prev"].T @ da, da.sum(axis=0)

    return variant


def check_lstm_step_backward(learner_fn: Callable, forward: Callable | None = None) -> Feedback:
    """Check ``lstm_step_backward(dh_next, dc_next, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)``.

    ``cache`` is the reference :class:`~companion.numpy.lstm.LSTMStepCache`
    (``x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c``) unless you pass your own
    ``forward=lstm_step_forward``.
    """
    name = "lstm_step_backward"
    if forward is not None:
        verdict = check_lstm_step_forward(forward)
        if not verdict.passed:
            return failed(
                name,
                "Your lstm_step_forward does not pass its own check yet, so its cache cannot be trusted:",
                *("  " + line for line in verdict.lines),
                f"Fix lstm_step_forward first, or call check_{name}({name}) without `forward=`.",
            )
    ex = Exercise(
        name=name,
        signature="lstm_step_backward(dh_next, dc_next, cache)",
        returns=Tuple(
            Array("dx", axes="N D", gradient=True),
            Array("dh_prev", axes="N H", gradient=True),
            Array("dc_prev", axes="N H", gradient=True),
            Array("dWx", axes="D 4H", gradient=True),
            Array("dWh", axes="H 4H", gradient=True),
            Array("db", axes="4H", gradient=True),
        ),
        variants=(
            Variant(
                "the cell gradient misses the path through h: dc = dc_next + dh_next * o * (1 - tanh(c_next)**2).",
                _lstm_backward_variant("no_dc_from_h"),
            ),
            Variant(
                "you forgot the tanh derivative on the way from h to c: multiply dh_next * o by (1 - tanh(c_next)**2).",
                _lstm_backward_variant("no_tanh_derivative"),
            ),
            Variant(
                "you forgot dc_next: the cell also receives the gradient from the next step directly.",
                _lstm_backward_variant("no_dc_next"),
            ),
            Variant(
                "dc_prev = dc * f: the old cell was multiplied by the forget gate.",
                _lstm_backward_variant("dc_prev_no_f"),
            ),
            Variant(
                "you stacked the gate gradients as [i, f, o, g]; they must follow the forward layout [i, f, g, o].",
                _lstm_backward_variant("order_ifog"),
            ),
            Variant(
                "g is a tanh: its derivative is 1 - g**2, not g * (1 - g).",
                _lstm_backward_variant("g_sigmoid_derivative"),
            ),
        ),
        exception_hint=_gate_hint,
    )
    cases = []
    for r in _gated_inputs(name, 4):
        args = (r["x"], r["h_prev"], r["c_prev"], r["Wx"], r["Wh"], r["b"])
        ref_cache = lstm_step_forward(*copies(*args))[2]
        cache = ref_cache if forward is None else forward(*copies(*args))[2]
        cases.append(
            Case(
                args=copies(r["dh"], r["dc"], cache),
                expected=lstm_step_backward(*copies(r["dh"], r["dc"], ref_cache)),
                label=_label(r),
                dims=_dims(r),
                raw=r,
            )
        )
    return run(ex, learner_fn, cases)


# -- GRU forward ------------------------------------------------------------------------------


def _gru_variant(kind: str) -> Callable[[Case], tuple]:
    def variant(case: Case) -> tuple:
        r = case.raw
        H, x, h = r["H"], r["x"], r["h_prev"]
        bh = np.zeros_like(r["bh"]) if kind == "no_bh" else r["bh"]
        ax = x @ r["Wx"] + r["bx"]
        ah = h @ r["Wh"] + bh
        blk = (1, 0, 2) if kind == "order_zrn" else (0, 1, 2)

        def part(arr: np.ndarray, k: int) -> np.ndarray:
            return arr[:, blk[k] * H : (blk[k] + 1) * H]

        rg = sigmoid(part(ax, 0) + part(ah, 0))
        z = sigmoid(part(ax, 1) + part(ah, 1))
        Wh_n = r["Wh"][:, 2 * H :]
        act = sigmoid if kind == "n_sigmoid" else np.tanh
        if kind == "cho":
            n = act(part(ax, 2) + (rg * h) @ Wh_n + bh[2 * H :])
        elif kind == "bias_outside":
            n = act(part(ax, 2) + rg * (h @ Wh_n) + bh[2 * H :])
        else:
            n = act(part(ax, 2) + rg * part(ah, 2))
        h_next = z * n + (1.0 - z) * h if kind == "z_swapped" else (1.0 - z) * n + z * h
        return h_next, None

    return variant


def check_gru_step_forward(learner_fn: Callable) -> Feedback:
    """Check ``gru_step_forward(x, h_prev, Wx, Wh, bx, bh) -> (h_next, cache)`` (PyTorch form).

    Blocks ``[r, z, n]`` along 3H; ``n = tanh(x Wx_n + bx_n + r * (h_prev Wh_n + bh_n))``,
    ``h_next = (1 - z) * n + z * h_prev``.
    """
    ex = Exercise(
        name="gru_step_forward",
        signature="gru_step_forward(x, h_prev, Wx, Wh, bx, bh)",
        returns=Tuple(Array("h_next", axes="N H"), Anything("cache")),
        variants=(
            Variant(
                "you applied r before the product, (r * h_prev) @ Wh_n: that is the original form of Cho et al. "
                "(2014). "
                "The course uses PyTorch's form, r * (h_prev @ Wh_n + bh_n).",
                _gru_variant("cho"),
            ),
            Variant(
                "bh_n must sit inside the reset gate's product: r * (h_prev @ Wh_n + bh_n), not r * (h_prev @ Wh_n) "
                "+ bh_n.",
                _gru_variant("bias_outside"),
            ),
            Variant(
                "z and 1 - z are swapped: h_next = (1 - z) * n + z * h_prev (z close to 1 keeps the old state).",
                _gru_variant("z_swapped"),
            ),
            Variant(
                "you read the blocks as [z, r, n]; they are stacked [r, z, n] (as in PyTorch).",
                _gru_variant("order_zrn"),
            ),
            Variant("you left out the hidden bias bh.", _gru_variant("no_bh")),
            Variant("the candidate n uses tanh, not the sigmoid.", _gru_variant("n_sigmoid")),
        ),
        exception_hint=_gate_hint,
    )
    cases = []
    for r in _gated_inputs("gru_step_forward", 3):
        args = (r["x"], r["h_prev"], r["Wx"], r["Wh"], r["bx"], r["bh"])
        expected = gru_step_forward(*copies(*args))
        cases.append(Case(args=copies(*args), expected=expected, label=_label(r), dims=_dims(r), raw=r))
    return run(ex, learner_fn, cases)
