"""companion.torch.recurrent: RNN/LSTM/GRU agree with torch.nn's layers, outputs and gradients."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from companion.torch import GRU, LSTM, RNN

torch.set_num_threads(1)

KINDS = {"rnn": (RNN, nn.RNN), "lstm": (LSTM, nn.LSTM), "gru": (GRU, nn.GRU)}
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
D, H, T, N = 3, 4, 5, 2


def _pair(kind: str, dtype: torch.dtype = torch.float64, **kw) -> tuple[nn.Module, nn.Module]:
    ours_cls, ref_cls = KINDS[kind]
    torch.manual_seed(0)
    ref = ref_cls(D, H, **kw).to(dtype)
    ours = ours_cls(D, H, **kw).to(dtype)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def _initial_state(kind: str, layers: int, directions: int, dtype: torch.dtype, g: torch.Generator):  # noqa: ANN202
    shape = (layers * directions, N, H)
    if kind == "lstm":
        return tuple(torch.randn(shape, generator=g, dtype=dtype).requires_grad_(True) for _ in range(2))
    return torch.randn(shape, generator=g, dtype=dtype).requires_grad_(True)


def _leaves(state):  # noqa: ANN001, ANN202
    return [] if state is None else list(state) if isinstance(state, tuple) else [state]


def _forward_backward(module: nn.Module, x: torch.Tensor, state, g_out: torch.Tensor, g_h: torch.Tensor):  # noqa: ANN
    """Forward, a scalar loss touching output and final state, backward; return (outputs, gradients)."""
    x = x.detach().clone().requires_grad_(True)
    state = None if state is None else (
        tuple(s.detach().clone().requires_grad_(True) for s in state)
        if isinstance(state, tuple)
        else state.detach().clone().requires_grad_(True)
    )
    out, h_n = module(x, state)
    finals = list(h_n) if isinstance(h_n, tuple) else [h_n]
    loss = (out * g_out).sum() + sum((f * g_h).sum() for f in finals)
    loss.backward()
    grads = [x.grad] + [s.grad for s in _leaves(state)] + [p.grad for p in module.parameters()]
    return [out] + finals, grads


def max_errors(
    kind: str, dtype: torch.dtype, layers: int, bidirectional: bool, batch_first: bool, with_state: bool
) -> tuple[float, float]:
    """Largest absolute difference of outputs and of gradients between ours and torch.nn."""
    ours, ref = _pair(kind, dtype, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    g = torch.Generator().manual_seed(7)
    dirs = 2 if bidirectional else 1
    x = torch.randn((N, T, D) if batch_first else (T, N, D), generator=g, dtype=dtype)
    state = _initial_state(kind, layers, dirs, dtype, g) if with_state else None
    g_out = torch.randn((N, T, dirs * H) if batch_first else (T, N, dirs * H), generator=g, dtype=dtype)
    g_h = torch.randn(layers * dirs, N, H, generator=g, dtype=dtype)
    out_o, grad_o = _forward_backward(ours, x, state, g_out, g_h)
    out_r, grad_r = _forward_backward(ref, x, state, g_out, g_h)
    assert [o.shape for o in out_o] == [o.shape for o in out_r]
    assert len(grad_o) == len(grad_r)
    e_out = max((a - b).abs().max().item() for a, b in zip(out_o, out_r))
    e_grad = max((a - b).abs().max().item() for a, b in zip(grad_o, grad_r))
    return e_out, e_grad


CASES = list(itertools.product(KINDS, [1, 2], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("kind,layers,bidirectional,batch_first,with_state", CASES)
def test_float64_outputs_and_gradients_match_torch(
    kind: str, layers: int, bidirectional: bool, batch_first: bool, with_state: bool
) -> None:
    e_out, e_grad = max_errors(kind, torch.float64, layers, bidirectional, batch_first, with_state)
    assert e_out <= 1e-10
    assert e_grad <= 1e-10


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_float32_outputs_and_gradients_match_torch(kind: str, layers: int, bidirectional: bool) -> None:
    for batch_first, with_state in [(True, True), (False, False)]:
        e_out, e_grad = max_errors(kind, torch.float32, layers, bidirectional, batch_first, with_state)
        assert e_out <= 1e-5
        assert e_grad <= 1e-5


def test_relu_rnn_and_no_bias_match_torch() -> None:
    for kw in ({"nonlinearity": "relu"}, {"bias": False}):
        ours, ref = _pair("rnn", num_layers=2, **kw)
        x = torch.randn(T, N, D, dtype=torch.float64)
        (o1, h1), (o2, h2) = ours(x), ref(x)
        assert (o1 - o2).abs().max().item() <= 1e-12
        assert (h1 - h2).abs().max().item() <= 1e-12
    assert "bias_ih_l0" not in dict(_pair("lstm", bias=False)[0].named_parameters())


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_sequences_match_torch(kind: str, batch_first: bool) -> None:
    """Variable-length batches: padding neither changes h_n nor the reverse direction."""
    ours, ref = _pair(kind, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = torch.randn((3, T, D) if batch_first else (T, 3, D), dtype=torch.float64)
    lengths = torch.tensor([2, 5, 3])  # unsorted on purpose
    g_h = torch.randn(4, 3, H, dtype=torch.float64)
    results = []
    for module in (ours, ref):
        xi = x.clone().requires_grad_(True)
        packed = pack_padded_sequence(xi, lengths, batch_first=batch_first, enforce_sorted=False)
        out, h_n = module(packed)
        finals = list(h_n) if isinstance(h_n, tuple) else [h_n]
        loss = (out.data**2).sum() + sum((f * g_h).sum() for f in finals)
        loss.backward()
        results.append((out, finals, xi.grad, [p.grad for p in module.parameters()]))
    (o1, f1, gx1, gp1), (o2, f2, gx2, gp2) = results
    assert torch.equal(o1.batch_sizes, o2.batch_sizes)
    assert torch.equal(o1.sorted_indices, o2.sorted_indices)
    assert (o1.data - o2.data).abs().max().item() <= 1e-10
    for a, b in zip(f1 + [gx1] + gp1, f2 + [gx2] + gp2):
        assert (a - b).abs().max().item() <= 1e-10


@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_input_matches_torch(kind: str) -> None:
    ours, ref = _pair(kind, num_layers=2, bidirectional=True)
    x = torch.randn(T, D, dtype=torch.float64)
    (o1, s1), (o2, s2) = ours(x), ref(x)
    assert o1.shape == o2.shape == (T, 2 * H)
    for a, b in zip([o1] + _leaves(s1), [o2] + _leaves(s2)):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= 1e-12


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_dict_loads_both_ways_and_parameter_order_matches(kind: str) -> None:
    ours_cls, ref_cls = KINDS[kind]
    kw = {"num_layers": 2, "bidirectional": True}
    ours, ref = ours_cls(D, H, **kw), ref_cls(D, H, **kw)
    names = [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in ours.named_parameters()] == names
    assert "weight_hh_l1_reverse" in names
    ref.load_state_dict(ours.state_dict())  # ours -> torch
    x = torch.randn(T, N, D)
    assert (ours(x)[0] - ref(x)[0]).abs().max().item() <= 1e-5
    ours2 = ours_cls(D, H, **kw)
    ours2.load_state_dict(ref.state_dict())  # torch -> ours
    assert all(torch.equal(p, q) for p, q in zip(ours2.parameters(), ref.parameters()))


def test_init_distribution_is_uniform_like_torch() -> None:
    torch.manual_seed(0)
    lstm = LSTM(16, 64, num_layers=2)
    bound = 1 / math.sqrt(64)
    values = torch.cat([p.detach().flatten() for p in lstm.parameters()])
    assert values.abs().max().item() <= bound
    assert values.abs().max().item() >= 0.99 * bound
    assert abs(values.var().item() - bound**2 / 3) < 0.03 * bound**2


def test_dropout_acts_between_layers_in_training_only() -> None:
    ours, ref = _pair("gru", num_layers=2, dropout=0.5)
    x = torch.randn(T, N, D, dtype=torch.float64)
    ours.eval(), ref.eval()
    assert (ours(x)[0] - ref(x)[0]).abs().max().item() <= 1e-12  # eval: no dropout
    ours.train()
    torch.manual_seed(3)
    a = ours(x)[0]
    torch.manual_seed(4)
    b = ours(x)[0]
    assert (a - b).abs().max().item() > 1e-3  # different masks, different outputs
    one_layer = GRU(D, H, dropout=0.5).double()  # nothing to drop between layers: deterministic
    assert torch.equal(one_layer(x)[0], one_layer(x)[0])


def test_bad_inputs_raise_clear_errors() -> None:
    lstm = LSTM(D, H, num_layers=2, batch_first=True)
    x = torch.zeros(N, T, D)
    with pytest.raises(ValueError, match=r"input axis 2 should be input_size=3, got 7"):
        lstm(torch.zeros(N, T, 7))
    shape_msg = r"should have shape \(num_layers\*num_directions=2, N=2, H=4\)"
    with pytest.raises(ValueError, match=r"hx\[0\] \(h_0\) " + shape_msg):
        lstm(x, (torch.zeros(1, N, H), torch.zeros(2, N, H)))
    with pytest.raises(ValueError, match=r"hx\[1\] \(c_0\) should have shape"):
        lstm(x, (torch.zeros(2, N, H), torch.zeros(2, N + 1, H)))
    with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
        lstm(x, torch.zeros(2, N, H))
    with pytest.raises(TypeError, match=r"input has dtype torch.float64 but the module's parameters are torch.float32"):
        lstm(x.double())
    with pytest.raises(TypeError, match=r"input must be a floating-point tensor, got dtype torch.int64"):
        lstm(torch.zeros(N, T, D, dtype=torch.long))
    with pytest.raises(ValueError, match=r"input must have 2 or 3 dimensions, got 4"):
        lstm(torch.zeros(1, N, T, D))
    gru = GRU(D, H, bidirectional=True)
    with pytest.raises(ValueError, match=r"hx " + shape_msg + r", got \(1, 2, 4\)"):
        gru(torch.zeros(T, N, D), torch.zeros(1, N, H))
    with pytest.raises(TypeError, match="hx for GRU must be a single tensor"):
        gru(torch.zeros(T, N, D), (torch.zeros(2, N, H),))
    with pytest.raises(TypeError, match="hx has dtype torch.float64"):
        gru(torch.zeros(T, N, D), torch.zeros(2, N, H, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\)"):
        RNN(D, H, dropout=1.0)
    with pytest.raises(ValueError, match="num_layers must be >= 1"):
        RNN(D, H, num_layers=0)
