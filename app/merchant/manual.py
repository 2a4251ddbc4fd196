"""The merchant manual (操作手冊, 3-4 廠商文件下載區): the merchant-facing pages of `docs/`, read as
they are in the repository, rendered as one print-friendly page or joined as one Markdown file.

docs/operations.md (the platform operators' page) and docs/README.md (the index, which points at
it) are not part of it. The Markdown is rendered by markdown-it-py with raw HTML off (a `<tag>` in
a page is shown as text, never markup) and its link check on (no `javascript:` and the like).
Headings get ids `<chapter>-<slug>`, so the pages' links to each other (`tickets.md#kinds`, `#x`)
become links inside the one page; a link to a page outside the manual keeps its text only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import unquote

from markdown_it import MarkdownIt
from markdown_it.token import Token

# The chapters in the order a merchant meets them (the seed's 七、八 before the back office).
CHAPTERS: tuple[str, ...] = ("issuance", "tickets", "consumers", "reports", "installments",
                             "billing", "accounts")
FILENAME = "ECTicket操作手冊.md"
_DOC_LINK = re.compile(r"^(?P<page>[\w-]+)\.md(?:#(?P<anchor>.*))?$")


@dataclass(frozen=True)
class Chapter:
    name: str  # the file's stem: the anchor of the chapter
    title: str  # its first heading
    markdown: str
    html: str


def docs_dir(root_path: str) -> Path:
    """docs/ beside the app package (the repository's checkout, which the app runs from)."""
    return Path(root_path).parent / "docs"


def slug(text: str) -> str:
    """The GitHub-style anchor of a heading: lower case, punctuation dropped, spaces to `-`."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _heading_ids(chapter: str):  # noqa: ANN202 - a markdown-it core rule
    def rule(state) -> None:  # noqa: ANN001
        tokens: list[Token] = state.tokens
        for i, token in enumerate(tokens):
            if token.type == "heading_open" and i + 1 < len(tokens):
                token.attrSet("id", f"{chapter}-{slug(tokens[i + 1].content)}")
    return rule


def _local_links(chapter: str):  # noqa: ANN202 - a markdown-it core rule
    """Links to manual pages become in-page anchors; other relative links lose their target
    (the text stays); absolute http(s) links are kept."""
    def rule(state) -> None:  # noqa: ANN001
        for block in state.tokens:
            for token in block.children or ():
                if token.type != "link_open":
                    continue
                href = unquote(str(token.attrGet("href") or ""))  # markdown-it %-encodes it
                if href.startswith("#"):
                    token.attrSet("href", f"#{chapter}-{href[1:]}")
                elif (found := _DOC_LINK.match(href)) and found["page"] in CHAPTERS:
                    anchor = found["anchor"]
                    token.attrSet("href", f"#{found['page']}-{anchor}" if anchor else f"#{found['page']}")
                elif not href.startswith(("https://", "http://", "mailto:")):
                    token.attrs.pop("href", None)
                    token.attrSet("data-outside-manual", "")
    return rule


def render(markdown: str, chapter: str) -> str:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.core.ruler.push("heading_ids", _heading_ids(chapter))
    md.core.ruler.push("local_links", _local_links(chapter))
    return md.render(markdown)


def _title(markdown: str, fallback: str) -> str:
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


@cache
def _chapters(folder: str, stamps: tuple[float, ...]) -> tuple[Chapter, ...]:
    del stamps  # part of the cache key only: an edited page is read again
    found = []
    for name in CHAPTERS:
        text = (Path(folder) / f"{name}.md").read_text(encoding="utf-8")
        found.append(Chapter(name, _title(text, name), text, render(text, name)))
    return tuple(found)


def chapters(root_path: str) -> tuple[Chapter, ...]:
    """The manual's chapters, rendered (cached until a page changes). FileNotFoundError when the
    docs are not beside the app."""
    folder = docs_dir(root_path)
    stamps = tuple((folder / f"{name}.md").stat().st_mtime for name in CHAPTERS)
    return _chapters(str(folder), stamps)


def as_markdown(parts: tuple[Chapter, ...]) -> str:
    """The manual as one Markdown file: the chapters in order, each after a page break line."""
    head = "# ECTicket 發行管理平台操作手冊\n\n" + "\n".join(
        f"{i}. {c.title}" for i, c in enumerate(parts, 1)) + "\n"
    return "\n\n---\n\n".join([head, *(c.markdown.strip() + "\n" for c in parts)])
