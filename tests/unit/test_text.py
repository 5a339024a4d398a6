"""Text as people send it, made fit to store: one normal form, no characters that are not
text, and "empty" meaning nothing a reader could see (domain/text.py)."""

import pytest

from domain.text import TextError, clean, has_visible, shown, trim


def test_text_is_stored_in_nfc_with_newlines_for_line_ends():
    assert clean("Cafe\u0301\r\nrates\rnext", "The commentary") == "Caf\u00e9\nrates\nnext"


@pytest.mark.parametrize(
    ("typed", "what"),
    [
        ("Fine \udfff.", "a broken character (U+DFFF"),
        ("\ud800", "a broken character (U+D800"),
        ("Fine\x00.", "a control character (U+0000)"),
        ("\x1b[31mred", "a control character (U+001B)"),
        ("Fine\x7f", "a control character (U+007F)"),
        ("Fine\x85", "a control character (U+0085)"),
        ("\ufffe", "a character that is not text (U+FFFE)"),
        ("\ufdd0", "a character that is not text (U+FDD0)"),
        ("\U0010ffff", "a character that is not text (U+10FFFF)"),
    ],
)
def test_characters_that_cannot_be_stored_are_refused_naming_the_field(typed, what):
    with pytest.raises(TextError) as refused:
        clean(typed, "The commentary")
    message = str(refused.value)
    assert message.startswith(f"The commentary has {what}")
    assert message.endswith("send again.")
    assert message.count(". ") == 0  # one sentence


def test_tab_newline_and_every_kind_of_letter_and_emoji_are_kept():
    text = "Line one\tand\nline two: Ærø, 東京, مرحبا, 👍🏽, 🇬🇧, 👩‍👩‍👧, q\u0307"
    assert clean(text, "The commentary") == text


@pytest.mark.parametrize(
    "typed",
    [
        "",
        " ",
        "\u200b\u200b",
        "\u200d\ufeff \u2060",
        "\u00a0\u3000",
        "\u200c\t\n",
        "\u3164",
        "\ufe0f",
    ],
)
def test_text_of_only_invisible_characters_is_empty(typed):
    assert trim(typed) == ""
    assert not has_visible(typed)
    assert clean(typed, "The commentary") == ""


def test_invisible_characters_are_trimmed_from_the_ends_only():
    assert trim("\u200b On\u200bprofile. \ufeff") == "On\u200bprofile."
    assert trim("\u0301x\u0308") == "x\u0308"  # an accent with nothing before it goes


def test_text_shown_back_marks_where_each_bad_character_was():
    assert shown("Fine \udfff and\x00.") == "Fine \ufffd and\ufffd."
    assert shown("All good.") == "All good."


def test_the_quick_check_refuses_exactly_the_characters_the_rules_name():
    """problem() passes most text by one regex search: it must name a character exactly
    when the character-by-character rules do, for every code point."""
    from domain import text as texts

    def by_the_rules(char: str) -> bool:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return True
        if char in "\t\n\r":
            return False
        return code < 0x20 or 0x7F <= code <= 0x9F or texts._is_noncharacter(code)

    for code in range(0x110000):
        char = chr(code)
        assert bool(texts.problem(f"ok {char} ok")) is by_the_rules(char), hex(code)
