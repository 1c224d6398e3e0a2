"""The verdict a checker hands back: a pass/fail flag and a short plain-text explanation.

A :class:`Feedback` prints the same text every time (no addresses, no timings), so the
call ``check_rnn_step_forward(rnn_step_forward)`` as the last line of a notebook cell
gives a reproducible text output that the notebook tests can compare.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Feedback", "STATUSES"]

#: ``passed``: agrees with the reference on every case; ``not_implemented``: still the stub;
#: ``failed``: a wrong answer was diagnosed; ``unusable``: the argument is not a function;
#: ``refused``: the function is the course's own reference, not the learner's;
#: ``timed_out``: a case ran past the time limit and was stopped.
STATUSES = ("passed", "not_implemented", "failed", "unusable", "refused", "timed_out")


@dataclass(frozen=True)
class Feedback:
    """Outcome of checking one learner function.

    Attributes
    ----------
    name : str
        The exercise, e.g. ``"rnn_step_forward"``.
    passed : bool
        ``True`` only if the function agreed with the reference on every case.
    status : str
        One of :data:`STATUSES`.
    lines : tuple of str
        The explanation, one sentence per line; ``lines[0]`` is the headline.
    """

    name: str
    passed: bool
    status: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The whole verdict as plain text."""
        return "\n".join(self.lines)

    @property
    def hint(self) -> str | None:
        """The first line starting with ``Hint:``, if any (what the common mistake looks like)."""
        for line in self.lines:
            if line.startswith("Hint:"):
                return line
        return None

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle: bool) -> None:  # IPython: show the text, not the dataclass
        p.text(self.text)


def passed(name: str, n_cases: int, labels: list[str], notes: tuple[str, ...] = ()) -> Feedback:
    """All cases agree with the reference; ``notes`` are remarks that do not fail it (e.g. "slow")."""
    shown = "; ".join(dict.fromkeys(labels))  # keep order, drop repeats
    return Feedback(
        name,
        True,
        "passed",
        (f"{name}: passed all {n_cases} test cases ({shown}).", *notes),
    )


def not_implemented(name: str) -> Feedback:
    """The learner's function is still the stub raising ``NotImplementedError``."""
    return Feedback(
        name,
        False,
        "not_implemented",
        (
            f"{name}: not implemented yet.",
            "Replace the `raise NotImplementedError` line with your solution, run that cell, "
            "then run this check again.",
        ),
    )


def failed(name: str, *lines: str) -> Feedback:
    """A diagnosed mistake; ``lines`` explain what is wrong (and maybe a ``Hint:``)."""
    return Feedback(name, False, "failed", (f"{name}: not correct yet.", *[ln for ln in lines if ln]))


def unusable(name: str, message: str) -> Feedback:
    """The checker was not given something it can call."""
    return Feedback(name, False, "unusable", (f"{name}: cannot check this.", message))


def refused(name: str, origin: str) -> Feedback:
    """The function passed is the package's reference (``origin`` names it), not the learner's own."""
    return Feedback(
        name,
        False,
        "refused",
        (
            f"{name}: this is the reference implementation, not yours.",
            f"The function you passed is {origin}, the course's own code, "
            "so checking it proves nothing.",
            f"Write your solution in the stub cell `def {name}(...)`, run that cell, then run this check again "
            "(or pass your function under the name you gave it).",
        ),
    )


def timed_out(name: str, where: str, seconds: float, limit: float, *lines: str) -> Feedback:
    """A case ran longer than the time limit and was stopped."""
    return Feedback(
        name,
        False,
        "timed_out",
        (
            f"{name}: stopped, too slow.",
            f"It did not finish {where} within the time limit: stopped after {seconds:.1f} s (time_limit={limit:g} s).",
            *[ln for ln in lines if ln],
        ),
    )


def with_notes(verdict: Feedback, *notes: str) -> Feedback:
    """The same verdict with remarks appended (e.g. that the progress record could not be written)."""
    extra = tuple(n for n in notes if n)
    if not extra:
        return verdict
    return Feedback(verdict.name, verdict.passed, verdict.status, verdict.lines + extra)
