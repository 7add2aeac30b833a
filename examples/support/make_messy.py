"""Write raw_messy.jsonl and DEFECTS.md: the support set as a messy export.

The clean rows of train.jsonl come first in their own order; defects are then
planted, seeded and deterministic, so that `lorakit data check` and
`lorakit data clean` have something real to find. Repairable defects (bad
encoding, mojibake, markup, whitespace) are planted *in place* on train rows,
so a good cleaner gives the row back; fatal ones (broken JSON, bad schema,
duplicates, conflicts, personal data, leaks from heldout.jsonl, ...) are
*extra* rows. Also writes defects.json, the expected findings (defects_doc.py).
Stdlib only.
Run: python examples/support/make_messy.py
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

from defects_doc import expected, write_defects

HERE = Path(__file__).resolve().parent
SEED = 2026
SYSTEM = "You are the support assistant for Larkspur Cycles, a small bike shop."
SIGN = "\n\n\u2014 Wren, Larkspur Cycles"

# defect kind -> the `data check` id expected to report it
EXPECT = {
    "truncated JSON": "invalid_json",
    "invalid UTF-8 bytes": "invalid_encoding",
    "wrong schema": "invalid_schema",
    "unknown role": "unknown_role",
    "empty message": "empty_message",
    "no assistant turn": "no_assistant_turn",
    "exact duplicate": "exact_duplicate",
    "near duplicate": "near_duplicate",
    "conflicting answer": "conflicting_answers",
    "personal data": "pii",
    "HTML markup": "markup",
    "mojibake": "mojibake",
    "overlong row": "too_long",
    "whitespace junk": "(none: clean fixes it)",
    "leak from heldout.jsonl": "eval_overlap (with --eval heldout.jsonl)",
}


def dumps(row: object) -> str:
    return json.dumps(row, ensure_ascii=False)


def chat(*turns: str) -> dict:
    """A canonical row from alternating user/assistant texts (voice added)."""
    messages = [{"role": "system", "content": SYSTEM}]
    for i, text in enumerate(turns):
        role = "user" if i % 2 == 0 else "assistant"
        if role == "assistant":
            text = ("Hey there, rider! " if i == 1 else "") + text + SIGN
        messages.append({"role": role, "content": text})
    return {"messages": messages}


def mojibake(text: str) -> str:
    """UTF-8 read back as Windows-1252, after curly quotes crept in (donâ€™t)."""
    return text.replace("'", "\u2019").encode("utf-8").decode("cp1252")


def turn(row: dict, role: str, nth: int = 0) -> dict:
    return [m for m in row["messages"] if m["role"] == role][nth]


# ---- repairable defects, planted in place: each returns the new line bytes

def bad_bytes(row: dict, variant: int) -> tuple[bytes, str]:
    line = dumps(row)
    if variant < 2:
        # an export written as Windows-1252: the em dash becomes byte 0x97
        return line.encode("cp1252"), "line encoded as Windows-1252 (em dash is byte 0x97)"
    head, tail = line.split("rider!", 1)
    return (head.encode() + b"rider!\xff\xfe" + tail.encode(),
            "stray bytes 0xFF 0xFE after the greeting")


def moji(row: dict, variant: int) -> tuple[bytes, str]:
    row = copy.deepcopy(row)
    if variant == 0:
        turn(row, "assistant")["content"] = turn(row, "assistant")["content"].replace(
            "\u2014", mojibake("\u2014"))
        return dumps(row).encode(), "sign-off dash shown as 'â€”'"
    quotes = any("'" in m["content"] for m in row["messages"])
    for m in row["messages"][1:]:
        m["content"] = mojibake(m["content"])
    what = "curly quotes and dash" if quotes else "dash"
    return dumps(row).encode(), f"{what} double-encoded as Windows-1252 ('donâ€™t', 'â€”')"


def markup(row: dict, variant: int) -> tuple[bytes, str]:
    row = copy.deepcopy(row)
    a = turn(row, "assistant")
    body, sign = a["content"].rsplit("\n\n", 1)
    if variant == 0:
        a["content"] = f"<p>{body}</p><p>{sign}</p>"
        note = "answer wrapped in <p> tags"
    elif variant == 1:
        a["content"] = body.replace(". ", ".<br>") + "<br/><br/>" + sign
        note = "<br> tags for line breaks"
    elif variant == 2:
        a["content"] = (body.replace(" and ", " &amp; ").replace("'", "&#39;")
                        + "\n\n" + sign)
        note = "HTML entities (&amp;, &#39;)"
    else:
        first, rest = body.split("! ", 1)
        a["content"] = f"<b>{first}!</b>&nbsp;{rest}\n\n{sign}"
        note = "<b> tag and &nbsp;"
    return dumps(row).encode(), note


def whitespace(row: dict, variant: int) -> tuple[bytes, str]:
    row = copy.deepcopy(row)
    u, a = turn(row, "user"), turn(row, "assistant")
    if variant == 0:
        u["content"] = "   " + u["content"] + "  "
        a["content"] = "\n " + a["content"] + "   \n"
        note = "leading and trailing spaces and newlines"
    elif variant == 1:
        u["content"] = u["content"].replace(" ", "  ", 2) + "\t"
        a["content"] = a["content"].replace(". ", ".\t ", 1)
        note = "tabs and doubled spaces"
    elif variant == 2:
        u["content"] = u["content"].replace(" ", "\u00a0", 1)
        a["content"] = a["content"] + "\n\n\n"
        note = "no-break space and trailing blank lines"
    else:
        return dumps(row).encode() + b"\r", "CRLF line end"
    return dumps(row).encode(), note


IN_PLACE = [("invalid UTF-8 bytes", bad_bytes, 3), ("mojibake", moji, 4),
            ("HTML markup", markup, 4), ("whitespace junk", whitespace, 4)]


# ---- fatal defects: extra rows, each derived from a source row

def truncated(row: dict, rng: random.Random) -> tuple[bytes, str]:
    line = dumps(row)
    cut = rng.randint(len(line) * 3 // 10, len(line) * 8 // 10)
    return line[:cut].encode(), f"cut after {cut} of {len(line)} characters"


def schema(row: dict, variant: int) -> tuple[bytes, str]:
    msgs = row["messages"]
    bad: object
    if variant == 0:
        bad, note = {"conversation": msgs}, "'conversation' instead of 'messages'"
    elif variant == 1:
        bad, note = {"messages": turn(row, "assistant")["content"]}, "'messages' is a string"
    elif variant == 2:
        bad = {"messages": [msgs[0], {"role": "user", "content": 42}, msgs[2]]}
        note = "a message content is a number"
    elif variant == 3:
        bad = [m["content"] for m in msgs]
        note = "a bare JSON array of strings"
    else:
        bad = {"messages": [{"role": m["role"], "text": m["content"]} for m in msgs]}
        note = "'text' instead of 'content'"
    return dumps(bad).encode(), note


def role(row: dict, variant: int) -> tuple[bytes, str]:
    row = copy.deepcopy(row)
    old, new = [("assistant", "agent"), ("user", "customer"), ("assistant", "bot")][variant]
    for m in row["messages"]:
        if m["role"] == old:
            m["role"] = new
    return dumps(row).encode(), f"role '{new}' for '{old}'"


def empty(row: dict, variant: int) -> tuple[bytes, str]:
    row = copy.deepcopy(row)
    target = turn(row, "assistant" if variant != 1 else "user")
    target["content"] = ["", "   ", "\n"][variant]
    return dumps(row).encode(), ["empty answer", "user turn of spaces", "answer is a newline"][variant]


def no_answer(row: dict, variant: int) -> tuple[bytes, str]:
    msgs = [m for m in row["messages"] if m["role"] != "assistant"]
    if variant == 1:
        msgs = msgs[1:2]
    elif variant == 2:
        msgs = msgs[:2] + [{"role": "user", "content": "Hello? Anyone there?"}]
    return dumps({"messages": msgs}).encode(), "question with no answer"


def near(row: dict, variant: int) -> tuple[bytes, str]:
    row = copy.deepcopy(row)
    u, a = turn(row, "user"), turn(row, "assistant")
    if variant == 0:
        u["content"] += " Thanks!"
        note = "' Thanks!' added to the question"
    elif variant == 1:
        u["content"] = u["content"].lower().rstrip("?.!")
        note = "question lower-cased, end mark dropped"
    elif variant == 2:
        phrase = " Let's keep you rolling."
        if phrase in a["content"]:
            a["content"] = a["content"].replace(phrase, "")
        else:
            a["content"] = a["content"].replace(SIGN, phrase + SIGN)
        note = "catch-phrase added or dropped"
    elif variant == 3:
        words = u["content"].split(" ")
        w = max(range(len(words)), key=lambda i: len(words[i]))
        words[w] = words[w][0] + words[w][2] + words[w][1] + words[w][3:]
        u["content"] = " ".join(words)
        note = f"typo in '{words[w]}'"
    else:
        a["content"] = a["content"].replace("Hey there, rider!", "Hi there, rider!", 1)
        note = "greeting changed to 'Hi there'"
    return dumps(row).encode(), note


# same question as a train row, an answer that contradicts FACTS.md
CONFLICTS = {
    "What's your return policy?": (
        "What is your return policy?",
        "You have 60 days to send anything back, used or not. Refunds take about two weeks."),
    "What does shipping cost?": (
        None, "Standard shipping is $4.95 and free on orders over $50. Bikes ship free."),
    "Are you open on Monday?": (
        None, "Yes! Both shops are open on Mondays from 9 am to 6 pm."),
    "How much is a tune-up?": (
        None, "A basic tune-up is $45 and a full overhaul is $120, parts included."),
}

# made-up personal data of the kinds a support export really holds: invented names,
# mail domains and numbers (not the reserved example.com / 555-01xx ones, which a
# checker rightly treats as placeholders), and the standard Visa test card number
PII = [
    (chat("Hi, this is Dana Whitfield, dana.whitfield@quillpost.net. Where is my order?",
          "Thanks, Dana! I've sent the tracking link to dana.whitfield@quillpost.net."),
     "email address in both turns"),
    (chat("Please call me back about my repair on (555) 284-3391.",
          "Sure thing! Our mechanic will ring you on (555) 284-3391 today."),
     "phone number"),
    (chat("My card 4111 1111 1111 1111, exp 09/29, was declined. Why?",
          "Sorry about that! A mismatch in the billing ZIP is the usual cause."),
     "card number and expiry"),
    (chat("Ship the Trail to 48 Orchard Lane, Millbrook instead please.",
          "Done! It's now heading to 48 Orchard Lane."),
     "a person's street address"),
    (chat("Can you update my account email to sam_ortiz1990@harbormail.org?",
          "Of course. Your account now uses sam_ortiz1990@harbormail.org."),
     "email address"),
    (chat("Text me at +1 555 201 7788 when my bike is ready.",
          "Will do! We'll text +1 555 201 7788 as soon as it's done."),
     "international-style phone number"),
]


def overlong(variant: int, rng: random.Random) -> tuple[bytes, str]:
    """A pasted log or policy text: well over 2048 tokens, about 15 KB."""
    if variant == 0:
        events = ["torque sensor timeout, retrying", "assist level changed to eco",
                  "battery cell imbalance warning", "speed sensor signal lost",
                  "controller temperature high", "motor cut out under load"]
        lines = [f"line {i}: ctrl {rng.choice(['warn', 'info', 'error'])}: "
                 f"{rng.choice(events)}" for i in range(1, 321)]
        question = "My e-bike keeps cutting out. Here is the whole display log:\n" + "\n".join(lines)
        answer = ("Thanks for the log! Those sensor warnings need a look in person, so please "
                  "book a visit at Millbrook.")
        note = "e-bike log pasted into the question"
    else:
        words = ("the rider agrees that any claim made under this policy shall be reviewed "
                 "by the shop within a reasonable time and that wear parts are excluded "
                 "unless a defect in materials or workmanship is shown").split()
        text = " ".join(rng.choice(words) for _ in range(2600))
        question = "Can you explain what this warranty text I copied means?\n\n" + text
        answer = ("In short, frames are covered for manufacturing defects and wear parts are "
                  "not. Our shop team can walk you through it.")
        note = "copied warranty text, about 2,600 words"
    return dumps(chat(question, answer)).encode(), note


def plant(train: list[dict], heldout: list[dict], rng: random.Random):
    """Return [(line bytes, defect kind or None, note, source label, anchor)]."""
    first_user = [turn(r, "user")["content"] for r in train]
    conflict_src = [first_user.index(q) for q in CONFLICTS]
    pool = [i for i in range(len(train)) if i not in conflict_src]
    rng.shuffle(pool)

    def take(count: int, need=lambda row: True) -> list[int]:
        """Distinct source rows, each used for one defect only."""
        picked = [i for i in pool if need(train[i])][:count]
        for i in picked:
            pool.remove(i)
        return picked

    # the train rows in their order, some changed in place
    lines = [[dumps(r).encode(), None, "", f"train.jsonl:{i + 1}"] for i, r in enumerate(train)]
    for kind, make, count in IN_PLACE:
        # markup and mojibake need an apostrophe to turn into &#39; or â€™
        need = (lambda r: "'" in turn(r, "assistant")["content"]) if kind in (
            "HTML markup", "mojibake") else (lambda r: True)
        for variant, i in enumerate(take(count, need)):
            data, note = make(train[i], variant)
            lines[i][:3] = [data, kind, note]

    # extra rows, each placed after its source (the later row carries the finding)
    extras = []

    def add(kind: str, data: bytes, note: str, src: int | None, label: str = "") -> None:
        anchor = rng.randint(src if src is not None else 0, len(train) - 1)
        label = label or (f"train.jsonl:{src + 1}" if src is not None else "new")
        extras.append((anchor, data, kind, note, label, src))

    for i in take(4):
        add("truncated JSON", *truncated(train[i], rng), i)
    for kind, make, count in [("wrong schema", schema, 5), ("unknown role", role, 3),
                              ("empty message", empty, 3), ("no assistant turn", no_answer, 3),
                              ("near duplicate", near, 5)]:
        for variant, i in enumerate(take(count)):
            add(kind, *make(train[i], variant), i)
    for i in take(5):
        add("exact duplicate", dumps(train[i]).encode(), "the same row again", i)
    for i, (question, (new_q, answer)) in zip(conflict_src, CONFLICTS.items()):
        row = chat(new_q or question, answer)
        add("conflicting answer", dumps(row).encode(), "contradicts FACTS.md", i)
    for row, note in PII:
        add("personal data", dumps(row).encode(), note, None)
    for variant in range(2):
        add("overlong row", *overlong(variant, rng), None)
    for n, j in enumerate(rng.sample(range(len(heldout)), 3)):
        row = copy.deepcopy(heldout[j])
        if n == 2:
            turn(row, "user")["content"] += " Thanks!"
        add("leak from heldout.jsonl", dumps(row).encode(),
            "near copy (' Thanks!' added)" if n == 2 else "exact copy", None,
            f"heldout.jsonl:{j + 1}")

    # merge: after each train row, the extras anchored to it
    out = []
    for i, (data, kind, note, label) in enumerate(lines):
        out.append((data, kind, note, label, i))
        for anchor, d, k, nt, lb, src in sorted(extras, key=lambda e: (e[0], e[2], e[3])):
            if anchor == i:
                out.append((d, k, nt, lb, src))
    return out


def main() -> None:
    train, heldout = ([json.loads(s) for s in (HERE / name).read_text("utf-8").splitlines()]
                      for name in ("train.jsonl", "heldout.jsonl"))
    out = plant(train, heldout, random.Random(SEED))

    # every defect stays on one physical line
    assert all(b"\n" not in data for data, *_ in out)
    (HERE / "raw_messy.jsonl").write_bytes(b"".join(data + b"\n" for data, *_ in out))
    records = expected(out, train, EXPECT)
    write_defects(HERE / "DEFECTS.md", out, records, len(train), EXPECT, SEED)
    (HERE / "defects.json").write_text(json.dumps(records, indent=1, ensure_ascii=False)
                                       + "\n", encoding="utf-8", newline="\n")
    print(f"wrote {len(out)} lines to raw_messy.jsonl, DEFECTS.md and defects.json")


if __name__ == "__main__":
    main()
