"""Make Markdown written by a pull request's code safe to post as the bot.

A PR report is produced by the PR's own code (from a fork, anyone's), then posted by a privileged job.
The privileged job cannot trust a byte of it, so :func:`relay_untrusted` rewrites the whole body:

- raw HTML is shown as text, except balanced ``<details>``/``<summary>``/``<br>`` (what reports use);
  a stray ``</details>`` is dropped and whatever is left open is closed;
- images are replaced by their alt text; links (inline, reference, bare URLs) to anywhere but this
  repository on GitHub keep their text and lose the link;
- ``@mentions`` and ``#references`` are made inert (nobody is notified, no issue is cross-linked);
- code fences left open are closed; bidirectional-override characters are removed;
- a Mermaid block is drawn only when it is a chart of the kind ``gitmlops report`` writes
  (:func:`gitmlops.report.charts.is_plain_chart`: no directive, click, link or style); any other is
  shown as text;
- links to the repository's own GitHub Pages site (``https://owner.github.io/REPO/``, where
  `gitmlops site build` is published) and to ``site_url`` (given by the privileged job, never by
  the report) are kept like links to this repository;
- the result is quoted (every line starts with ``>``) under a header the bot writes itself, which says
  who wrote the report, so text such as "all checks passed" cannot pass for the bot's own words.
"""

from __future__ import annotations

import re

from gitmlops.markdown import BREAK, neutralise_references

_ALLOWED_TAGS = {"details", "summary", "br"}
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)\s*(/?)>")
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?")
_SAFE_ENTITIES = {"&lt;", "&gt;", "&amp;", "&quot;", f"&{BREAK[1:]}"}
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_MERMAID = re.compile(r"^(\s{0,3}(?:`{3,}|~{3,})\s*)mermaid\b", re.IGNORECASE)
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*\S+.*$")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)|!\[([^\]\n]*)\]\[[^\]\n]*\]")
_LINK = re.compile(
    r"\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"\n]*\")?\s*\)"  # [text](url "title")
    r"|\[([^\]\n]*)\]\[[^\]\n]*\]"  # [text][ref]
    r"|((?:https?://|www\.)[^\s<>()\[\]`]+)",  # a bare URL GitHub would autolink
    re.IGNORECASE,
)


def relay_untrusted(text: str, repository: str, pr: int | None = None, head_sha: str | None = None,
                    server_url: str = "https://github.com", site_url: str | None = None) -> str:
    """``text`` sanitised (see the module) and quoted under the bot's own header."""
    from gitmlops.report.settings import pages_url

    sites = [site_url, pages_url(repository) if server_url.rstrip("/") == "https://github.com" else None]
    allowed = [f"{server_url.rstrip('/')}/{repository}"] + [s.rstrip("/") for s in sites if s]
    body = sanitise(text, *allowed)
    where = f"pull request {pr}" if pr is not None else "this pull request"
    at = f" at commit `{head_sha.strip()[:12]}`" if head_sha and re.fullmatch(r"[0-9a-fA-F]{7,40}", head_sha.strip()) else ""
    header = (
        f"**Report written by the code of {where}{at}** and relayed by the bot unchanged in content. "
        "It ran without secrets or write access; HTML, images, outside links and mentions were removed."
    )
    quoted = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
    return f"{header}\n\n{quoted}\n"


def sanitise(text: str, allowed_prefix: str, *more_prefixes: str) -> str:
    """The Markdown ``text`` with HTML, images, outside links, mentions and open structure neutralised;
    links that start with ``allowed_prefix`` (this repository) or one of ``more_prefixes``, + ``/``,
    are kept."""
    from gitmlops.report.charts import is_plain_chart

    allowed = (allowed_prefix, *more_prefixes)
    text = _BIDI.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    fence: str | None = None
    mermaid: int | None = None  # where the open Mermaid block starts in ``out``
    open_tags: list[str] = []
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if fence is not None:  # inside a code block nothing renders: keep it verbatim
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = None
                if mermaid is not None and not is_plain_chart("\n".join(out[mermaid + 1:])):
                    out[mermaid] = _MERMAID.sub(r"\1text", out[mermaid])
                mermaid = None
            out.append(line)
            continue
        if match:
            fence = match.group(1)
            mermaid = len(out) if _MERMAID.match(line) else None
            out.append(line)
            continue
        if _REF_DEF.match(line):
            continue  # a link definition would turn [text][ref] anywhere into a link
        out.append(_sanitise_line(line, allowed, open_tags))
    if fence is not None:
        if mermaid is not None:  # never closed: not a chart we drew
            out[mermaid] = _MERMAID.sub(r"\1text", out[mermaid])
        out.append(fence)
    out.extend(f"</{tag}>" for tag in reversed(open_tags))
    return "\n".join(out)


def _sanitise_line(line: str, allowed_prefix: tuple[str, ...], open_tags: list[str]) -> str:
    pieces = re.split(r"(`+[^`\n]*`+)", line)  # code spans render literally: leave them as they are
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            pieces[i] = _sanitise_text(piece, allowed_prefix, open_tags)
    return "".join(pieces)


def _sanitise_text(text: str, allowed_prefix: tuple[str, ...], open_tags: list[str]) -> str:
    # An entity could spell a mention or a tag (&#64;team, &#60;img): only the harmless ones stay.
    text = _ENTITY.sub(lambda m: m.group(0) if m.group(0) in _SAFE_ENTITIES else "&amp;" + m.group(0)[1:], text)
    text = _IMAGE.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)

    def link(m: re.Match[str]) -> str:
        if m.group(4) is not None:  # a bare URL: shown, not followed
            url = m.group(4)
            return url if _allowed(url, allowed_prefix) else f"`{url}`"
        label = m.group(1) if m.group(1) is not None else m.group(3)
        url = m.group(2) if m.group(1) is not None else None
        return m.group(0) if url is not None and _allowed(url, allowed_prefix) else label

    text = _LINK.sub(link, text)
    text = _html(text, open_tags)
    return neutralise_references(text)


def _allowed(url: str, allowed_prefix: tuple[str, ...]) -> bool:
    return any(url.startswith(prefix + "/") for prefix in allowed_prefix) and ".." not in url


def _html(text: str, open_tags: list[str]) -> str:
    """Every ``<`` escaped except allowed tags, which are kept only when they balance."""
    out: list[str] = []
    pos = 0
    for m in _TAG.finditer(text):
        out.append(text[pos:m.start()].replace("<", "&lt;").replace(">", "&gt;"))
        pos = m.end()
        closing, name = m.group(1) == "/", m.group(2).lower()
        if name not in _ALLOWED_TAGS:
            out.append(m.group(0).replace("<", "&lt;").replace(">", "&gt;"))
        elif name == "br":
            out.append("<br>")
        elif not closing:
            if name == "summary" and (not open_tags or open_tags[-1] != "details"):
                continue  # a summary belongs right inside a details
            open_tags.append(name)
            out.append(f"<{name}>")
        elif open_tags and open_tags[-1] == name:
            open_tags.pop()
            out.append(f"</{name}>")
        # any other closing tag closes nothing of ours: dropped
    out.append(text[pos:].replace("<", "&lt;").replace(">", "&gt;"))
    return "".join(out)
