"""Throwaway servers from Debian's packages, started on loopback for tests and benchmarks."""
