"""The web console (/console): server-rendered pages for integrators and auditors."""

from engine.api.console.routes import console_router

__all__ = ["console_router"]
