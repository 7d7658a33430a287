"""An MkDocs hook: the commands' `Example:` blocks as code blocks in the command reference.

Click keeps a paragraph that follows a `\\b` line as it is written; mkdocs-click drops the
`\\b` and leaves the lines to Markdown, which would join them into one paragraph.
"""

from __future__ import annotations

from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.preprocessors import Preprocessor

HEADS = ("Example:", "Examples:")


class _ExampleBlocks(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        index = 0
        while index < len(lines):
            line = lines[index]
            out.append(line)
            index += 1
            if line.strip() not in HEADS:
                continue
            indent = len(line) - len(line.lstrip())
            block: list[str] = []
            while index < len(lines) and lines[index].strip():
                following = lines[index]
                if len(following) - len(following.lstrip()) <= indent:
                    break
                block.append(following.strip())
                index += 1
            if block:
                out.extend(["", "```bash", *block, "```", ""])
        return out


class _ExampleExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 (Markdown's name)
        # Just after mkdocs-click (141) has written the commands' help into the page.
        md.preprocessors.register(_ExampleBlocks(md), "click_examples", 140)


def on_config(config: Any) -> Any:
    """Add the extension to every page's Markdown."""
    config.markdown_extensions.append(_ExampleExtension())
    return config
