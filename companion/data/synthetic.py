"""Synthetic sequence tasks with known answers, for experiments that isolate one ability.

Every random generator takes an explicit, required ``rng`` (a
:class:`numpy.random.Generator` or an int seed): the same call returns the
same data, and two calls meant to give different data (train and test) must
say so by passing different seeds or one shared generator.

===============================  ================================================================
task                             what it tests
===============================  ================================================================
:func:`adding_problem`           remembering two marked values over ``T`` steps (regression)
:func:`copy_memory`              storing a short sequence across ``T`` blank steps
:func:`embedded_reber`           a long-range dependency in a grammar (2nd symbol = 2nd-to-last)
:func:`mackey_glass`             chaotic but deterministic time series
:func:`human_numbers`            a text with perfectly predictable structure (fastai)
:func:`random_walk_prices`       a series where the honest forecast is "no change"
:func:`negation_corpus`          sentiment that depends on word order (beyond bag-of-words)
:func:`number_phrase_pairs`      words -> digits translation for seq2seq
:func:`date_pairs`               date normalisation for seq2seq
===============================  ================================================================
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from companion.reproducibility import default_rng

__all__ = [
    "adding_problem",
    "adding_problem_batches",
    "copy_memory",
    "REBER_SYMBOLS",
    "reber_string",
    "embedded_reber",
    "is_valid_reber",
    "reber_next_symbols",
    "mackey_glass",
    "number_to_words",
    "words_to_number",
    "human_numbers",
    "random_walk_prices",
    "negation_corpus",
    "bag_of_words_ceiling",
    "number_phrase_pairs",
    "date_pairs",
]

RNG = np.random.Generator | int | None


def _count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# --------------------------------------------------------------- adding problem


def adding_problem(n: int, T: int, rng: RNG) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem: output the sum of the two marked numbers in a long sequence.

    Hochreiter & Schmidhuber (1997, experiment 4) introduced it; this is the
    variant of Le, Jaitly & Hinton (2015) and Arjovsky, Shah & Bengio (2016).
    Each step has two channels: a value drawn from ``U[0, 1)`` and a marker.
    Exactly two markers are 1: one at a random step of the first half
    (``t < T//2``), one in the second half.  The target is the sum of the two
    marked values.  Predicting the constant 1 gives a mean squared error of
    ``Var(u1 + u2) = 1/6 ≈ 0.167``, the bar a model must beat.

    Parameters
    ----------
    n : int
        Number of sequences ``N``.
    T : int
        Sequence length (>= 2).
    rng : numpy Generator or int seed

    Returns
    -------
    x : (N, T, 2) float64
        ``x[..., 0]`` values, ``x[..., 1]`` markers (0/1).
    y : (N,) float64
        ``sum_t x[:, t, 0] * x[:, t, 1]``.
    """
    N, T = _count("n", n), _count("T", T, 2)
    gen = default_rng(rng)
    values = gen.random((N, T))
    half = T // 2
    first = gen.integers(0, half, size=N)
    second = gen.integers(half, T, size=N)
    markers = np.zeros((N, T))
    rows = np.arange(N)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1), y


def adding_problem_batches(
    steps: int, batch_size: int, T: int, rng: RNG, dtype: Any = np.float32
) -> Callable[[], list[tuple[np.ndarray, np.ndarray]]]:
    """A source of fresh adding-problem batches, one epoch per call (for ``companion.torch.fit``).

    Every call returns ``steps`` new batches drawn from the same generator, so a
    training run never sees a sequence twice, and two runs built with the same
    seed see the same batches in the same order.

    Parameters
    ----------
    steps : int
        Batches per call (per "epoch").
    batch_size : int
        Sequences per batch ``N``.
    T : int
        Sequence length (>= 2).
    rng : numpy Generator or int seed
        Consumed in order: batch ``j`` of call ``i`` is ``adding_problem(N, T, rng)``
        drawn after all earlier ones.
    dtype : numpy floating dtype
        Of the returned arrays (float32 matches a default torch model).

    Returns
    -------
    callable
        ``() -> [(x (N, T, 2), y (N, 1)), ...]``, ``steps`` pairs; ``y`` has the
        shape of a one-output regression head.
    """
    steps, batch_size, T = _count("steps", steps), _count("batch_size", batch_size), _count("T", T, 2)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
    gen = default_rng(rng)

    def one_epoch() -> list[tuple[np.ndarray, np.ndarray]]:
        batches = []
        for _ in range(steps):
            x, y = adding_problem(batch_size, T, gen)
            batches.append((x.astype(dtype), y.astype(dtype)[:, None]))
        return batches

    return one_epoch


# ------------------------------------------------------------------ copy memory


def copy_memory(
    n: int, T: int, rng: RNG, n_symbols: int = 8, copy_len: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """The copy-memory task of Arjovsky, Shah & Bengio (2016).

    Alphabet: 0 = blank, ``1..n_symbols`` = data symbols, ``n_symbols + 1`` =
    delimiter ("go").  The input is ``copy_len`` random data symbols, then
    ``T - 1`` blanks, the delimiter, and ``copy_len`` more blanks (length
    ``T + 2*copy_len``).  The target is blank for ``T + copy_len`` steps and
    then the ``copy_len`` data symbols: the network must hold them in memory
    across ``T`` steps.  The paper uses ``n_symbols=8, copy_len=10`` and
    ``T`` in {100, 200, 300, 500}; always predicting blank, then a uniform
    guess, gives the baseline cross-entropy ``copy_len * ln(n_symbols) / (T + 2*copy_len)``.

    Parameters
    ----------
    n : int
        Number of sequences ``N``.
    T : int
        Delay: ``T - 1`` blanks and the delimiter separate the data from the
        moment it must be written, as in the paper.
    rng : numpy Generator or int seed
    n_symbols : int
        Size of the data alphabet.
    copy_len : int
        Number of symbols to remember.

    Returns
    -------
    x, y : (N, T + 2*copy_len) int64
    """
    N, T = _count("n", n), _count("T", T)
    K, L = _count("n_symbols", n_symbols), _count("copy_len", copy_len)
    gen = default_rng(rng)
    data = gen.integers(1, K + 1, size=(N, L))
    total = T + 2 * L
    x = np.zeros((N, total), dtype=np.int64)
    y = np.zeros((N, total), dtype=np.int64)
    x[:, :L] = data
    x[:, L + T - 1] = K + 1  # the delimiter: "start writing now"
    y[:, T + L:] = data
    return x, y


# ----------------------------------------------------------------- Reber grammar

#: The 7 symbols of the Reber grammar, in the usual one-hot order.
REBER_SYMBOLS = "BTPSXVE"

# The finite automaton of the Reber grammar (Reber 1967; Fahlman 1991; Hochreiter & Schmidhuber 1997):
# state -> {symbol: next state}; every state's symbols differ, so parsing is deterministic.
_REBER: dict[int, dict[str, int]] = {
    0: {"B": 1},
    1: {"T": 2, "P": 3},
    2: {"S": 2, "X": 4},
    3: {"T": 3, "V": 5},
    4: {"X": 3, "S": 6},
    5: {"P": 4, "V": 6},
    6: {"E": 7},
    7: {},
}


def reber_string(rng: RNG) -> str:
    """A random string of the (plain) Reber grammar, e.g. ``"BTSSXXTVVE"``.

    At each state both outgoing edges are taken with probability 1/2.
    """
    gen = default_rng(rng)
    state, out = 0, []
    while _REBER[state]:
        options = sorted(_REBER[state])  # sorted: the draw does not depend on dict order
        sym = options[int(gen.integers(len(options)))]
        out.append(sym)
        state = _REBER[state][sym]
    return "".join(out)


def embedded_reber(n: int | None, rng: RNG) -> str | list[str]:
    """Embedded Reber strings: ``B T <reber> T E`` or ``B P <reber> P E``.

    The symbol after the first ``B`` (T or P) must be repeated just before the
    final ``E``, after an inner Reber string of unbounded length: predicting it
    needs memory of the second symbol.  This is the benchmark of Hochreiter &
    Schmidhuber (1997, experiment 1), where plain RNNs trained with BPTT or
    RTRL mostly failed and the LSTM succeeded.

    Parameters
    ----------
    n : int or None
        None: return one string; else a list of ``n`` strings.
    rng : numpy Generator or int seed
    """
    gen = default_rng(rng)
    if n is None:
        branch = "TP"[int(gen.integers(2))]
        return "B" + branch + reber_string(gen) + branch + "E"
    return [embedded_reber(None, gen) for _ in range(_count("n", n))]


def _reber_sets(s: str, embedded: bool) -> list[frozenset[str]] | None:
    """Allowed next symbols after each prefix ``s[:k]``, ``k = 0..len(s)``; None if ``s`` leaves the grammar."""
    sets: list[frozenset[str]] = []
    if not embedded:
        state = 0
        for ch in s:
            sets.append(frozenset(_REBER[state]))
            if ch not in _REBER[state]:
                return None
            state = _REBER[state][ch]
        sets.append(frozenset(_REBER[state]))
        return sets
    # Embedded: phase 0 expects B, 1 expects T/P (remembered), 2 runs the inner automaton,
    # 3 expects the remembered branch symbol, 4 expects E, 5 is the end.
    phase, branch, inner = 0, "", 0
    for ch in s:
        if phase == 0:
            allowed = {"B"}
        elif phase == 1:
            allowed = {"T", "P"}
        elif phase == 2:
            allowed = set(_REBER[inner])
        elif phase == 3:
            allowed = {branch}
        elif phase == 4:
            allowed = {"E"}
        else:
            allowed = set()
        sets.append(frozenset(allowed))
        if ch not in allowed:
            return None
        if phase == 0:
            phase = 1
        elif phase == 1:
            branch, phase = ch, 2
        elif phase == 2:
            inner = _REBER[inner][ch]
            if not _REBER[inner]:
                phase = 3
        else:
            phase += 1
    final = {0: {"B"}, 1: {"T", "P"}, 2: set(_REBER[inner]), 3: {branch}, 4: {"E"}}.get(phase, set())
    sets.append(frozenset(final))
    return sets


def is_valid_reber(s: str, embedded: bool = False) -> bool:
    """True if ``s`` is a complete string of the (embedded) Reber grammar."""
    if not isinstance(s, str):
        raise TypeError(f"s must be a str, got {type(s).__name__}")
    sets = _reber_sets(s, embedded)
    return sets is not None and len(s) > 0 and sets[-1] == frozenset()


def reber_next_symbols(s: str, embedded: bool = False) -> list[frozenset[str]]:
    """The set of symbols the grammar allows after each prefix of ``s``.

    Element ``t`` is the set allowed after ``s[:t+1]`` (after reading symbol
    ``t``), so a model that reads ``s`` one symbol at a time should put all its
    probability on ``result[t]``; this is the multi-hot target of the
    classic experiments.  The last element (after ``E``) is empty.

    Raises
    ------
    ValueError
        If ``s`` is not a prefix of a valid string (the message gives the position).
    """
    sets = _reber_sets(s, embedded)
    if sets is None:
        good = _first_bad(s, embedded)
        raise ValueError(f"{s!r} leaves the {'embedded ' if embedded else ''}Reber grammar at position {good}")
    return sets[1:]


def _first_bad(s: str, embedded: bool) -> int:
    for k in range(len(s), -1, -1):
        if _reber_sets(s[:k], embedded) is not None:
            return k
    return 0


# ----------------------------------------------------------------- Mackey-Glass


def mackey_glass(
    n_samples: int = 1000,
    tau: float = 17.0,
    beta: float = 0.2,
    gamma: float = 0.1,
    exponent: float = 10.0,
    dt: float = 0.1,
    sample_every: float = 1.0,
    x0: float = 1.2,
    discard: float = 500.0,
) -> np.ndarray:
    """The Mackey-Glass delay differential equation, integrated with RK4.

    .. math:: \\frac{dx}{dt} = \\beta \\frac{x(t-\\tau)}{1 + x(t-\\tau)^{n}} - \\gamma x(t)

    Mackey & Glass (1977).  With the standard parameters ``beta=0.2,
    gamma=0.1, n=10`` the solution is chaotic for ``tau=17`` (the benchmark
    of Lapedes & Farber 1987 and Jaeger & Haas 2004) and stays in about
    ``(0.2, 1.4)``.

    Integration: classical Runge-Kutta with step ``dt`` (``tau/dt`` must be a
    whole number of steps, 170 by default), constant history ``x(t) = x0``
    for ``t <= 0``; the delayed value needed at a half step is the cubic
    Hermite interpolant of its two grid neighbours and their derivatives, so
    the scheme keeps RK4's fourth order (linear interpolation would drop it
    to second order).  The first ``discard`` time units
    (the transient) are dropped and the solution is sampled every
    ``sample_every`` time units.  The result is deterministic.

    Returns
    -------
    (n_samples,) float64
    """
    N = _count("n_samples", n_samples)
    for name, v in (("tau", tau), ("beta", beta), ("gamma", gamma), ("dt", dt), ("sample_every", sample_every)):
        if not np.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be finite and > 0, got {v}")
    if not np.isfinite(discard) or discard < 0:
        raise ValueError(f"discard must be finite and >= 0, got {discard}")
    lag = tau / dt
    every = sample_every / dt
    skip = discard / dt
    for name, v in (("tau / dt", lag), ("sample_every / dt", every), ("discard / dt", skip)):
        if abs(v - round(v)) > 1e-9:
            raise ValueError(f"{name} = {v} must be a whole number of integration steps")
    lag, every, skip = int(round(lag)), int(round(every)), int(round(skip))
    n_steps = skip + (N - 1) * every
    x = np.empty(lag + n_steps + 1)
    dx = np.zeros(lag + n_steps + 1)  # dx/dt on the grid, for interpolating the delayed term
    x[: lag + 1] = x0  # constant history on [-tau, 0] (so dx/dt = 0 there)

    def f(xt: float, xd: float) -> float:
        return beta * xd / (1.0 + xd**exponent) - gamma * xt

    for i in range(lag, lag + n_steps):  # x[i] is x(t), x[i - lag] is x(t - tau)
        j = i - lag
        d0, d1 = x[j], x[j + 1]
        # cubic Hermite midpoint, O(dt^4) like RK4 itself (a plain average would be only O(dt^2))
        # (at t = 0 the derivative jumps; the history side, j + 1 == lag, has slope 0)
        dm = 0.5 * (d0 + d1) + dt / 8.0 * (dx[j] - (dx[j + 1] if j + 1 != lag else 0.0))
        xi = x[i]
        k1 = f(xi, d0)
        dx[i] = k1
        k2 = f(xi + 0.5 * dt * k1, dm)
        k3 = f(xi + 0.5 * dt * k2, dm)
        k4 = f(xi + dt * k3, d1)
        x[i + 1] = xi + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x[lag + skip:: every][:N].copy()


# -------------------------------------------------------------- numbers as words

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**9, "billion"), (10**6, "million"), (1000, "thousand")]


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        words.append(_TENS[rest // 10])
        if rest % 10:
            words.append(_ONES[rest % 10])
    elif rest or not words:
        words.append(_ONES[rest])
    return words


def number_to_words(n: int) -> str:
    """English words for ``0 <= n < 10**12``, fastai style: no "and", no hyphens.

    >>> number_to_words(9999)
    'nine thousand nine hundred ninety nine'
    >>> number_to_words(312)
    'three hundred twelve'
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n < 10**12:
        raise ValueError(f"n must be an integer in [0, 10**12), got {n!r}")
    n = int(n)
    if n == 0:
        return "zero"
    words: list[str] = []
    for value, name in _SCALES:
        if n >= value:
            words += _below_thousand(n // value) + [name]
            n %= value
    if n:
        words += _below_thousand(n)
    return " ".join(words)


_WORD_VALUES = {w: i for i, w in enumerate(_ONES)} | {w: 10 * i for i, w in enumerate(_TENS) if w}


def words_to_number(text: str) -> int:
    """Inverse of :func:`number_to_words` (to score a seq2seq model's output)."""
    total, group = 0, 0
    tokens = text.split()
    if not tokens:
        raise ValueError("empty number phrase")
    for w in tokens:
        if w in _WORD_VALUES:
            group += _WORD_VALUES[w]
        elif w == "hundred":
            group *= 100
        elif w in ("thousand", "million", "billion"):
            total += group * {"thousand": 1000, "million": 10**6, "billion": 10**9}[w]
            group = 0
        else:
            raise ValueError(f"unknown number word {w!r} in {text!r}")
    return total + group


def human_numbers(start: int = 1, stop: int = 10000, sep: str = " . ") -> str:
    """The numbers ``start .. stop-1`` written in words, in order, joined by ``sep``.

    The *Human Numbers* corpus of fastai (Howard & Gugger 2020, chapter 12),
    regenerated with :func:`number_to_words`: ``"one . two . three . ... .
    nine thousand nine hundred ninety nine"``.  Its structure is perfectly
    regular, so the best possible next-word accuracy is known (a model must
    count), and a small vocabulary (29 words + the separator) keeps models tiny.
    fastai trains on 1-7999 and validates on 8000-9999: split by number, not
    at random, or the validation text is memorised.
    """
    a, b = _count("start", start, 0), _count("stop", stop, 1)
    if b <= a:
        raise ValueError(f"stop ({b}) must be greater than start ({a})")
    return sep.join(number_to_words(i) for i in range(a, b))


# ----------------------------------------------------------------- random walks


def random_walk_prices(
    n_steps: int,
    rng: RNG,
    start: float = 100.0,
    drift: float = 0.0,
    volatility: float = 0.01,
    n_series: int | None = None,
) -> np.ndarray:
    """Geometric random walk, ``p_t = p_{t-1} * exp(drift + volatility * eps_t)``, ``eps_t ~ N(0, 1)``.

    Log-returns are independent, so no model can predict tomorrow's return
    from the past: the best forecast of ``p_{t+1}`` (in squared error on log
    prices) is ``p_t`` times a constant, i.e. the naive persistence forecast.
    A network that "tracks the price" in a plot is just copying the last value
    (it lags by one step): the lesson of honest forecasting.

    Parameters
    ----------
    n_steps : int
        Length ``L`` (``p_0 = start`` included).
    n_series : int or None
        None: one series ``(L,)``; else ``(n_series, L)`` independent series.

    Returns
    -------
    (L,) or (S, L) float64, all > 0
    """
    L = _count("n_steps", n_steps)
    S = 1 if n_series is None else _count("n_series", n_series)
    if not (np.isfinite(start) and start > 0):
        raise ValueError(f"start must be a positive price, got {start}")
    if not (np.isfinite(volatility) and volatility >= 0) or not np.isfinite(drift):
        raise ValueError(f"drift must be finite and volatility finite and >= 0, got {drift}, {volatility}")
    gen = default_rng(rng)
    steps = drift + volatility * gen.standard_normal((S, L - 1))
    prices = start * np.exp(np.concatenate([np.zeros((S, 1)), np.cumsum(steps, axis=1)], axis=1))
    return prices[0] if n_series is None else prices


# ------------------------------------------------------- negation sentiment corpus

_NOUNS = ["movie", "film", "plot", "story", "acting", "ending", "script", "soundtrack", "cast", "dialogue"]
_POSITIVE = ["good", "great", "excellent", "brilliant", "charming", "fun", "moving", "clever"]
_NEGATIVE = ["bad", "boring", "awful", "dull", "terrible", "weak", "predictable", "clumsy"]
_KINDS = ("plain", "negated", "contrast", "not_but", "not_only")


def negation_corpus(n: int, rng: RNG, with_kind: bool = False) -> list[tuple]:
    """Sentences whose sentiment depends on word order, not just on which words occur.

    Five constructions, equally likely, with labels 1 = positive, 0 = negative:

    ==========  ============================================  ===============================
    kind        example                                       label
    ==========  ============================================  ===============================
    plain       "the plot was good"                           polarity of the adjective
    negated     "the plot was not good"                       flipped
    contrast    "the plot was good but boring"                the clause after "but" wins
    not_but     "the plot was not bad but great"              the adjective after "but"
    not_only    "the plot was not only good but great"        both adjectives agree
    ==========  ============================================  ===============================

    In "contrast" and "not_but" the two adjectives have opposite polarity, so
    swapping them flips the label while the bag of words stays the same:
    "good but boring" (0) and "boring but good" (1).  No bag-of-words model
    can get both right: with enough data its accuracy is capped at
    ``0.6 * 1 + 0.4 * 0.5 = 80%`` (see :func:`bag_of_words_ceiling`), while
    a recurrent model that reads in order can reach 100%.

    Parameters
    ----------
    n : int
        Number of sentences.
    rng : numpy Generator or int seed
    with_kind : bool
        Return ``(sentence, label, kind)`` triples instead of pairs, to score
        each construction separately.

    Returns
    -------
    list of (sentence, label) or (sentence, label, kind)
    """
    N = _count("n", n)
    gen = default_rng(rng)

    def pick(words: list[str]) -> str:
        return words[int(gen.integers(len(words)))]

    out: list[tuple] = []
    for _ in range(N):
        kind = _KINDS[int(gen.integers(len(_KINDS)))]
        noun = pick(_NOUNS)
        label = int(gen.integers(2))
        same = _POSITIVE if label else _NEGATIVE
        other = _NEGATIVE if label else _POSITIVE
        if kind == "plain":
            body = pick(same)
        elif kind == "negated":
            body = f"not {pick(other)}"
        elif kind == "contrast":
            body = f"{pick(other)} but {pick(same)}"
        elif kind == "not_but":
            body = f"not {pick(other)} but {pick(same)}"
        else:  # not_only: two adjectives of the label's polarity, distinct
            a = pick(same)
            b = pick([w for w in same if w != a])
            body = f"not only {a} but {b}"
        sentence = f"the {noun} was {body}"
        out.append((sentence, label, kind) if with_kind else (sentence, label))
    return out


def bag_of_words_ceiling(pairs: Iterable[tuple]) -> float:
    """Best accuracy any bag-of-words classifier can reach on ``pairs`` (in [0, 1]).

    Sentences with the same multiset of words look identical to such a model,
    so it can at best predict the majority label of each bag.  Below 1.0 means
    some bag occurs with both labels: word order carries the missing information.
    On a small sample the value is optimistic (a bag seen once looks solvable).
    """
    counts: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    total = 0
    for item in pairs:
        sentence, label = item[0], int(item[1])
        counts[tuple(sorted(sentence.split()))][label] += 1
        total += 1
    if total == 0:
        raise ValueError("pairs is empty")
    return sum(max(c) for c in counts.values()) / total


# ----------------------------------------------------------- seq2seq toy pairs


def number_phrase_pairs(n: int, rng: RNG, max_value: int = 999, min_value: int = 0) -> list[tuple[str, str]]:
    """``("three hundred twelve", "312")`` pairs for a character/word seq2seq model.

    Numbers are drawn uniformly from ``[min_value, max_value]``; the source is
    :func:`number_to_words`, the target the decimal digits.  Both read from
    the largest place down, but the alignment is not one-to-one ("twelve" gives
    two digits, "hundred" none, "three thousand five" needs zeros that no word
    names): a small lesson in why seq2seq models need attention or a good encoder.
    """
    N = _count("n", n)
    lo, hi = _count("min_value", min_value, 0), _count("max_value", max_value, 0)
    if hi < lo or hi >= 10**12:
        raise ValueError(f"need 0 <= min_value <= max_value < 10**12, got {min_value}, {max_value}")
    gen = default_rng(rng)
    values = gen.integers(lo, hi + 1, size=N)
    return [(number_to_words(int(v)), str(int(v))) for v in values]


_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]
_DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
_DATE_FORMATS = ("month_day_year", "day_month_year", "abbrev", "slashes")


def _days_in(year: int, month: int) -> int:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if (month == 2 and leap) else _DAYS_IN_MONTH[month - 1]


def date_pairs(
    n: int,
    rng: RNG,
    start_year: int = 1950,
    end_year: int = 2049,
    formats: Sequence[str] = ("month_day_year", "day_month_year", "abbrev"),
) -> list[tuple[str, str]]:
    """Human-written dates and their ISO 8601 form, e.g. ``("march 5 2021", "2021-03-05")``.

    The classic attention demo (translating varied date formats to one
    normalised form).  Dates are uniform over valid calendar days (leap years
    respected) between ``start_year`` and ``end_year`` inclusive.

    Formats: ``"month_day_year"`` -> "march 5 2021", ``"day_month_year"`` ->
    "5 march 2021", ``"abbrev"`` -> "mar 5, 2021", ``"slashes"`` -> "03/05/2021"
    (US order), each equally likely among those given.
    """
    N = _count("n", n)
    y0, y1 = _count("start_year", start_year), _count("end_year", end_year)
    if y1 < y0 or y1 > 9999:
        raise ValueError(f"need start_year <= end_year <= 9999, got {start_year}, {end_year}")
    fmts = list(formats)
    bad = [f for f in fmts if f not in _DATE_FORMATS]
    if not fmts or bad:
        raise ValueError(f"formats must be a non-empty subset of {_DATE_FORMATS}, got {tuple(formats)}")
    gen = default_rng(rng)
    # Uniform over days: draw an ordinal day among all the days of the year range.
    days_per_year = np.array([366 if _days_in(y, 2) == 29 else 365 for y in range(y0, y1 + 1)])
    cum = np.cumsum(days_per_year)
    out = []
    for _ in range(N):
        k = int(gen.integers(cum[-1]))
        yi = int(np.searchsorted(cum, k, side="right"))
        year = y0 + yi
        doy = k - (int(cum[yi - 1]) if yi else 0)
        month = 1
        while doy >= _days_in(year, month):
            doy -= _days_in(year, month)
            month += 1
        day = doy + 1
        fmt = fmts[int(gen.integers(len(fmts)))]
        name = _MONTHS[month - 1]
        if fmt == "month_day_year":
            src = f"{name} {day} {year}"
        elif fmt == "day_month_year":
            src = f"{day} {name} {year}"
        elif fmt == "abbrev":
            src = f"{name[:3]} {day}, {year}"
        else:
            src = f"{month:02d}/{day:02d}/{year}"
        out.append((src, f"{year:04d}-{month:02d}-{day:02d}"))
    return out
