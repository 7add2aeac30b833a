"""Checks and repairs on the text of one message: pii, mojibake, markup, junk, whitespace.

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
import ipaddress
import re
import unicodedata

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
BLOCK_TAG = re.compile(r"<\s*(?:br|/div|/li|/h[1-6]|/tr)\b[^<>]{0,200}>", re.IGNORECASE)
PARA_END = re.compile(r"<\s*/p\s*>", re.IGNORECASE)  # a paragraph ends with a blank line
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
    cards, card_like = [], []
    for m in CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        card_like.append(m.span())  # a long digit group is no phone number either
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
    phone = _phone(text, card_like)
    if phone:
        found.append(f"phone number {_mask(phone)}")
    for ip in IPV4.finditer(text):
        # "1.2.3.4" is far more often a version number than an address
        # private, loopback and documentation ranges point at no one
        octets = [int(x) for x in ip.group(0).split(".")]
        if max(octets) >= 10 and ipaddress.ip_address(ip.group(0)).is_global:
            found.append(f"IP address {ip.group(0)}")
            break


def _phone(text: str, cards: list[tuple[int, int]]) -> str | None:
    for m in PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if any(a <= m.start() < b for a, b in cards):
            continue  # part of a card-shaped number (a card is reported as one)
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
    text = PARA_END.sub("\n\n", text)
    text = BLOCK_TAG.sub("\n", text)
    text = TAG.sub("", text)
    return ENTITY.sub(lambda m: html.unescape(m.group(0)), text).replace("\xa0", " ")


# every Unicode space separator but the plain space (no-break, thin, ideographic...)
ODD_SPACE = re.compile("[" + "".join(chr(c) for c in range(0x80, 0x3001)
                                     if unicodedata.category(chr(c)) == "Zs") + "]")
INNER_RUN = re.compile(r"(?<=\S)(?:[ \t]{2,}|\t)(?=\S)")


def fix_whitespace(text: str) -> str:
    """Whitespace normalised without changing what the text says.

    CRLF/CR -> LF, odd Unicode spaces -> a space, runs of spaces and tabs
    between words -> one space (indentation at a line start and code, fenced
    or in backticks, are kept as written: there the spacing means something), trailing
    spaces dropped, 3+ line breaks -> one blank line, the message trimmed.
    Single newlines and paragraph breaks stay.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = ftfy.fixes.remove_control_chars(text)
    text = ODD_SPACE.sub(" ", text)
    pieces, last = [], 0
    for m in CODE.finditer(text):
        pieces += [INNER_RUN.sub(" ", text[last:m.start()]), m.group(0)]
        last = m.end()
    text = "".join(pieces) + INNER_RUN.sub(" ", text[last:])
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# what a broken decoding leaves behind: U+FFFD, a BOM inside the text or read
# as cp1252 ('ÿþ', 'ï»¿'), C0/C1 control characters (not tab or newline) and
# private-use characters; none of them is ever meant as text in a chat row
JUNK = re.compile("\ufffd|\ufeff|\xff\xfe|\xfe\xff|\xef\xbb\xbf|"
                  "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff]")
# stripping more than this share of a message would no longer leave it intact
JUNK_SHARE = 0.02


def find_junk(text: str) -> str | None:
    """A description of the junk characters in ``text`` (see JUNK), or None."""
    if text.isascii() and text.isprintable():
        return None
    found = JUNK.findall(text[:SCAN_LIMIT])
    if not found:
        return None
    kinds = sorted({repr(j) if len(j) > 1 else f"U+{ord(j):04X}" for j in found})
    return f"{len(found)} junk character(s) left by a broken decoding: {', '.join(kinds[:4])}"


def strip_junk(text: str) -> str | None:
    """``text`` without its junk characters, or None when too much would go.

    Junk that is a small part of the message (at most 2%, and the message
    still has text) is noise around the text and is removed; more means the
    text itself was lost, so the row is left for `data clean` to reject.
    """
    stripped = JUNK.sub("", text)
    removed = len(text) - len(stripped)
    if removed == 0:
        return text
    if not stripped.strip() or removed > max(4, len(text) * JUNK_SHARE):
        return None
    return stripped
