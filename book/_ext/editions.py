"""The book's two editions: English at the root of the site, Chinese (``zh_CN``) under ``zh/``.

The Chinese edition is built from the same notebooks through Sphinx's gettext catalogs
(``locales/zh_CN/LC_MESSAGES/``): only prose is translated. This extension

* puts exercise titles into the catalogs (sphinx-exercise builds them without a source, so gettext
  would skip them) and gives the translated title to the solutions that repeat it; in a Chinese page
  the parentheses around such a title are full-width;
* translates the part captions of the table of contents, which sphinx-external-toc adds after the
  catalogs have been applied;
* keeps equations and API docstrings out of the catalogs. Display math is LaTeX, the same in both
  editions; docstrings are code (the text ``help()`` shows), so the Chinese API appendix shows them in
  English rather than translate 2,000 messages that would drift from the package;
* puts a link to the same page in the other edition in every page's header, with
  ``<link rel="alternate" hreflang>`` in the head. The link is relative, so it works offline and from
  ``file://``.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.locale import init as init_locale
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.i18n import docname_to_domain
from sphinx.util.nodes import extract_messages
from sphinx_exercise.nodes import exercise_subtitle

TEMPLATES = Path(__file__).parent / "templates"
CHINESE_DIR = "zh"  # the Chinese edition's folder inside the English one


def is_chinese(language: str | None) -> bool:
    return bool(language) and language.replace("-", "_").lower().startswith("zh")


class KeepSharedText(SphinxTransform):
    """Mark display math and autodoc output untranslatable, before the Locale transform (priority 20)
    replaces messages and before the gettext builder extracts them."""

    default_priority = 15

    def apply(self, **kwargs) -> None:
        for node in self.document.findall(nodes.math_block):
            node["translatable"] = False
        for node in self.document.findall(nodes.TextElement):
            if ":docstring of " in (node.source or ""):
                node["translatable"] = False
        for desc in self.document.findall(addnodes.desc):  # signatures and their fields
            for node in desc.findall(nodes.TextElement):
                node["translatable"] = False
        for node in self.document.findall(exercise_subtitle):
            node.source, node.line = self.document["source"], node.parent.parent.line
            node.rawsource = _markdown(node)


def _markdown(node: nodes.Element) -> str:
    """The MyST text an inline title was parsed from (code, math and emphasis are all titles use)."""
    marks = {nodes.literal: "`", nodes.math: "$", nodes.emphasis: "*", nodes.strong: "**"}
    parts = []
    for child in node.children:
        mark = marks.get(type(child), "")
        parts.append(f"{mark}{child.astext()}{mark}" if mark else
                     _markdown(child) if isinstance(child, nodes.Element) else child.astext())
    return "".join(parts)


def page_catalog(transform: SphinxTransform):
    """The compiled catalog of the page being read (None in the English edition or without one)."""
    if not transform.config.language or transform.config.language == "en":
        return None
    dirs = [str(Path(transform.env.srcdir, d)) for d in transform.config.locale_dirs]
    domain = docname_to_domain(transform.env.docname, transform.config.gettext_compact)
    catalog, found = init_locale(dirs, transform.config.language, domain)
    return catalog if found else None


class FlagUntranslatedText(SphinxTransform):
    """A translated page whose catalog lacks messages says so at its top, in the reader's language,
    rather than mixing English paragraphs in silently (the coverage test keeps this from landing)."""

    default_priority = 19  # before the Locale transform replaces the messages

    def apply(self, **kwargs) -> None:
        catalog = page_catalog(self)
        if catalog is None or not is_chinese(self.config.language):
            return
        known = getattr(catalog, "_catalog", {})  # the .mo holds translated, non-fuzzy messages only
        missing = sum(1 for _, msg in extract_messages(self.document) if msg not in known)
        section = next(iter(self.document.findall(nodes.section)), None)
        if missing and section is not None:
            note = nodes.note("", nodes.paragraph(
                "", f"本页有 {missing} 段文字尚未译成中文，暂以英文显示。"))
            note["classes"].append("untranslated-notice")
            title = next(iter(section.findall(nodes.title)), None)
            section.insert(section.index(title) + 1 if title is not None else 0, note)


class TranslateTocCaptions(SphinxTransform):
    """sphinx-external-toc inserts the toctrees from _toc.yml (priority 100) after the Locale transform
    has run: translate their part captions ("Foundations") from the page's catalog here."""

    default_priority = 110

    def apply(self, **kwargs) -> None:
        catalog = page_catalog(self)
        if catalog is None:
            return
        for toctree in self.document.findall(addnodes.toctree):
            caption = toctree.get("rawcaption")
            if caption and catalog.gettext(caption) != caption:
                toctree.apply_translated_message(caption, catalog.gettext(caption))


class CollectExerciseTitles(SphinxPostTransform):
    """The gettext builder extracts messages after the post-transforms, when sphinx-exercise has already
    melted each title into a new node: hand the titles to its catalog before that (priority 20)."""

    default_priority = 19
    builders = ("gettext",)

    def run(self, **kwargs) -> None:
        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        for node in self.document.findall(exercise_subtitle):
            self.app.builder.catalogs[domain].add(node.rawsource, node)


class ShareTranslatedExercises(SphinxTransform):
    """After the Locale transform: sphinx-exercise copied each exercise when its directive ran, and a
    solution takes its title from that copy; refresh the copy so the solution repeats the translation."""

    default_priority = 25

    def apply(self, **kwargs) -> None:
        registry = getattr(self.env, "sphinx_exercise_registry", {})
        for node in self.document.findall(exercise_subtitle):
            exercise = node.parent.parent
            entry = registry.get(exercise.get("label"))
            if entry and entry["docname"] == self.env.docname:
                entry["node"] = exercise.deepcopy()


class FullWidthTitleParentheses(SphinxPostTransform):
    """"练习 2.1（一个循环步）": sphinx-exercise writes " (" and ")" around a title in every language."""

    default_priority = 30  # after sphinx-exercise's title post-transforms (20-22)

    def run(self, **kwargs) -> None:
        if not is_chinese(self.config.language):
            return
        for title in self.document.findall(nodes.title):
            if "exercise" not in title.parent.get("classes", []) and \
                    "solution" not in title.parent.get("classes", []):
                continue
            for text in list(title.findall(nodes.Text)):
                if text.astext() in (" (", ")"):
                    text.parent.replace(text, nodes.Text("（" if text.astext() == " (" else "）"))


def counterpart(pagename: str, language: str | None) -> dict[str, str]:
    """The same page in the other edition: a URL relative to the page, and how to label it."""
    to_root = "../" * pagename.count("/")
    if is_chinese(language):
        return {"url": f"{to_root}../{pagename}.html", "lang": "en", "text": "English",
                "title": "Read this page in English"}
    return {"url": f"{to_root}{CHINESE_DIR}/{pagename}.html", "lang": "zh-CN", "text": "中文",
            "title": "阅读本页的中文版"}


def add_switch(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    other = counterpart(pagename, app.config.language)
    context["edition_switch"] = other
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{other["lang"]}" href="{other["url"]}" />')


def place_switch(app: Sphinx, config) -> None:
    """Show the switch before the theme's header buttons (download, full screen, ...)."""
    config.templates_path.append(str(TEMPLATES))
    options = config.html_theme_options
    options["article_header_end"] = ["edition-switch.html", "article-header-buttons.html"]


def setup(app: Sphinx) -> dict:
    app.add_transform(KeepSharedText)
    app.add_transform(ShareTranslatedExercises)
    app.add_transform(TranslateTocCaptions)
    app.add_transform(FlagUntranslatedText)
    app.add_post_transform(CollectExerciseTitles)
    app.add_post_transform(FullWidthTitleParentheses)
    app.connect("config-inited", place_switch)
    app.connect("html-page-context", add_switch)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
