"""Throwaway servers from Debian's packages, started on loopback for tests and benchmarks."""


class ServerUnavailable(Exception):
    """The server's package is not installed (scripts/install-servers installs it)."""
