"""Directory source: poll a folder; each file is one input, moved to done/ or error/.

As a VANS inbox (`receipts = "…"`), each MedCom letter's receipt is written to that
folder once the letter is committed: CTL03/XCTL03 when asked for, CTL02/XCTL02 when
refused, a FHIR Acknowledgement for every FHIR message. A duplicate gets the same receipt.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import structlog

from engine.config import DirectorySource
from engine.pipeline.receive import Receipt, Receiver
from engine.receipts.medcom_answer import medcom_reply, receipt_name, transport_reply
from engine.store.writer import StoreUnavailable

log = structlog.get_logger("kanal.directory")

# A file younger than this may still be being written by a sender that does not rename.
SETTLE_SECONDS = 0.2
# Files taken together: their messages share one commit (one at a time, every file cost a
# commit, a claim and an outcome of its own)
TAKE_AT_ONCE = 50


class DirectoryPoller:
    def __init__(self, channel: str, config: DirectorySource, receiver: Receiver):
        self.channel = channel
        self._folder = Path(config.path)
        self._pattern = config.pattern
        self._poll = config.poll
        self._receiver = receiver
        self._receipts = Path(config.receipts) if config.receipts else None

    async def run(self) -> None:
        for sub in ("done", "error"):
            (self._folder / sub).mkdir(parents=True, exist_ok=True)
        if self._receipts is not None:
            self._receipts.mkdir(parents=True, exist_ok=True)
        while True:
            await self.poll_once()
            await asyncio.sleep(self._poll)

    async def poll_once(self) -> int:
        """Take every settled file once, in name order; returns how many were taken."""
        ready = sorted(await asyncio.to_thread(self._ready_files))
        taken = 0
        for start in range(0, len(ready), TAKE_AT_ONCE):
            chunk = ready[start : start + TAKE_AT_ONCE]
            raws = await asyncio.to_thread(_read_all, chunk)
            # Received together, so one commit stores them all; each file enters the
            # writer's queue in name order (its task runs to the enqueue before the next).
            outcomes = await asyncio.gather(
                *(self._take(path, raw) for path, raw in zip(chunk, raws, strict=True)),
                return_exceptions=True,
            )
            for outcome in outcomes:
                if isinstance(outcome, StoreUnavailable):
                    continue  # left in place: the next poll retries it
                if isinstance(outcome, BaseException):
                    raise outcome
                taken += 1
        return taken

    def _ready_files(self) -> list[Path]:
        cutoff = time.time() - SETTLE_SECONDS
        return [
            path
            for path in self._folder.glob(self._pattern)
            if path.is_file()
            and not path.name.startswith(".")
            and not path.name.endswith((".tmp", ".part"))
            and path.stat().st_mtime <= cutoff
        ]

    async def _take(self, path: Path, raw: bytes) -> None:
        receipts = await self._receiver.receive(self.channel, raw, f"file:{path.name}")
        if self._receipts is not None:
            await asyncio.to_thread(_write_receipts, self._receipts, path.stem, receipts)
        failed = any(not r.accepted for r in receipts)
        target = self._folder / ("error" if failed else "done") / path.name
        if target.exists():  # same name taken before: keep both
            target = target.with_name(f"{path.name}.{int(time.time() * 1000)}")
        if failed:  # the reason first, so whoever sees the file in error/ can read why
            reasons = "; ".join(r.error or "" for r in receipts if not r.accepted)
            await asyncio.to_thread(_write_reason, target, reasons)
            log.warning("directory.file_rejected", channel=self.channel, file=path.name)
        await asyncio.to_thread(os.replace, path, target)


def _read_all(paths: list[Path]) -> list[bytes]:
    return [path.read_bytes() for path in paths]


def _write_receipts(folder: Path, stem: str, receipts: list[Receipt]) -> None:
    """Named after the file taken: "<file>.receipt.edi" (".2" etc. for a batch's next)."""
    for n, receipt in enumerate(receipts, 1):
        for answer in (transport_reply(receipt), medcom_reply(receipt)):
            if answer is None:
                continue
            target = folder / receipt_name(stem if n == 1 else f"{stem}.{n}", answer)
            partial = target.with_name(f".{target.name}.part")  # never seen half-written
            partial.write_bytes(answer)
            os.replace(partial, target)
            log.info("directory.receipt_written", file=target.name)


def _write_reason(target: Path, reasons: str) -> None:
    target.with_name(target.name + ".error.txt").write_text(reasons + "\n", "utf-8")
