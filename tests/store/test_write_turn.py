"""Processes writing one SQLite store take turns through a lock file beside it."""

from __future__ import annotations

import asyncio

from engine.store.database import open_database
from engine.store.write_turn import NoTurn, WriteTurn, write_turn


def _turns(tmp_path) -> tuple[WriteTurn, WriteTurn]:
    """This process's turn, and one as another process would hold it (a lock file opened
    separately conflicts like a second process)."""
    path = tmp_path / "kanal.db"
    mine = write_turn(open_database(f"sqlite:///{path}"))
    assert isinstance(mine, WriteTurn)
    return mine, WriteTurn(f"{path}.write-turn")


async def test_a_writer_waiting_for_its_turn_keeps_the_event_loop_running(tmp_path):
    mine, other = _turns(tmp_path)
    await other.acquire()
    waiting = asyncio.create_task(mine.acquire())
    ticks = 0
    for _ in range(20):  # the loop keeps answering connections meanwhile
        await asyncio.sleep(0.005)
        ticks += 1
    assert ticks == 20 and not waiting.done()
    other.release()
    await asyncio.wait_for(waiting, 2)  # the turn comes as soon as the other lets go
    mine.release()


async def test_a_turn_given_up_while_waiting_is_passed_on_when_it_comes(tmp_path):
    mine, other = _turns(tmp_path)
    await other.acquire()
    waiting = asyncio.create_task(mine.acquire())
    await asyncio.sleep(0.05)
    waiting.cancel()
    other.release()
    third = WriteTurn(str(tmp_path / "kanal.db.write-turn"))
    await asyncio.wait_for(third.acquire(), 2)  # not held forever by the cancelled waiter
    third.release()


def test_only_a_sqlite_file_needs_turns(tmp_path):
    assert isinstance(write_turn(open_database("sqlite:///:memory:")), NoTurn)
    postgres = open_database("postgresql+psycopg://kanal@127.0.0.1:1/kanal")
    assert isinstance(write_turn(postgres), NoTurn)
