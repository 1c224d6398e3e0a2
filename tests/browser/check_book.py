"""The built book in headless Chromium with no network: ``make browser-test`` runs this.

Every page of ``_build/html`` is served from a local server and loaded at 1280 px and at 400 px; the
page may load nothing but that server (any other request is aborted and fails the page). On the
rendered DOM it checks, per page and width:

- ``network``    no request left the local server; no local file is missing (HTTP 4xx/5xx)
- ``console``    no JavaScript error and no console error
- ``math``       every math element typeset by MathJax, no MathJax error, no raw TeX left in the text
- ``images``     every image loaded (``naturalWidth > 0``)
- ``solutions``  every solution is a collapsed dropdown
- ``outputs``    consecutive prints of a cell are one output box (``nb_merge_streams``), no empty box
- ``page-width`` nothing wider than the viewport (the page never scrolls sideways); offenders named
- ``clipped``    no box hides part of its content (overflow hidden/clip)
- ``tables``     no table column squeezed below readability (a long cell narrower than 64 px)
- ``boxes``      at 1280 px only: no display equation, code cell, output or table needs to scroll in
                 its own box (at 400 px scrolling inside a box is the accepted fallback: reported only)
- ``cjk``        Chinese pages (``zh/``): the heading and the first paragraphs are drawn with a font that
                 has Chinese glyphs (Chromium's own record of the fonts it used), not as empty boxes

The Chinese edition's pages are checked like the English ones. Before the pages, both_editions.py compares
the two editions: every English page has its Chinese page, the language switches lead to each other,
and code, outputs, equations, images and API signatures are identical in both.

Before the pages, a static scan lists every asset the HTML/CSS would fetch from another host, and a
self-test serves one page with MathJax pointed back at a CDN and requires the checks above to fail on
it (so a guard that has silently stopped working is itself a failure).

A screenshot of each page at 1280 px goes to ``_build/screenshots/``; the full findings, including
the display equations too wide for the column (for the authors to split) and how many characters of
code fit on a line, go to ``_build/browser-report.json``. Exit status 0 only when every check passes.

Usage: ``python tests/browser/check_book.py [--html _build/html] [--pages GLOB ...] [--no-screenshots]
[--source-pages]``
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the Makefile installs it with requirements.txt
    sync_playwright = None

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import PageLog, launch, serve  # noqa: E402
from both_editions import compare_editions  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AUDIT_JS = (Path(__file__).resolve().parent / "audit.js").read_text(encoding="utf8")
WIDTHS = (1280, 400)
HEIGHT = 900
LOCAL_MATHJAX = "_static/mathjax/tex-mml-chtml.js"
#: Where Sphinx loads MathJax from when ``mathjax_path`` is not set: the self-test points pages back at it.
try:
    from sphinx.ext.mathjax import MATHJAX_URL as CDN_MATHJAX
except ImportError:  # pragma: no cover
    CDN_MATHJAX = "https://cdn.invalid/mathjax@3/es5/tex-mml-chtml.js"
#: Box categories whose horizontal scrolling fails the page at desktop width.
#: (Code blocks that are not notebook cells -- literalincludes of the package, fenced blocks -- follow the
#: package's line length, not the book's 88 characters: they may scroll, and are listed in the summary.)
NO_SCROLL_AT_DESKTOP = {"display-math", "inline-math", "code-input", "code-output", "table", "other"}
SCREENSHOT_MAX_HEIGHT = 32_000  # px: pages up to this height are shot whole ...
SCREENSHOT_TALL_PAGE = 16_000  # ... a longer one (the API reference, 140,000 px) down to here
CHECKS = ("network", "console", "math", "images", "solutions", "outputs", "page-width", "clipped", "tables",
          "boxes", "cjk")
#: Families with Chinese glyphs that Chromium may pick (fontconfig on Linux, the system on macOS/Windows).
CJK_FONT = re.compile(r"CJK|Source Han|Noto Sans SC|Noto Serif SC|WenQuanYi|Droid Sans Fallback|PingFang|"
                      r"Hiragino|Heiti|Songti|YaHei|SimSun|SimHei|DengXian|AR PL", re.I)
_CJK_PROBE_JS = """() => {
  // Mark the h1 and up to three paragraphs whose own text (not their children's) is Chinese.
  const own = (el) => [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.nodeValue).join("");
  const cjk = (s) => (s.match(/[\u3400-\u9fff]/g) || []).length;
  const picks = [...document.querySelectorAll("main h1, main p")]
    .filter((el) => cjk(own(el)) > 0 && el.checkVisibility({checkVisibilityCSS: true}));
  const chosen = [picks.find((el) => el.tagName === "H1"), ...picks.filter((el) => el.tagName === "P").slice(0, 3)]
    .filter(Boolean);
  chosen.forEach((el, i) => el.setAttribute("data-cjk-probe", i));
  return chosen.map((el) => ({tag: el.tagName.toLowerCase(), cjk: cjk(own(el)), text: own(el).slice(0, 40)}));
}"""

# ---------------------------------------------------------------------------------------------------
# Static scan: what the HTML and CSS would fetch from another host.
# ---------------------------------------------------------------------------------------------------
_EXTERNAL = r"""(?:https?:)?//(?!127\.0\.0\.1|localhost)[^"'\s)>]+"""
_ASSET_TAG = re.compile(r"""<(script|img|iframe|source|audio|video|embed|track)\b[^>]*?\ssrc\s*=\s*["']("""
                        + _EXTERNAL + r""")["']""", re.I)
_LINK_TAG = re.compile(r"""<link\b[^>]*>""", re.I)
_LINK_HREF = re.compile(r"""\shref\s*=\s*["'](""" + _EXTERNAL + r""")["']""", re.I)
_LINK_REL = re.compile(r"""\srel\s*=\s*["']([^"']*)["']""", re.I)
_FETCHING_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon", "shortcut", "manifest",
                  "apple-touch-icon", "preconnect", "dns-prefetch"}
_INLINE_SCRIPT = re.compile(r"""<script\b(?![^>]*\ssrc=)[^>]*>(.*?)</script>""", re.I | re.S)
_SCRIPT_URL = re.compile(r"""["'`](""" + _EXTERNAL + r"""\.(?:m?js|css|woff2?|ttf|otf))["'`]""", re.I)
_CSS_URL = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])(""" + _EXTERNAL + r""")""", re.I)


def external_assets_in_html(text: str) -> list[str]:
    """URLs on other hosts that this HTML would load (scripts, styles, images, fonts, frames)."""
    found = [m.group(2) for m in _ASSET_TAG.finditer(text)]
    for tag in _LINK_TAG.findall(text):
        href, rel = _LINK_HREF.search(tag), _LINK_REL.search(tag)
        if href and rel and set(rel.group(1).lower().split()) & _FETCHING_RELS:
            found.append(href.group(1))
    for body in _INLINE_SCRIPT.findall(text):
        found += _SCRIPT_URL.findall(body)
    found += [m.group(1) for m in _CSS_URL.finditer(text)]
    return found


def external_assets_in_css(text: str) -> list[str]:
    return [m.group(1) for m in _CSS_URL.finditer(text)]


def scan_static(html_dir: Path) -> dict[str, list[str]]:
    """``{file: [external URL, ...]}`` for every HTML/CSS file of the build that references one."""
    findings: dict[str, list[str]] = {}
    for path in sorted(html_dir.rglob("*")):
        if path.suffix not in {".html", ".css"} or not path.is_file():
            continue
        text = path.read_text(encoding="utf8", errors="replace")
        urls = external_assets_in_html(text) if path.suffix == ".html" else external_assets_in_css(text)
        if urls:
            findings[path.relative_to(html_dir).as_posix()] = sorted(set(urls))
    return findings


def point_mathjax_at_cdn(html: str) -> str:
    """The self-test's rewrite: the page loads MathJax from the CDN again, as before this test existed."""
    pattern = 'src="(?:\\.\\./)*' + re.escape(LOCAL_MATHJAX) + '(?:\\?[^"]*)?"'
    return re.sub(pattern, f'src="{CDN_MATHJAX}"', html)


# ---------------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------------
def list_pages(html_dir: Path, patterns: list[str] | None, source_pages: bool = False) -> list[str]:
    """Every HTML page of the build, book chapters first, except the root redirect and -- unless
    ``source_pages`` -- the highlighted module sources that viewcode generates (one per module of the
    package; their index page is kept, so the page type is still checked)."""
    def edition_free(p: str) -> str:  # "zh/book/x.html" is checked like "book/x.html"
        return p.removeprefix("zh/")
    pages = [p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")]
    pages = [p for p in pages if not edition_free(p).startswith(("_sources/", "_static/", "_images/"))]
    pages = [p for p in pages if edition_free(p) != "index.html"
             and (source_pages or not edition_free(p).startswith("_modules/")
                  or edition_free(p) == "_modules/index.html")]
    if patterns:
        pages = [p for p in pages if any(fnmatch.fnmatch(p, pat) for pat in patterns)]
    return sorted(pages, key=lambda p: (p.startswith("zh/"), not edition_free(p).startswith("book/"),
                                        edition_free(p).startswith("_modules/"), p))


_SETTLE_JS = """async () => {
  const timeout = (ms) => new Promise((r) => setTimeout(r, ms));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await Promise.race([MathJax.startup.promise, timeout(20000)]);
  }
  await Promise.race([Promise.all([...document.images].map((i) => i.complete ? 0 :
    new Promise((r) => { i.addEventListener('load', r); i.addEventListener('error', r); }))), timeout(10000)]);
  await Promise.race([document.fonts.ready, timeout(5000)]);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return true;
}"""


@dataclass
class PageResult:
    page: str
    width: int
    failures: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    def fail(self, check: str, message: str) -> None:
        self.failures.setdefault(check, []).append(message)


def _fmt(item: dict, *keys: str) -> str:
    where = f"[{item['section']}] " if item.get("section") else ""
    bits = [f"{k}={item[k]}" for k in keys if k in item]
    return f"{where}{item.get('element', '')} {' '.join(bits)} :: {item.get('text', '')!r}".strip()


def judge(page: str, width: int, audit: dict, blocked: list[str], console: list[str],
          failed: list[str]) -> PageResult:
    """Turn one page's audit into failures per check (and notes for the report)."""
    r = PageResult(page, width)
    for url in blocked:
        r.fail("network", f"blocked request to another host: {url}")
    for msg in failed:
        r.fail("network", f"local file missing: {msg}")
    for msg in console:
        r.fail("console", msg)

    m = audit["math"]
    if m["untypesetCount"]:
        r.fail("math", f"{m['untypesetCount']} of {m['count']} math elements not typeset, e.g. "
               + "; ".join(_fmt(x) for x in m["untypeset"][:3]))
    for x in m["errors"]:
        r.fail("math", f"MathJax error {x['error']!r} in {x['tex']!r} [{x['section']}]")
    if m["rawCount"]:
        r.fail("math", f"{m['rawCount']} text nodes with raw TeX, e.g. "
               + "; ".join(_fmt(x) for x in m["raw"][:3]))
    for x in audit["images"]["broken"]:
        r.fail("images", f"image did not load: {x['src']} [{x['section']}]")
    for x in audit["outputs"]["split"]:
        r.fail("outputs", f"consecutive {x['stream']} boxes not merged: {x['text']!r} [{x['section']}]")
    for x in audit["outputs"]["empty"]:
        r.fail("outputs", f"empty output box after {x['section']!r}")
    for x in audit["solutions"]["open"]:
        r.fail("solutions", f"solution not collapsed ({x['why']}): {x['text']!r} [{x['section']}]")

    if audit["scrollWidth"] > audit["vw"] + 1 or audit["wide"]:
        head = f"page is {audit['scrollWidth']} px wide in a {audit['vw']} px viewport"
        r.fail("page-width", head + ("; elements sticking out:" if audit["wide"] else ""))
        for x in audit["wide"]:
            r.fail("page-width", "  " + _fmt(x, "category", "right", "widest", "items"))
        if audit.get("wideTotal", 0) > len(audit["wide"]):
            r.fail("page-width", f"  ... {audit['wideTotal'] - len(audit['wide'])} more blocks")
    for x in audit["boxes"]:
        what = _fmt(x, "category", "box", "content") + (f" tex={x['tex']!r}" if "tex" in x else "")
        if x["kind"] == "clipped" and x["category"] != "navigation":
            r.fail("clipped", f"{x['hidden']} px of content cut off: {what}")
        elif x["kind"] == "scrolls" and width >= 1000 and x["category"] in NO_SCROLL_AT_DESKTOP:
            r.fail("boxes", f"scrolls by {x['hidden']} px: {what}")
    for x in audit["squeezed"]:
        r.fail("tables", f"table column {x['width']} px wide: {_fmt(x)}")

    r.notes = {
        "math": {k: m[k] for k in ("count", "typeset")},
        "images": audit["images"]["count"],
        "solutions": audit["solutions"]["count"],
        "wide_equations": [{"tex": x.get("tex"), "section": x["section"], "box": x["box"],
                            "content": x["content"], "kind": x["kind"]}
                           for x in audit["boxes"] if x["category"] == "display-math"],
        "scroll_boxes": [{"category": x["category"], "section": x["section"], "hidden": x["hidden"],
                          "text": x["text"]} for x in audit["boxes"] if x["kind"] == "scrolls"],
        "code": audit["code"],
    }
    for key in ("screenshot_error", "screenshot_note"):
        if key in audit:
            r.notes[key] = audit[key]
    return r


def audit_page(page, url: str, log: PageLog, screenshot: Path | None) -> dict:
    page.goto(url, wait_until="load", timeout=60_000)
    page.evaluate(_SETTLE_JS)
    audit = page.evaluate(AUDIT_JS)
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        height = page.evaluate("document.documentElement.scrollHeight")
        try:
            if height <= SCREENSHOT_MAX_HEIGHT:
                page.screenshot(path=str(screenshot), full_page=True, animations="disabled", caret="hide")
            else:  # a full-page capture of a 140,000 px page never finishes: shoot its first part
                size = page.viewport_size
                page.set_viewport_size({"width": size["width"], "height": SCREENSHOT_TALL_PAGE})
                page.screenshot(path=str(screenshot), animations="disabled", caret="hide")
                page.set_viewport_size(size)
                audit["screenshot_note"] = f"first {SCREENSHOT_TALL_PAGE} of {height} px"
        except Exception as exc:  # the screenshot is for review; the checks above stand
            audit["screenshot_error"] = str(exc).splitlines()[0]
    return audit


def cjk_fonts(page, cdp) -> list[dict]:
    """The fonts Chromium drew each probed element's Chinese text with (CSS.getPlatformFontsForNode)."""
    probes = page.evaluate(_CJK_PROBE_JS)
    root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    ids = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": "[data-cjk-probe]"})["nodeIds"]
    for probe, node in zip(probes, ids):
        probe["fonts"] = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return probes


def judge_cjk(result: PageResult, probes: list[dict]) -> None:
    if not probes:
        result.fail("cjk", "no heading or paragraph with Chinese text: is this page translated?")
    for probe in probes:
        glyphs = sum(f["glyphCount"] for f in probe["fonts"] if CJK_FONT.search(f["familyName"]))
        if glyphs < probe["cjk"]:
            used = ", ".join(f"{f['familyName']} ({f['glyphCount']})" for f in probe["fonts"])
            result.fail("cjk", f"{probe['tag']} {probe['text']!r}: {probe['cjk']} Chinese characters, "
                               f"{glyphs} glyphs from a CJK font; drawn with {used or 'nothing'}")
    result.notes["cjk_fonts"] = sorted({f["familyName"] for p in probes for f in p["fonts"]})


def self_test_cdn(browser, html_dir: Path, page_rel: str) -> list[str]:
    """Serve ``page_rel`` with MathJax pointed back at the CDN; the checks must fail on it."""
    problems = []
    original = (html_dir / page_rel).read_text(encoding="utf8")
    rewritten = point_mathjax_at_cdn(original)
    if rewritten == original:
        return [f"self-test: {page_rel} does not load {LOCAL_MATHJAX}; is mathjax_path set in _config.yml?"]
    if CDN_MATHJAX not in external_assets_in_html(rewritten):
        problems.append("self-test: the static scan does not flag MathJax loaded from a CDN")
    with serve(html_dir, rewrite=point_mathjax_at_cdn) as base:
        context = browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT}, service_workers="block")
        log = PageLog(base)
        log.attach(context)
        page = context.new_page()
        log.watch(page)
        audit = audit_page(page, base + page_rel, log, None)
        result = judge(page_rel, WIDTHS[0], audit, *log.drain())
        context.close()
    for check in ("network", "math"):
        if check not in result.failures:
            problems.append(f"self-test: with MathJax on a CDN, the {check!r} check did not fail on {page_rel}")
    if not problems:
        print(f"self-test: {page_rel} with MathJax pointed back at a CDN fails as it must "
              f"({len(result.failures['network'])} network, {len(result.failures['math'])} math failures)")
    return problems


def run(html_dir: Path, patterns: list[str] | None, screenshots: Path | None, report: Path,
        self_test: bool = True, source_pages: bool = False) -> int:
    start = time.perf_counter()
    if sync_playwright is None:
        print("browser-test: the Python package playwright is not installed (make setup installs it)")
        return 2
    if not (html_dir / "book").is_dir():
        print(f"browser-test: no built book in {html_dir} (make build-book)")
        return 2
    pages = list_pages(html_dir, patterns, source_pages)
    results: list[PageResult] = []
    static = scan_static(html_dir)
    meta_failures: list[str] = [f"static scan: {f} loads {', '.join(urls)}" for f, urls in static.items()]
    if not patterns:  # both editions, whole: compare them (a --pages run checks pages only)
        edition_problems, shared = compare_editions(html_dir, pages)
        meta_failures += edition_problems
        print("editions: compared " + ", ".join(f"{n} {what}" for what, n in shared.items())
              + f"; {len(edition_problems)} difference(s)")

    with sync_playwright() as pw:
        browser = launch(pw)
        if self_test:
            math_page = next((p for p in pages if p.startswith("book/") and
                              LOCAL_MATHJAX in (html_dir / p).read_text(encoding="utf8")), None)
            if math_page is None:
                meta_failures.append(f"self-test: no page loads {LOCAL_MATHJAX}")
            else:
                meta_failures += self_test_cdn(browser, html_dir, math_page)
        with serve(html_dir) as base:
            for width in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": HEIGHT},
                                              device_scale_factor=1, service_workers="block")
                log = PageLog(base)
                log.attach(context)
                page = context.new_page()
                log.watch(page)
                cdp = context.new_cdp_session(page)
                cdp.send("DOM.enable")
                cdp.send("CSS.enable")
                for rel in pages:
                    t0 = time.perf_counter()
                    shot = (screenshots / (rel.removesuffix(".html").replace("/", "__") + ".png")
                            if screenshots is not None and width == WIDTHS[0] else None)
                    try:
                        audit = audit_page(page, base + rel, log, shot)
                    except Exception as exc:  # a page that does not load or settle is a failure, not a crash
                        res = PageResult(rel, width)
                        res.fail("console", f"page did not load/settle: {exc}".splitlines()[0])
                        log.drain()
                    else:
                        res = judge(rel, width, audit, *log.drain())
                        if rel.startswith("zh/") and width == WIDTHS[0]:
                            judge_cjk(res, cjk_fonts(page, cdp))
                    res.seconds = time.perf_counter() - t0
                    results.append(res)
                context.close()
        browser.close()

    elapsed = time.perf_counter() - start
    return report_results(results, meta_failures, static, report, elapsed, len(pages))


def report_results(results: list[PageResult], meta_failures: list[str], static: dict, report: Path,
                   elapsed: float, n_pages: int) -> int:
    passed = failed = 0
    for r in results:
        checks = [c for c in CHECKS if not (c == "boxes" and r.width < 1000)
                  and not (c == "cjk" and (r.width < 1000 or not r.page.startswith("zh/")))]
        bad = [c for c in checks if c in r.failures]
        passed += len(checks) - len(bad)
        failed += len(bad)
        if bad:
            print(f"\n== {r.page} @ {r.width}px: FAILED {', '.join(bad)}")
            for check in bad:
                msgs = r.failures[check]
                for msg in msgs[:12]:
                    print(f"  {check}: {msg}")
                if len(msgs) > 12:
                    print(f"  {check}: ... and {len(msgs) - 12} more (see {report})")
    for msg in meta_failures:
        print(f"\n== {msg}")
    failed += len(meta_failures)
    passed += 0 if meta_failures else 1  # the static scan + self-test counts as one check

    desktop = [r for r in results if r.width == WIDTHS[0]]
    code = [r.notes.get("code", {}) for r in desktop if r.notes.get("code", {}).get("fit")]
    fits = sorted({c["fit"] for c in code})
    wide_eq = [(r.page, e) for r in desktop for e in r.notes.get("wide_equations", [])]
    narrow_eq = [(r.page, e) for r in results if r.width != WIDTHS[0] for e in r.notes.get("wide_equations", [])]
    print("\n-- summary")
    print(f"pages: {n_pages} at {' and '.join(f'{w}px' for w in WIDTHS)}; "
          f"math elements: {sum(r.notes.get('math', {}).get('count', 0) for r in desktop)}, "
          f"images: {sum(r.notes.get('images', 0) for r in desktop)}, "
          f"solutions: {sum(r.notes.get('solutions', 0) for r in desktop)}")
    if fits:
        lines = sum(c["lines"] for c in code)
        long = sum(c["longLines"] for c in code)
        print(f"code cells at {WIDTHS[0]}px: {'/'.join(map(str, fits))} characters fit on a line "
              f"({code[0]['fontSize']} monospace); {long} of {lines} code lines are longer")
    print(f"display equations wider than the column: {len(wide_eq)} at {WIDTHS[0]}px, "
          f"{len(narrow_eq)} at {WIDTHS[1]}px (they scroll in their own box; split them to fit)")
    for page, e in wide_eq:
        print(f"  {page} [{e['section']}] {e['content'] - e['box']} px too wide: {e['tex']!r}")
    blocks = [(r.page, b) for r in desktop for b in r.notes.get("scroll_boxes", []) if b["category"] == "code-block"]
    if blocks:
        print(f"code blocks outside cells that scroll at {WIDTHS[0]}px (package line length): {len(blocks)}")
        for page, b in blocks:
            print(f"  {page} [{b['section']}] {b['hidden']} px: {b['text'][:70]!r}")
    for r in results:
        if "screenshot_error" in r.notes:
            print(f"screenshot of {r.page} failed: {r.notes['screenshot_error']}")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({
        "elapsed_s": round(elapsed, 1), "pages": n_pages, "static_external_assets": static,
        "meta_failures": meta_failures,
        "results": [{"page": r.page, "width": r.width, "failures": r.failures, "notes": r.notes,
                     "seconds": round(r.seconds, 2)} for r in results],
    }, indent=1, ensure_ascii=False), encoding="utf8")
    print(f"report: {report}; time: {elapsed:.0f} s")
    print(f"browser-test: {passed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    ap.add_argument("--pages", nargs="*", help="only pages matching these globs, e.g. 'book/05*'")
    ap.add_argument("--screenshots", type=Path, default=ROOT / "_build" / "screenshots")
    ap.add_argument("--no-screenshots", action="store_true")
    ap.add_argument("--report", type=Path, default=ROOT / "_build" / "browser-report.json")
    ap.add_argument("--no-self-test", action="store_true", help="skip the MathJax-on-a-CDN self-test")
    ap.add_argument("--source-pages", action="store_true",
                    help="also every highlighted module source page (_modules/, about 60 more pages)")
    args = ap.parse_args(argv)
    return run(args.html.resolve(), args.pages, None if args.no_screenshots else args.screenshots,
               args.report, self_test=not args.no_self_test, source_pages=args.source_pages)


if __name__ == "__main__":
    sys.exit(main())
