"""The Chinese edition's catalogs against the English source of today.

The gettext builder extracts every message of the English book (once per session, ~45 s); each must
have a translation in locales/zh_CN/LC_MESSAGES/<page>.po that is neither empty nor fuzzy, keeps the
source's markup and uses full-width punctuation. A change to the English text therefore fails here
until `make translations` has brought the catalogs up to date and the new text is translated.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "tools"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from check_translations import (  # noqa: E402
    CATALOGS, check_catalog, markup_problems, pending_key, read_pending, typography_problems)
from editions import counterpart  # noqa: E402

GLOSSARY = ROOT / "book" / "appendix_glossary.md"


def _read(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> dict[str, set[str]]:
    """Page -> the messages the English source has now (the gettext builder's .pot files)."""
    out = tmp_path_factory.mktemp("gettext")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jupyter_book), "build", str(ROOT), "--builder", "custom", "--custom-builder",
                    "gettext", "--path-output", str(out), "-W", "-n", "--keep-going", "-q"],
                   check=True, capture_output=True, text=True)
    pots = sorted((out / "_build" / "gettext").rglob("*.pot"))
    assert len(pots) > 20, f"the gettext build wrote {len(pots)} templates"
    return {str(p.relative_to(out / "_build" / "gettext").with_suffix("")):
            {str(m.id) for m in _read(p) if m.id} for p in pots}


def untranslated(templates) -> dict[str, str]:
    """pending-list key -> a readable line, for every current message without a usable translation."""
    missing = {}
    for page, messages in templates.items():
        po = CATALOGS / f"{page}.po"
        done = set()
        if po.is_file():
            done = {str(m.id) for m in _read(po) if m.id and str(m.string or "").strip() and not m.fuzzy}
        for msgid in sorted(messages - done):
            missing[pending_key(page, msgid)] = f"{page}: {msgid[:80]!r}"
    return missing


def test_every_message_is_translated(templates):
    """Every message, except those listed in locales/zh_CN/pending.txt (none, once the edition is done)."""
    missing, pending = untranslated(templates), read_pending()
    new = [line for key, line in missing.items() if key not in pending]
    total = sum(len(m) for m in templates.values())
    assert not new, (f"{len(new)} of {total} messages untranslated or fuzzy (make translations, then "
                     "translate):\n" + "\n".join(new[:40]))


def test_pending_list_only_shrinks(templates):
    done = sorted(pending - set(untranslated(templates))) if (pending := read_pending()) else []
    assert not done, (f"{len(done)} message(s) in locales/zh_CN/pending.txt are translated or gone: run "
                      "tests/tools/check_translations.py --write-pending\n" + "\n".join(done[:20]))


def test_catalogs_hold_no_stale_messages(templates):
    stale = []
    for po in sorted(CATALOGS.rglob("*.po")):
        page = str(po.relative_to(CATALOGS).with_suffix(""))
        current = templates.get(page, set())
        stale += [f"{page}: {str(m.id)[:80]!r}" for m in _read(po) if m.id and str(m.id) not in current]
    assert not stale, "messages the English book no longer has (make translations):\n" + "\n".join(stale[:40])


def test_translations_keep_markup_and_typography():
    problems = [str(p) for po in sorted(CATALOGS.rglob("*.po")) for p in check_catalog(po)
                if p.what != "untranslated"]
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])


def glossary_alternatives() -> dict[str, list[str]]:
    """Canonical Chinese term -> the other names the glossary lists for it ("Also seen elsewhere")."""
    terms = {}
    for line in GLOSSARY.read_text(encoding="utf8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[2] and not set(cells[2]) <= set("- ") and cells[0] != "English":
            terms[cells[1]] = [t.strip() for t in re.split(r"[、/]", cells[2]) if t.strip()]
    return terms


def test_one_term_per_concept():
    """The chapters use the glossary's term, never one of the alternatives it lists."""
    alternatives = glossary_alternatives()
    assert len(alternatives) >= 8, alternatives
    found = []
    for po in sorted(CATALOGS.rglob("*.po")):
        if po.stem == GLOSSARY.stem:
            continue
        for message in _read(po):
            text = str(message.string or "")
            for canonical, others in alternatives.items():
                rest = text.replace(canonical, "")  # "随时间反向传播" contains "时间反向传播"
                found += [f"{po.stem}: {other!r} instead of {canonical!r} in {text[:60]!r}"
                          for other in others if other in rest]
    assert not found, "\n".join(found[:40])


@pytest.mark.parametrize("source, translation, problem", [
    ("See {numref}`Chapter %s <ch-bptt>`.", "见第 3 章。", "cross-references"),
    ("Call `np.tanh` here.", "在这里调用 np.tanh。", "inline code"),
    ("The state $h_t$ is new.", "状态 $h_{t}$ 是新的。", "math"),
    ("Read [the paper](https://example.org/a).", "阅读[论文](https://example.org/b)。", "link URLs"),
    ("A **gate** opens.", "门打开。", "bold"),
    # math between two roles: the roles' backticks must not pair up into one "code span" hiding it
    ("{cite:t}`le2015` used $U = I$, see {ref}`ex-a`.", "{cite:t}`le2015` 的做法，见{ref}`ex-a`。", "math"),
])
def test_checker_catches_broken_markup(source, translation, problem):
    assert any(problem in p for p in markup_problems(source, translation))


def test_checker_accepts_translated_role_text():
    source = "See {numref}`Chapter %s <ch-bptt>` and {cite:t}`werbos1990`, with `h_n` and $h_t$."
    assert markup_problems(source, "见{numref}`第 %s 章 <ch-bptt>`和 {cite:t}`werbos1990`，使用 `h_n` 和 $h_t$。") == []


@pytest.mark.parametrize("text, bad", [
    ("这是一个例子, 很好.", True), ("这是 `a.b, c` 的例子。", False), ("函数(见下文)", True),
    ("函数（见下文）。", False), ("第 3 章讨论 RNN (Elman, 1990)。", False),
])
def test_checker_typography(text, bad):
    assert bool(typography_problems(text)) is bad


def test_language_switch_links_the_same_page():
    assert counterpart("book/02_recurrence", "en")["url"] == "../zh/book/02_recurrence.html"
    assert counterpart("book/02_recurrence", "zh_CN")["url"] == "../../book/02_recurrence.html"
    assert counterpart("genindex", "zh_CN")["url"] == "../genindex.html"
    assert counterpart("genindex", None)["lang"] == "zh-CN"
