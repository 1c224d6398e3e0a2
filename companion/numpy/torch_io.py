"""Move weights between ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` and the NumPy layers.

torch stores, for layer ``k`` and direction suffix ``""`` or ``"_reverse"``::

    weight_ih_l{k}{suffix}  (G*H, D_k)     G = 1 (RNN), 4 (LSTM, gates i, f, g, o), 3 (GRU, r, z, n)
    weight_hh_l{k}{suffix}  (G*H, H)       D_0 = input size, D_k = H * num_directions for k > 0
    bias_ih_l{k}{suffix}    (G*H,)
    bias_hh_l{k}{suffix}    (G*H,)

and computes ``x W_ih^T + b_ih + h W_hh^T + b_hh``.  The NumPy layers use row
vectors, so ``Wx = weight_ih.T`` and ``Wh = weight_hh.T``.  The parameter dict
uses the same layer/direction naming::

    Wx_l{k}{suffix}, Wh_l{k}{suffix}, b_l{k}{suffix}             (RNN, LSTM)
    Wx_l{k}{suffix}, Wh_l{k}{suffix}, bx_l{k}{suffix}, bh_l{k}{suffix}  (GRU)

Biases: for the RNN and the LSTM the two biases are only ever added, so the
NumPy layers keep one, ``b = bias_ih + bias_hh``.  Going back, the sum is
exported as ``bias_ih = b`` and ``bias_hh = 0``: the module computes exactly
the same outputs, but the two tensors are not the ones that were imported
(only their sum is).  The GRU keeps both (``bx = bias_ih``, ``bh = bias_hh``),
because its reset gate multiplies ``h W_hn + b_hn`` including that bias.

Modules built with ``bias=False`` need ``bias=False`` here too (the NumPy biases
are then zeros).  Not supported: ``proj_size`` (LSTM projections, ``weight_hr``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping

import numpy as np

from companion._checks import check_array, check_shapes

__all__ = [
    "GATES",
    "recurrent_parameter_count",
    "param_keys",
    "torch_keys",
    "params_from_state_dict",
    "params_to_state_dict",
]

#: Number of stacked gate blocks per mode (torch's mode names, lower case).
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _check_config(mode: str, num_layers: int, bidirectional: bool) -> str:
    if not isinstance(mode, str) or mode.lower() not in GATES:
        raise ValueError(f"mode must be one of {sorted(GATES)}, got {mode!r}")
    if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
    if not isinstance(bidirectional, (bool, np.bool_)):
        raise TypeError(f"bidirectional must be a bool, got {type(bidirectional).__name__}")
    return mode.lower()


def recurrent_parameter_count(
    mode: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    biases: int = 2,
) -> int:
    """Number of trainable numbers in a ``torch.nn.RNN`` / ``GRU`` / ``LSTM`` layer stack.

    Each of the ``G`` gate blocks (1 RNN, 3 GRU, 4 LSTM) has an input weight
    ``(H, D_k)``, a recurrent weight ``(H, H)`` and ``biases`` bias vectors of size
    ``H``, so one layer and direction holds ``G (H (D_k + H) + biases H)`` numbers,
    with ``D_0 = input_size`` and ``D_k = num_directions * H`` above the first layer.

    Parameters
    ----------
    mode : {"rnn_tanh", "rnn_relu", "lstm", "gru"}
    input_size, hidden_size : int
        ``D`` and ``H`` (>= 1).
    num_layers : int
    bidirectional : bool
    biases : {0, 1, 2}
        Bias vectors per gate block: 2 in PyTorch (``bias_ih`` and ``bias_hh``), 1 in
        Keras with ``reset_after=False`` and in this course's NumPy RNN/LSTM, 0 for
        ``bias=False``.

    Returns
    -------
    int
        Equal to ``sum(p.numel() for p in module.parameters())`` for the torch module
        when ``biases=2``.
    """
    mode = _check_config(mode, num_layers, bidirectional)
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if isinstance(biases, bool) or biases not in (0, 1, 2):
        raise ValueError(f"biases must be 0, 1 or 2, got {biases!r}")
    G, H, dirs = GATES[mode], int(hidden_size), 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        D_k = int(input_size) if layer == 0 else dirs * H
        total += dirs * G * (H * (D_k + H) + biases * H)
    return total


def _suffixes(bidirectional: bool) -> tuple[str, ...]:
    return ("", "_reverse") if bidirectional else ("",)


def param_keys(mode: str, num_layers: int = 1, bidirectional: bool = False, bias: bool = True) -> list[str]:
    """Names of the NumPy parameters, in torch's order (layer, then direction)."""
    mode = _check_config(mode, num_layers, bidirectional)
    names = ["Wx", "Wh"] + ((["bx", "bh"] if mode == "gru" else ["b"]) if bias else [])
    return [f"{n}_l{k}{s}" for k in range(num_layers) for s in _suffixes(bidirectional) for n in names]


def torch_keys(mode: str, num_layers: int = 1, bidirectional: bool = False, bias: bool = True) -> list[str]:
    """Names of the ``state_dict`` entries of the matching torch module, in its order."""
    mode = _check_config(mode, num_layers, bidirectional)
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
    return [f"{n}_l{k}{s}" for k in range(num_layers) for s in _suffixes(bidirectional) for n in names]


def _to_numpy(key: str, value: Any) -> np.ndarray:
    """A float ndarray copy of a tensor or array (gradients detached, moved to the CPU)."""
    if isinstance(value, np.ndarray):
        arr = value.copy()
    elif hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor, without importing torch
        arr = value.detach().cpu().numpy().copy()
    else:
        raise TypeError(f"state_dict[{key!r}] must be a torch.Tensor or numpy.ndarray, got {type(value).__name__}")
    return check_array(f"state_dict[{key!r}]", arr)


def _layer_shapes(mode: str, num_layers: int, bidirectional: bool, bias: bool, names: dict[str, str]) -> dict:
    """Symbolic shapes for check_shapes; ``names`` maps weight_ih/weight_hh/bias_ih/bias_hh/... to key prefixes."""
    G, dirs = GATES[mode], len(_suffixes(bidirectional))
    specs = {}
    for k in range(num_layers):
        for s in _suffixes(bidirectional):
            d_in = "D" if k == 0 else f"{dirs}H"
            for role, spec in names.items():
                if role in ("bias_ih", "bias_hh") and not bias:
                    continue
                specs[f"{spec}_l{k}{s}"] = {
                    "weight_ih": f"{G}H {d_in}",
                    "weight_hh": f"{G}H H",
                    "bias_ih": f"{G}H",
                    "bias_hh": f"{G}H",
                    "Wx": f"{d_in} {G}H",
                    "Wh": f"H {G}H",
                    "b": f"{G}H",
                    "bx": f"{G}H",
                    "bh": f"{G}H",
                }[role]
    return specs


def params_from_state_dict(
    state_dict: Mapping[str, Any],
    mode: str,
    num_layers: int = 1,
    bidirectional: bool = False,
    bias: bool = True,
) -> dict[str, np.ndarray]:
    """Convert a ``torch.nn.RNN/LSTM/GRU`` ``state_dict`` into NumPy parameters.

    Parameters
    ----------
    state_dict : mapping of str to torch.Tensor or ndarray
        E.g. ``module.state_dict()``; must hold exactly the entries of a module with
        this configuration (:func:`torch_keys`).
    mode : {"rnn_tanh", "rnn_relu", "lstm", "gru"}
        Which module the entries come from (sets the gate count G).
    num_layers : int
        Stacked layers.
    bidirectional : bool
        Whether ``..._reverse`` entries are present.
    bias : bool
        False for modules built with ``bias=False`` (the biases are then zeros).

    Returns
    -------
    dict of str to ndarray
        ``Wx_l{k}[_reverse]`` (D_k, G H) ``= weight_ih.T``, ``Wh_l{k}[_reverse]``
        (H, G H) ``= weight_hh.T`` and, for the RNN and LSTM, ``b_l{k}[_reverse] =
        bias_ih + bias_hh``; for the GRU ``bx = bias_ih`` and ``bh = bias_hh``.
        Copies, in the tensors' dtype.

    Raises
    ------
    KeyError
        An entry this configuration needs is missing.
    ValueError
        An entry this configuration does not have (e.g. ``weight_ih_l2`` with
        ``num_layers=2``, or ``weight_hr_l0`` from ``proj_size``), or a shape that
        does not fit (the message names the entry, the axis and both sizes).
    TypeError
        An entry that is neither a tensor nor an array, or not floating point.
    """
    mode = _check_config(mode, num_layers, bidirectional)
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping (e.g. module.state_dict()), got {type(state_dict).__name__}")
    expected = torch_keys(mode, num_layers, bidirectional, bias)
    config = f"mode={mode!r}, num_layers={num_layers}, bidirectional={bool(bidirectional)}, bias={bias}"
    missing = [k for k in expected if k not in state_dict]
    if missing:
        raise KeyError(f"state_dict has no entry {missing[0]!r}, needed for {config}; it has {sorted(state_dict)}")
    extra = sorted(set(state_dict) - set(expected))
    if extra:
        hint = " (proj_size is not supported)" if any(k.startswith("weight_hr") for k in extra) else ""
        raise ValueError(f"state_dict has entries {extra} that a module with {config} does not have{hint}")
    arrays = {k: _to_numpy(k, state_dict[k]) for k in expected}
    roles = {"weight_hh": "weight_hh", "weight_ih": "weight_ih", "bias_ih": "bias_ih", "bias_hh": "bias_hh"}
    specs = _layer_shapes(mode, num_layers, bidirectional, bias, roles)
    check_shapes(**{k: (arrays[k], spec) for k, spec in specs.items()})

    params: dict[str, np.ndarray] = {}
    for k in range(num_layers):
        for s in _suffixes(bidirectional):
            tag = f"_l{k}{s}"
            params[f"Wx{tag}"] = np.ascontiguousarray(arrays[f"weight_ih{tag}"].T)
            params[f"Wh{tag}"] = np.ascontiguousarray(arrays[f"weight_hh{tag}"].T)
            if not bias:
                zeros = np.zeros(params[f"Wh{tag}"].shape[1], dtype=params[f"Wh{tag}"].dtype)
                b_ih, b_hh = zeros, zeros.copy()
            else:
                b_ih, b_hh = arrays[f"bias_ih{tag}"], arrays[f"bias_hh{tag}"]
            if mode == "gru":
                params[f"bx{tag}"], params[f"bh{tag}"] = b_ih, b_hh
            else:
                params[f"b{tag}"] = b_ih + b_hh  # only their sum ever enters the computation
    return params


def params_to_state_dict(
    params: Mapping[str, np.ndarray],
    mode: str,
    num_layers: int = 1,
    bidirectional: bool = False,
    bias: bool = True,
) -> "OrderedDict[str, Any]":
    """Convert NumPy parameters into a ``state_dict`` that ``torch.nn.RNN/LSTM/GRU`` can load.

    Parameters
    ----------
    params : mapping of str to ndarray
        As returned by :func:`params_from_state_dict` (keys :func:`param_keys`).
    mode, num_layers, bidirectional, bias
        The configuration of the target module (``bias=False``: no bias entries are
        written and the biases must be zero).

    Returns
    -------
    OrderedDict of str to torch.Tensor
        In torch's order; load with ``module.load_state_dict(...)``.  For the RNN and
        LSTM the single bias is exported as ``bias_ih = b`` and ``bias_hh = 0`` (the
        outputs are identical; see the module docstring).

    Raises
    ------
    KeyError, ValueError, TypeError
        Missing, unexpected, misshaped or non-float parameters (as in
        :func:`params_from_state_dict`).
    """
    import torch

    mode = _check_config(mode, num_layers, bidirectional)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of names to arrays, got {type(params).__name__}")
    keys = param_keys(mode, num_layers, bidirectional, bias=True)
    config = f"mode={mode!r}, num_layers={num_layers}, bidirectional={bool(bidirectional)}"
    needed = keys if bias else [k for k in keys if k.startswith("W")]
    missing = [k for k in needed if k not in params]
    if missing:
        raise KeyError(f"params has no entry {missing[0]!r}, needed for {config}; it has {sorted(params)}")
    extra = sorted(set(params) - set(keys))
    if extra:
        raise ValueError(f"params has entries {extra} that {config} does not have")
    present = [k for k in keys if k in params]
    for k in present:
        check_array(k, params[k])
    roles = {"Wh": "Wh", "Wx": "Wx", **({"bx": "bx", "bh": "bh"} if mode == "gru" else {"b": "b"})}
    specs = _layer_shapes(mode, num_layers, bidirectional, True, roles)
    check_shapes(**{k: (params[k], spec) for k, spec in specs.items() if k in params})
    if not bias:
        nonzero = [k for k in present if k[0] == "b" and np.any(params[k] != 0)]
        if nonzero:
            raise ValueError(f"bias=False but {nonzero[0]} is not zero; a module without biases cannot hold it")

    def tensor(a: np.ndarray) -> "torch.Tensor":
        return torch.from_numpy(np.ascontiguousarray(a).copy())

    out: OrderedDict[str, Any] = OrderedDict()
    for k in range(num_layers):
        for s in _suffixes(bidirectional):
            tag = f"_l{k}{s}"
            out[f"weight_ih{tag}"] = tensor(params[f"Wx{tag}"].T)
            out[f"weight_hh{tag}"] = tensor(params[f"Wh{tag}"].T)
            if not bias:
                continue
            if mode == "gru":
                out[f"bias_ih{tag}"], out[f"bias_hh{tag}"] = tensor(params[f"bx{tag}"]), tensor(params[f"bh{tag}"])
            else:
                out[f"bias_ih{tag}"] = tensor(params[f"b{tag}"])
                out[f"bias_hh{tag}"] = tensor(np.zeros_like(params[f"b{tag}"]))
    return out
