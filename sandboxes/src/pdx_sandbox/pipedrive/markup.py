"""What Pipedrive's web app does with an app's text: an activity's note HTML is cleaned to a few harmless tags (links
only http(s), opening in a new tab), a JSON modal's markdown text becomes HTML (headings, paragraphs, bold, links,
lists, quotes; everything else escaped), and a JSON panel's field is drawn from its value's shape.

    clean_note('<p>Once fixed, <a href="https://gw/deal/replay?x=1">Replay</a><script>x</script></p>')
    -> '<p>Once fixed, <a href="https://gw/deal/replay?x=1" target="_blank" rel="noopener">Replay</a>x</p>'
    markdown("**Deal 42**\\n\\nReplay [it](https://x)")
    -> '<p><strong>Deal 42</strong></p><p>Replay <a href="https://x" target="_blank" rel="noopener">it</a></p>'
"""

import html
import re
from html.parser import HTMLParser
from typing import Any

NOTE_TAGS = {"p", "b", "strong", "i", "em", "u", "small", "br", "ul", "ol", "li", "a", "div", "span"}
_VOID = {"br"}
_HTTP = re.compile(r"^https?://", re.IGNORECASE)


class _Cleaner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.skipping = 0  # inside <script> or <style>: their text is dropped too

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skipping += 1
        if tag not in NOTE_TAGS or self.skipping:
            return
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if not _HTTP.match(href):
                self.out.append("<a>")
            else:
                self.out.append(f'<a href="{html.escape(href, quote=True)}" target="_blank" rel="noopener">')
        else:
            self.out.append(f"<{tag}>")
        if tag not in _VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skipping = max(0, self.skipping - 1)
            return
        if tag in self.open:
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(html.escape(data, quote=False))


def clean_note(note: str | None) -> str:
    cleaner = _Cleaner()
    cleaner.feed(note or "")
    cleaner.close()
    return "".join(cleaner.out) + "".join(f"</{tag}>" for tag in reversed(cleaner.open))


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)

    def link(match: re.Match[str]) -> str:
        url = html.unescape(match.group(2))
        if not _HTTP.match(url):
            return match.group(1)
        return f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener">{match.group(1)}</a>'

    return _BOLD.sub(r"<strong>\1</strong>", _LINK.sub(link, escaped))


_BULLET, _NUMBERED = re.compile(r"^\s*[-*] "), re.compile(r"^\s*\d+\. ")


def _items(lines: list[str], marker: re.Pattern[str]) -> str:
    return "".join(f"<li>{_inline(marker.sub('', line))}</li>" for line in lines)


def markdown(text: str) -> str:
    """The markdown a JSON modal's text block (``markdown: true``) may hold, as Pipedrive shows it (CommonMark-like:
    a blank line ends a paragraph, a single newline is a space, a list may follow a paragraph's line directly)."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line for line in block.split("\n") if line.strip()]
        if len(lines) == 1 and lines[0].startswith("# "):
            out.append(f"<h3>{_inline(lines[0][2:])}</h3>")
        elif lines and all(line.startswith(">") for line in lines):
            out.append(f"<blockquote>{' '.join(_inline(line.lstrip('> ')) for line in lines)}</blockquote>")
        else:
            out.extend(_runs(lines))
    return "".join(out)


def _runs(lines: list[str]) -> list[str]:
    """Consecutive list items become one list, other consecutive lines one paragraph."""
    out: list[str] = []
    run: list[str] = []
    kind = None
    for line in [*lines, None]:
        this = None if line is None else "ul" if _BULLET.match(line) else "ol" if _NUMBERED.match(line) else "p"
        if run and this != kind:
            if kind == "p":
                out.append(f"<p>{' '.join(_inline(item.strip()) for item in run)}</p>")
            else:
                out.append(f"<{kind}>{_items(run, _BULLET if kind == 'ul' else _NUMBERED)}</{kind}>")
            run = []
        if line is not None:
            run.append(line)
            kind = this
    return out


def field_label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def field_value(value: Any) -> str:
    """A panel field drawn from its value's shape (the data structure's types live in Developer Hub)."""
    e = html.escape
    if isinstance(value, dict):
        if {"code", "value"} <= set(value):
            return f"{e(str(value['code']))} {float(value['value']):,.2f}"
        if {"color", "label"} <= set(value):
            return f'<span class="label label-{e(str(value["color"]))}">{e(str(value["label"]))}</span>'
        if "value" in value and ("external" in value or "label" in value):
            return _link(str(value["value"]), str(value.get("label") or value["value"]), value.get("external", True))
        if value.get("markdown"):
            return markdown(str(value.get("value") or ""))
        return e(str(value.get("value", "")))
    if isinstance(value, list):
        return " ".join(f'<span class="tag">{e(str(v))}</span>' for v in value)
    if isinstance(value, str) and _HTTP.match(value):
        return _link(value, value, True)
    return e(str(value))


def _link(url: str, words: str, external: bool) -> str:
    if not _HTTP.match(url):
        return html.escape(words)
    target = ' target="_blank" rel="noopener"' if external else ""
    return f'<a href="{html.escape(url, quote=True)}"{target}>{html.escape(words)}</a>'
