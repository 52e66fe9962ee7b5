"""A private RabbitMQ node on loopback, from Debian's rabbitmq-server package.

Its own node name, ports, data and log folders, so it never meets the system's service or
another test run. Started with the package's own scripts as the current user (the Debian
wrapper in /usr/sbin would switch to the rabbitmq user, who cannot write our folders).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.devservers import ServerUnavailable
from engine.devservers.ports import server_port

SCRIPTS = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT = 90.0


@dataclass
class TlsFiles:
    cert: str
    key: str
    ca: str


@dataclass
class RabbitMQ:
    folder: Path
    tls: TlsFiles | None = None
    port: int = field(default_factory=server_port)
    tls_port: int = field(default_factory=server_port)
    _process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        if not (SCRIPTS / "rabbitmq-server").exists():
            raise ServerUnavailable("rabbitmq-server is not installed: run scripts/install-servers")
        self.node = f"kanal{self.port}@localhost"
        self._env = self._environment()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    @property
    def tls_url(self) -> str:
        return f"amqps://guest:guest@127.0.0.1:{self.tls_port}/%2F"

    def start(self) -> RabbitMQ:
        log = (self.folder / "server.out").open("ab")
        self._process = subprocess.Popen(
            [str(SCRIPTS / "rabbitmq-server")],
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stop() ends the whole process group, epmd's child too
        )
        self._wait_until_running()
        return self

    def stop(self) -> None:
        """Stop the node (cleanly, then by force); its data stays for a restart."""
        if self._process is None:
            return
        self._ctl("stop", timeout=30, check=False)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._process = None

    def close(self) -> None:
        """Stop the node and the port mapper daemon (epmd) it started."""
        self.stop()
        subprocess.run(["epmd", "-kill"], env=self._env, capture_output=True, check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def ctl(self, *args: str) -> str:
        """rabbitmqctl against this node, e.g. ctl("list_queues", "name", "messages")."""
        return self._ctl(*args, timeout=30, check=True)

    def _ctl(self, *args: str, timeout: float, check: bool) -> str:
        result = subprocess.run(
            [str(SCRIPTS / "rabbitmqctl"), "-n", self.node, *args],
            env=self._env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stderr.decode()[-500:]}")
        return result.stdout.decode()

    def _wait_until_running(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        pid_file = self.folder / "pid"
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"RabbitMQ exited at start; see {self.folder / 'server.out'}")
            if pid_file.exists():
                waited = subprocess.run(
                    [str(SCRIPTS / "rabbitmqctl"), "-n", self.node, "wait", str(pid_file)],
                    env=self._env,
                    capture_output=True,
                    timeout=START_TIMEOUT,
                    check=False,
                )
                if waited.returncode == 0:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"RabbitMQ did not start in {START_TIMEOUT:g}s")

    def _environment(self) -> dict[str, str]:
        for sub in ("mnesia", "log"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        (self.folder / "enabled_plugins").write_text("[].\n")
        (self.folder / "rabbitmq.conf").write_text(self._config())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.folder),  # the Erlang cookie lives here
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_MNESIA_BASE=str(self.folder / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.folder / "log"),
            RABBITMQ_CONFIG_FILE=str(self.folder / "rabbitmq"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.folder / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(self.folder / "pid"),
            RABBITMQ_DIST_PORT=str(server_port()),
            ERL_EPMD_PORT=str(server_port()),
        )
        return env

    def _config(self) -> str:
        lines = [
            f"listeners.tcp.1 = 127.0.0.1:{self.port}",
            "loopback_users = none",
            "log.console = false",
        ]
        if self.tls is not None:
            lines += [
                f"listeners.ssl.1 = 127.0.0.1:{self.tls_port}",
                f"ssl_options.cacertfile = {self.tls.ca}",
                f"ssl_options.certfile = {self.tls.cert}",
                f"ssl_options.keyfile = {self.tls.key}",
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
            ]
        return "\n".join(lines) + "\n"
