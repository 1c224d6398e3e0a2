"""Sequence-level scores of decoded outputs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["exact_match"]


def exact_match(outputs: Sequence[str], targets: Sequence[str]) -> float:
    """Fraction of outputs equal to their target, character for character.

    The strictest score of a transduction task: one wrong digit of a number makes
    the whole answer wrong, unlike token accuracy, which would still give it
    most of the credit.

    Parameters
    ----------
    outputs : list of N str
        Decoded model outputs (e.g. from :func:`~companion.torch.decoding.decode_until_eos`).
    targets : list of N str
        The reference strings, in the same order.

    Returns
    -------
    float
        ``mean_n [outputs[n] == targets[n]]``, in ``[0, 1]``.
    """
    for name, seq in (("outputs", outputs), ("targets", targets)):
        if isinstance(seq, (str, bytes)):
            raise TypeError(f"{name} must be a list of strings, not a single string")
    if len(outputs) != len(targets):
        raise ValueError(f"got {len(outputs)} outputs but {len(targets)} targets")
    if len(outputs) == 0:
        raise ValueError("outputs is empty: exact match of nothing is undefined")
    for name, seq in (("outputs", outputs), ("targets", targets)):
        for i, s in enumerate(seq):
            if not isinstance(s, str):
                raise TypeError(f"{name}[{i}] must be a str, got {type(s).__name__}")
    return float(np.mean([out == target for out, target in zip(outputs, targets)]))
