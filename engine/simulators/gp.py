"""GP practice system simulator on VANS directories: takes MedCom letters, writes receipts.

It polls the folder Kanal delivers letters to (EDIFACT or OIOXML, bare or in a
VANSEnvelope), and for each writes a MedCom receipt into its receipts folder, which a Kanal
receipt-inbox channel reads: CTL03/XCTL03 for a letter taken, CTL02/XCTL02 (refusal code NC)
for one rejected or unreadable (SYN). A letter taken moves to `done/`, a refused one to
`error/`. The receipt is named after the letter's file: `<stem>.ctl03.edi`, `<stem>.xctl02.xml`.

The GP always answers a positive receipt, whether the letter asked for one or not: the
simulator is there to close the loop. Faults: while down, and for the first N letters, the
letter is left where it is (VANS has no "try again" receipt: the GP system is simply not
reading); it is taken on a later poll. Counted by envelope id, so a letter delivered twice shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from engine.formats.sniff import Parsed, parse_messages
from engine.receipts.medcom import build_ctl02, build_ctl03, build_xctl02, build_xctl03
from engine.simulators.faults import Faults, FaultState

REJECTED = ("NC", "The GP system rejected the letter")


@dataclass
class GpSimulator:
    inbox: Path
    receipts: Path
    poll: float = 0.1
    faults: Faults = field(default_factory=Faults)
    received: Counter[str] = field(default_factory=Counter)  # envelope id → letters taken
    _state: FaultState = field(default_factory=FaultState)
    _task: asyncio.Task[None] | None = None

    async def start(self) -> GpSimulator:
        for folder in (self.inbox, self.inbox / "done", self.inbox / "error", self.receipts):
            folder.mkdir(parents=True, exist_ok=True)
        self._state.arm(self.faults)
        self._task = asyncio.create_task(self._run(), name="gp simulator")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.received.values() if count > 1)

    async def _run(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self.poll)

    async def poll_once(self) -> int:
        """Answer every letter waiting in the inbox; returns how many were answered."""
        answered = 0
        for path in sorted(await asyncio.to_thread(_letters, self.inbox)):
            raw = await asyncio.to_thread(path.read_bytes)
            decision = self._state.decide(self.faults, raw.decode("latin-1"))
            if decision in ("down", "transient"):
                continue  # left in the inbox: a later poll takes it
            if self.faults.delay:
                await asyncio.sleep(self.faults.delay)
            await asyncio.to_thread(self._answer, path, raw, decision == "fatal")
            answered += 1
        return answered

    def _answer(self, path: Path, raw: bytes, reject: bool) -> None:
        parsed = parse_messages(raw)[0]
        refusal = ("SYN", parsed.error) if parsed.error else REJECTED if reject else None
        kind, receipt = _receipt(parsed, refusal)
        if receipt is not None:
            _write(self.receipts, f"{path.stem}.{kind}", receipt)
        if refusal is None:
            self.received[parsed.meta.envelope_id or path.name] += 1
        target = self.inbox / ("error" if refusal else "done") / path.name
        os.replace(path, target)


def _receipt(parsed: Parsed, refusal: tuple[str, str] | None) -> tuple[str, bytes | None]:
    now = datetime.now(UTC)
    if parsed.meta.format == "edifact" and parsed.parsed is not None:
        if refusal:
            return "ctl02.edi", build_ctl02(parsed.parsed, *refusal, timestamp=now)
        return "ctl03.edi", build_ctl03(parsed.parsed, timestamp=now)
    if parsed.meta.format == "xml" and parsed.parsed is not None:
        if refusal:
            return "xctl02.xml", build_xctl02(parsed.parsed, *refusal, timestamp=now)
        return "xctl03.xml", build_xctl03(parsed.parsed, timestamp=now)
    if parsed.meta.format == "edifact":  # unreadable EDIFACT still gets a CTL02
        code, text = refusal or ("SYN", "unreadable")
        return "ctl02.edi", build_ctl02(parsed.raw, code, text, timestamp=now)
    return "", None  # neither EDIFACT nor OIOXML: nobody to answer in MedCom's terms


def _letters(folder: Path) -> list[Path]:
    return [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith((".tmp", ".part"))
    ]


def _write(folder: Path, name: str, data: bytes) -> None:
    """Atomically (temp file, then rename), as Kanal's directory source expects."""
    temporary = folder / f".{name}.tmp"
    temporary.write_bytes(data)
    os.replace(temporary, folder / name)
