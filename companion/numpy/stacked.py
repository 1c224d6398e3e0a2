"""Several recurrent layers on top of each other, and both reading directions: ``torch.nn.RNN/LSTM/GRU`` in NumPy.

A *stacked* (deep) recurrent network feeds the hidden sequence of layer ``k`` as
the input sequence of layer ``k+1``.  A *bidirectional* layer runs one cell
left-to-right and a second one (its own weights) right-to-left over the same
input, and concatenates the two hidden states of every step on the feature axis,
so each output sees the whole sequence.  Layouts follow ``torch.nn`` with
``batch_first=True``:

* ``out`` is (N, T, num_directions * H): ``out[..., :H]`` is the forward
  direction, ``out[..., H:]`` the reverse one, both indexed by input position t;
* the final states ``h_n`` (and ``c_n``) are (num_layers * num_directions, N, H),
  row ``layer * num_directions + direction``; the reverse direction's final
  state is the one after reading position 0.

Parameters are a flat dict named as in :mod:`companion.numpy.torch_io`
(``Wx_l0``, ``Wh_l0``, ``b_l0``, ``Wx_l0_reverse``, ...), so
``params_from_state_dict(module.state_dict(), ...)`` plugs straight in, and the
gradient dict has the same keys (ready for :mod:`companion.numpy.optim`).
Dropout between layers (torch's ``dropout=``) is not implemented.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Union

import numpy as np

from companion._checks import check_array, check_shapes
from companion.numpy.gru import gru_backward, gru_forward
from companion.numpy.lstm import lstm_backward_with_cell, lstm_forward
from companion.numpy.rnn import rnn_backward, rnn_forward
from companion.numpy.torch_io import _check_config, _layer_shapes, _suffixes, param_keys

__all__ = ["StackedCache", "stacked_forward", "stacked_backward"]

#: ``h_n`` for RNN/GRU, ``(h_n, c_n)`` for the LSTM.
State = Union[np.ndarray, tuple[np.ndarray, np.ndarray]]


class StackedCache(NamedTuple):
    """What :func:`stacked_backward` needs."""

    mode: str
    num_layers: int
    bidirectional: bool
    H: int
    D: int  # input size of layer 0
    caches: list  # [layer][direction] -> the single layer's cache


def _flip(a: np.ndarray) -> np.ndarray:
    """Reverse the time axis (axis 1) of a batch-first array."""
    return a[:, ::-1]


def _run_direction(mode: str, x: np.ndarray, params: Mapping[str, np.ndarray], tag: str, h0, c0):
    """One layer, one direction: returns ``(h (N,T,H), h_T, c_T or None, cache)``."""
    Wx, Wh = params[f"Wx{tag}"], params[f"Wh{tag}"]
    if mode == "lstm":
        h, cache = lstm_forward(x, h0, Wx, Wh, params[f"b{tag}"], c0)
        return h, cache.h_T.copy(), cache.c_T.copy(), cache
    if mode == "gru":
        h, cache = gru_forward(x, h0, Wx, Wh, params[f"bx{tag}"], params[f"bh{tag}"])
    else:
        h, cache = rnn_forward(x, h0, Wx, Wh, params[f"b{tag}"], nonlinearity=mode[len("rnn_") :])
    return h, h[:, -1].copy(), None, cache


def stacked_forward(
    x: np.ndarray,
    params: Mapping[str, np.ndarray],
    mode: str = "lstm",
    num_layers: int = 1,
    bidirectional: bool = False,
    hx: State | None = None,
) -> tuple[np.ndarray, State, StackedCache]:
    """Forward pass of a multi-layer, optionally bidirectional RNN, LSTM or GRU.

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
        Input sequence, batch-first.
    params : mapping of str to ndarray
        ``Wx_l{k}[_reverse]`` (D_k, G H), ``Wh_l{k}[_reverse]`` (H, G H) and
        ``b_l{k}[_reverse]`` (G H,) (RNN, LSTM) or ``bx_.., bh_..`` (GRU), where
        ``D_0 = D`` and ``D_k = num_directions * H``.
    mode : {"rnn_tanh", "rnn_relu", "lstm", "gru"}
    num_layers : int
    bidirectional : bool
    hx : ndarray (L*dirs, N, H), or a pair of them for the LSTM, optional
        Initial ``h_0`` (and ``c_0``), zeros if omitted, as in torch.

    Returns
    -------
    out : ndarray, shape (N, T, dirs * H)
        The last layer's hidden states, directions concatenated on the last axis.
    final : ndarray (L*dirs, N, H), or ``(h_n, c_n)`` for the LSTM
        Every layer's and direction's final state.
    cache : StackedCache
        For :func:`stacked_backward`.
    """
    mode = _check_config(mode, num_layers, bidirectional)
    check_array("x", x)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of names to arrays, got {type(params).__name__}")
    keys = param_keys(mode, num_layers, bidirectional)
    missing = [k for k in keys if k not in params]
    if missing:
        raise KeyError(
            f"params has no entry {missing[0]!r}, needed for mode={mode!r}, num_layers={num_layers}, "
            f"bidirectional={bool(bidirectional)}; it has {sorted(params)}"
        )
    for k in keys:
        check_array(k, params[k])
    roles = {"Wh": "Wh", "Wx": "Wx", **({"bx": "bx", "bh": "bh"} if mode == "gru" else {"b": "b"})}
    specs = {"x": (x, "N T D")}
    specs.update({k: (params[k], s) for k, s in _layer_shapes(mode, num_layers, bidirectional, True, roles).items()})
    sizes = check_shapes(**specs)
    N, D, H = sizes["N"], sizes["D"], sizes["H"]
    dirs = 2 if bidirectional else 1
    LD = num_layers * dirs

    if hx is None:
        h0 = c0 = None
    elif mode == "lstm":
        if not (isinstance(hx, tuple) and len(hx) == 2):
            raise TypeError("hx for the LSTM must be a pair (h_0, c_0), like torch.nn.LSTM")
        h0, c0 = hx
        check_array("h_0", h0)
        check_array("c_0", c0)
        check_shapes(x=(x, "N T D"), h_0=(h0, f"{LD} N H"), c_0=(c0, f"{LD} N H"), Wh_l0=(params["Wh_l0"], "H GH"))
    else:
        h0, c0 = hx, None
        check_array("h_0", h0)
        check_shapes(x=(x, "N T D"), h_0=(h0, f"{LD} N H"), Wh_l0=(params["Wh_l0"], "H GH"))
    dt = np.result_type(x, *(params[k] for k in keys))
    zeros = np.zeros((N, H), dtype=dt)

    h_n = np.empty((LD, N, H), dtype=dt)
    c_n = np.empty((LD, N, H), dtype=dt) if mode == "lstm" else None
    caches: list[list[Any]] = []
    layer_in = x
    for k in range(num_layers):
        outs, layer_caches = [], []
        for d, s in enumerate(_suffixes(bidirectional)):
            row = k * dirs + d
            h_init = zeros if h0 is None else h0[row]
            c_init = None if c0 is None else c0[row]
            seq = layer_in if d == 0 else _flip(layer_in)
            h, h_T, c_T, cache = _run_direction(mode, seq, params, f"_l{k}{s}", h_init, c_init)
            outs.append(h if d == 0 else _flip(h))
            h_n[row] = h_T
            if c_n is not None:
                c_n[row] = c_T
            layer_caches.append(cache)
        caches.append(layer_caches)
        layer_in = outs[0] if dirs == 1 else np.concatenate(outs, axis=2)
    final = (h_n, c_n) if mode == "lstm" else h_n
    out = layer_in.copy() if dirs == 1 else layer_in  # never hand out an array a cache still holds
    return out, final, StackedCache(mode, num_layers, bool(bidirectional), H, D, caches)


def stacked_backward(
    dout: np.ndarray, cache: StackedCache, dfinal: State | None = None
) -> tuple[np.ndarray, dict[str, np.ndarray], State]:
    """Backward pass of :func:`stacked_forward`.

    Parameters
    ----------
    dout : ndarray, shape (N, T, dirs * H)
        Upstream gradient on ``out``.
    cache : StackedCache
    dfinal : ndarray (L*dirs, N, H), or a pair ``(dh_n, dc_n)`` for the LSTM, optional
        Upstream gradient on the final states (either member of the pair may be None).

    Returns
    -------
    dx : ndarray, shape (N, T, D)
    grads : dict of str to ndarray
        Same keys and shapes as ``params``.
    dhx : ndarray (L*dirs, N, H), or ``(dh_0, dc_0)`` for the LSTM
        Gradient on the initial states (zeros-initialised ones included).
    """
    if not isinstance(cache, StackedCache):
        raise TypeError(f"cache must be the StackedCache returned by stacked_forward, got {type(cache).__name__}")
    mode, L, bidirectional, H, D, caches = cache
    dirs = 2 if bidirectional else 1
    LD = L * dirs
    check_array("dout", dout)
    first = caches[-1][0]
    N, T = first.h.shape[0], first.h.shape[1]
    out_shape = np.broadcast_to(np.empty((), np.uint8), (N, T, dirs * H))  # a stand-in for out, no memory
    check_shapes(out=(out_shape, "N T DH"), dout=(dout, "N T DH"))
    dh_n = dc_n = None
    if dfinal is not None:
        if mode == "lstm":
            if not (isinstance(dfinal, tuple) and len(dfinal) == 2):
                raise TypeError("dfinal for the LSTM must be a pair (dh_n, dc_n); either may be None")
            dh_n, dc_n = dfinal
        else:
            dh_n = dfinal
        for name, arr in (("dh_n", dh_n), ("dc_n", dc_n)):
            if arr is not None:
                check_array(name, arr)
                if arr.shape != (LD, N, H):
                    raise ValueError(
                        f"{name} must have shape (num_layers*dirs, N, H) = ({LD}, {N}, {H}), got {arr.shape}"
                    )
    dt = np.result_type(dout, *(a for a in (dh_n, dc_n) if a is not None))

    grads: dict[str, np.ndarray] = {}
    dh0 = np.empty((LD, N, H), dtype=dt)
    dc0 = np.empty((LD, N, H), dtype=dt) if mode == "lstm" else None
    d_above = dout
    for k in range(L - 1, -1, -1):
        d_below = None
        for d, s in enumerate(_suffixes(bidirectional)):
            row, tag = k * dirs + d, f"_l{k}{s}"
            dh = d_above[..., d * H : (d + 1) * H]
            dh = np.array(dh if d == 0 else _flip(dh), dtype=dt)  # processing order, a fresh copy
            if dh_n is not None:
                dh[:, -1] += dh_n[row]  # the final state is the last step in processing order
            c = caches[k][d]
            if mode == "lstm":
                dc_T = None if dc_n is None else dc_n[row]
                dx, dh0[row], dc0[row], dWx, dWh, db = lstm_backward_with_cell(dh, c, dc_T)
                grads.update({f"Wx{tag}": dWx, f"Wh{tag}": dWh, f"b{tag}": db})
            elif mode == "gru":
                dx, dh0[row], dWx, dWh, dbx, dbh = gru_backward(dh, c)
                grads.update({f"Wx{tag}": dWx, f"Wh{tag}": dWh, f"bx{tag}": dbx, f"bh{tag}": dbh})
            else:
                dx, dh0[row], dWx, dWh, db = rnn_backward(dh, c)
                grads.update({f"Wx{tag}": dWx, f"Wh{tag}": dWh, f"b{tag}": db})
            dx = dx if d == 0 else _flip(dx)
            d_below = dx if d_below is None else d_below + dx  # both directions read the same input
        d_above = d_below
    ordered = {key: grads[key] for key in param_keys(mode, L, bidirectional)}
    return np.ascontiguousarray(d_above), ordered, ((dh0, dc0) if mode == "lstm" else dh0)
