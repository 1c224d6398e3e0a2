"""How gradients travel backwards through time: the computations behind chapter 3's figures.

Backpropagation through time multiplies the gradient by one Jacobian per step,

.. math::

    \\frac{\\partial L}{\\partial h_{t-1}} = U^\\top\\left(\\frac{\\partial L}{\\partial h_t} \\odot f'(a_t)\\right),

so after ``k`` steps it has been multiplied by ``k`` matrices.  The functions here
measure what that does (:func:`hidden_gradient_norms`), build recurrent matrices
with a chosen spectral radius (:func:`scaled_orthogonal`) and evaluate the loss
surface of the one-unit network of Pascanu, Mikolov & Bengio (2013), whose
"cliff" is the picture of an exploding gradient (:func:`single_unit_rnn_loss`).

Two helpers set up a training run in which gradients *do* explode: the latch
task (:func:`latch_task`), whose solution needs two attractors, and the loss
and gradients of a tanh RNN with a linear read-out (:func:`rnn_regressor_loss`).

Row-vector convention as everywhere in :mod:`companion.numpy`: ``Wh`` is the
book's ``U`` transposed, so ``a_t = x_t Wx + h_{t-1} Wh + b``.
"""

from __future__ import annotations

import numpy as np

from companion._checks import check_array, check_positive, check_shapes
from companion.numpy.activations import ACTIVATIONS
from companion.numpy.layers import temporal_affine_backward, temporal_affine_forward
from companion.numpy.losses import mse_loss
from companion.numpy.rnn import rnn_backward, rnn_forward
from companion.numpy.stacked import stacked_backward, stacked_forward

__all__ = [
    "scaled_orthogonal",
    "spectral_radius",
    "hidden_gradient_norms",
    "input_gradient_norms",
    "single_unit_rnn_loss",
    "latch_task",
    "rnn_regressor_loss",
]


def scaled_orthogonal(size: int, spectral_radius: float, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix multiplied by ``spectral_radius``.

    Every eigenvalue of an orthogonal matrix lies on the unit circle and every
    singular value is 1, so after scaling *all* eigenvalues have modulus
    ``spectral_radius`` and the matrix stretches every vector by exactly that
    factor.  This makes it the clean experiment for "what does the size of ``U``
    do to the gradient": no direction is special.

    Parameters
    ----------
    size : int
        Hidden size ``H``.
    spectral_radius : float
        Desired modulus of the eigenvalues (> 0).
    rng : numpy.random.Generator
        Source of the random rotation.

    Returns
    -------
    ndarray, shape (H, H)
        ``spectral_radius * Q`` with ``Q`` drawn uniformly (Haar measure) from the
        orthogonal group: QR of a Gaussian matrix with the signs of ``R``'s
        diagonal folded into ``Q`` (without that correction ``Q`` is not uniform).
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    rho = check_positive("spectral_radius", spectral_radius)
    q, r = np.linalg.qr(rng.standard_normal((size, size)))
    q = q * np.sign(np.diag(r))  # flip columns so the distribution is uniform over rotations
    return rho * q


def spectral_radius(matrix: np.ndarray) -> float:
    """Largest modulus of the eigenvalues of a square matrix, ``max |lambda_i|``.

    Parameters
    ----------
    matrix : ndarray, shape (H, H)

    Returns
    -------
    float
    """
    check_array("matrix", matrix)
    check_shapes(matrix=(matrix, "H H"))
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


def hidden_gradient_norms(
    Wh: np.ndarray,
    drive: np.ndarray,
    *,
    nonlinearity: str = "tanh",
    h0: np.ndarray | None = None,
    upstream: np.ndarray | None = None,
) -> np.ndarray:
    """Norm of ``dL/dh_t`` for a loss that reads only the last hidden state, by distance from it.

    The network is ``h_t = f(drive_t + h_{t-1} Wh)`` where ``drive_t = x_t Wx + b``
    is the input's contribution, computed by the caller.  The loss is
    ``L = sum(upstream * h_T)``, so ``dL/dh_T = upstream`` and every earlier
    gradient is that vector carried back through the per-step Jacobians.  Because
    nothing else feeds the loss, ``norms[k]`` isolates what ``k`` backward steps
    do to a signal: this is the quantity behind "vanishing" and "exploding".

    Parameters
    ----------
    Wh : ndarray, shape (H, H)
        Hidden-to-hidden weights (the book's ``U`` transposed).
    drive : ndarray, shape (N, T, H)
        Input contribution ``x_t Wx + b`` at every step.
    nonlinearity : {"tanh", "relu", "sigmoid", "linear"}
        ``f``.  ``"linear"`` (``f(a) = a``) shows the effect of ``Wh`` alone.
    h0 : ndarray, shape (N, H), optional
        Initial state; zeros by default.
    upstream : ndarray, shape (N, H), optional
        ``dL/dh_T``; by default every row is the unit vector ``(1, ..., 1) / sqrt(H)``.

    Returns
    -------
    ndarray, shape (T + 1,)
        ``norms[k] = ||dL/dh_{T-k}||`` (Frobenius norm over the batch), for
        ``k = 0`` (the last state) up to ``k = T`` (the initial state ``h_0``).
    """
    check_array("Wh", Wh)
    check_array("drive", drive)
    dims = check_shapes(Wh=(Wh, "H H"), drive=(drive, "N T H"))
    N, T, H = dims["N"], dims["T"], dims["H"]
    if h0 is None:
        h0 = np.zeros((N, H), dtype=drive.dtype)
    if upstream is None:
        upstream = np.full((N, H), 1.0 / np.sqrt(H), dtype=drive.dtype)
    check_array("h0", h0)
    check_array("upstream", upstream)
    check_shapes(drive=(drive, "N T H"), h0=(h0, "N H"), upstream=(upstream, "N H"))
    if nonlinearity == "linear":
        f, f_prime = (lambda a: a), (lambda out: np.ones_like(out))
    elif nonlinearity in ACTIVATIONS:
        f, f_prime = ACTIVATIONS[nonlinearity]
    else:
        raise ValueError(f"nonlinearity must be one of {sorted(ACTIVATIONS) + ['linear']}, got {nonlinearity!r}")

    # Forward: keep every state, because each backward step needs f'(a_t) = f'(h_t).
    h = np.empty((N, T, H), dtype=drive.dtype)
    h_prev = h0
    for t in range(T):
        h_prev = f(drive[:, t] + h_prev @ Wh)
        h[:, t] = h_prev

    # Backward: one Jacobian-transpose product per step, recording the norm as we go.
    norms = np.empty(T + 1)
    dh = upstream
    norms[0] = np.linalg.norm(dh)
    for k, t in enumerate(range(T - 1, -1, -1), start=1):
        da = dh * f_prime(h[:, t])  # through the nonlinearity: dL/da_t
        dh = da @ Wh.T  # through the recurrent weights: dL/dh_{t-1}
        norms[k] = np.linalg.norm(dh)
    return norms


def single_unit_rnn_loss(
    w: np.ndarray | float,
    b: np.ndarray | float,
    *,
    steps: int = 50,
    h0: float = 0.5,
    target: float = 0.7,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss and gradient of the one-unit network ``h_t = tanh(w h_{t-1} + b)``, ``L = (h_T - target)^2``.

    This is the tanh version of the example Pascanu, Mikolov & Bengio (2013) use
    to show where exploding gradients come from.  For ``w > 1`` the map
    ``h -> tanh(w h + b)`` has two stable fixed points; which one ``h_T`` ends up
    in flips abruptly as ``w`` or ``b`` crosses a bifurcation, so the loss has a
    near-vertical wall (a "cliff") and the gradient on it is enormous.

    Parameters
    ----------
    w, b : float or ndarray (broadcastable)
        Recurrent weight and bias; arrays are evaluated element-wise, so a whole
        grid of parameter values is computed in one call.
    steps : int
        Number of time steps ``T``.
    h0 : float
        Initial state.
    target : float
        Target for ``h_T``.

    Returns
    -------
    loss, dloss_dw, dloss_db : ndarray, shape ``broadcast(w, b).shape``
        ``L`` and its exact gradient (BPTT through all ``steps`` steps).
    """
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    for name, value in (("w", w), ("b", b), ("h0", h0), ("target", target)):
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or inf")
    shape = np.broadcast_shapes(w.shape, b.shape)

    hs = [np.full(shape, float(h0))]
    for _ in range(steps):
        hs.append(np.tanh(w * hs[-1] + b))
    loss = (hs[-1] - target) ** 2

    dh = 2.0 * (hs[-1] - target)
    dw, db = np.zeros(shape), np.zeros(shape)
    for t in range(steps, 0, -1):
        da = dh * (1.0 - hs[t] ** 2)
        dw += da * hs[t - 1]  # w is shared by every step: its gradient is a sum over time
        db += da
        dh = da * w
    return loss, dw, db


def latch_task(
    rng: np.random.Generator, batch_size: int, steps: int, pulse_prob: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """A batch of the "latch" (flip-flop) task: output the sign of the most recent input pulse.

    The input is silent except for rare pulses of +1 or -1; the target at every
    step is the last pulse seen so far (0 before the first).  To solve it the
    network must hold one of two values indefinitely, i.e. grow two stable
    fixed points.  Training has to cross the bifurcation where they appear,
    and near a bifurcation the loss has a cliff (Doya 1992; Pascanu et al. 2013):
    this is the task on which plain SGD meets exploding gradients.

    Parameters
    ----------
    rng : numpy.random.Generator
    batch_size : int
        ``N``.
    steps : int
        ``T``.
    pulse_prob : float
        Probability of a pulse at each step, in (0, 1].

    Returns
    -------
    x : ndarray, shape (N, T, 1)
        Pulses in {-1, 0, +1}.
    y : ndarray, shape (N, T, 1)
        Sign of the latest pulse, in {-1, 0, +1}.
    """
    for name, value in (("batch_size", batch_size), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    p = check_positive("pulse_prob", pulse_prob)
    if p > 1:
        raise ValueError(f"pulse_prob must be at most 1, got {pulse_prob}")
    pulses = (rng.random((batch_size, steps)) < p) * rng.choice([-1.0, 1.0], size=(batch_size, steps))
    y = np.zeros((batch_size, steps))
    latest = np.zeros(batch_size)
    for t in range(steps):
        latest = np.where(pulses[:, t] != 0, pulses[:, t], latest)
        y[:, t] = latest
    return pulses[..., None], y[..., None]


def rnn_regressor_loss(
    params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, h0: np.ndarray | None = None
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Mean squared error of a tanh RNN with a linear read-out, and its gradients by full BPTT.

    ``h = rnn_forward(x, h0, Wx, Wh, b)``, ``pred = h @ Wy + by``, ``L = mse(pred, y)``.
    The signature matches the ``loss_and_grad_fn`` of
    :func:`companion.numpy.bptt.chunked_bptt`, so the same function trains on
    whole sequences or chunk by chunk.

    Parameters
    ----------
    params : dict
        ``Wx`` (D, H), ``Wh`` (H, H), ``b`` (H,), ``Wy`` (H, M), ``by`` (M,).
    x : ndarray, shape (N, T, D)
    y : ndarray, shape (N, T, M)
    h0 : ndarray, shape (N, H), optional
        Initial state (zeros by default), treated as a constant.

    Returns
    -------
    loss : float
    grads : dict
        Same keys and shapes as ``params``.
    h_last : ndarray, shape (N, H)
        Final hidden state (to carry into the next chunk).
    """
    if h0 is None:
        h0 = np.zeros((x.shape[0], params["Wh"].shape[0]), dtype=x.dtype)
    h, rnn_cache = rnn_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    pred, out_cache = temporal_affine_forward(h, params["Wy"], params["by"])
    loss, dpred = mse_loss(pred, y)
    dh, dWy, dby = temporal_affine_backward(dpred, out_cache)
    _, _, dWx, dWh, db = rnn_backward(dh, rnn_cache)
    return loss, {"Wx": dWx, "Wh": dWh, "b": db, "Wy": dWy, "by": dby}, h[:, -1]


def input_gradient_norms(
    x: np.ndarray,
    params: dict[str, np.ndarray],
    mode: str,
    readout: np.ndarray,
    num_layers: int = 1,
    bidirectional: bool = False,
) -> np.ndarray:
    """How strongly a linear read-out of the last state depends on each input, by distance.

    The prediction is ``y_hat = out[:, -1] @ readout`` (a one-output linear head on
    the final state, its bias irrelevant).  For every distance ``k`` this returns the
    mean over the batch of ``||d y_hat / d x_{T-1-k}||``: the size of the signal that
    gradient descent receives about an input ``k`` steps before the read-out.  It is
    computed with the hand-written backward pass of :mod:`companion.numpy.stacked`,
    so the same function measures RNN, LSTM and GRU layers, in float64.

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
        Input sequences, batch-first.
    params : dict of ndarray
        Layer parameters named as in :mod:`companion.numpy.torch_io`
        (``params_from_state_dict(module.state_dict(), mode)`` plugs straight in;
        float32 arrays are converted to float64).
    mode : {"rnn_tanh", "rnn_relu", "lstm", "gru"}
    readout : ndarray, shape (dirs * H,)
        Weights of the linear read-out (``head.weight[0]`` of a one-output
        ``torch.nn.Linear``).
    num_layers : int
    bidirectional : bool

    Returns
    -------
    ndarray, shape (T,)
        ``[k]`` = mean over sequences of ``||d y_hat / d x_{T-1-k}||``, so index 0 is
        the last input and index ``T-1`` the first.
    """
    check_array("x", x)
    check_array("readout", readout)
    if x.ndim != 3:
        raise ValueError(f"x must have 3 dimensions (N, T, D), got {x.ndim} with shape {x.shape}")
    if readout.ndim != 1:
        raise ValueError(f"readout must have 1 dimension (dirs * H,), got {readout.ndim} with shape {readout.shape}")
    params64 = {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}
    out, _, cache = stacked_forward(x.astype(np.float64), params64, mode, num_layers, bidirectional)
    if readout.shape[0] != out.shape[2]:
        raise ValueError(
            f"readout axis 0 should be dirs*H={out.shape[2]} to match the layer's output, got {readout.shape[0]}"
        )
    dout = np.zeros_like(out)
    dout[:, -1] = readout  # y_hat = out[:, -1] . readout, so d y_hat / d out[:, -1] = readout
    dx, _, _ = stacked_backward(dout, cache)
    return np.linalg.norm(dx, axis=2).mean(axis=0)[::-1]
