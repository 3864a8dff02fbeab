"""Text a person typed, checked at the core boundary: no control characters where they do harm.

A browser field cannot type a line break into a one-line input, but Streamlit's websocket
carries any string a client puts there, and every stored text ends up somewhere that treats
control characters as structure: a mail header (a CR/LF adds headers, or stops the outbox), an
operator's terminal (ESC sequences, a fake line), a CSV export. So every text a person types passes
one of two checks before it is stored:

- ``single_line`` (a subject, a name, a model name): a tab becomes a space, as a paste from a
  table meant; any other control character (line breaks included) is refused;
- ``multi_line`` (a message body, a reason): CR LF, a lone CR and the Unicode line and paragraph
  separators become LF, tabs stay; any other control character is refused.

``escape`` is for output: a stored text as a terminal or a log may print it (old rows were never checked).
Shared infrastructure: imports no domain package.
"""

from __future__ import annotations

import unicodedata

from core.errors import ValidationError

_LINE_SEPARATORS = {"\u2028", "\u2029", "\x85"}  # line breaks by Unicode's rules, not only C0's


class NotOneLine(ValidationError):
    """Use a single line here: line breaks and other control characters are not allowed."""

    code = "not_one_line"


class ControlCharacters(ValidationError):
    """The text contains control characters (such as escape codes) that are not allowed. Please remove them."""

    code = "control_characters"


def is_control(ch: str) -> bool:
    """C0, DEL and C1 controls, and the Unicode line and paragraph separators."""
    return unicodedata.category(ch) == "Cc" or ch in _LINE_SEPARATORS


def has_control(text: str) -> bool:
    return any(is_control(ch) for ch in text)


def single_line(value: str | None, *, message: str | None = None) -> str:
    """``value`` stripped, tabs as spaces; refused (``NotOneLine``, or ``message``) with any other control character."""
    text = (value or "").replace("\t", " ").strip()
    if has_control(text):
        raise NotOneLine(message)
    return text


def multi_line(value: str | None) -> str:
    """``value`` stripped, every line break as LF; refused (``ControlCharacters``) with any other control character."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    for sep in _LINE_SEPARATORS:
        text = text.replace(sep, "\n")
    text = text.strip()
    if any(is_control(ch) and ch not in "\n\t" for ch in text):
        raise ControlCharacters()
    return text


def escape(text: str | None) -> str:
    """``text`` with every control character written as an escape (``\\r``, ``\\n``, ``\\x1b``), for a terminal."""
    if not text:
        return ""
    out: list[str] = []
    for ch in text:
        if not is_control(ch) and ch != "\\":
            out.append(ch)
        elif ch == "\\":
            out.append("\\\\")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def escape_block(text: str | None, *, indent: str = "    ") -> str:
    """A stored multi-line text for a terminal: each line escaped and indented, so no line of it can pass
    for one of the tool's own (a fake "--- support" header, a cleared screen)."""
    return "\n".join(indent + escape(line) for line in (text or "").split("\n"))
