"""Chapter 5 (gated cells) exercises: LSTM step forward and backward, GRU step forward."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from companion.exercises._common import broadcast_hint, copies, generator, is_matmul_error, normal, own_forward_caches, sigmoid
from companion.exercises.ch2 import STEP_SIZES
from companion.exercises.ch3 import with_own_cache
from companion.exercises.feedback import Feedback
from companion.exercises.runner import LSTM_GATES, Anything, Array, Case, Exercise, Output, Problem, Tuple, Variant, run
from companion.numpy.gru import gru_step_forward
from companion.numpy.lstm import lstm_step_backward, lstm_step_forward

__all__ = ["check_lstm_step_forward", "check_lstm_step_backward", "check_gru_step_forward"]


def _gate_hint(exc: BaseException, case: Any) -> str | None:
    if is_matmul_error(exc):
        return (
            "a shape mismatch in a matrix product. x (N, D) @ Wx (D, kH) and h_prev (N, H) @ Wh (H, kH) give all "
            "gates at once, (N, kH); gate j is the column block a[:, j*H:(j+1)*H]. The checker uses D != H."
        )
    return broadcast_hint(exc, case)


#: A pre-activation this large saturates a gate: sigmoid(+-40) is 1 or 0 to float64 precision.
SATURATE = 40.0


@dataclass(frozen=True)
class GateProbe:
    """One rerun of the learner's step with an input built so that the output shows one gate alone.

    ``edit(args, H)`` changes the (copied) arguments in place; ``output`` says which part
    of the result is compared with the reference; ``message`` is reported when it differs.
    """

    edit: Callable[[list, int], None]
    output: Output
    message: str


def push(xi: int, wi: int, bi: int, blocks: dict[int, int]) -> Callable[[list, int], None]:
    """Force gate blocks open (+1) or shut (-1) through both the bias and a constant input feature.

    ``x[:, 0] = 1`` with a large weight on it and a large bias: a function that forgot
    either of the two still sees a saturated gate.
    """

    def edit(args: list, H: int) -> None:
        args[xi][:, 0] = 1.0
        for k, sign in blocks.items():
            args[bi][k * H : (k + 1) * H] += sign * SATURATE
            args[wi][0, k * H : (k + 1) * H] += sign * SATURATE

    return edit


def zero_block(k: int, *indices: int) -> Callable[[list, int], None]:
    """Zero gate block ``k`` of the weight and bias arguments at ``indices``: that pre-activation is 0."""

    def edit(args: list, H: int) -> None:
        for i in indices:
            args[i][..., k * H : (k + 1) * H] = 0.0

    return edit


def both(*edits: Callable[[list, int], None]) -> Callable[[list, int], None]:
    def edit(args: list, H: int) -> None:
        for e in edits:
            e(args, H)

    return edit


def _gate_probes(
    reference: Callable, probes: Sequence[GateProbe], last: tuple[Output, str] | None = None
) -> Callable[[Case, Any, Problem, Callable[[Case], Any]], list[str]]:
    """A diagnosis that reruns the learner's step on probe inputs, to name the gate that is wrong.

    The message of the first probe the learner's function gets wrong is reported.  If it
    gets them all right, ``last`` = ``(output, message)`` compares ``output`` on the
    failing case itself (e.g. c_next right but h_next wrong: the output gate).
    """

    def diagnose(case: Case, got: Any, problem: Problem, ask: Callable[[Case], Any]) -> list[str]:
        head = "Gate by gate (the checker reran your step on inputs that isolate one gate): "
        H = case.dims["H"]
        for probe in probes:
            args = list(copies(*case.args))
            probe.edit(args, H)
            expected = reference(*copies(*args))
            answer = ask(Case(args=tuple(args), expected=expected, label=case.label, dims=case.dims))
            if answer is None:
                return []
            if probe.output.check(answer, expected, case) is not None:
                return [head + probe.message]
        if last is not None and last[0].check(got, case.expected, case) is not None:
            return [head + last[1]]
        return []

    return diagnose


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


LSTM_FORWARD_OUTPUT = Tuple(Array("h_next", axes="N H"), Array("c_next", axes="N H"), Anything("cache"))
_C_NEXT = Tuple(Anything("h_next"), Array("c_next", axes="N H"), Anything("cache"))


def _lstm_zero_c_prev(args: list, H: int) -> None:
    args[2][...] = 0.0


def _lstm_forward_diagnosis(case: Case, got: Any, problem: Problem, ask: Callable[[Case], Any]) -> list[str]:
    """Name the LSTM gate that is wrong: i, g, f through c_next on isolating inputs, then o through h_next."""
    first = _gate_probes(
        lambda *a: lstm_step_forward(*a)[:2] + (None,),
        (
            GateProbe(
                both(_lstm_zero_c_prev, push(0, 3, 5, {2: +1})),
                _C_NEXT,
                "with c_prev = 0 and the candidate g forced to 1, c_next must equal the input gate i, and yours "
                "does not: check i = sigmoid of block 0 (columns 0:H).",
            ),
            GateProbe(
                both(_lstm_zero_c_prev, push(0, 3, 5, {0: +1})),
                _C_NEXT,
                "with c_prev = 0 and the input gate i forced to 1, c_next must equal the candidate g, and yours "
                "does not: check g = tanh of block 2 (columns 2H:3H).",
            ),
            GateProbe(
                zero_block(2, 3, 4, 5),
                _C_NEXT,
                "with the candidate g = 0 (its weights and bias zeroed), c_next must equal f * c_prev, and yours "
                "does not: check the forget gate f = sigmoid of block 1 (columns H:2H) and "
                "c_next = f * c_prev + i * g.",
            ),
        ),
        last=(_C_NEXT, "i, g and f are each right alone, but c_next is not: check c_next = f * c_prev + i * g."),
    )(case, got, problem, ask)
    if first or _C_NEXT.check(got, case.expected, case) is not None:
        return first
    return [
        "Gate by gate: c_next is right, only h_next is wrong, so check the output gate o = sigmoid of block 3 "
        "(columns 3H:4H) and h_next = o * tanh(c_next)."
    ]


def check_lstm_step_forward(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b) -> (h_next, c_next, cache)``.

    Gate blocks are stacked ``[i, f, g, o]`` along the 4H axis of Wx (D, 4H), Wh (H, 4H), b (4H,).
    """
    ex = Exercise(
        name="lstm_step_forward",
        signature="lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)",
        returns=LSTM_FORWARD_OUTPUT,
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
        diagnose=_lstm_forward_diagnosis,
    )
    cases = []
    for r in _gated_inputs("lstm_step_forward", 4):
        args = (r["x"], r["h_prev"], r["c_prev"], r["Wx"], r["Wh"], r["b"])
        expected = lstm_step_forward(*copies(*args))
        cases.append(Case(args=copies(*args), expected=expected, label=_label(r), dims=_dims(r), raw=r))
    return run(ex, learner_fn, cases, time_limit=time_limit)


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


#: The backward step's outputs; wrong values are reported gate-shaped gradients first (they name the gate).
LSTM_BACKWARD_OUTPUT = Tuple(
    Array("dx", axes="N D", gradient=True, what="dL/dx_t, the gradient for this step's input"),
    Array("dh_prev", axes="N H", gradient=True, what="dL/dh_{t-1}, sent back to the previous step's hidden state"),
    Array("dc_prev", axes="N H", gradient=True, what="dL/dc_{t-1}, sent back to the previous step's cell state"),
    Array("dWx", axes="D 4H", gradient=True, what="gate blocks [i, f, g, o] along the columns"),
    Array("dWh", axes="H 4H", gradient=True, what="gate blocks [i, f, g, o] along the columns"),
    Array("db", axes="4H", gradient=True, what="gate blocks [i, f, g, o]"),
    order=(5, 3, 4, 2, 1, 0),
)

_LSTM_DA = {
    "i": "da_i = dc * g * i * (1 - i)",
    "f": "da_f = dc * c_prev * f * (1 - f)",
    "g": "da_g = dc * i * (1 - g**2)",
    "o": "da_o = dh_next * tanh_c * o * (1 - o)",
}


def _lstm_backward_gates(case: Case, got: Any, problem: Problem, ask: Callable[[Case], Any]) -> list[str]:
    """Which gate's pre-activation gradient is wrong, read from the column blocks of db, dWx and dWh."""
    H = case.dims["H"]
    right = {}
    for k, gate in enumerate("ifgo"):
        cols = slice(k * H, (k + 1) * H)
        right[gate] = all(
            Array("part", gradient=True).check(np.asarray(got[j])[..., cols], case.expected[j][..., cols], case) is None
            for j in (3, 4, 5)
        )
    names = dict(zip("ifgo", LSTM_GATES))
    if all(right.values()):
        wrong = [n for j, n in ((0, "dx"), (1, "dh_prev"), (2, "dc_prev")) if
                 Array(n, gradient=True).check(got[j], case.expected[j], case) is not None]
        lines = ["Gate by gate: the gradients of all four gate pre-activations (da_i, da_f, da_g, da_o, seen in "
                 "the column blocks of db, dWx and dWh) are right."]
        if "dc_prev" in wrong:
            lines.append("dc_prev (for the previous step's cell c_{t-1}) is wrong: dc_prev = dc * f.")
        if "dx" in wrong or "dh_prev" in wrong:
            lines.append("So the error is in the last products: dx = da @ Wx.T and dh_prev = da @ Wh.T, with da the "
                         "four blocks stacked in the order [i, f, g, o].")
        return lines
    status = ", ".join(f"{names[g]} {'right' if right[g] else 'WRONG'}" for g in "ifgo")
    lines = [f"Gate by gate (da_i, da_f, da_g, da_o, seen in the column blocks of db, dWx and dWh): {status}."]
    if not right["i"] and not right["f"] and not right["g"] and right["o"]:
        lines.append("i, f and g are the gates that go through the cell gradient dc, so check it first: "
                     "dc = dc_next + dh_next * o * (1 - tanh_c**2).")
    else:
        lines.append("Check " + "; ".join(_LSTM_DA[g] for g in "ifgo" if not right[g])
                     + " (dc = dc_next + dh_next * o * (1 - tanh_c**2)).")
    return lines


def check_lstm_step_backward(
    learner_fn: Callable, forward: Callable | None = None, *, time_limit: float | None = None
) -> Feedback:
    """Check ``lstm_step_backward(dh_next, dc_next, cache) -> (dx, dh_prev, dc_prev, dWx, dWh, db)``.

    ``cache`` is the reference :class:`~companion.numpy.lstm.LSTMStepCache`
    (``x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c``) unless you pass your own
    ``forward=lstm_step_forward``.
    """
    name = "lstm_step_backward"
    raws = _gated_inputs(name, 4)
    arg_sets = [(r["x"], r["h_prev"], r["c_prev"], r["Wx"], r["Wh"], r["b"]) for r in raws]
    own = None
    if forward is not None:
        own = own_forward_caches(
            name, "lstm_step_forward", forward, check_lstm_step_forward, arg_sets, 2,
            "(x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)", time_limit,
        )
        if isinstance(own, Feedback):
            return own
    ex = Exercise(
        name=name,
        signature="lstm_step_backward(dh_next, dc_next, cache)",
        returns=LSTM_BACKWARD_OUTPUT,
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
        exception_hint=_gate_hint if own is None else with_own_cache(_gate_hint, "lstm_step_forward"),
        diagnose=_lstm_backward_gates,
    )
    cases = []
    for k, (r, args) in enumerate(zip(raws, arg_sets)):
        ref_cache = lstm_step_forward(*copies(*args))[2]
        cache = ref_cache if own is None else own[k]
        cases.append(
            Case(
                args=copies(r["dh"], r["dc"], cache),
                expected=lstm_step_backward(*copies(r["dh"], r["dc"], ref_cache)),
                label=_label(r),
                dims=_dims(r),
                raw=r,
            )
        )
    return run(ex, learner_fn, cases, time_limit=time_limit)


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


GRU_OUTPUT = Tuple(Array("h_next", axes="N H"), Anything("cache"))


def check_gru_step_forward(learner_fn: Callable, *, time_limit: float | None = None) -> Feedback:
    """Check ``gru_step_forward(x, h_prev, Wx, Wh, bx, bh) -> (h_next, cache)`` (PyTorch form).

    Blocks ``[r, z, n]`` along 3H; ``n = tanh(x Wx_n + bx_n + r * (h_prev Wh_n + bh_n))``,
    ``h_next = (1 - z) * n + z * h_prev``.
    """
    ex = Exercise(
        name="gru_step_forward",
        signature="gru_step_forward(x, h_prev, Wx, Wh, bx, bh)",
        returns=GRU_OUTPUT,
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
        diagnose=_gate_probes(
            lambda *a: (gru_step_forward(*a)[0], None),
            (
                GateProbe(
                    zero_block(2, 2, 3, 4, 5),
                    GRU_OUTPUT,
                    "with the candidate n = 0 (its weights and biases zeroed), h_next must equal z * h_prev, and "
                    "yours does not: check the update gate z = sigmoid of block 1 (columns H:2H) of both sides and "
                    "h_next = (1 - z) * n + z * h_prev.",
                ),
                GateProbe(
                    push(0, 2, 4, {0: +1, 1: -1}),
                    GRU_OUTPUT,
                    "with z forced to 0 and the reset gate r forced to 1, h_next must equal the candidate "
                    "n = tanh(x Wx_n + bx_n + h_prev Wh_n + bh_n) (block 2, columns 2H:3H), and yours does not: "
                    "check n.",
                ),
                GateProbe(
                    push(0, 2, 4, {0: -1, 1: -1}),
                    GRU_OUTPUT,
                    "with z and r forced to 0, the hidden side of n must vanish completely, h_next = n = "
                    "tanh(x Wx_n + bx_n), and yours does not: the reset gate multiplies the whole hidden side, "
                    "r * (h_prev @ Wh_n + bh_n).",
                ),
                GateProbe(
                    push(0, 2, 4, {1: -1}),
                    GRU_OUTPUT,
                    "with z forced to 0, h_next must equal n, and yours does not although n is right for r = 0 and "
                    "r = 1: check the reset gate r = sigmoid of block 0 (columns 0:H) of both sides.",
                ),
            ),
        ),
    )
    cases = []
    for r in _gated_inputs("gru_step_forward", 3):
        args = (r["x"], r["h_prev"], r["Wx"], r["Wh"], r["bx"], r["bh"])
        expected = gru_step_forward(*copies(*args))
        cases.append(Case(args=copies(*args), expected=expected, label=_label(r), dims=_dims(r), raw=r))
    return run(ex, learner_fn, cases, time_limit=time_limit)
