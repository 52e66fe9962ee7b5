"""A destination that keeps order per key (per patient): a failing message holds back only
the later messages about the same patient; everyone else's go on."""

from __future__ import annotations

from conftest import delivery_count, eventually, hl7, mllp_in, to_mllp

from engine.simulators.epj import Faults
from engine.simulators.mllp_client import send_all
from engine.store.queries import message_detail


def status_of(engine, message_id: int) -> str:
    with engine.database.connect() as conn:
        return str(message_detail(conn, message_id)["deliveries"][0]["status"])


async def test_order_is_kept_per_patient_without_holding_up_the_others(start_engine, epj):
    epj.faults = Faults(fail_first=1)  # the first message gets AR: retried in 1.5 s
    engine = await start_engine(
        mllp_in(
            "adt",
            to_mllp(
                "epj",
                epj.port,
                retry='{ initial = "1500ms", jitter = 0 }',
                order_by='"{{ msg.cpr }}"',
            ),
        )
    )
    port = engine.listeners["adt"].port
    await send_all("127.0.0.1", port, [hl7("A-1", cpr="0101011111")])
    await eventually(lambda: delivery_count(engine, "RETRYING") == 1)

    later = [
        hl7("B-1", cpr="0202022222"),
        hl7("A-2", cpr="0101011111"),
        hl7("B-2", cpr="0202022222"),
    ]
    await send_all("127.0.0.1", port, later)
    await epj.wait_for(2)  # the other patient's two go straight through
    assert list(epj.received) == ["B-1", "B-2"]
    assert status_of(engine, 3) == "QUEUED"  # A-2 waits for A-1

    await eventually(lambda: delivery_count(engine, "SENT") == 4)
    order = list(epj.received)
    assert order.index("A-1") < order.index("A-2")
    assert epj.duplicates == 0
