"""A private PostgreSQL cluster on loopback, from Debian's postgresql package.

initdb and the server refuse to run as root, so as root they run as the package's
`postgres` user, in a folder that user owns. Trust authentication on 127.0.0.1 only.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.devservers import ServerUnavailable
from engine.devservers.ports import server_port

START_TIMEOUT = 60


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise ServerUnavailable("postgresql is not installed: run scripts/install-servers")
    return Path(found[-1]).parent


@dataclass
class PostgreSQL:
    port: int = field(default_factory=server_port)

    def __post_init__(self) -> None:
        self._bin = _bin_dir()
        self._as_postgres = os.getuid() == 0
        # not under pytest's private temp folders: the postgres user must reach it
        self.folder = Path(tempfile.mkdtemp(prefix="kanal-pg-"))
        self.data = self.folder / "data"
        if self._as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgreSQL:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=on"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
            "-o", options, "-w", "-t", str(START_TIMEOUT), "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """fast: a clean shutdown; immediate: like a crash (recovery at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "-qc", f'CREATE DATABASE "{name}"')  # fmt: skip
        return self.url(name)

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [str(self._bin / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, cwd=self.folder, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stderr.decode()[-800:]}")
