"""MedCom's free text in EDIFACT FTX (element 4: up to five components of 70 characters).

How MedCom wraps it, read from pairs/CTL02_1.edi against pairs/CTL02_1.xml: a component that
ends with a backslash continues on the next one (the XML joins them), a component without it
ends a line (the XML writes <Break/> after it). Long lines are cut after the last space that
fits, the space kept at the end of the first piece: "…kl 18.46 har \\" (69 characters) then
"ikke kunnet modtages. …". The backslash is not an EDIFACT service character, so it needs no
release character.
"""

from __future__ import annotations

COMPONENT = 70  # FTX C108 4440 an..70
COMPONENTS = 5  # C108 holds 4440 five times
CONTINUES = "\\"


def wrap(text: str) -> list[str]:
    """Components for `text` (lines separated by newlines); at most five, the rest is cut
    off (the last kept piece ends with "..." so the reader sees that text is missing)."""
    pieces: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        while len(line) > COMPONENT:
            cut = line.rfind(" ", 0, COMPONENT - 1) + 1  # keep the space, leave room for "\"
            if cut <= 0:
                cut = COMPONENT - 1  # one long word: cut it
            pieces.append(line[:cut] + CONTINUES)
            line = line[cut:]
        pieces.append(line)
    while len(pieces) > 1 and not pieces[-1]:
        pieces.pop()  # a trailing newline is not a line of its own
    if len(pieces) > COMPONENTS:
        pieces = pieces[:COMPONENTS]
        pieces[-1] = pieces[-1].removesuffix(CONTINUES)[: COMPONENT - 3] + "..."
    return pieces


def unwrap(components: list[str]) -> str:
    """The text back: continued components joined, the others ending a line."""
    text = ""
    for component in components:
        if component.endswith(CONTINUES):
            text += component[:-1]
        else:
            text += component + "\n"
    return text.rstrip("\n")
