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
from engine.pipeline.items import Settled, queued_again
from engine.receipts.medcom.new_envelope import new_envelope_id, with_new_envelope
from engine.store.audit import seal
from engine.store.reliable import Overdue, give_up, overdue, send_again
from engine.store.schema import DeliveryStatus

log = structlog.get_logger("kanal.receipts")


class ReceiptWatch:
    def __init__(
        self,
        database: Database,
        channels: list[ChannelConfig],
        announce: Callable[[list[tuple[str, str, int]]], Awaitable[None]],
        observe: Callable[[list[Settled]], None],
    ) -> None:
        """`announce`: tells the workers of deliveries queued again (the engine's one way);
        `observe`: counts what the watch settled (metrics)."""
        self._database = database
        self._announce = announce
        self._observe = observe
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
                settled = await asyncio.to_thread(self.check_once)
                self._observe(settled)
                await self._announce(queued_again(settled))
            except Exception:  # the store or broker may be away: the next pass (or sweep) finds it
                log.exception("receipt.watch_failed")
            await asyncio.sleep(min(30.0, max(0.1, shortest / 5)))

    def check_once(self, now: float | None = None) -> list[Settled]:
        """Resend or give up what is overdue; what moved. Several worker processes may
        check at once: a delivery moves (and is audited) only once."""
        now = time.time() if now is None else now
        settled = []
        for (channel, destination), policy in self._policies.items():
            with self._database.begin() as conn:
                for item in overdue(conn, channel, destination, now - policy.wait):
                    status = _resend_or_give_up(conn, item, policy, now)
                    if status is not None:
                        settled.append(Settled(channel, destination, item.delivery_id, status))
                seal(conn)  # the audit events above join the chain; last in the transaction
        return settled


def _resend_or_give_up(
    conn: Connection, item: Overdue, policy: ReceiptPolicy, now: float
) -> str | None:
    """The delivery's new status (QUEUED: to be sent again), None if another process or
    a receipt moved it first."""
    if item.resends >= policy.resends:
        why = f"no receipt after {item.resends + 1} sends (MedCom reliable messaging)"
        if not give_up(conn, item, now, why):
            return None
        log.warning("receipt.missing", delivery=item.delivery_id, detail=why)
        return DeliveryStatus.DEAD
    envelope_id = new_envelope_id()
    again = with_new_envelope(item.payload, envelope_id)
    why = f"no receipt within {policy.wait:g}s: sent again"
    if again is None:  # no envelope of its own: the same bytes again
        again, envelope_id = item.payload, ""
    else:
        why += f" in envelope {envelope_id}"
    moved = send_again(conn, item, again, envelope_id or None, now, why)
    return DeliveryStatus.QUEUED if moved else None
