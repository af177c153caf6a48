"""What every fake server shares: an aiohttp app on a free port of 127.0.0.1, started and
stopped by ``async with``."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web


class LoopbackServer:
    """Base of the fakes; a subclass builds its app in ``start`` and cleans up in ``stop``."""

    base_url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        raise NotImplementedError

    async def stop(self) -> None:
        await self._close_server()

    async def _serve(self, app: web.Application, *, shutdown_timeout: float = 60.0) -> str:
        """Serve `app` on a free loopback port; returns (and keeps) its base URL."""
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def _close_server(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()
