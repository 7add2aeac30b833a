"""Checks and repairs on the text of one message: pii, mojibake, markup.

Mojibake is found and fixed by ftfy (``fix_encoding`` only: it undoes wrong
decodings and nothing else, so curly quotes and the like stay as written).
PII and markup are regular expressions: the PII libraries that do better
(presidio) need spaCy models we cannot ship, and the patterns below validate
what they can (Luhn for card numbers, mod-97 for IBANs) to keep false
positives down. Emails at the reserved example domains (RFC 2606: example.com,
*.example, *.test...) are placeholders, not personal data, and are not flagged.
"""

from __future__ import annotations

import html
import re

import ftfy

# text longer than this is checked on its first part only (a 30 MB message
# would take seconds per regex for no better answer)
SCAN_LIMIT = 200_000

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b")
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?\d{3,4}[ .-]\d{3,4}"
                   r"|\d{2,4}[ .-]\d{3,4}[ .-]\d{3,4})(?![\w-])")
ADDRESS = re.compile(r"\b\d{1,5}[A-Za-z]? (?:[A-Z][a-z]+ ){1,3}(?:Street|St|Lane|Ln|Road|Rd|Avenue|"
                     r"Ave|Boulevard|Blvd|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Close|Crescent)\b")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
                  r"(?![\d.])")
DIGITS = re.compile(r"\d{3}")
ANY_DIGIT = re.compile(r"\d")
RESERVED_DOMAINS = ("example.com", "example.org", "example.net", "example", "test",
                    "invalid", "localhost")

TAGS = ("a|abbr|b|blockquote|body|br|code|div|em|font|h[1-6]|head|hr|html|i|img|li|meta|ol|"
        "p|pre|script|small|span|strong|style|sub|sup|table|tbody|td|th|thead|tr|u|ul")
TAG = re.compile(rf"</?(?:{TAGS})\b[^<>]{{0,200}}/?>", re.IGNORECASE)
ENTITY = re.compile(r"&(?:nbsp|amp|lt|gt|quot|apos|#\d{1,6}|#x[0-9a-fA-F]{1,6});")
BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/tr)\b[^<>]{0,200}>", re.IGNORECASE)
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
SCRIPT = re.compile(r"<(script|style)\b[^>]{0,200}>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    moved = s[4:] + s[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return 15 <= len(s) <= 34 and int(number) % 97 == 1


def _reserved(domain: str) -> bool:
    domain = domain.lower()
    return any(domain == d or domain.endswith("." + d) for d in RESERVED_DOMAINS)


def find_pii(text: str) -> list[str]:
    """Kinds of personal data found in ``text`` ('email', 'phone', ...), with a sample."""
    text = text[:SCAN_LIMIT]
    found: list[str] = []
    # cheap tests first: most messages have no '@' and no run of digits
    if "@" in text:
        _emails(text, found)
    if DIGITS.search(text):
        _numbers(text, found)
    address = ADDRESS.search(text) if ANY_DIGIT.search(text) else None
    if address:
        found.append(f"street address {_mask(address.group(0))}")
    return found


def _emails(text: str, found: list[str]) -> None:
    for m in EMAIL.finditer(text):
        if not _reserved(m.group(1)):
            found.append(f"email {_mask(m.group(0))}")
            break


def _numbers(text: str, found: list[str]) -> None:
    cards = []
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and _luhn(digits) and len(set(digits)) > 1:
            cards.append(m.span())
    if cards:
        found.append(f"card number {_mask(text[cards[0][0]:cards[0][1]])}")
    for m in IBAN.finditer(text):
        if _iban_ok(m.group(0)):
            found.append(f"IBAN {_mask(m.group(0))}")
            break
    if SSN.search(text):
        found.append("US social security number")
    phone = _phone(text, cards)
    if phone:
        found.append(f"phone number {_mask(phone)}")
    for ip in IPV4.finditer(text):
        # "1.2.3.4" is far more often a version number than an address
        octets = [int(x) for x in ip.group(0).split(".")]
        if octets[0] not in (0, 127) and max(octets) >= 10:
            found.append(f"IP address {ip.group(0)}")
            break


def _phone(text: str, cards: list[tuple[int, int]]) -> str | None:
    for m in PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if any(a <= m.start() < b for a, b in cards):
            continue  # part of a card number, reported as one
        # 555-01xx is the range set aside for fiction in North America
        if 9 <= len(digits) <= 15 and "55501" not in digits and not SSN.fullmatch(m.group(0)):
            return m.group(0)
    return None


def _mask(value: str) -> str:
    """Echo enough of a PII value to find it, not the whole of it."""
    return value[:3] + "***" + value[-2:] if len(value) > 6 else "***"


def has_mojibake(text: str) -> str | None:
    """A short sample of mojibake in ``text`` and its repair, or None."""
    if text.isascii():  # mojibake needs non-ASCII characters
        return None
    sample = text[:SCAN_LIMIT]
    fixed = ftfy.fix_encoding(sample)
    if fixed == sample:
        return None
    for a, b in zip(sample.split(), fixed.split()):
        if a != b:
            return f"{a[:30]!r} -> {b[:30]!r}"
    return "text decoded with the wrong encoding"


def fix_mojibake(text: str) -> str:
    return ftfy.fix_encoding(text)


def find_markup(text: str) -> str | None:
    """The first HTML tag or entity outside code spans, or None."""
    if "<" not in text and "&" not in text:
        return None
    outside = CODE.sub(" ", text[:SCAN_LIMIT])
    m = TAG.search(outside) or ENTITY.search(outside)
    return m.group(0)[:40] if m else None


def strip_markup(text: str) -> str:
    """Remove HTML tags (keeping their text) and unescape entities, outside code spans."""
    pieces, last = [], 0
    for m in CODE.finditer(text):
        pieces.append(_strip(text[last:m.start()]))
        pieces.append(m.group(0))
        last = m.end()
    pieces.append(_strip(text[last:]))
    return "".join(pieces)


def _strip(text: str) -> str:
    text = SCRIPT.sub("", text)
    text = BLOCK_TAG.sub("\n", text)
    text = TAG.sub("", text)
    return ENTITY.sub(lambda m: html.unescape(m.group(0)), text).replace("\xa0", " ")


def fix_whitespace(text: str) -> str:
    """Trim each message, normalise line endings, drop trailing spaces and blank runs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = ftfy.fixes.remove_control_chars(text)
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
