"""Watches deliveries that wait for a MedCom receipt: when none comes in time, the letter
goes out again in a new envelope (a new id for the receipt to name), at most as often
as the destination's `receipt` policy says; then the delivery is DEAD."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy import Connection
from sqlalchemy import Engine as Database

from engine.config import ChannelConfig, ReceiptPolicy
from engine.receipts.medcom.new_envelope import new_envelope_id, with_new_envelope
from engine.store.audit import seal
from engine.store.reliable import Overdue, give_up, overdue, send_again

log = structlog.get_logger("kanal.receipts")


class ReceiptWatch:
    def __init__(
        self,
        database: Database,
        channels: list[ChannelConfig],
        announce: Callable[[list[tuple[str, str, int]]], Awaitable[None]],
    ) -> None:
        """`announce`: tells the workers of deliveries queued again (the engine's one way)."""
        self._database = database
        self._announce = announce
        self._policies: dict[tuple[str, str], ReceiptPolicy] = {
            (c.name, d.name): d.receipt for c in channels for d in c.destination if d.receipt
        }

    @property
    def needed(self) -> bool:
        return bool(self._policies)

    async def run(self) -> None:
        shortest = min(p.wait for p in self._policies.values())
        while True:
            try:
                await self._announce(await asyncio.to_thread(self.check_once))
            except Exception:  # the store or broker may be away: the next pass (or sweep) finds it
                log.exception("receipt.watch_failed")
            await asyncio.sleep(min(30.0, max(0.1, shortest / 5)))

    def check_once(self, now: float | None = None) -> list[tuple[str, str, int]]:
        """Resend or give up what is overdue; the deliveries queued again. Several worker
        processes may check at once: a delivery moves (and is audited) only once."""
        now = time.time() if now is None else now
        queued_again = []
        for (channel, destination), policy in self._policies.items():
            with self._database.begin() as conn:
                for item in overdue(conn, channel, destination, now - policy.wait):
                    if _resend_or_give_up(conn, item, policy, now):
                        queued_again.append((channel, destination, item.delivery_id))
                seal(conn)  # the audit events above join the chain; last in the transaction
        return queued_again


def _resend_or_give_up(conn: Connection, item: Overdue, policy: ReceiptPolicy, now: float) -> bool:
    """True if the delivery was queued again."""
    if item.resends >= policy.resends:
        why = f"no receipt after {item.resends + 1} sends (MedCom reliable messaging)"
        if give_up(conn, item, now, why):
            log.warning("receipt.missing", delivery=item.delivery_id, detail=why)
        return False
    envelope_id = new_envelope_id()
    again = with_new_envelope(item.payload, envelope_id)
    why = f"no receipt within {policy.wait:g}s: sent again"
    if again is None:  # no envelope of its own: the same bytes again
        again, envelope_id = item.payload, ""
    else:
        why += f" in envelope {envelope_id}"
    return send_again(conn, item, again, envelope_id or None, now, why)
