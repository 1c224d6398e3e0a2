"""Check the Chinese catalogs (locales/zh_CN/LC_MESSAGES/**/*.po) message by message.

    .venv/bin/python tests/tools/check_translations.py [PO_FILE ...]
    .venv/bin/python tests/tools/check_translations.py --write-pending

For every message: it is translated and not fuzzy; the translation keeps the markup the build needs
(role targets, inline code, math, link URLs, ``%s`` placeholders, footnote references) -- a dropped
cross-reference is a broken page, and a changed ``$x_t$`` is a different equation; and Chinese prose
uses full-width punctuation. tests/test_translations.py runs the same checks and also compares the
catalogs with the messages the English source has today.

``--write-pending`` records the messages still untranslated or fuzzy in locales/zh_CN/pending.txt
(page, tab, message). While that list is not empty the coverage test accepts exactly those messages
as not yet done -- any other untranslated message (new or changed English text) fails it, and so does
a listed message that has since been translated, so the list can only shrink. An empty or absent list
means every message must be translated.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
PENDING = ROOT / "locales" / "zh_CN" / "pending.txt"

CJK = "\u3400-\u9fff\uf900-\ufaff"
# `` `x` ``, ``{role}`text <target>` ``, ``$..$`` / ``$$..$$``: what must survive translation.
ROLE = re.compile(r"\{([a-z:-]+)\}`([^`]*)`")
CODE = re.compile(r"(?<![}`])(`+)(?!`)(.+?)(?<!`)\1(?!`)")
MATH = re.compile(r"(?<![\\$])\$\$?(?! )(.+?)(?<![\\ ])\$\$?")
URL = re.compile(r"\]\(([^)\s]+)\)|<(https?://[^>]+)>|(?<![(<])(https?://[^\s)>]+)")
FOOTNOTE = re.compile(r"\[\^[^\]]+\]")
# Roles whose text a translator may change (only the <target> must stay).
TEXT_ROLES = {"numref", "ref", "doc", "term"}
ASCII_AFTER_CJK = re.compile(rf"[{CJK}][,.:;?!]($|\s|[{CJK}])")
ASCII_PAREN = re.compile(rf"\(([^()]*[{CJK}][^()]*)\)")


@dataclass(frozen=True)
class Problem:
    catalog: str
    msgid: str
    what: str

    def __str__(self) -> str:
        short = self.msgid if len(self.msgid) < 70 else self.msgid[:67] + "..."
        return f"{self.catalog}: {self.what}\n    msgid: {short!r}"


def _strip_markup(text: str) -> str:
    """Prose only: roles, code and math removed (their punctuation is not prose)."""
    for pattern in (ROLE, CODE, MATH, URL):
        text = pattern.sub(" ", text)
    return text


def _roles(text: str) -> Counter:
    found = Counter()
    for role, body in ROLE.findall(text):
        if role in TEXT_ROLES:
            target = re.search(r"<([^<>]+)>\s*$", body)
            body = target.group(1) if target else body
        found[(role, body.strip())] += 1
    return found


def markup_problems(msgid: str, msgstr: str) -> list[str]:
    """What the translation lost or changed of the source's markup (empty: nothing)."""
    problems = []
    checks = {
        "cross-references/roles": _roles,
        "inline code": lambda t: Counter(m[1] for m in CODE.findall(ROLE.sub(" ", t))),
        "math": lambda t: Counter(MATH.findall(CODE.sub(" ", ROLE.sub(" ", t)))),
        "link URLs": lambda t: Counter("".join(m) for m in URL.findall(t)),
        "footnote references": lambda t: Counter(FOOTNOTE.findall(t)),
        "%s placeholders": lambda t: Counter({"%s": t.count("%s")}),
    }
    for name, extract in checks.items():
        source, target = extract(msgid), extract(msgstr)
        if source != target:
            missing = list((source - target).elements())
            extra = list((target - source).elements())
            problems.append(f"{name} differ: missing {missing}, unexpected {extra}")
    if msgid.count("**") != msgstr.count("**"):
        problems.append("bold markers (**) differ in number")
    return problems


def typography_problems(msgstr: str) -> list[str]:
    prose = _strip_markup(msgstr)
    problems = []
    if ASCII_AFTER_CJK.search(prose):
        problems.append("half-width punctuation after Chinese text (use ，。：；？！)")
    if ASCII_PAREN.search(prose):
        problems.append("half-width parentheses around Chinese text (use （）)")
    return problems


def check_catalog(path: Path) -> list[Problem]:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    name = str(path.relative_to(CATALOGS)) if path.is_relative_to(CATALOGS) else str(path)
    problems = []
    for message in catalog:
        if not message.id:
            continue
        msgid, msgstr = str(message.id), str(message.string or "")
        if not msgstr.strip():
            problems.append(Problem(name, msgid, "untranslated"))
            continue
        if message.fuzzy:
            problems.append(Problem(name, msgid, "fuzzy (the English changed: review, then drop the flag)"))
        for what in markup_problems(msgid, msgstr) + typography_problems(msgstr):
            problems.append(Problem(name, msgid, what))
    return problems


def pending_key(page: str, msgid: str) -> str:
    return f"{page}\t{msgid.replace(chr(10), chr(92) + 'n')}"


def read_pending() -> set[str]:
    if not PENDING.is_file():
        return set()
    return {line for line in PENDING.read_text(encoding="utf8").splitlines() if line and not line.startswith("#")}


def write_pending() -> int:
    keys = []
    for path in sorted(CATALOGS.rglob("*.po")):
        page = str(path.relative_to(CATALOGS).with_suffix(""))
        with path.open("rb") as handle:
            keys += [pending_key(page, str(m.id)) for m in read_po(handle)
                     if m.id and (not str(m.string or "").strip() or m.fuzzy)]
    header = ("# Messages of the Chinese edition not yet translated (tests/tools/check_translations.py\n"
              "# --write-pending). tests/test_translations.py accepts these and no others; translate them and\n"
              "# run --write-pending again: the list only shrinks.\n")
    PENDING.write_text(header + "".join(k + "\n" for k in keys), encoding="utf8")
    print(f"{len(keys)} message(s) pending, written to {PENDING.relative_to(ROOT)}")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--write-pending"]:
        return write_pending()
    paths = [Path(a) for a in argv] or sorted(CATALOGS.rglob("*.po"))
    pending = read_pending()
    problems = [p for path in paths for p in check_catalog(path)
                if not (p.what.startswith(("untranslated", "fuzzy")) and
                        pending_key(str(path.relative_to(CATALOGS).with_suffix("")), p.msgid) in pending)]
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) in {len(paths)} catalog(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
