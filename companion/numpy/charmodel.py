"""A character-level language model in plain NumPy (min-char-rnn, batched).

Pipeline, with every piece taken from this package::

    tokens (N, T) --embedding or one-hot--> (N, T, D) --tanh RNN--> h (N, T, H)
        --temporal affine--> logits (N, T, V) --temporal softmax CE vs next tokens--> loss

Parameters are a dict: optional ``"W_embed"`` (V, D) (without it the input is
one-hot, D = V), ``"Wx"`` (D, H), ``"Wh"`` (H, H), ``"b"`` (H,), ``"W_out"`` (H, V),
``"b_out"`` (V,).
"""

from __future__ import annotations

import numpy as np

from companion._checks import check_int_array, check_shapes
from companion.numpy.layers import (
    affine_forward,
    embedding_backward,
    embedding_forward,
    one_hot,
    temporal_affine_backward,
    temporal_affine_forward,
)
from companion.numpy.losses import temporal_softmax_cross_entropy
from companion.numpy.optim import Optimizer, clip_grad_norm
from companion.numpy.rnn import init_rnn_params, rnn_backward, rnn_forward, rnn_step_forward
from companion.numpy.sampling import sample_next

__all__ = ["init_char_model", "loss_grads_and_state", "loss_and_grads", "train_char_model", "sample_chars"]


def init_char_model(
    vocab_size: int, hidden_size: int, rng: np.random.Generator, embed_dim: int | None = None
) -> dict[str, np.ndarray]:
    """Random float64 parameters; ``embed_dim=None`` means one-hot inputs (no ``"W_embed"``).

    Returns
    -------
    dict of ndarray
        See the module docstring for keys and shapes.
    """
    input_size = vocab_size if embed_dim is None else embed_dim
    params = init_rnn_params(input_size, hidden_size, rng)
    s = 1.0 / np.sqrt(hidden_size)
    params["W_out"] = rng.uniform(-s, s, size=(hidden_size, vocab_size))
    params["b_out"] = np.zeros(vocab_size)
    if embed_dim is not None:
        params["W_embed"] = rng.standard_normal((vocab_size, embed_dim))
    return params


def _vocab_size(params: dict[str, np.ndarray]) -> int:
    return check_shapes(b_out=(params["b_out"], "V"))["V"]


def _embed(params: dict[str, np.ndarray], x: np.ndarray):
    """Input vectors for token ids x (N, T): embedding rows, or one-hot vectors."""
    if "W_embed" in params:
        return embedding_forward(x, params["W_embed"])
    return one_hot(x, _vocab_size(params)), None


def loss_grads_and_state(
    params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, h0: np.ndarray | None = None
) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Loss, gradients and final hidden state for one batch (full BPTT inside it).

    The signature fits :func:`companion.numpy.bptt.chunked_bptt`, which calls it
    chunk by chunk with the previous chunk's final state as ``h0``.

    Parameters
    ----------
    params : dict of ndarray
    x : ndarray of int, shape (N, T)
        Input tokens.
    y : ndarray of int, shape (N, T)
        Targets, usually the inputs shifted by one step (``y[:, t] = x[:, t+1]``).
    h0 : ndarray, shape (N, H), optional
        Initial state (zeros by default); treated as a constant.

    Returns
    -------
    loss : float
        Mean cross-entropy per token (nats).
    grads : dict of ndarray
        Same keys and shapes as ``params``.
    h_final : ndarray, shape (N, H)
    """
    V = _vocab_size(params)
    check_int_array("x", x, low=0, high=V)
    check_int_array("y", y, low=0, high=V)
    N = check_shapes(x=(x, "N T"), y=(y, "N T"))["N"]
    if h0 is None:
        h0 = np.zeros((N, params["Wh"].shape[0]))
    inputs, embed_cache = _embed(params, x)
    h, rnn_cache = rnn_forward(inputs, h0, params["Wx"], params["Wh"], params["b"])
    logits, out_cache = temporal_affine_forward(h, params["W_out"], params["b_out"])
    loss, dlogits = temporal_softmax_cross_entropy(logits, y)

    grads: dict[str, np.ndarray] = {}
    dh, grads["W_out"], grads["b_out"] = temporal_affine_backward(dlogits, out_cache)
    dinputs, _, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, rnn_cache)
    if embed_cache is not None:
        grads["W_embed"] = embedding_backward(dinputs, embed_cache)
    return loss, grads, h[:, -1]


def loss_and_grads(
    params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, h0: np.ndarray | None = None
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean per-token cross-entropy and its gradients; see :func:`loss_grads_and_state`."""
    loss, grads, _ = loss_grads_and_state(params, x, y, h0)
    return loss, grads


def train_char_model(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    optimizer: Optimizer,
    num_steps: int,
    max_norm: float | None = 5.0,
) -> list[float]:
    """Full-batch training: ``num_steps`` of (loss, grads) -> clip global norm -> optimiser step.

    Parameters
    ----------
    params : dict of ndarray
        Updated in place.
    x, y : ndarray of int, shape (N, T)
    optimizer : Optimizer
        One of :mod:`companion.numpy.optim`'s optimisers.
    num_steps : int
    max_norm : float or None
        Global gradient-norm clip; ``None`` disables clipping.

    Returns
    -------
    list of float
        The loss before each update.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a companion.numpy.optim optimiser, got {type(optimizer).__name__}")
    history = []
    for _ in range(int(num_steps)):
        loss, grads = loss_and_grads(params, x, y)
        if max_norm is not None:
            grads, _ = clip_grad_norm(grads, max_norm)
        optimizer.step(params, grads)
        history.append(loss)
    return history


def sample_chars(
    params: dict[str, np.ndarray],
    start: int,
    length: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> list[int]:
    """Generate ``length`` tokens after ``start``, feeding every sample back in as the next input.

    Returns
    -------
    list of int
        The generated token ids (``start`` excluded).
    """
    h = np.zeros((1, params["Wh"].shape[0]))
    token, out = int(start), []
    for _ in range(int(length)):
        inputs, _ = _embed(params, np.array([[token]]))
        h, _ = rnn_step_forward(inputs[:, 0], h, params["Wx"], params["Wh"], params["b"])
        logits, _ = affine_forward(h, params["W_out"], params["b_out"])
        token = sample_next(logits[0], temperature, top_k, rng)
        out.append(token)
    return out
