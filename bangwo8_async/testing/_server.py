"""The fake's aiohttp app and its socket: the routes, binding, an outage's refusals, closing."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ._endpoints import Endpoints
from ._front import Front
from ._options import FakeOptions

__all__ = ["Listener", "build_app"]


def build_app(front: Front, endpoints: Endpoints) -> web.Application:
    """The API's routes behind the fake's middleware."""
    app = web.Application(middlewares=[front.middleware], client_max_size=2**20)
    app.router.add_route("*", "/api/token.php", endpoints.token)
    # Named routes are the call-task API: signed in, limited per account.
    app.router.add_get("/api/v1/callTask.json", endpoints.task_list, name="list")
    app.router.add_post("/api/v1/callTask.json", endpoints.create, name="create")
    app.router.add_get("/api/v1/callTask/userList/{id}.json", endpoints.users, name="users")
    app.router.add_get("/api/v1/callTask/{id}.json", endpoints.detail, name="detail")
    app.router.add_delete("/api/v1/callTask/{id}.json", endpoints.delete, name="delete")
    app.router.add_route("*", "/{tail:.*}", endpoints.unknown)
    return app


class Listener:
    """The fake's socket on ``host:port``: binds, stops listening while an outage refuses
    connections and listens again on the same port, and closes."""

    def __init__(self, options: FakeOptions) -> None:
        self.options = options  # its host, and its port (the bound one, once it listens)
        self._runner: web.AppRunner | None = None
        self._back: asyncio.Task[None] | None = None  # reopens after a "refuse" outage

    async def start(self, app: web.Application) -> None:
        """Serve ``app`` on the options' host and port (0: a free one, then kept)."""
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.25
        )
        await self._runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        assert self._runner is not None
        site = web.TCPSite(self._runner, self.options.host, self.options.port)
        await site.start()
        self.options.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving and drop every connection."""
        self._stop_reopening()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def outage(self, seconds: float, kind: str) -> None:
        """Refuse connections for ``seconds`` if ``kind`` is ``"refuse"``, else listen again:
        an answering outage (``"502"``, ``"503"``) needs the socket open."""
        if self._runner is None:
            return
        self._stop_reopening()  # a new outage replaces a refusing one under way
        if kind != "refuse":
            if not self._runner.sites:  # back from refusing
                await self._listen()
            return
        for site in list(self._runner.sites):
            await site.stop()
        server = self._runner.server
        for handler in server.connections if server is not None else ():
            if handler.transport is not None:
                handler.transport.abort()
        self._back = asyncio.create_task(self._reopen(seconds))

    def _stop_reopening(self) -> None:
        if self._back is not None:
            self._back.cancel()
            self._back = None

    async def _reopen(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        for _ in range(40):  # another socket may hold the port a moment (a client's, say)
            try:
                await self._listen()
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            await self._listen()  # the last try: its error is the task's
        self._back = None
