"""Build a translated edition of the book from the same sources as the English one.

    .venv/bin/python tests/tools/build_edition.py zh_CN [--path-output DIR] [--into DIR]

The edition's settings (locales/<lang>/edition.yml: language, title, numbering words) are merged over
the root _config.yml into DIR/_config.<lang>.yml, and jupyter-book builds it with the same strict
flags as `make book` (-W -n --keep-going): a catalog that breaks a cross-reference fails the build.
The HTML lands in DIR/_build/html; --into copies it there too (the Makefile puts the Chinese edition
in _build/html/zh/, beside the English pages its language switch links to).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def merge(base: dict, override: dict) -> dict:
    """``base`` updated by ``override``, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def edition_config(language: str) -> dict:
    overrides = ROOT / "locales" / language / "edition.yml"
    if not overrides.is_file():
        raise SystemExit(f"build_edition: no settings for {language!r}: {overrides} is missing")
    config = merge(yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf8")),
                   yaml.safe_load(overrides.read_text(encoding="utf8")))
    # jupyter-book resolves local extension folders against the config file's folder: make them absolute.
    extensions = config.get("sphinx", {}).get("local_extensions", {})
    for name, folder in extensions.items():
        extensions[name] = str((ROOT / folder).resolve())
    return config


def build(language: str, path_output: Path) -> Path:
    path_output.mkdir(parents=True, exist_ok=True)
    config_file = path_output / f"_config.{language}.yml"
    config_file.write_text(yaml.safe_dump(edition_config(language), allow_unicode=True, sort_keys=False),
                           encoding="utf8")
    html = path_output / "_build" / "html"
    shutil.rmtree(html, ignore_errors=True)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT),
               "--config", str(config_file), "--path-output", str(path_output), "-W", "-n", "--keep-going"]
    subprocess.run(command, check=True)
    return html


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("language", help="a folder of locales/, e.g. zh_CN")
    parser.add_argument("--path-output", type=Path, help="build folder (default: _build/<language>)")
    parser.add_argument("--into", type=Path, help="also copy the HTML here, replacing what is there")
    args = parser.parse_args()
    html = build(args.language, args.path_output or ROOT / "_build" / args.language)
    if args.into:
        shutil.rmtree(args.into, ignore_errors=True)
        shutil.copytree(html, args.into)
        print(f"{args.language} edition copied to {args.into}")


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
