"""Message search latency on a large store: p50/p99 of the searches `kanal messages search`
and GET /api/v1/messages run (engine.store.queries.search_messages: every filter combined
with since/until, the newest 50 first), beside a baseline in the same run (a primary-key
lookup of one message).

The store is filled straight through the schema (no engine): 1,000,000 messages over 90
days from ~50,000 patients (CPR), 200 senders and receivers, 20 types, 10 channels, the
message statuses plus deliveries (one per routed message; some DEAD, for the delivery
status filter). Senders, receivers, types and channels are skewed (a few are big), as
they are in a region. Each filter runs 200 times with random values; the plan of one of
them (EXPLAIN QUERY PLAN / EXPLAIN) is kept for the ones that miss the target.

    python bench/search.py [--messages 1000000] [--queries 200] [--postgres] [--analyze]

--postgres also measures a private PostgreSQL (engine/devservers/postgres.py), analysed
as autovacuum would have; --analyze runs ANALYZE on SQLite too (the engine never does).
Writes bench/results/search.json and bench/results/search.png.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from charts import MACHINE, bars
from results_file import header, write
from sqlalchemy import Connection, Engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.store.database import migrate, open_database
from engine.store.queries import SUMMARY_COLUMNS, SearchFilter, search_messages
from engine.store.schema import messages

TARGET_MS = 100.0
DAY = 86400.0
SPAN = 90 * DAY
BATCH = 50_000
SEED = 20250314

TYPES = [
    "ADT^A01", "ADT^A02", "ADT^A03", "ADT^A04", "ADT^A08", "ORU^R01", "ORM^O01", "OML^O21",
    "SIU^S12", "SIU^S14", "MDM^T02", "DFT^P03", "REF01", "DIS01", "XREF01", "XDIS01",
    "RPT01", "CTL01", "Bundle/Message", "PRE01",
]  # fmt: skip
MESSAGE_STATUSES = [("ROUTED", 0.88), ("FILTERED", 0.08), ("ERROR", 0.035), ("RECEIVED", 0.005)]
DELIVERY_STATUSES = [("SENT", 0.975), ("ACKNOWLEDGED", 0.01), ("DEAD", 0.01), ("RETRYING", 0.005)]


@dataclass
class Population:
    cprs: list[str]
    senders: list[str]
    receivers: list[str]
    channels: list[str]


def population(rng: random.Random) -> Population:
    cprs = sorted(
        {
            f"{rng.randint(1, 28):02d}{rng.randint(1, 12):02d}{rng.randint(0, 99):02d}"
            f"{rng.randint(0, 9999):04d}"
            for _ in range(52_000)
        }
    )[:50_000]
    return Population(
        cprs=cprs,
        senders=[f"57900{n:08d}" for n in range(200)],  # EAN location numbers
        receivers=[f"57901{n:08d}" for n in range(200)],
        channels=[f"channel-{n}" for n in range(10)],
    )


def zipf(count: int, skew: float = 1.0) -> list[float]:
    """Cumulative weights: the first values are the big ones."""
    return list(accumulate(1 / (rank + 1) ** skew for rank in range(count)))


def rows(count: int, people: Population, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """(message row, delivery row or None), oldest first: ids follow time, as in a store."""
    start = time.time() - SPAN
    sender_w, receiver_w = zipf(200), zipf(200, 0.8)
    type_w, channel_w = zipf(20, 0.7), zipf(10, 0.5)
    status_w = list(accumulate(w for _, w in MESSAGE_STATUSES))
    delivery_w = list(accumulate(w for _, w in DELIVERY_STATUSES))
    statuses = [s for s, _ in MESSAGE_STATUSES]
    outcomes = [s for s, _ in DELIVERY_STATUSES]
    for i in range(1, count + 1):
        at = start + SPAN * i / count
        channel = rng.choices(people.channels, cum_weights=channel_w)[0]
        status = rng.choices(statuses, cum_weights=status_w)[0]
        message = (
            i, channel, status, "hl7v2", rng.choices(TYPES, cum_weights=type_w)[0], f"C{i}",
            rng.choices(people.senders, cum_weights=sender_w)[0],
            rng.choices(people.receivers, cum_weights=receiver_w)[0],
            rng.choice(people.cprs), "2.5", "UTF-8", "mllp:10.0.0.1", 900, at, at,
        )  # fmt: skip
        delivery = None
        if status == "ROUTED":
            outcome = rng.choices(outcomes, cum_weights=delivery_w)[0]
            delivery = (i, i, channel, "epj", outcome, 1, at, at, at)
        yield message, delivery


MESSAGE_COLUMNS = (
    "id, channel, status, format, type, control_id, sender, receiver, cpr, version, "
    "charset, origin, size, received_at, updated_at"
)
DELIVERY_COLUMNS = (
    "id, message_id, channel, destination, status, attempts, next_attempt_at, created_at, "
    "updated_at"
)


def fill(database: Engine, count: int, people: Population) -> float:
    started = time.perf_counter()
    migrate(database)
    raw = database.raw_connection()
    try:
        if database.dialect.name == "postgresql":
            _fill_postgres(raw, count, people)
        else:
            _fill_sqlite(raw, count, people)
    finally:
        raw.close()
    return time.perf_counter() - started


def _chunks(count: int, people: Population) -> Iterator[tuple[list[Any], list[Any]]]:
    rng = random.Random(SEED)
    batch: list[Any] = []
    sent: list[Any] = []
    for done, (message, delivery) in enumerate(rows(count, people, rng), 1):
        batch.append(message)
        if delivery is not None:
            sent.append(delivery)
        if len(batch) == BATCH:
            yield batch, sent
            batch, sent = [], []
            print(f"\r  filled {done:,} / {count:,}", end="", flush=True)
    if batch:
        yield batch, sent
    print()


def _fill_sqlite(raw: Any, count: int, people: Population) -> None:
    cursor = raw.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA cache_size=-400000")
    marks = lambda n: ", ".join("?" * n)  # noqa: E731
    insert_message = f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({marks(15)})"
    insert_delivery = f"INSERT INTO deliveries ({DELIVERY_COLUMNS}) VALUES ({marks(9)})"
    for batch, sent in _chunks(count, people):
        cursor.executemany(insert_message, batch)
        cursor.executemany(insert_delivery, sent)
        raw.commit()
    cursor.close()


def _fill_postgres(raw: Any, count: int, people: Population) -> None:
    driver = raw.driver_connection  # psycopg: COPY is several times faster than INSERT
    with driver.cursor() as cursor:
        for batch, sent in _chunks(count, people):
            with cursor.copy(f"COPY messages ({MESSAGE_COLUMNS}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
            with cursor.copy(f"COPY deliveries ({DELIVERY_COLUMNS}) FROM STDIN") as copy:
                for row in sent:
                    copy.write_row(row)
            driver.commit()
        for table in ("messages", "deliveries"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        driver.commit()
    driver.autocommit = True
    with driver.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE messages")
        cursor.execute("VACUUM ANALYZE deliveries")
    driver.autocommit = False


# --- the searches ---------------------------------------------------------------------


def searches(count: int, people: Population, rng: random.Random) -> dict[str, Callable[[], Any]]:
    """Name -> a maker of one random query (a SearchFilter, or a baseline callable)."""
    now = time.time()

    def window(hours: float) -> tuple[float, float]:
        until = now - rng.uniform(0, SPAN - hours * 3600)
        return until - hours * 3600, until

    statuses = [s for s, _ in MESSAGE_STATUSES]

    def one_hour() -> SearchFilter:
        since, until = window(1)
        return SearchFilter(since=since, until=until)

    def sender_type_week() -> SearchFilter:
        since, until = window(24 * 7)
        return SearchFilter(
            sender=rng.choice(people.senders), type=rng.choice(TYPES), since=since, until=until
        )

    return {
        "baseline: by id": lambda: rng.randint(1, count),
        "newest (no filter)": lambda: SearchFilter(),
        "cpr": lambda: SearchFilter(cpr=rng.choice(people.cprs)),
        "sender": lambda: SearchFilter(sender=rng.choice(people.senders)),
        "receiver": lambda: SearchFilter(receiver=rng.choice(people.receivers)),
        "type": lambda: SearchFilter(type=rng.choice(TYPES)),
        "status (message)": lambda: SearchFilter(status=rng.choice(statuses)),
        "status DEAD (delivery)": lambda: SearchFilter(status="DEAD"),
        "channel": lambda: SearchFilter(channel=rng.choice(people.channels)),
        "time window 1h": one_hour,
        "cpr + since 30d": lambda: SearchFilter(cpr=rng.choice(people.cprs), since=now - 30 * DAY),
        "sender + type + 7d window": sender_type_week,
        "channel + status + since 7d": lambda: SearchFilter(
            channel=rng.choice(people.channels), status=rng.choice(statuses), since=now - 7 * DAY
        ),
    }


def statement(made: Any) -> Any:
    """The statement search_messages runs for this filter (or the baseline's)."""
    if not isinstance(made, SearchFilter):
        return select(*SUMMARY_COLUMNS).where(messages.c.id == made)
    captured: list[Any] = []

    class Capture:
        def execute(self, query: Any) -> list[Any]:
            captured.append(query)
            return []

    search_messages(Capture(), made)  # type: ignore[arg-type]
    return captured[0]


def run_one(conn: Connection, made: Any) -> int:
    if isinstance(made, SearchFilter):
        return len(search_messages(conn, made))
    return len(conn.execute(statement(made)).all())


def plan(conn: Connection, query: Any) -> list[str]:
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return [str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
    return [str(r[0]) for r in conn.execute(text(f"EXPLAIN {sql}"))]


def timed(conn: Connection, made: list[Any], run: Callable[[Connection, Any], int]) -> Any:
    run(conn, made[0])  # warm the statement cache
    times, found = [], 0
    for item in made:
        started = time.perf_counter()
        found += run(conn, item)
        times.append((time.perf_counter() - started) * 1000)
    slowest = made[max(range(len(made)), key=times.__getitem__)]
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
        "max_ms": round(times[-1], 2),
        "rows_avg": round(found / len(made), 1),
    }, slowest


def measure(database: Engine, count: int, people: Population, queries: int) -> dict[str, Any]:
    rng = random.Random(SEED + 1)
    results: dict[str, Any] = {}
    with database.connect() as conn:
        for name, make in searches(count, people, rng).items():
            made = [make() for _ in range(queries)]
            figures, slowest = timed(conn, made, run_one)
            if figures["p99_ms"] > TARGET_MS:
                figures["plan"] = plan(conn, statement(slowest))
            results[name] = figures
            print(
                f"  {name:<30} p50 {figures['p50_ms']:>8.2f} ms   p99 {figures['p99_ms']:>8.2f} ms"
                f"   max {figures['max_ms']:>8.2f} ms   rows {figures['rows_avg']:>5}"
                + ("   << over 100 ms" if figures["p99_ms"] > TARGET_MS else "")
            )
    return results


def table(results: dict[str, dict[str, Any]]) -> None:
    names = list(next(iter(results.values())))
    head = f"{'search (newest 50 first)':<30}" + "".join(
        f" | {store:<18} p50      p99" for store in results
    )
    print("\n" + head + "\n" + "-" * len(head))
    for name in names:
        line = f"{name:<30}"
        for store in results:
            f = results[store][name]
            line += f" | {f['p50_ms']:>15.2f} ms {f['p99_ms']:>6.1f} ms"
        print(line)


def main(count: int, queries: int, postgres: bool, analyze: bool) -> dict[str, Any]:
    people = population(random.Random(SEED))
    outcome: dict[str, Any] = {"messages": count, "queries_per_search": queries, "stores": {}}
    folder = Path(tempfile.mkdtemp(prefix="kanal-search-"))
    try:
        print(f"SQLite: filling {count:,} messages")
        database = open_database(f"sqlite:///{folder / 'kanal.db'}")
        fill_s = fill(database, count, people)
        if analyze:
            with database.begin() as conn:
                conn.execute(text("ANALYZE"))
        label = "SQLite (analysed)" if analyze else "SQLite"
        print(f"  filled in {fill_s:.1f} s")
        outcome["stores"][label] = {
            "fill_s": round(fill_s, 1),
            "searches": measure(database, count, people, queries),
        }
        database.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if postgres:
        from engine.devservers.postgres import PostgreSQL

        server = PostgreSQL().start()
        try:
            print(f"PostgreSQL: filling {count:,} messages")
            database = open_database(server.create_database("search"))
            fill_s = fill(database, count, people)
            print(f"  filled in {fill_s:.1f} s")
            outcome["stores"]["PostgreSQL"] = {
                "fill_s": round(fill_s, 1),
                "searches": measure(database, count, people, queries),
            }
            database.dispose()
        finally:
            server.close()
    table({store: figures["searches"] for store, figures in outcome["stores"].items()})
    return outcome


def chart(result: dict[str, Any], path: Path) -> None:
    """p99 per search, one bar per store, the by-id baseline first."""
    series = {
        store: {name: f["p99_ms"] for name, f in figures["searches"].items()}
        for store, figures in result["stores"].items()
    }
    title = (
        f"Message search p99 on {result['messages']:,} messages, "
        f"{result['queries_per_search']} random queries each, newest 50 first ({MACHINE})"
    )
    bars(path, title, "p99, ms (log)", series, log=True, goal=TARGET_MS)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="also a private PostgreSQL")
    parser.add_argument("--analyze", action="store_true", help="ANALYZE the SQLite store")
    args = parser.parse_args()
    result = main(args.messages, args.queries, args.postgres, args.analyze)
    write({**header("search"), **result}, chart)
