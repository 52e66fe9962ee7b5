"""A token's last use is recorded when it authenticates, at most once a minute."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from engine.store.database import migrate, open_database
from engine.store.tokens import (
    USE_RECORDED_EVERY,
    create_token,
    find_token,
    list_tokens,
    revoke_token,
)

T = 1.8e9


def test_a_use_is_recorded_at_most_once_a_minute(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'k.db'}")
    migrate(database)
    with database.begin() as conn:
        token = create_token(conn, "lab", "source", "lab")
        other = create_token(conn, "epj", "integrator")
    updates: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("UPDATE api_tokens"):
            updates.append(statement)

    def use(at: float, which: str = token) -> dict[str, Any]:
        with database.begin() as conn:
            assert find_token(conn, which, used_at=at) is not None
            return {row["name"]: row["last_used_at"] for row in list_tokens(conn)}

    event.listen(database, "before_cursor_execute", count)
    with database.connect() as conn:  # a lookup without a time records nothing
        assert find_token(conn, token) is not None
    assert use(T) == {"lab": T, "epj": None}
    assert use(T + 30) == {"lab": T, "epj": None}  # within the minute: not written
    assert use(T + USE_RECORDED_EVERY) == {"lab": T + USE_RECORDED_EVERY, "epj": None}
    assert use(T + 61, other) == {"lab": T + USE_RECORDED_EVERY, "epj": T + 61}
    assert len(updates) == 3

    with database.begin() as conn:
        revoke_token(conn, "lab")
        assert find_token(conn, token, used_at=T + 600) is None
        assert find_token(conn, "kanal_made-up", used_at=T + 600) is None
        assert list_tokens(conn)[0]["last_used_at"] == T + USE_RECORDED_EVERY
