"""UNB's syntax identifier names the character set; bytes outside it are refused."""

from __future__ import annotations

import re

from engine.formats.edifact.errors import EdifactError

CODECS = {
    "UNOA": "ascii",
    "UNOB": "ascii",
    "UNOC": "iso-8859-1",
    "UNOD": "iso-8859-2",
    "UNOE": "iso-8859-5",
    "UNOF": "iso-8859-7",
    "UNOW": "utf-8",
    "UNOY": "utf-8",
}
_SYNTAX = re.compile(rb"UNB.(UNO[A-Z])")
_C1 = re.compile(rb"[\x80-\x9f]")  # ISO 8859 control codes: never text in a letter


def decode(raw: bytes) -> tuple[str, str]:
    """The text and the codec used. Raises EdifactError (SYN) for bytes the declared
    character set does not have, such as UTF-8 in a UNOC interchange."""
    declared = _SYNTAX.search(raw[:300])
    syntax = declared.group(1).decode() if declared else "UNOC"
    codec = CODECS.get(syntax)
    if codec is None:
        raise EdifactError("SYN", f"UNB: syntax identifier {syntax} is not supported")
    if codec.startswith("iso-8859"):
        if not raw.isascii() and _is_utf8(raw):
            # æøå in ISO 8859 are never valid UTF-8: this is UTF-8 declared as UNOC
            raise EdifactError(
                "SYN", f"the interchange declares {syntax} ({codec}) but is UTF-8 encoded"
            )
        control = _C1.search(raw)
        if control is not None:
            raise EdifactError(
                "SYN",
                f"byte 0x{raw[control.start()]:02X} at offset {control.start()} is not a "
                f"character of {syntax} ({codec})",
            )
    try:
        return raw.decode(codec), codec
    except UnicodeDecodeError as exc:
        raise EdifactError(
            "SYN", f"byte at offset {exc.start} is not a character of {syntax} ({codec})"
        ) from None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
