"""Gradient clipping and first-order optimisers for dicts of NumPy parameters.

The update rules are written in the same order of operations as ``torch.optim``
(default options: no weight decay, no Nesterov, no AMSGrad, not centred), so a
NumPy model and a torch model fed the same gradients take the same steps.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from companion._checks import check_array, check_positive

__all__ = ["clip_grad_norm", "clip_grad_value", "Optimizer", "SGD", "Adagrad", "RMSProp", "Adam"]

Arrays = dict[str, np.ndarray]


def _check_grads(grads: Any) -> Arrays:
    if not isinstance(grads, dict) or not grads:
        raise TypeError(f"grads must be a non-empty dict of name -> ndarray, got {type(grads).__name__}")
    for name, g in grads.items():
        check_array(f"grads[{name!r}]", g)
    return grads


def clip_grad_norm(grads: Arrays, max_norm: float) -> tuple[Arrays, float]:
    """Rescale all gradients together so that their *global* L2 norm is at most ``max_norm``.

    The global norm treats every parameter's gradient as one long vector,
    ``||g|| = sqrt(sum_p ||g_p||^2)``, so clipping changes the length of the update
    but never its direction.  As in ``torch.nn.utils.clip_grad_norm_`` the factor is
    ``min(1, max_norm / (||g|| + 1e-6))`` (the 1e-6 avoids dividing by a zero norm).

    Parameters
    ----------
    grads : dict of ndarray
    max_norm : float
        Largest allowed global norm, > 0.

    Returns
    -------
    clipped : dict of ndarray
        New arrays; the inputs are left untouched.
    total_norm : float
        The global norm *before* clipping (worth logging: spikes reveal exploding gradients).
    """
    max_norm = check_positive("max_norm", max_norm)
    _check_grads(grads)
    total_norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    scale = min(1.0, max_norm / (total_norm + 1e-6))
    return {name: g * scale for name, g in grads.items()}, total_norm


def clip_grad_value(grads: Arrays, clip_value: float) -> Arrays:
    """Clip every gradient entry to ``[-clip_value, clip_value]`` (may change the update's direction).

    Returns new arrays; the inputs are left untouched.
    """
    clip_value = check_positive("clip_value", clip_value)
    _check_grads(grads)
    return {name: np.clip(g, -clip_value, clip_value) for name, g in grads.items()}


class Optimizer(ABC):
    """Base class: validates ``params``/``grads`` and applies ``_update`` to each pair in place.

    Per-parameter state (momentum buffers, running averages) is stored by name,
    so the same optimiser must always be stepped with the same dict of parameters.
    """

    def __init__(self, lr: float) -> None:
        self.lr = check_positive("lr", lr)
        self.t = 0  # number of steps taken
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def step(self, params: Arrays, grads: Arrays) -> None:
        """Update every ``params[name]`` in place using ``grads[name]``.

        Parameters
        ----------
        params : dict of ndarray
            Updated in place (the arrays, not the dict), so caches and references stay valid.
        grads : dict of ndarray
            Same keys and shapes as ``params``.
        """
        _check_grads(grads)
        if not isinstance(params, dict) or set(params) != set(grads):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(f"params and grads must have the same keys, got {got} and {sorted(grads)}")
        for name, p in params.items():
            check_array(f"params[{name!r}]", p)
            if p.shape != grads[name].shape:
                raise ValueError(f"grads[{name!r}] has shape {grads[name].shape} but params[{name!r}] has {p.shape}")
        self.t += 1
        for name, p in params.items():
            self._update(p, grads[name], self.state.setdefault(name, {}))

    @abstractmethod
    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        """Apply one update rule to parameter ``p`` (in place), keeping its running ``state``."""


class SGD(Optimizer):
    """Stochastic gradient descent with optional (heavy-ball) momentum.

    ``v <- g`` on the first step, then ``v <- momentum * v + g``; ``p <- p - lr * v``
    (torch's convention: the learning rate multiplies the buffer, not the gradient).
    """

    def __init__(self, lr: float, momentum: float = 0.0) -> None:
        super().__init__(lr)
        self.momentum = check_positive("momentum", momentum, allow_zero=True)

    def _update(self, p, g, state):
        if self.momentum == 0.0:
            p -= self.lr * g
            return
        if "v" not in state:
            state["v"] = g.copy()
        else:
            state["v"] *= self.momentum
            state["v"] += g
        p -= self.lr * state["v"]


class Adagrad(Optimizer):
    """Adagrad: per-coordinate step ``lr / (sqrt(sum of past g^2) + eps)``.

    Coordinates that have seen large gradients slow down for good, since the sum never shrinks.
    """

    def __init__(self, lr: float = 1e-2, eps: float = 1e-10) -> None:
        super().__init__(lr)
        self.eps = check_positive("eps", eps, allow_zero=True)

    def _update(self, p, g, state):
        state.setdefault("sum_sq", np.zeros_like(p))
        state["sum_sq"] += g * g
        p -= self.lr * (g / (np.sqrt(state["sum_sq"]) + self.eps))


class RMSProp(Optimizer):
    """RMSProp: like Adagrad but with a leaky average ``s <- alpha s + (1 - alpha) g^2``, so steps can recover."""

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.alpha = _check_decay("alpha", alpha)
        self.eps = check_positive("eps", eps, allow_zero=True)

    def _update(self, p, g, state):
        state.setdefault("sq_avg", np.zeros_like(p))
        state["sq_avg"] *= self.alpha
        state["sq_avg"] += (1.0 - self.alpha) * g * g
        p -= self.lr * (g / (np.sqrt(state["sq_avg"]) + self.eps))


class Adam(Optimizer):
    """Adam: momentum on ``g`` and RMSProp on ``g^2``, both bias-corrected for their zero start.

    ``m <- b1 m + (1-b1) g``, ``v <- b2 v + (1-b2) g^2``,
    ``p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.
    """

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.beta1, self.beta2 = _check_decay("betas[0]", betas[0]), _check_decay("betas[1]", betas[1])
        self.eps = check_positive("eps", eps, allow_zero=True)

    def _update(self, p, g, state):
        state.setdefault("m", np.zeros_like(p))
        state.setdefault("v", np.zeros_like(p))
        state["m"] *= self.beta1
        state["m"] += (1.0 - self.beta1) * g
        state["v"] *= self.beta2
        state["v"] += (1.0 - self.beta2) * g * g
        step_size = self.lr / (1.0 - self.beta1**self.t)
        denom = np.sqrt(state["v"]) / math.sqrt(1.0 - self.beta2**self.t) + self.eps
        p -= step_size * (state["m"] / denom)


def _check_decay(name: str, value: Any) -> float:
    v = check_positive(name, value, allow_zero=True)
    if v >= 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return v
