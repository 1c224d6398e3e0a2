"""Linear recurrences ``h_t = a_t * h_{t-1} + b_t``: a sequential loop, a parallel scan, and the minGRU.

When the coefficients ``a_t`` and ``b_t`` depend on the inputs only (never on
``h_{t-1}``), the recurrence is *linear in the state*.  Each step is then the
affine map ``h -> a_t * h + b_t``, and two such maps compose into a third,

.. math::

    (a_2, b_2) \\circ (a_1, b_1) = (a_2 a_1,\\; a_2 b_1 + b_2),

an associative operation.  Associativity is all a *parallel prefix scan*
(Hillis & Steele, 1986; Blelloch, 1990) needs: every prefix of the sequence of
maps can be combined in ``ceil(log2 T)`` rounds of element-wise work instead of
``T`` dependent steps.  Linear recurrent layers (Martin & Cundy, 2018), structured
state-space models (S4, Mamba) and the minGRU of Feng et al. (2024) are trained
this way.  A tanh RNN, an LSTM or a GRU cannot be: their ``h_{t-1}`` passes
through a nonlinearity (or a gate computed from ``h_{t-1}``).

Contents:

- :func:`linear_recurrence_loop`: the definition, ``T`` sequential steps.
- :func:`linear_recurrence_scan`: a Hillis-Steele scan, ``ceil(log2 T)`` rounds, same result.
- :func:`linear_recurrence_closed_form`: the tempting ``cumprod``/``cumsum`` formula, which
  under/overflows on long sequences (kept to show why the scan composes pairs).
- :func:`scan_rounds`: the number of sequential rounds the scan takes for length ``T``.
- :class:`MinGRU`: ``z_t = σ(W_z x_t)``, ``h~_t = W_h x_t``, ``h_t = (1 - z_t) h_{t-1} + z_t h~_t``.
- :class:`MinGRURegressor`: stacked minGRU layers with residual connections and a linear
  read-out of the last state.

All tensors are batch-first: ``a``, ``b`` are (N, T, H), ``h0`` is (N, H) and the
returned states ``h`` are (N, T, H), ``h[:, t]`` being the state *after* step
``t`` (``h0`` is not included), exactly like ``output`` of ``torch.nn.RNN`` with
``batch_first=True``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from companion.torch._validate import check_count, check_float_tensor, check_size

__all__ = [
    "linear_recurrence_loop",
    "linear_recurrence_scan",
    "linear_recurrence_closed_form",
    "scan_rounds",
    "MinGRU",
    "MinGRURegressor",
]


def _check_recurrence(a: object, b: object, h0: object) -> torch.Tensor:
    """Validate ``a``, ``b`` (N, T, H) and ``h0`` (N, H); return ``h0`` (zeros when None)."""
    a = check_float_tensor("a", a, 3)
    b = check_float_tensor("b", b, 3)
    if b.dtype != a.dtype:
        raise TypeError(f"a and b must have the same dtype, got a {a.dtype} and b {b.dtype}")
    if b.shape != a.shape:
        raise ValueError(f"a and b must have the same shape (N, T, H), got a {tuple(a.shape)} and b {tuple(b.shape)}")
    N, _, H = a.shape
    if h0 is None:
        return a.new_zeros(N, H)
    h0 = check_float_tensor("h0", h0, 2)
    if h0.dtype != a.dtype:
        raise TypeError(f"h0 must have the dtype of a and b ({a.dtype}), got {h0.dtype}")
    check_size("h0", h0, 0, N, "N")
    check_size("h0", h0, 1, H, "H")
    return h0


def scan_rounds(T: int) -> int:
    """Number of sequential rounds of :func:`linear_recurrence_scan` for a sequence of length ``T``.

    Round ``k`` combines each position with the one ``2**k`` steps earlier, so
    ``ceil(log2 T)`` rounds cover every prefix (0 rounds for ``T = 1``).
    """
    T = check_count("T", T)
    return math.ceil(math.log2(T)) if T > 1 else 0


def linear_recurrence_loop(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """All states of ``h_t = a_t * h_{t-1} + b_t``, one step after another.

    Parameters
    ----------
    a : Tensor, shape (N, T, H)
        Element-wise coefficient of the previous state at every step (a decay or a gate).
    b : Tensor, shape (N, T, H)
        Element-wise input at every step.
    h0 : Tensor, shape (N, H), optional
        State before the first step; zeros when omitted.

    Returns
    -------
    h : Tensor, shape (N, T, H)
        ``h[:, t]`` is the state after step ``t``.  Differentiable with autograd.
    """
    h = _check_recurrence(a, b, h0)
    states = []
    for t in range(a.shape[1]):  # T dependent steps: step t needs the result of step t - 1
        h = a[:, t] * h + b[:, t]
        states.append(h)
    return torch.stack(states, dim=1)


def linear_recurrence_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """All states of ``h_t = a_t * h_{t-1} + b_t`` by a Hillis-Steele parallel scan.

    Position ``t`` holds a pair ``(A_t, B_t)``: the affine map from the state before
    some earlier step to ``h_t``.  Initially it is step ``t``'s own map ``(a_t, b_t)``.
    In round ``k`` (``shift = 2**k``) every position composes its map with the map
    held ``shift`` positions earlier,

        ``(A_t, B_t) <- (A_t * A_{t-shift}, A_t * B_{t-shift} + B_t)``,

    and positions ``t < shift`` keep theirs (they already reach back to step 0).
    After ``ceil(log2 T)`` rounds ``(A_t, B_t)`` maps ``h0`` to ``h_t``, so
    ``h_t = A_t * h0 + B_t``.  Each round is a handful of element-wise operations on
    whole (N, T, H) tensors: ``O(log T)`` sequential depth and ``O(T log T)`` work
    (Blelloch's two-sweep scan would need ``O(T)`` work at twice the depth).

    Only products and sums of the inputs appear -- no division -- so, unlike
    :func:`linear_recurrence_closed_form`, nothing overflows when ``prod(a)`` is tiny.
    The operations are out of place, so autograd differentiates through them.

    Parameters
    ----------
    a, b : Tensor, shape (N, T, H)
    h0 : Tensor, shape (N, H), optional
        Zeros when omitted.

    Returns
    -------
    h : Tensor, shape (N, T, H)
        Equal to :func:`linear_recurrence_loop` up to floating-point rounding.
    """
    h0 = _check_recurrence(a, b, h0)
    A, B = a, b
    shift, T = 1, a.shape[1]
    while shift < T:
        # compose with the map ending `shift` steps earlier; the first `shift` positions are complete already
        B = torch.cat([B[:, :shift], A[:, shift:] * B[:, :-shift] + B[:, shift:]], dim=1)
        A = torch.cat([A[:, :shift], A[:, shift:] * A[:, :-shift]], dim=1)
        shift *= 2
    return A * h0.unsqueeze(1) + B


def linear_recurrence_closed_form(
    a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None
) -> torch.Tensor:
    """The textbook closed form ``h_t = P_t * (h0 + sum_{s<=t} b_s / P_s)``, ``P_t = a_1 * ... * a_t``.

    Unrolling the recurrence gives ``h_t = P_t h0 + sum_s (P_t / P_s) b_s``; factoring
    out ``P_t`` turns it into one ``cumprod`` and one ``cumsum``, which looks like the
    simplest parallel algorithm.  It is numerically unsound: with decays ``|a_t| < 1``
    the product ``P_t`` underflows towards 0 after a few hundred steps (in float32
    sooner), ``b_s / P_s`` then overflows, and ``0 * inf`` gives NaN.  It also divides
    by zero whenever some ``a_t = 0``.  It is kept here to demonstrate why parallel
    linear recurrences compose *pairs* (:func:`linear_recurrence_scan`) or work in log
    space (Heinsen, 2023) instead.

    Parameters
    ----------
    a : Tensor, shape (N, T, H), no zero entries
    b : Tensor, shape (N, T, H)
    h0 : Tensor, shape (N, H), optional

    Returns
    -------
    h : Tensor, shape (N, T, H)
        Correct for short, well-conditioned sequences; inaccurate, inf or NaN otherwise.
    """
    h0 = _check_recurrence(a, b, h0)
    P = torch.cumprod(a, dim=1)
    return P * (h0.unsqueeze(1) + torch.cumsum(b / P, dim=1))


class MinGRU(nn.Module):
    """The minimal GRU of Feng et al. (2024): a gated recurrence that is linear in the state.

    .. math::

        z_t = \\sigma(W_z x_t + b_z), \\qquad \\tilde h_t = W_h x_t + b_h, \\qquad
        h_t = (1 - z_t) \\odot h_{t-1} + z_t \\odot \\tilde h_t .

    Compared with the GRU of Chapter 5, the update gate ``z_t`` and the candidate
    ``h~_t`` depend on ``x_t`` only, the reset gate is gone, and there is no tanh on
    the candidate.  So the recurrence is ``h_t = a_t h_{t-1} + b_t`` with
    ``a_t = 1 - z_t`` and ``b_t = z_t h~_t``, and training can use the parallel scan
    over the whole sequence; generation still runs one step at a time with a state
    of fixed size (:meth:`step`).  Nonlinearity across time comes from stacking
    layers (:class:`MinGRURegressor`).

    Parameters
    ----------
    input_size : int
        D.
    hidden_size : int
        H.
    bias : bool

    Shapes
    ------
    ``forward(x (N, T, D), h0 (N, H) or None, parallel=True) -> (h (N, T, H), h_last (N, H))``;
    ``step(x_t (N, D), h_prev (N, H)) -> h_t (N, H)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = check_count("input_size", input_size)
        self.hidden_size = check_count("hidden_size", hidden_size)
        # one matrix for both linear maps, split as [z | h~] like the stacked gates of torch.nn.GRU
        self.linear = nn.Linear(input_size, 2 * hidden_size, bias=bias)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.linear.bias is not None}"

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b) = (1 - z, z * h~)`` for every step at once; x (..., D) -> a, b (..., H)."""
        z_pre, h_tilde = self.linear(x).chunk(2, dim=-1)
        z = torch.sigmoid(z_pre)
        return 1.0 - z, z * h_tilde

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None, *, parallel: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run a whole sequence; ``parallel`` chooses the scan (default) or the sequential loop.

        Parameters
        ----------
        x : Tensor, shape (N, T, D)
        h0 : Tensor, shape (N, H), optional
            Zeros when omitted.
        parallel : bool
            :func:`linear_recurrence_scan` if True, :func:`linear_recurrence_loop` if False
            (same values up to rounding).

        Returns
        -------
        h : Tensor, shape (N, T, H)
            State after every step.
        h_last : Tensor, shape (N, H)
            ``h[:, -1]``, to continue the sequence later.
        """
        check_float_tensor("x", x, 3, self.linear.weight.dtype)
        check_size("x", x, -1, self.input_size, "input_size")
        a, b = self.coefficients(x)
        h = (linear_recurrence_scan if parallel else linear_recurrence_loop)(a, b, h0)
        return h, h[:, -1]

    def step(self, x_t: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        """One step of the recurrence, for generation or streaming: x_t (N, D), h_prev (N, H) -> h_t (N, H)."""
        check_float_tensor("x_t", x_t, 2, self.linear.weight.dtype)
        check_size("x_t", x_t, -1, self.input_size, "input_size")
        check_float_tensor("h_prev", h_prev, 2, self.linear.weight.dtype)
        check_size("h_prev", h_prev, 0, x_t.shape[0], "N")
        check_size("h_prev", h_prev, 1, self.hidden_size, "hidden_size")
        a, b = self.coefficients(x_t)
        return a * h_prev + b


class MinGRURegressor(nn.Module):
    """Stacked minGRU layers with residual connections; a linear read-out of the last state.

    ``u = W_in x``; then for each layer ``u <- u + MinGRU(LayerNorm(u))`` (a pre-norm
    residual block, as in Feng et al., 2024); ``y = W_out LayerNorm(u_T)``.  Between
    layers, the LayerNorm and the next layer's sigmoid gate make the stack nonlinear in
    the past inputs even though each layer's recurrence is linear in its state.

    Parameters
    ----------
    input_size : int
        D.
    hidden_size : int
        H, width of every layer.
    output_size : int
        Number of regression targets O.
    num_layers : int

    Shapes
    ------
    ``forward(x (N, T, D), parallel=True) -> (N, O)``;
    ``step(x_t (N, D), states) -> (y_t (N, O), states)`` with ``states`` a list of one (N, H)
    tensor per layer (``None`` to start from zeros).
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int = 1, num_layers: int = 2) -> None:
        super().__init__()
        check_count("output_size", output_size)
        check_count("num_layers", num_layers)
        self.input_size = check_count("input_size", input_size)
        self.embed = nn.Linear(input_size, check_count("hidden_size", hidden_size))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_size) for _ in range(num_layers))
        self.layers = nn.ModuleList(MinGRU(hidden_size, hidden_size) for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(hidden_size)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor, *, parallel: bool = True) -> torch.Tensor:
        check_float_tensor("x", x, 3, self.embed.weight.dtype)
        check_size("x", x, -1, self.input_size, "input_size")
        u = self.embed(x)
        for norm, layer in zip(self.norms, self.layers):
            u = u + layer(norm(u), parallel=parallel)[0]
        return self.head(self.final_norm(u[:, -1]))

    def step(
        self, x_t: torch.Tensor, states: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Advance every layer by one time step: the recurrent (streaming) mode of inference.

        Training uses the parallel scan over whole sequences; at inference time the same
        weights run one step at a time, carrying only one (N, H) state per layer, so the
        memory does not grow with the length of the stream.  After feeding ``x[:, 0]``
        ... ``x[:, T-1]``, ``y_t`` equals ``forward(x)`` up to rounding.

        Parameters
        ----------
        x_t : Tensor, shape (N, D)
        states : list of Tensor (N, H), one per layer, optional
            Zeros when None.

        Returns
        -------
        y_t : Tensor, shape (N, O)
            The read-out after this step.
        states : list of Tensor (N, H)
            The new states, to pass to the next call.
        """
        check_float_tensor("x_t", x_t, 2, self.embed.weight.dtype)
        check_size("x_t", x_t, -1, self.input_size, "input_size")
        if states is None:
            states = [x_t.new_zeros(x_t.shape[0], layer.hidden_size) for layer in self.layers]
        if len(states) != len(self.layers):
            raise ValueError(f"states must hold one tensor per layer ({len(self.layers)}), got {len(states)}")
        u = self.embed(x_t)
        new_states = []
        for norm, layer, h_prev in zip(self.norms, self.layers, states):
            h = layer.step(norm(u), h_prev)
            new_states.append(h)
            u = u + h
        return self.head(self.final_norm(u)), new_states
