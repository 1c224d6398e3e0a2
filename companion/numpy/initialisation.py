"""Weight initialisation shared by the RNN, LSTM and GRU layers."""

from __future__ import annotations

import numpy as np

from companion._checks import check_positive, check_rng, check_size

__all__ = ["uniform_recurrent_weights"]


def uniform_recurrent_weights(
    input_size: int, hidden_size: int, rng: np.random.Generator, gates: int = 1, scale: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``Wx`` (D, gates*H) and ``Wh`` (H, gates*H) from ``U(-scale, scale)``, in that order.

    The default ``scale = 1/sqrt(H)`` is the range ``torch.nn.RNN/LSTM/GRU`` use: it keeps
    ``h @ Wh`` of order one at initialisation.  ``gates`` stacks the blocks of a gated
    cell side by side (4 for the LSTM, 3 for the GRU).
    """
    D, H = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
    check_rng(rng)
    s = 1.0 / np.sqrt(H) if scale is None else check_positive("scale", scale)
    return rng.uniform(-s, s, size=(D, gates * H)), rng.uniform(-s, s, size=(H, gates * H))
