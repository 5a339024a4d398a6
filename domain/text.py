"""Text as people send it, made fit to store: one normal form, no characters that are not
text, and "empty" meaning nothing a reader could see.

The rules (issue 17): text is normalised to NFC (so "é" typed two ways is stored one way)
and its line ends to a newline; a lone surrogate, a control character (C0 or C1, except tab
and newline) or a Unicode non-character is refused, with a sentence that names the field
and says what to do; and white space, zero-width spaces and joiners, the byte order mark
and other invisible format characters at either end are trimmed, so text made only of them
is empty and a required field is still missing.
"""

from __future__ import annotations

import re
import unicodedata

ALLOWED_CONTROLS = frozenset("\t\n")

# Characters that show nothing though they are not white space to str.isspace(): format
# characters (zero-width space U+200B, joiners U+200C/U+200D, word joiner U+2060, BOM
# U+FEFF, soft hyphen U+00AD, ...) are found by their category; these blank letters too.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


class TextError(ValueError):
    """Text with a character PerfBot cannot store; the message is a sentence for the person."""


def _is_noncharacter(code: int) -> bool:
    """Unicode's 66 non-characters: U+FDD0 to U+FDEF, and the last two of every plane."""
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


# Any character ``problem`` names: a surrogate, a control character but tab and line ends,
# a non-character. Text without one (nearly all of it) is passed by one regex search.
_UNSTORABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"\\U{plane:04X}FFFE\\U{plane:04X}FFFF" for plane in range(17))
    + "]"
)


def problem(text: str) -> str:
    """What is wrong with one character of ``text`` (as "a control character, U+001B"), or
    "" when every character can be stored."""
    if not _UNSTORABLE.search(text):
        return ""
    for char in text:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return f"a broken character (U+{code:04X}, half of a pair)"
        if char in ALLOWED_CONTROLS or char == "\r":
            continue
        if code < 0x20 or 0x7F <= code <= 0x9F:
            return f"a control character (U+{code:04X})"
        if _is_noncharacter(code):
            return f"a character that is not text (U+{code:04X})"
    return ""


def invisible(char: str) -> bool:
    """Whether a character shows nothing: white space, an invisible format character or a
    blank letter."""
    if char.isspace() or char in _BLANK_LETTERS:
        return True
    return unicodedata.category(char) in ("Cf", "Zs", "Zl", "Zp")


def _combining(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Me")


def trim(text: str) -> str:
    """``text`` without the invisible characters at either end ("" when that is all it has).
    A combining mark (an accent, a variation selector) before anything it could combine
    with goes too; one after a letter is part of it and stays."""
    if text.isascii():  # no ASCII character is a format character or a combining mark
        return text.strip()
    start, end = 0, len(text)
    while start < end and (invisible(text[start]) or _combining(text[start])):
        start += 1
    while end > start and invisible(text[end - 1]):
        end -= 1
    return text[start:end]


def has_visible(text: str) -> bool:
    """Whether a reader would see anything of ``text``."""
    return bool(trim(text))


def clean(text: str, what: str) -> str:
    """``text`` fit to store: NFC, newlines for line ends, trimmed of invisible ends. Raises
    TextError naming ``what`` (as "The commentary") when it has a character that cannot be
    stored: one sentence saying which, and what to do."""
    wrong = problem(text)
    if wrong:
        raise TextError(
            f"{what} has {wrong}, which PerfBot cannot store, so nothing was saved: delete it "
            "(retype the words around it if you cannot see it) and send again."
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.isascii():  # ASCII text is NFC already
        text = unicodedata.normalize("NFC", text)
    return trim(text)


def shown(text: str) -> str:
    """``text`` safe to show back on a card: each character that cannot be stored is
    replaced by U+FFFD (the replacement character), so the person can see where it was."""
    if not problem(text):
        return text
    return "".join("\ufffd" if problem(char) else char for char in text)
