"""Tokenisers and a vocabulary that maps tokens to integer ids and back.

A language model or classifier never sees text: it sees the integer ids of
tokens.  :class:`Vocab` fixes that mapping once, from training text only, and
keeps it stable (frequency order with deterministic tie-breaking) so that a
saved model and its saved vocabulary always agree.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = [
    "Vocab",
    "tokenize_chars",
    "tokenize_words",
    "WORD_PATTERN",
    "SPECIAL_TOKENS",
    "PAD",
    "UNK",
    "BOS",
    "EOS",
    "PAD_ID",
    "UNK_ID",
    "BOS_ID",
    "EOS_ID",
]

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
#: The special tokens in id order; ``<pad>`` is 0 so that zero-filled batches are padding.
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3

#: A word is a run of letters/digits, optionally with inner apostrophes ("don't",
#: "it's"); every other non-space character (punctuation) is a token of its own.
WORD_PATTERN = r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_"
_WORD_RE = re.compile(WORD_PATTERN)

Level = Literal["char", "word"]


def tokenize_chars(text: str, lowercase: bool = False) -> list[str]:
    """Split ``text`` into single characters (spaces and newlines included).

    >>> tokenize_chars("Hi!\\n")
    ['H', 'i', '!', '\\n']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return list(text.lower() if lowercase else text)


def tokenize_words(text: str, lowercase: bool = True) -> list[str]:
    """Split ``text`` into words and punctuation with the regex :data:`WORD_PATTERN`.

    Words are runs of letters and digits, keeping inner apostrophes together
    ("don't" is one token); every punctuation character is its own token and
    whitespace is dropped.  The rule is deliberately simple: it is the one the
    course's sentiment models are trained with, and it is easy to read.

    >>> tokenize_words("Not bad, really... It's GOOD!")
    ['not', 'bad', ',', 'really', '.', '.', '.', "it's", 'good', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _WORD_RE.findall(text.lower() if lowercase else text)


class Vocab:
    """A bijection between tokens and the ids ``0 .. len(vocab)-1``.

    Ids are assigned as follows:

    1. the special tokens ``<pad>=0, <unk>=1, <bos>=2, <eos>=3`` (if ``specials``);
    2. the remaining tokens by decreasing frequency, ties broken by the token's
       string order (so the same text always gives the same ids, whatever order
       the texts were read in);
    3. tokens seen fewer than ``min_freq`` times are dropped, and at most
       ``max_size`` entries are kept in total (specials included).

    Tokens outside the vocabulary encode to ``<unk>``.

    Parameters
    ----------
    tokens : iterable of str
        The training tokens (already tokenised), e.g. ``tokenize_chars(text)``.
    level : {"char", "word"}
        How :meth:`encode` splits a string and how :meth:`decode` joins tokens
        (``""`` for characters, ``" "`` for words).
    lowercase : bool
        Lower-case strings before tokenising them in :meth:`encode`.  Build the
        vocabulary from tokens made the same way (:meth:`from_texts` does).
    min_freq : int
        Minimum count for a token to get its own id.
    max_size : int or None
        Maximum ``len(vocab)``, specials included.
    specials : bool
        Reserve ids 0-3 for ``<pad> <unk> <bos> <eos>``.  A character language
        model over a closed alphabet can switch them off (then ``V`` is exactly
        the number of distinct characters, and an unknown token is an error).

    Examples
    --------
    >>> v = Vocab.from_texts(["abca"], level="char")
    >>> v.itos
    ['<pad>', '<unk>', '<bos>', '<eos>', 'a', 'b', 'c']
    >>> v.encode("cab")
    array([6, 4, 5])
    >>> v.decode([6, 4, 5])
    'cab'
    """

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        level: Level = "word",
        lowercase: bool = False,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: bool = True,
    ) -> None:
        if level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {level!r}")
        if isinstance(tokens, str):
            raise TypeError("tokens must be an iterable of tokens, not one str; use Vocab.from_texts([text], ...)")
        if isinstance(min_freq, bool) or not isinstance(min_freq, (int, np.integer)) or min_freq < 1:
            raise ValueError(f"min_freq must be an integer >= 1, got {min_freq!r}")
        n_special = len(SPECIAL_TOKENS) if specials else 0
        if max_size is not None:
            if isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer)) or max_size < max(n_special, 1):
                raise ValueError(f"max_size must be an integer >= {max(n_special, 1)} (the special tokens), got {max_size!r}")
        counts: Counter[str] = Counter()
        for tok in tokens:
            if not isinstance(tok, str):
                raise TypeError(f"every token must be a str, got {type(tok).__name__}: {tok!r}")
            counts[tok] += 1
        self.level: Level = level
        self.lowercase = bool(lowercase)
        self.specials = bool(specials)
        self.min_freq = int(min_freq)
        self.max_size = None if max_size is None else int(max_size)

        reserved = SPECIAL_TOKENS if specials else ()
        # Frequency order; equal counts fall back to the token string, never to dict order.
        ranked = sorted(((t, c) for t, c in counts.items() if c >= min_freq and t not in reserved),
                        key=lambda tc: (-tc[1], tc[0]))
        if max_size is not None:
            ranked = ranked[: max_size - len(reserved)]
        self.itos: list[str] = list(reserved) + [t for t, _ in ranked]
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        self.counts: dict[str, int] = {t: c for t, c in ranked}

    # ----------------------------------------------------------------- building
    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        *,
        level: Level = "word",
        lowercase: bool | None = None,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: bool = True,
    ) -> Vocab:
        """Build a vocabulary from raw strings, tokenised at ``level``.

        ``lowercase`` defaults to True for words and False for characters.
        """
        if isinstance(texts, str):
            raise TypeError("texts must be an iterable of str (wrap a single text in a list)")
        if lowercase is None:
            lowercase = level == "word"
        tok = _tokenizer(level)

        def _all_tokens() -> Iterable[str]:
            for text in texts:
                yield from tok(text, lowercase=lowercase)

        return cls(_all_tokens(), level=level, lowercase=lowercase, min_freq=min_freq, max_size=max_size,
                   specials=specials)

    # ------------------------------------------------------------------ mapping
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        """Id of ``token`` (``<unk>``'s id if unknown and specials are on)."""
        return self.token_to_id(token)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return (self.itos, self.level, self.lowercase, self.specials, self.counts) == (
            other.itos, other.level, other.lowercase, other.specials, other.counts)

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.itos[:8])
        more = ", ..." if len(self) > 8 else ""
        return f"Vocab(level={self.level!r}, size={len(self)}, itos=[{head}{more}])"

    @property
    def pad_id(self) -> int | None:
        """Id of ``<pad>`` (0), or None without special tokens."""
        return PAD_ID if self.specials else None

    @property
    def unk_id(self) -> int | None:
        """Id of ``<unk>`` (1), or None without special tokens."""
        return UNK_ID if self.specials else None

    @property
    def bos_id(self) -> int | None:
        """Id of ``<bos>`` (2), or None without special tokens."""
        return BOS_ID if self.specials else None

    @property
    def eos_id(self) -> int | None:
        """Id of ``<eos>`` (3), or None without special tokens."""
        return EOS_ID if self.specials else None

    def token_to_id(self, token: str) -> int:
        """Id of one token; unknown tokens map to ``<unk>`` (KeyError without specials)."""
        if not isinstance(token, str):  # an int or bytes would silently become <unk>
            raise TypeError(
                f"tokens must be strings, got {type(token).__name__} {token!r} (to turn ids into text use decode)"
            )
        idx = self.stoi.get(token)
        if idx is not None:
            return idx
        if self.specials:
            return UNK_ID
        raise KeyError(f"token {token!r} is not in the vocabulary and there is no <unk> (specials=False)")

    def tokenize(self, text: str) -> list[str]:
        """Split ``text`` the way this vocabulary was built (level and lowercasing)."""
        return _tokenizer(self.level)(text, lowercase=self.lowercase)

    def encode(self, text: str | Sequence[str], *, add_bos: bool = False, add_eos: bool = False) -> np.ndarray:
        """Map a string (tokenised with :meth:`tokenize`) or a list of tokens to ids.

        Returns
        -------
        numpy.ndarray
            ``(L,)`` int64 ids, with ``<bos>``/``<eos>`` added if asked.
        """
        if isinstance(text, str):
            tokens = self.tokenize(text)
        elif isinstance(text, (Sequence, np.ndarray)) and not isinstance(text, (bytes, bytearray)):
            tokens = list(text)
        else:
            raise TypeError(f"encode takes a string or a list of string tokens, got {type(text).__name__}")
        ids = [self.token_to_id(t) for t in tokens]
        if add_bos or add_eos:
            if not self.specials:
                raise ValueError("add_bos/add_eos need the special tokens (build the Vocab with specials=True)")
            ids = ([BOS_ID] if add_bos else []) + ids + ([EOS_ID] if add_eos else [])
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int] | np.ndarray, *, skip_specials: bool = False) -> str:
        """Map ids back to a string (characters joined by ``""``, words by ``" "``)."""
        arr = np.asarray(ids)
        if arr.ndim != 1:
            raise ValueError(f"decode takes a 1-D sequence of ids, got shape {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            bad = int(arr[(arr < 0) | (arr >= len(self))][0])
            raise ValueError(f"id {bad} is outside the vocabulary (valid ids are 0..{len(self) - 1})")
        special = set(range(len(SPECIAL_TOKENS))) if (skip_specials and self.specials) else set()
        tokens = [self.itos[i] for i in arr.tolist() if i not in special]
        return ("" if self.level == "char" else " ").join(tokens)

    # -------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        """A JSON-serialisable description (what :meth:`save` writes)."""
        return {
            "format": "companion.data.Vocab",
            "version": 1,
            "level": self.level,
            "lowercase": self.lowercase,
            "specials": self.specials,
            "min_freq": self.min_freq,
            "max_size": self.max_size,
            "itos": self.itos,
            "counts": [self.counts.get(t, 0) for t in self.itos],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        """Rebuild a vocabulary from :meth:`to_dict` output, keeping the exact ids."""
        if d.get("format") != "companion.data.Vocab":
            raise ValueError("not a saved companion Vocab (missing format tag 'companion.data.Vocab')")
        itos = list(d["itos"])
        if len(set(itos)) != len(itos):
            raise ValueError("saved vocabulary has duplicate tokens")
        if d["specials"] and tuple(itos[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"saved vocabulary must start with the special tokens {SPECIAL_TOKENS}")
        v = cls.__new__(cls)
        v.level = d["level"]
        v.lowercase = bool(d["lowercase"])
        v.specials = bool(d["specials"])
        v.min_freq = int(d.get("min_freq", 1))
        v.max_size = d.get("max_size")
        v.itos = itos
        v.stoi = {t: i for i, t in enumerate(itos)}
        n_special = len(SPECIAL_TOKENS) if v.specials else 0
        v.counts = {t: int(c) for t, c in zip(itos[n_special:], d["counts"][n_special:])}
        return v

    def save(self, path: str | PathLike[str]) -> None:
        """Write the vocabulary as UTF-8 JSON (ids are list positions in ``itos``)."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | PathLike[str]) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _tokenizer(level: str):
    if level == "char":
        return tokenize_chars
    if level == "word":
        return tokenize_words
    raise ValueError(f"level must be 'char' or 'word', got {level!r}")
