"""companion.torch.cells: same outputs, gradients, parameters and init as torch.nn's cells."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from companion.torch import GRUCell, LSTMCell, RNNCell

torch.set_num_threads(1)

PAIRS = {
    "rnn_tanh": (lambda **kw: RNNCell(3, 5, **kw), lambda **kw: nn.RNNCell(3, 5, **kw)),
    "rnn_relu": (
        lambda **kw: RNNCell(3, 5, nonlinearity="relu", **kw),
        lambda **kw: nn.RNNCell(3, 5, nonlinearity="relu", **kw),
    ),
    "lstm": (lambda **kw: LSTMCell(3, 5, **kw), lambda **kw: nn.LSTMCell(3, 5, **kw)),
    "gru": (lambda **kw: GRUCell(3, 5, **kw), lambda **kw: nn.GRUCell(3, 5, **kw)),
}
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def _pair(kind: str, dtype: torch.dtype, bias: bool = True) -> tuple[nn.Module, nn.Module]:
    make_ours, make_ref = PAIRS[kind]
    torch.manual_seed(0)
    ref = make_ref(bias=bias).to(dtype)
    ours = make_ours(bias=bias).to(dtype)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def _run(cell: nn.Module, x: torch.Tensor, state, weights: torch.Tensor):  # noqa: ANN001, ANN202
    """Forward, a scalar loss mixing every output, backward; return outputs and all gradients."""
    x = x.clone().requires_grad_(True)
    state = None if state is None else tuple(s.clone().requires_grad_(True) for s in state)
    if isinstance(cell, (LSTMCell, nn.LSTMCell)):
        h, c = cell(x, state)
        outs = (h, c)
        loss = (h * weights).sum() + (c * weights.flip(-1)).sum()
    else:
        h = cell(x, None if state is None else state[0])
        outs = (h,)
        loss = (h * weights).sum()
    loss.backward()
    grads = [x.grad] + ([] if state is None else [s.grad for s in state])
    grads += [p.grad for p in cell.parameters()]
    return outs, grads


@pytest.mark.parametrize("kind", list(PAIRS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch_outputs_and_gradients(kind: str, dtype: torch.dtype, with_state: bool, bias: bool) -> None:
    ours, ref = _pair(kind, dtype, bias)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, generator=g, dtype=dtype)
    n_states = 2 if kind == "lstm" else 1
    state = tuple(torch.randn(4, 5, generator=g, dtype=dtype) for _ in range(n_states)) if with_state else None
    weights = torch.randn(4, 5, generator=g, dtype=dtype)
    out_o, grad_o = _run(ours, x, state, weights)
    out_r, grad_r = _run(ref, x, state, weights)
    for a, b in zip(out_o, out_r):
        assert a.dtype == dtype
        assert (a - b).abs().max().item() <= TOL[dtype]
    assert len(grad_o) == len(grad_r)
    for a, b in zip(grad_o, grad_r):
        assert (a - b).abs().max().item() <= TOL[dtype]


@pytest.mark.parametrize("kind", list(PAIRS))
def test_unbatched_input_matches_torch(kind: str) -> None:
    ours, ref = _pair(kind, torch.float64)
    x = torch.randn(3, dtype=torch.float64)
    a, b = ours(x), ref(x)
    a, b = (a, b) if kind == "lstm" else ((a,), (b,))
    for u, v in zip(a, b):
        assert u.shape == v.shape == (5,)
        assert (u - v).abs().max().item() <= 1e-12


@pytest.mark.parametrize("kind", list(PAIRS))
def test_state_dict_loads_both_ways(kind: str) -> None:
    make_ours, make_ref = PAIRS[kind]
    ours, ref = make_ours(), make_ref()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    ref.load_state_dict(ours.state_dict())  # ours -> torch
    x = torch.randn(2, 3)
    out_o, out_r = ours(x), ref(x)
    a, b = (out_o[0], out_r[0]) if kind == "lstm" else (out_o, out_r)
    assert (a - b).abs().max().item() <= 1e-6  # float32, summation order may differ
    ours2 = make_ours()
    ours2.load_state_dict(ref.state_dict())  # torch -> ours
    assert all(torch.equal(p, q) for p, q in zip(ours2.parameters(), ref.parameters()))


@pytest.mark.parametrize("cls,gates", [(RNNCell, 1), (LSTMCell, 4), (GRUCell, 3)])
def test_init_is_uniform_in_plus_minus_one_over_sqrt_h(cls: type, gates: int) -> None:
    torch.manual_seed(0)
    H = 64
    cell = cls(32, H)
    bound = 1 / math.sqrt(H)
    values = torch.cat([p.detach().flatten() for p in cell.parameters()])
    assert values.numel() == gates * H * (32 + H + 2)
    assert values.abs().max().item() <= bound
    assert values.abs().max().item() >= 0.99 * bound  # the whole interval is used
    assert abs(values.mean().item()) < 0.05 * bound
    assert abs(values.var().item() - bound**2 / 3) < 0.05 * bound**2  # variance of U(-b, b) is b^2 / 3


def test_bad_inputs_raise_clear_errors() -> None:
    cell = LSTMCell(3, 5)
    with pytest.raises(ValueError, match=r"input axis 1 should be input_size=3, got 4"):
        cell(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"hx\[0\] \(h\) should have shape \(N=2, H=5\)"):
        cell(torch.zeros(2, 3), (torch.zeros(2, 6), torch.zeros(2, 5)))
    with pytest.raises(TypeError, match=r"input has dtype torch.float64 but the module's parameters are torch.float32"):
        cell(torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"input must be a floating-point tensor, got dtype torch.int64"):
        cell(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        cell(torch.zeros(2, 3), torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"input must have 1 or 2 dimensions, got 3"):
        GRUCell(3, 5)(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=r"hx should have shape \(N=2, H=5\)"):
        RNNCell(3, 5)(torch.zeros(2, 3), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="nonlinearity must be one of 'tanh', 'relu'"):
        RNNCell(3, 5, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be >= 1"):
        GRUCell(3, 0)
