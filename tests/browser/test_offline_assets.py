"""Unit-level guards for the offline book (run by ``make unit``; the browser run is ``make browser-test``).

They need no browser and no built book: the configuration points MathJax at the self-hosted copy, the
set-up script produces a complete copy, and the scan that ``check_book.py`` runs over the built HTML
flags MathJax (or any other asset) loaded from a CDN -- the self-test of ``make browser-test`` then
proves the same in Chromium.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import check_book  # noqa: E402
import install_mathjax  # noqa: E402
from _harness import is_local  # noqa: E402

SPHINX = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf8"))["sphinx"]["config"]

LOCAL_PAGE = """<html><head>
<link rel="stylesheet" href="../_static/course.css?v=1" />
<script defer="defer" src="../_static/mathjax/tex-mml-chtml.js?v=829402a3"></script>
<script>window.MathJax = {"options": {"processHtmlClass": "math"}}</script>
</head><body><a href="https://pytorch.org/docs">PyTorch docs</a><img src="../_images/fig.png"/></body></html>"""


def test_mathjax_is_self_hosted_in_the_config():
    path = SPHINX["mathjax_path"]
    assert "://" not in path and not path.startswith("//"), f"mathjax_path {path!r} is a URL"
    assert path == f"mathjax/{install_mathjax.ENTRY}"
    assert ".venv/share/mathjax" in SPHINX["html_static_path"]
    assert install_mathjax.DEST == ROOT / ".venv" / "share" / "mathjax" / "mathjax"


def test_thebe_is_not_loaded():
    # sphinx-thebe's inline config script is emitted twice under Sphinx 7.4 ("THEBE_JS_URL already
    # declared" on every page) and points at a CDN; the book does not use live code.
    assert "sphinx_thebe" not in SPHINX["extensions"]
    assert "sphinxcontrib.bibtex" in SPHINX["extensions"]  # the explicit list must keep the citations


def test_install_mathjax_copies_a_complete_bundle(tmp_path):
    entry = install_mathjax.install(tmp_path / "mathjax")
    assert entry.is_file() and entry.stat().st_size > 500_000
    root = entry.parent
    assert (root / "VERSION").read_text().strip() == install_mathjax.MATHJAX_VERSION
    fonts = list((root / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert len(fonts) >= 20  # the TeX fonts CHTML loads on demand
    assert (root / "input" / "tex" / "extensions" / "boldsymbol.js").is_file()  # autoloaded extensions
    assert (root / "ui" / "menu.js").is_file() and (root / "a11y" / "explorer.js").is_file()


def test_static_scan_accepts_local_assets_and_links():
    assert check_book.external_assets_in_html(LOCAL_PAGE) == []


def test_static_scan_flags_mathjax_pointed_back_at_a_cdn():
    cdn_page = check_book.point_mathjax_at_cdn(LOCAL_PAGE)
    assert cdn_page != LOCAL_PAGE
    assert check_book.external_assets_in_html(cdn_page) == [check_book.CDN_MATHJAX]


@pytest.mark.parametrize("snippet, url", [
    ('<script src="https://cdn.example.org/lib.js"></script>', "https://cdn.example.org/lib.js"),
    ('<link href="//fonts.example.org/css?f=x" rel="stylesheet">', "//fonts.example.org/css?f=x"),
    ('<img alt="x" src="https://img.example.org/a.png"/>', "https://img.example.org/a.png"),
    ('<script>const THEBE_JS_URL = "https://unpkg.example.org/thebe/lib/index.js"</script>',
     "https://unpkg.example.org/thebe/lib/index.js"),
    ('<style>@font-face { src: url("https://fonts.example.org/a.woff2") }</style>',
     "https://fonts.example.org/a.woff2"),
])
def test_static_scan_flags_each_kind_of_external_asset(snippet, url):
    assert check_book.external_assets_in_html(snippet) == [url]


def test_static_scan_of_css():
    assert check_book.external_assets_in_css("a{background:url(https://x.example.org/b.png)}") == \
        ["https://x.example.org/b.png"]
    assert check_book.external_assets_in_css("a{background:url(../_images/b.png)}") == []


def test_network_guard_allows_only_the_local_server():
    origin = "http://127.0.0.1:8123/"
    assert is_local("http://127.0.0.1:8123/_static/mathjax/tex-mml-chtml.js", origin)
    assert is_local("data:font/woff2;base64,AAAA", origin)
    assert not is_local(check_book.CDN_MATHJAX, origin)
    assert not is_local("http://127.0.0.1:9999/other-server", origin)
    assert not is_local("http://10.0.0.1:8123/", origin)


def test_page_list_skips_the_redirect_and_module_sources(tmp_path):
    for rel in ["index.html", "book/intro.html", "book/01_x.html", "genindex.html", "_modules/index.html",
                "_modules/companion/rnn.html", "_static/x.html"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("<html></html>")
    assert check_book.list_pages(tmp_path, None) == ["book/01_x.html", "book/intro.html", "genindex.html",
                                                     "_modules/index.html"]
    assert "_modules/companion/rnn.html" in check_book.list_pages(tmp_path, None, source_pages=True)
