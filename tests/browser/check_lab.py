"""The book's MyST markup in JupyterLab (jupyterlab-myst), checked in headless Chromium.

Starts JupyterLab from the course's environment on a free loopback port (token disabled, no update or
news checks, a throw-away settings/workspace folder), opens one chapter notebook that has exercises and
solutions, and asserts on the rendered notebook:

- the markdown cells are rendered by MyST: no raw ``:::{exercise}``/``::::{solution}``/``{cite}``/
  ``{numref}`` text is left in any rendered cell;
- every exercise directive became an exercise box, every solution a collapsed dropdown whose body is
  hidden;
- no request left the local server and JupyterLab loaded every one of its extensions (a
  jupyterlab-myst built for another JupyterLab would be skipped or fail here).

A screenshot goes to ``_build/screenshots/lab__<notebook>.png``. ``make lab-test`` runs this.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import PageLog, free_port, launch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "02_recurrence.ipynb"
RAW_MYST = re.compile(r":{3,}\s*\{(exercise|solution|admonition|note|tip|figure)\}|\{(cite|numref|ref|eq)(:\w+)?\}`")


@contextlib.contextmanager
def jupyterlab(notebook_dir: Path, disabled: list[str] = ()):
    """JupyterLab on a free loopback port with no token; yields its base URL."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="lab-test-") as tmp:
        env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": f"{tmp}/settings",
               "JUPYTERLAB_WORKSPACES_DIR": f"{tmp}/workspaces", "JUPYTER_RUNTIME_DIR": f"{tmp}/runtime"}
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
               "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={notebook_dir}",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly", "--ServerApp.open_browser=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI runs as root
            cmd.append("--allow-root")
        # Every cell in the DOM (no windowing), no news pop-up over the notebook.
        for plugin, body in {"notebook-extension/tracker": '{"windowingMode": "none"}',
                             "apputils-extension/notification": '{"fetchNews": "false"}'}.items():
            path = Path(tmp, "settings", "@jupyterlab", plugin + ".jupyterlab-settings")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf8")
        if disabled:  # the self-test: the same JupyterLab without (say) jupyterlab-myst must fail the check
            env["JUPYTER_CONFIG_DIR"] = f"{tmp}/config"
            Path(tmp, "config", "labconfig").mkdir(parents=True)
            Path(tmp, "config", "labconfig", "page_config.json").write_text(
                json.dumps({"disabledExtensions": {name: True for name in disabled}}), encoding="utf8")
        log = open(f"{tmp}/server.log", "w+")
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(base + "api/status", timeout=2):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise SystemExit(f"lab-test: JupyterLab did not start:\n{log.read()[-3000:]}")
                    time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


_AUDIT = """() => {
  const cells = [...document.querySelectorAll('.jp-MarkdownCell')];
  const rendered = cells.filter((c) => c.querySelector('.jp-RenderedMarkdown, .jp-RenderedMySTMarkdown, .myst'));
  const raw = [];
  for (const c of rendered) {
    const out = c.querySelector('.jp-MarkdownOutput, .jp-RenderedMarkdown, .jp-RenderedMySTMarkdown');
    const text = out ? out.innerText : '';
    const m = text.match(RAW);
    if (m) raw.push(text.slice(Math.max(0, m.index - 40), m.index + 80).replace(/\\s+/g, ' '));
  }
  const visible = (el) => el.checkVisibility({ checkVisibilityCSS: true }) && el.getBoundingClientRect().height > 1;
  // jupyterlab-myst renders both directives as .myst-exercise boxes; a solution's title starts "Solution to".
  const boxes = [...document.querySelectorAll('.jp-MarkdownCell .myst-exercise')];
  const title = (b) => (b.querySelector('.myst-exercise-title') || b).innerText.trim();
  const solutions = boxes.filter((b) => /^Solution to/.test(title(b)));
  const exercises = boxes.filter((b) => !solutions.includes(b));
  const openSolutions = solutions.filter((s) => {
    const body = s.querySelector('.myst-exercise-body, .details-body');
    return (s.tagName === 'DETAILS' && s.open) || !body || visible(body);
  }).map(title);
  const includes = solutions.filter((s) => /literalinclude/.test(s.textContent)).length;
  return { markdownCells: cells.length, rendered: rendered.length, raw, exercises: exercises.length,
           exerciseTitles: exercises.slice(0, 6).map(title), solutions: solutions.length, openSolutions, includes,
           mystRendered: document.querySelectorAll('.jp-RenderedMySTMarkdown, .myst').length };
}""".replace("RAW", "/" + RAW_MYST.pattern.replace("/", "\\/") + "/")


def expected_counts(nb_path: Path) -> tuple[int, int]:
    """How many exercise and solution directives the notebook's markdown holds."""
    import nbformat
    nb = nbformat.read(nb_path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return (len(re.findall(r"^:{3,}\{exercise\}", text, re.M)), len(re.findall(r"^:{3,}\{solution\}", text, re.M)))


def run(notebook: str, screenshot: Path | None, disabled: list[str] = ()) -> int:
    start = time.perf_counter()
    book = ROOT / "book"
    n_ex, n_sol = expected_counts(book / notebook)
    failures: list[str] = []
    with jupyterlab(book, disabled) as base, sync_playwright() as pw:
        browser = launch(pw)
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, service_workers="block")
        log = PageLog(base)
        log.attach(context)
        page = context.new_page()
        log.watch(page)
        page.goto(f"{base}lab/tree/{notebook}", wait_until="load", timeout=90_000)
        page.wait_for_selector(".jp-Notebook .jp-MarkdownCell", timeout=90_000)
        # Windowing is off (every cell is in the DOM); wait until MyST has rendered the directives.
        try:
            page.wait_for_function(f"document.querySelectorAll('.jp-MarkdownCell .myst-exercise').length >= {n_ex + n_sol}",
                                   timeout=60_000)
        except Exception:  # counted and reported below
            pass
        page.wait_for_timeout(500)
        audit = page.evaluate(_AUDIT)
        if screenshot is not None:
            # Scroll to the first exercise so the picture shows an exercise and its collapsed solution.
            page.evaluate("""() => { const e = document.querySelector('.jp-Notebook [class*="exercise"]');
                                     if (e) e.scrollIntoView({ block: 'start' }); }""")
            page.wait_for_timeout(500)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
        blocked, console, failed = log.drain()
        browser.close()

    if not audit["mystRendered"]:
        failures.append("no cell was rendered by jupyterlab-myst (is the extension installed and compatible?)")
    for text in audit["raw"]:
        failures.append(f"raw MyST markup left in a rendered cell: {text!r}")
    if audit["exercises"] < n_ex:
        failures.append(f"{audit['exercises']} exercise boxes rendered, the notebook has {n_ex} exercises")
    if audit["solutions"] < n_sol:
        failures.append(f"{audit['solutions']} solution boxes rendered, the notebook has {n_sol} solutions")
    for text in audit["openSolutions"]:
        failures.append(f"solution not collapsed: {text!r}")
    failures += [f"blocked request to another host: {u}" for u in blocked]
    failures += [f"local request failed: {u}" for u in failed]
    # jupyterlab-myst renders cell by cell and logs a reference to a label in a later cell as "not found"
    # until that cell is rendered (it resolves then); every other console error fails.
    failures += [f"console error: {m}" for m in console if "Cross reference target was not found" not in m]

    print(f"lab-test: {notebook} in JupyterLab: {audit['rendered']}/{audit['markdownCells']} markdown cells "
          f"rendered, {audit['exercises']} exercises (of {n_ex}), {audit['solutions']} solutions (of {n_sol}), "
          f"{len(audit['openSolutions'])} open; {time.perf_counter() - start:.0f} s")
    if audit["includes"]:
        print(f"  note: {audit['includes']} code solutions show a {{literalinclude}} pointer (JupyterLab cannot "
              "include files; the book shows the code)")
    if audit["exerciseTitles"]:
        print("  exercise titles:", "; ".join(audit["exerciseTitles"]))
    for f in failures:
        print(f"  FAIL {f}")
    if screenshot is not None:
        print(f"  screenshot: {screenshot}")
    print(f"lab-test: {0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebook", default=NOTEBOOK, help="a notebook under book/ with exercises and solutions")
    ap.add_argument("--screenshots", type=Path, default=ROOT / "_build" / "screenshots")
    ap.add_argument("--disable-extension", action="append", default=[], metavar="NAME",
                    help="self-test: run with this lab extension disabled (jupyterlab-myst: the check must fail)")
    args = ap.parse_args(argv)
    shot = args.screenshots / f"lab__{Path(args.notebook).stem}.png"
    return run(args.notebook, None if args.disable_extension else shot, args.disable_extension)


if __name__ == "__main__":
    sys.exit(main())
