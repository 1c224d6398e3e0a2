"""The two editions of the built book side by side, read from the HTML files (no browser needed).

Every English chapter page ``P`` has a Chinese page ``zh/P``; each page's language switch
(``a.edition-switch``) points at the other; and what the editions share is identical: every code
cell and output (``pre``), every display equation (``div.math``), every image, every API signature.
Only prose may differ. check_book.py reports these findings with its own; ``--html`` as there.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from bs4 import BeautifulSoup

CHINESE = "zh"

#: What the editions share, as CSS selectors and how to read each element.
SHARED = {
    "code and outputs": ("pre", lambda el: el.get_text()),
    "display equations": ("div.math", lambda el: el.get_text()),
    "images": ("img", lambda el: el.get("src", "")),
    "API signatures": ("dt.sig", lambda el: _signature(el)),
}


def _signature(dt) -> str:
    """A signature without its "[source]" / "#" links (interface words, translated)."""
    skip = dt.select(".viewcode-link, a.headerlink")
    return " ".join(s.strip() for s in dt.find_all(string=True)
                    if s.strip() and not any(s in el.descendants for el in skip))


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf8"), "html.parser")


def _switch_target(soup: BeautifulSoup, page: str) -> str | None:
    link = soup.select_one("a.edition-switch")
    if link is None:
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), link["href"]))


def compare_editions(html_dir: Path, pages: list[str]) -> tuple[list[str], dict[str, int]]:
    """Problems found (empty: none) and how many shared elements each category compared."""
    problems: list[str] = []
    counts = dict.fromkeys(SHARED, 0)
    english = [p for p in pages if not p.startswith(f"{CHINESE}/")]
    if not (html_dir / CHINESE).is_dir():
        return [f"editions: no Chinese edition in {html_dir / CHINESE} (make build-book builds both)"], counts
    for page in english:
        chinese = f"{CHINESE}/{page}"
        if not (html_dir / chinese).is_file():
            problems.append(f"editions: {page} has no Chinese page {chinese}")
            continue
        en, zh = _soup(html_dir / page), _soup(html_dir / chinese)
        for here, soup, there in ((page, en, chinese), (chinese, zh, page)):
            target = _switch_target(soup, here)
            if target != there:
                problems.append(f"editions: the language switch of {here} leads to {target}, not {there}")
        if not zh.html.get("lang", "").startswith("zh"):
            problems.append(f"editions: {chinese} is not marked lang=zh-CN (fonts and hyphenation need it)")
        for what, (selector, read) in SHARED.items():
            left = [read(el) for el in en.select(selector)]
            right = [read(el) for el in zh.select(selector)]
            counts[what] += len(left)
            if left != right:
                diff = next((i for i, (a, b) in enumerate(zip(left, right)) if a != b), min(len(left), len(right)))
                sample = (left[diff:diff + 1] or ["(none)"])[0][:80], (right[diff:diff + 1] or ["(none)"])[0][:80]
                problems.append(f"editions: {what} differ on {page} ({len(left)} English, {len(right)} Chinese; "
                                f"first at #{diff}: {sample[0]!r} vs {sample[1]!r})")
    return problems, counts
