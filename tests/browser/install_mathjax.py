"""Copy the pinned MathJax 3 into the environment so the book renders math with no network.

MathJax comes from the package index as ``django-static-mathjax`` (pinned in requirements.txt; it ships
the complete MathJax 3 distribution and has no dependencies -- its import name is ``mathjax``).  Only
the browser bundle the book uses is copied: the ``tex-mml-chtml`` component (the same one Sphinx would
load from a CDN), the TeX/MathML extensions it loads on demand, the CHTML fonts, the accessibility
modules and the speech-rule maps its menu can switch on -- to ``.venv/share/mathjax/mathjax/``.
``_config.yml`` lists ``.venv/share/mathjax`` in ``html_static_path`` (so the files are served from
``_static/mathjax/``) and points Sphinx's ``mathjax_path`` at ``mathjax/tex-mml-chtml.js``. The copy
lives in the environment, not in git; ``make setup`` makes it. Without it the strict build fails
("html_static_path entry ... does not exist") instead of quietly shipping pages without math.

Run: ``.venv/bin/python tests/browser/install_mathjax.py [DEST]``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEST = ROOT / ".venv" / "share" / "mathjax" / "mathjax"
#: The MathJax release the book is built with; requirements.txt pins the package that ships it.
MATHJAX_VERSION = "3.2.2"
#: What the ``tex-mml-chtml`` component needs at run time, relative to MathJax's ``es5/`` folder.
PARTS = ["tex-mml-chtml.js", "input", "output/chtml", "a11y", "sre", "ui"]
ENTRY = "tex-mml-chtml.js"


def mathjax_source() -> Path:
    """The MathJax distribution inside the installed package, checked against the pinned version."""
    try:
        import mathjax  # the import name of django-static-mathjax
    except ImportError:
        sys.exit("install_mathjax: the package django-static-mathjax is not installed "
                 "(run `make setup`, which installs requirements.txt)")
    dist = Path(mathjax.__file__).resolve().parent / "static" / "mathjax"
    version = json.loads((dist / "package.json").read_text(encoding="utf8"))["version"]
    if version != MATHJAX_VERSION:
        sys.exit(f"install_mathjax: the installed package ships MathJax {version}, "
                 f"but the book is pinned to {MATHJAX_VERSION}")
    return dist


def install(dest: Path = DEST) -> Path:
    """Replace ``dest`` with a fresh copy of the parts in :data:`PARTS`; return the entry script."""
    dist = mathjax_source()
    es5 = dist / "es5"
    if dest.exists():
        shutil.rmtree(dest)
    for part in PARTS:
        src, out = es5 / part, dest / part
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, out)
        else:
            shutil.copy2(src, out)
    shutil.copy2(dist / "LICENSE", dest / "LICENSE")
    (dest / "VERSION").write_text(MATHJAX_VERSION + "\n", encoding="utf8")
    fonts = list((dest / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    if not fonts:
        sys.exit("install_mathjax: no CHTML fonts found in the MathJax package")
    return dest / ENTRY


if __name__ == "__main__":
    target = install(Path(sys.argv[1]) if len(sys.argv) > 1 else DEST)
    files = sum(1 for p in target.parent.rglob("*") if p.is_file())
    print(f"MathJax {MATHJAX_VERSION}: {files} files in {target.parent}")
