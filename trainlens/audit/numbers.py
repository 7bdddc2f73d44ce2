"""Numbers as graders compare them: ``1,000`` == ``1000``, ``5.0`` == ``5``, ``-3/4`` ==
``-0.75``, ``\\frac{1}{2}`` == ``0.5``; values inside ``\\boxed{...}`` found with balanced braces.

Every value becomes a :class:`fractions.Fraction` (exact, so ``0.1 + 0.2`` questions do not
turn on float rounding); text that is not a number compares as normalised text."""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

#: A number as a response writes it: sign, digits with optional thousands commas, decimals,
#: an optional ``/denominator``; LaTeX ``\frac{a}{b}`` and ``\dfrac`` too.
_NUMBER = re.compile(
    r"""
    (?=[-\d.\\])  # every number starts with one of these: a cheap test at each position
    (?:(?P<frac>-?\s*\\[dt]?frac\s*\{\s*(?P<fn>-?[\d.,]+)\s*\}\s*\{\s*(?P<fd>-?[\d.,]+)\s*\})
    | (?P<num>
        (?<![\w.])-?                                   # sign, not the tail of a word/number
        (?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?           # 1,000 / 1000 / 3.25
        (?:\s*/\s*(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)?  # /4
        |(?<![\w.])-?\.\d+                             # .5
      ))
    """,
    re.VERBOSE,
)
#: Characters before the last digit searched for the last number (longer than any number).
_WINDOW = 160
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_SPACES = re.compile(r"\s+")
#: Wrappers and units stripped before a whole answer is read as one number.
_STRIP = re.compile(r"^[\s$€£¥]+|[\s.。!！$%]+$|\\[,!; ]|\\text\{[^}]*\}|\\\$")


def parse_number(text: str) -> Fraction | None:
    """The value of ``text`` when it is one number (``$1,000.``, ``-3/4``, ``\\frac{1}{2}``),
    else None."""
    cleaned = _STRIP.sub("", text.strip()).strip()
    cleaned = _STRIP.sub("", cleaned).strip()
    if not cleaned:
        return None
    matches = list(_NUMBER.finditer(cleaned))
    if len(matches) != 1 or matches[0].group(0).strip() != cleaned:
        return None
    return _value(matches[0])


def numbers_in(text: str) -> list[Fraction]:
    """Every number in ``text``, in order (numbers too large to hold are left out)."""
    out = []
    for m in _NUMBER.finditer(text):
        value = _value(m)
        if value is not None:
            out.append(value)
    return out


def last_number(text: str) -> Fraction | None:
    """The last number anywhere in ``text`` (the diagnostic reading of a response)."""
    end = max(text.rfind(d) for d in "0123456789")
    if end < 0:
        return None
    # Only the end of the text is searched (regex search is slow per character): from a
    # space well before the last digit, so no number is cut; the whole text when that fails.
    lo = max(0, end - _WINDOW)
    start = max(text.rfind(c, 0, lo) for c in " \n\t") if lo else 0
    for chunk in (text[max(start, 0) :], text) if start > 0 else (text,):
        for m in reversed(list(_NUMBER.finditer(chunk))):
            value = _value(m)
            if value is not None:
                return value
    return None


def boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (braces balanced), or None; an unbalanced box
    (the response was cut inside it) counts as none."""
    found = None
    for m in _BOXED.finditer(text):
        depth, start = 1, m.end()
        for i in range(start, min(len(text), start + 10_000)):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    found = text[start:i]
                    break
    return found


def normalise_text(text: str) -> str:
    """Text compared as text: stripped, lower case, spaces collapsed, outer ``$``/period gone."""
    return _SPACES.sub(" ", _STRIP.sub("", text.strip())).strip().lower()


def same_value(a: Fraction | str | None, b: Fraction | str | None) -> bool:
    """Whether two read values are equal (numbers numerically, text as normalised text)."""
    if a is None or b is None:
        return False
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    if isinstance(a, Fraction) or isinstance(b, Fraction):
        return False
    return normalise_text(a) == normalise_text(b)


def format_value(value: Fraction | str | None) -> str:
    """A read value for display: ``1000``, ``0.75``, ``1/3`` or the text."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if value.denominator == 1:
        return str(value.numerator)
    as_float = float(value)
    if Fraction(repr(as_float)) == value:
        return repr(as_float)
    return f"{value.numerator}/{value.denominator}"


def _value(m: re.Match[str]) -> Fraction | None:
    try:
        if m.group("frac"):
            num = _plain(m.group("fn"))
            den = _plain(m.group("fd"))
            if num is None or den is None or den == 0:
                return None
            sign = -1 if m.group("frac").lstrip().startswith("-") else 1
            return sign * num / den
        raw = _SPACES.sub("", m.group("num"))
        if "/" in raw:
            top, bottom = raw.split("/", 1)
            num, den = _plain(top), _plain(bottom)
            if num is None or den is None or den == 0:
                return None
            return num / den
        return _plain(raw)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None


@lru_cache(maxsize=8192)
def _plain(raw: str) -> Fraction | None:
    """``1,234.50`` as an exact Fraction (cached: answers and gold values repeat)."""
    raw = raw.replace(",", "")
    if not raw or raw in {"-", "."} or len(raw) > 64:
        return None
    sign = -1 if raw.startswith("-") else 1
    digits = raw.lstrip("-")
    whole, dot, frac = digits.partition(".")
    if (whole.isdigit() or (not whole and frac)) and (not dot or frac.isdigit() or not frac):
        if not frac:
            return Fraction(sign * int(whole or "0"))
        return Fraction(sign * int((whole or "0") + frac), 10 ** len(frac))
    try:
        return Fraction(raw)
    except ValueError:
        return None
