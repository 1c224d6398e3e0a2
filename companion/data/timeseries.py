"""Time series for forecasting: windows, scaling, honest splits, baselines, metrics.

The order of operations that keeps a forecast honest:

1. split the series chronologically (train, then validation, then test);
2. fit the scaler on the training piece only, then transform every piece;
3. cut each piece into windows separately, so no window straddles a cut;
4. compare the model with the naive and seasonal-naive baselines on the test
   windows, in the original units (``inverse_transform``).

>>> y = np.arange(20.0)
>>> train, val, test = chronological_split(y, (0.6, 0.2, 0.2))
>>> scaler = StandardScaler().fit(train)
>>> (Xtr, Ytr), (Xva, Yva), (Xte, Yte) = chronological_windows(scaler.transform(y), 3, 1, (0.6, 0.2, 0.2))
>>> Xtr.shape, Yte.shape
((9, 3, 1), (1, 1, 1))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from companion._checks import check_array
from companion.data.batching import split_contiguous

__all__ = [
    "sliding_windows",
    "chronological_split",
    "chronological_windows",
    "StandardScaler",
    "MinMaxScaler",
    "naive_forecast",
    "seasonal_naive_forecast",
    "seasonal_naive_drift_forecast",
    "mae",
    "rmse",
    "mape",
    "smape",
]


def _as_float_series(name: str, series: Any) -> np.ndarray:
    """Return a float ``(L, F)`` array from a 1-D ``(L,)`` or 2-D ``(L, F)`` series."""
    arr = np.asarray(series)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (L,) or 2-D (L, F), got shape {arr.shape}")
    return check_array(name, arr)


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _float(name: str, x: Any) -> np.ndarray:
    """``x`` as a checked float array (integers are converted to float64)."""
    arr = np.asarray(x)
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float64)
    return check_array(name, arr)


def sliding_windows(
    series: Sequence[float] | np.ndarray, window: int, horizon: int = 1, stride: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a series into (input window, following horizon) pairs.

    Window ``i`` starts at ``s = i * stride``: ``X[i] = series[s : s + window]`` and
    ``Y[i] = series[s + window : s + window + horizon]``, for every ``i`` with
    ``s + window + horizon <= L``.

    Parameters
    ----------
    series : (L,) or (L, F) array
        ``F`` features per time step; a 1-D series has ``F = 1``.
    window : int
        Input length ``W`` (time steps the model sees).
    horizon : int
        Output length ``H`` (steps to forecast right after the window).
    stride : int
        Step between consecutive window starts.

    Returns
    -------
    X : (N, W, F) float array, a copy
        (the series' float dtype; integers become float64)
    Y : (N, H, F) float array, a copy
        with ``N = (L - W - H) // stride + 1``.

    Raises
    ------
    ValueError
        If ``W + H > L`` (not even one window fits).
    """
    x = _as_float_series("series", series)
    W, H = _check_count("window", window), _check_count("horizon", horizon)
    S = _check_count("stride", stride)
    L = x.shape[0]
    if W + H > L:
        raise ValueError(
            f"window + horizon = {W} + {H} = {W + H} exceeds the series length {L}: "
            "not even one window fits"
        )
    n = (L - W - H) // S + 1
    starts = np.arange(n) * S
    X = x[starts[:, None] + np.arange(W)]  # fancy indexing copies: never a view
    Y = x[starts[:, None] + W + np.arange(H)]
    return X, Y


def chronological_split(series: Sequence[float] | np.ndarray, fractions: Sequence[float] = (0.7, 0.15, 0.15)) -> tuple:
    """Split a series into consecutive pieces (train first, test last) along time.

    Piece ``k`` holds steps ``[c_k, c_{k+1})`` with ``c = round(cumsum(fractions) * L)``;
    the interior cuts are :func:`companion.data.batching.split_points` ``(L, fractions)``.
    """
    arr = np.asarray(series)
    if arr.ndim not in (1, 2):
        raise ValueError(f"series must be 1-D (L,) or 2-D (L, F), got shape {arr.shape}")
    return split_contiguous(arr, fractions)


def chronological_windows(
    series: Sequence[float] | np.ndarray,
    window: int,
    horizon: int = 1,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    stride: int = 1,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Chronological split, then :func:`sliding_windows` inside each piece.

    Every window (inputs and targets) lies inside one piece, so no training
    target comes from the validation or test period, and no test input was
    seen as a training target.  The price: the first ``W + H - 1`` steps of
    each later piece only ever serve as inputs.

    Returns
    -------
    tuple of (X, Y)
        One ``(X (N_k, W, F), Y (N_k, H, F))`` pair per fraction.

    Raises
    ------
    ValueError
        If a piece is shorter than ``window + horizon`` (named in the message).
    """
    window, horizon = _check_count("window", window), _check_count("horizon", horizon)
    pieces = chronological_split(series, fractions)
    out = []
    for k, piece in enumerate(pieces):
        if len(piece) < window + horizon:
            raise ValueError(
                f"split {k} has {len(piece)} steps, fewer than window + horizon = {window + horizon}; "
                f"use a longer series, larger fractions or a shorter window"
            )
        out.append(sliding_windows(piece, window, horizon, stride))
    return tuple(out)


class _Scaler:
    """Shared plumbing: statistics per feature (last axis), fitted once on training data."""

    def _prepare(self, x: Any, name: str = "x") -> np.ndarray:
        return _float(name, x)

    def _reduce_axes(self, x: np.ndarray) -> tuple[int, ...]:
        # 1-D: one statistic for the whole series; otherwise one per feature (last axis).
        return tuple(range(x.ndim)) if x.ndim == 1 else tuple(range(x.ndim - 1))

    def _check_fitted(self, x: np.ndarray) -> None:
        if not getattr(self, "fitted_", False):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(train) first (on training data only)")
        n_feat = 1 if x.ndim == 1 else x.shape[-1]
        if n_feat != self.n_features_:
            raise ValueError(f"x has {n_feat} features (last axis) but the scaler was fitted on {self.n_features_}")

    def fit_transform(self, x: Any) -> np.ndarray:
        """``fit(x)`` then ``transform(x)`` (use on the training piece only)."""
        return self.fit(x).transform(x)


class StandardScaler(_Scaler):
    """``z = (x - mean) / std`` with mean and std from the training data.

    A 1-D series gets one mean and std; an array ``(..., F)`` gets one per
    feature (reduced over every axis but the last).  A constant feature gets
    ``std = 1`` so that it maps to 0 instead of dividing by zero.

    Attributes
    ----------
    mean_, scale_ : float arrays of shape () or (F,)
    """

    def fit(self, x: Any) -> StandardScaler:
        """Estimate mean and std from ``x`` (the training piece: never the test data)."""
        arr = self._prepare(x, "x")
        axes = self._reduce_axes(arr)
        mean, std = arr.mean(axis=axes), arr.std(axis=axes)
        self.mean_ = np.asarray(mean, dtype=np.float64)
        self.scale_ = np.where(std > 0, std, 1.0).astype(np.float64)
        self.n_features_ = 1 if arr.ndim == 1 else arr.shape[-1]
        self.fitted_ = True
        return self

    def transform(self, x: Any) -> np.ndarray:
        """``(x - mean_) / scale_``."""
        arr = self._prepare(x, "x")
        self._check_fitted(arr)
        return (arr - self.mean_) / self.scale_

    def inverse_transform(self, z: Any) -> np.ndarray:
        """``z * scale_ + mean_``: back to the original units."""
        arr = self._prepare(z, "z")
        self._check_fitted(arr)
        return arr * self.scale_ + self.mean_

    def __repr__(self) -> str:
        if not getattr(self, "fitted_", False):
            return "StandardScaler(unfitted)"
        return f"StandardScaler(mean={np.round(self.mean_, 4).tolist()}, std={np.round(self.scale_, 4).tolist()})"


class MinMaxScaler(_Scaler):
    """``z = lo + (x - min) * (hi - lo) / (max - min)`` with min/max from training data.

    Test values outside the training range map outside ``[lo, hi]``: that is
    information (the series left its training range), so nothing is clipped.

    Parameters
    ----------
    feature_range : (lo, hi)
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        lo, hi = (float(v) for v in feature_range)
        if not hi > lo:
            raise ValueError(f"feature_range must be (lo, hi) with lo < hi, got {feature_range}")
        self.feature_range = (lo, hi)

    def fit(self, x: Any) -> MinMaxScaler:
        """Record the minimum and maximum of ``x`` (the training piece only)."""
        arr = self._prepare(x, "x")
        axes = self._reduce_axes(arr)
        self.data_min_ = np.asarray(arr.min(axis=axes), dtype=np.float64)
        self.data_max_ = np.asarray(arr.max(axis=axes), dtype=np.float64)
        span = self.data_max_ - self.data_min_
        self.data_range_ = np.where(span > 0, span, 1.0)  # a constant feature maps to lo
        self.n_features_ = 1 if arr.ndim == 1 else arr.shape[-1]
        self.fitted_ = True
        return self

    def transform(self, x: Any) -> np.ndarray:
        """Map the training range onto ``feature_range``."""
        arr = self._prepare(x, "x")
        self._check_fitted(arr)
        lo, hi = self.feature_range
        return lo + (arr - self.data_min_) * ((hi - lo) / self.data_range_)

    def inverse_transform(self, z: Any) -> np.ndarray:
        """Undo :meth:`transform`."""
        arr = self._prepare(z, "z")
        self._check_fitted(arr)
        lo, hi = self.feature_range
        return (arr - lo) * (self.data_range_ / (hi - lo)) + self.data_min_

    def __repr__(self) -> str:
        if not getattr(self, "fitted_", False):
            return f"MinMaxScaler(feature_range={self.feature_range}, unfitted)"
        return (f"MinMaxScaler(feature_range={self.feature_range}, min={np.round(self.data_min_, 4).tolist()}, "
                f"max={np.round(self.data_max_, 4).tolist()})")


def _history_3d(X: Any) -> tuple[np.ndarray, int]:
    """Return history as ``(N, W, F)`` and the original ndim (1: (W,), 2: (W, F), 3: (N, W, F))."""
    arr = _float("X", X)
    if arr.ndim == 1:
        return arr[None, :, None], 1
    if arr.ndim == 2:
        return arr[None], 2
    if arr.ndim == 3:
        return arr, 3
    raise ValueError(f"X must be (W,), (W, F) or (N, W, F), got shape {arr.shape}")


def _restore(Y: np.ndarray, ndim: int) -> np.ndarray:
    return Y[0, :, 0] if ndim == 1 else (Y[0] if ndim == 2 else Y)


def naive_forecast(X: Any, horizon: int = 1) -> np.ndarray:
    """Persistence: every future step equals the last observed value, ``ŷ_{W+h} = x_W``.

    Parameters
    ----------
    X : (N, W, F), (W, F) or (W,) history windows
    horizon : int

    Returns
    -------
    (N, H, F), (H, F) or (H,): the same layout as ``X`` with ``W`` replaced by ``H``.
    """
    H = _check_count("horizon", horizon)
    x, nd = _history_3d(X)
    return _restore(np.repeat(x[:, -1:, :], H, axis=1), nd)


def seasonal_naive_forecast(X: Any, season: int, horizon: int = 1) -> np.ndarray:
    """Repeat the last observed season: ``ŷ_{W+h} = x_{W+h-m*k}``, ``k = ceil(h/m)``.

    With season length ``m`` (12 for monthly data with a yearly cycle), the
    forecast for step ``h = 1..H`` after the window is the value one (or more)
    whole seasons earlier that was observed, i.e. index ``W - m + ((h-1) mod m)``
    of the window (0-based).

    Parameters
    ----------
    X : (N, W, F), (W, F) or (W,) history windows, with ``W >= season``
    season : int
        Season length ``m``.
    horizon : int

    Returns
    -------
    Forecasts with the layout of ``X`` and ``W`` replaced by ``H``.
    """
    m, H = _check_count("season", season), _check_count("horizon", horizon)
    x, nd = _history_3d(X)
    W = x.shape[1]
    if W < m:
        raise ValueError(
            f"the window has {W} steps, fewer than one season ({m}): nothing to repeat"
        )
    idx = W - m + (np.arange(H) % m)
    return _restore(x[:, idx, :], nd)


def seasonal_naive_drift_forecast(
    X: Any, season: int, horizon: int = 1
) -> np.ndarray:
    """Seasonal naive plus the latest seasonal growth.

    ``ŷ_{W+h} = x_{W+h-m*k} + k (x_W - x_{W-m})``.

    With ``k = ceil(h/m)``, the forecast repeats the value ``k`` whole seasons
    earlier (as :func:`seasonal_naive_forecast`) and raises it by ``k`` times
    the change over the most recent season, ``x_W - x_{W-m}`` (1-based, ``x_W``
    the last observed value).  For monthly data with ``m = 12`` and ``h <= 12``
    this is "the same month last year, plus the growth of the last twelve
    months" -- a parameter-free baseline for a series with a trend and a cycle.

    Parameters
    ----------
    X : (N, W, F), (W, F) or (W,) history windows, with ``W >= season + 1``
        (the growth needs the value one season before the last one).
    season : int
        Season length ``m``.
    horizon : int

    Returns
    -------
    Forecasts with the layout of ``X`` and ``W`` replaced by ``H``.

    Examples
    --------
    >>> x = np.array([0.0, 10.0, 1.0, 11.0, 2.0])
    >>> seasonal_naive_drift_forecast(x, season=2, horizon=3)
    array([12.,  3., 13.])
    """
    m, H = _check_count("season", season), _check_count("horizon", horizon)
    x, nd = _history_3d(X)
    W = x.shape[1]
    if W < m + 1:
        raise ValueError(
            f"the window has {W} steps; the seasonal growth x_W - x_(W-m) needs "
            f"at least season + 1 = {m + 1}"
        )
    k = (np.arange(H) // m + 1)[None, :, None]    # (1, H, 1): seasons back, ceil(h/m)
    growth = x[:, -1:, :] - x[:, -1 - m : -m, :]  # (N, 1, F): growth over the last season
    return _restore(x[:, W - m + (np.arange(H) % m), :] + k * growth, nd)


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = _float("y_true", y_true), _float("y_pred", y_pred)
    if t.shape != p.shape:  # never broadcast: a (N,1) vs (N,) mix-up would silently give an N x N error matrix
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}; they must match exactly")
    return t, p


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error, ``mean |y - ŷ|``, in the units of the data."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error, ``sqrt(mean (y - ŷ)^2)``."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error, ``100 * mean |y - ŷ| / |y|`` (in %).

    Undefined when some ``y = 0`` (raises ValueError; use :func:`smape` or :func:`mae`).
    """
    t, p = _pair(y_true, y_pred)
    if np.any(t == 0):
        raise ValueError("MAPE is undefined when y_true contains zeros; use smape or mae instead")
    return float(100.0 * np.mean(np.abs(t - p) / np.abs(t)))


def smape(y_true: Any, y_pred: Any) -> float:
    """Symmetric MAPE, ``100 * mean 2|y - ŷ| / (|y| + |ŷ|)`` (in %, between 0 and 200).

    A term with ``y = ŷ = 0`` is a perfect forecast and counts as 0.
    """
    t, p = _pair(y_true, y_pred)
    den = np.abs(t) + np.abs(p)
    num = 2.0 * np.abs(t - p)
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(100.0 * np.mean(terms))
