"""Server-side TLS for listeners, from a source's `tls` table."""

from __future__ import annotations

import ssl

from engine.config import ConfigError, TLSConfig


def server_tls(tls: TLSConfig | None, where: str) -> ssl.SSLContext | None:
    if tls is None or not tls.enabled:
        return None
    if not tls.cert:
        raise ConfigError(f"{where}: tls.cert is required to listen with TLS")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert, tls.key or None)
    if tls.ca:  # client certificates required when a CA is given
        context.load_verify_locations(tls.ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
