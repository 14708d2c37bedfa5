"""The annotation tool's HTTP server (aiohttp): the JSON API and the page's own files.

Safety: it binds 127.0.0.1 by default and then accepts only requests whose Host is that
loopback address (no DNS rebinding); any other --host needs a token, generated here and
printed in the URL, on every request (query `token`, header `X-Thagen-Token` or the cookie the
first page load sets). Writes need a JSON content type, so another site's page cannot post a
form to it. Ids are looked up in the session's catalogue, never used to build a path.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, TypeVarTuple

from aiohttp import web

from thagen.annotate.front.cache import FrontSettings
from thagen.annotate.tool.bodies import MAX_BODY, BadBody, parse_annotation_body, parse_skip_body
from thagen.annotate.tool.catalog import Character
from thagen.annotate.tool.session import Session, SessionOptions
from thagen.annotate.tool.store import StaleVersion
from thagen.errors import ConfigError

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

LOOPBACK = ("127.0.0.1", "localhost", "::1")
STATIC_FILES = {
    "queue.html": "text/html",
    "annotate.html": "text/html",
    "app.css": "text/css",
    "queue.js": "text/javascript",
    "annotate.js": "text/javascript",
    "common.js": "text/javascript",
}
TOKEN_COOKIE = "thagen_token"


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8750
    annotator: str = ""
    review: bool = False
    cache_dir: Path = Path("~/.cache/thagen/annotate")
    front: FrontSettings = field(default_factory=FrontSettings)
    prefetch: int = 3
    token: str | None = None  # None: generated when the host is not loopback
    render: bool = True
    thumbs: bool = True
    qa_flags: dict[str, list[str]] = field(default_factory=dict)
    qa_reasons: dict[str, dict[str, str]] = field(default_factory=dict)
    held_back: dict[str, float] = field(default_factory=dict)


def _error(status: int, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def _static(name: str) -> bytes:
    return (resources.files("thagen.annotate") / "static" / name).read_bytes()


class App:
    def __init__(self, session: Session, token: str | None) -> None:
        self.session = session
        self.token = token

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))

    # ----------------------------------------------------------------- guards
    @web.middleware
    async def guard(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        if self.token is None:
            host = (request.host or "").rsplit(":", 1)[0].strip("[]")
            if host not in LOOPBACK:
                return _error(403, f"Host {request.host!r} refused: this server answers 127.0.0.1 only")
        else:
            given = (
                request.query.get("token")
                or request.headers.get("X-Thagen-Token")
                or request.cookies.get(TOKEN_COOKIE)
                or ""
            )
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return _error(401, "a valid token is required (open the URL the server printed)")
        if request.method in ("PUT", "POST") and request.content_type != "application/json":
            return _error(415, f"expected Content-Type application/json, got {request.content_type!r}")
        try:
            response = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"request body larger than {MAX_BODY} bytes")
        if self.token is not None and request.query.get("token") == self.token:
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    def character(self, request: web.Request) -> Character:
        ch = self.session.by_id.get(request.match_info["id"])
        if ch is None:
            raise web.HTTPNotFound(
                text=f'{{"error": "no character {request.match_info["id"]!r} in this session"}}',
                content_type="application/json",
            )
        return ch

    # ----------------------------------------------------------------- pages
    async def page(self, request: web.Request) -> web.Response:
        name = request.match_info.get("name", "queue.html")
        if name not in STATIC_FILES:
            return _error(404, f"no file {name!r}")
        return web.Response(
            body=_static(name), content_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"}
        )

    async def queue_page(self, request: web.Request) -> web.Response:
        request.match_info["name"] = "queue.html"
        return await self.page(request)

    async def annotate_page(self, request: web.Request) -> web.Response:
        self.character(request)
        return web.Response(body=_static("annotate.html"), content_type="text/html")

    async def first_todo(self, request: web.Request) -> web.Response:
        first = await self.run(self.session.first_todo)
        return web.json_response({"id": first})

    # ----------------------------------------------------------------- API
    async def list_characters(self, request: web.Request) -> web.Response:
        rows = await self.run(self.session.rows)
        return web.json_response({"characters": rows, "progress": self.session.progress(rows)})

    async def get_character(self, request: web.Request) -> web.Response:
        ch = self.character(request)
        return web.json_response(await self.run(self.session.detail, ch))

    async def put_annotation(self, request: web.Request) -> web.Response:
        ch = self.character(request)
        try:
            body = parse_annotation_body(await request.read())
        except BadBody as exc:
            return _error(exc.status, str(exc))
        return await self._save(
            ch.annotation_path,
            self.session.accept,
            ch,
            body.head_top,
            body.chin,
            body.center_x,
            body.version,
            body.notes,
        )

    async def post_skip(self, request: web.Request) -> web.Response:
        ch = self.character(request)
        try:
            body = parse_skip_body(await request.read())
        except BadBody as exc:
            return _error(exc.status, str(exc))
        return await self._save(ch.skip_path, self.session.skip, ch, body.reason, body.version)

    async def _save(self, path: Path, save: Callable[[*Ts], dict[str, Any]], *args: *Ts) -> web.Response:
        """Run one save (accept or skip): a stale version is a 409, a write failure a 500 naming the file."""
        try:
            result = await self.run(save, *args)
        except StaleVersion as exc:
            return _error(409, str(exc), version=exc.current)
        except OSError as exc:
            return _error(500, f"cannot write {path}: {exc} (a read-only folder? use --annotations DIR)")
        return web.json_response(result)

    async def image(self, request: web.Request) -> web.StreamResponse:
        ch = self.character(request)
        name = request.match_info["kind"]
        path = self.session.image_file(ch, name)
        if path is None:
            return _error(404, f"{ch.id}: no {name} render yet")
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


def make_app(session: Session, token: str | None) -> web.Application:
    handlers = App(session, token)
    app = web.Application(middlewares=[handlers.guard], client_max_size=MAX_BODY)
    app.add_routes(
        [
            web.get("/", handlers.queue_page),
            web.get("/static/{name}", handlers.page),
            web.get("/annotate/{id}", handlers.annotate_page),
            web.get("/api/first-todo", handlers.first_todo),
            web.get("/api/characters", handlers.list_characters),
            web.get("/api/characters/{id}", handlers.get_character),
            web.put("/api/characters/{id}/annotation", handlers.put_annotation),
            web.post("/api/characters/{id}/skip", handlers.post_skip),
            web.get("/api/characters/{id}/{kind:front|thumb}.png", handlers.image),
        ]
    )
    return app


def token_for(options: ServerOptions) -> str | None:
    if options.token is not None:
        return options.token
    return None if options.host in LOOPBACK else secrets.token_urlsafe(24)


async def _serve(catalog: list[Character], options: ServerOptions, announce: Callable[[str], None]) -> None:
    session = Session(
        catalog,
        SessionOptions(
            cache_dir=Path(options.cache_dir),
            annotator=options.annotator,
            review=options.review,
            front=options.front,
            prefetch=options.prefetch,
            render=options.render,
            thumbs=options.thumbs,
            qa_flags=options.qa_flags,
            qa_reasons=options.qa_reasons,
            held_back=options.held_back,
        ),
    )
    token = token_for(options)
    runner = web.AppRunner(make_app(session, token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await loop_close(session)
        raise ConfigError(
            f"{options.host}:{options.port}: cannot listen: {exc.strerror or exc} (try another --port)"
        ) from exc
    server = site._server
    if not isinstance(server, asyncio.Server):
        raise RuntimeError(f"{options.host}:{options.port}: the server did not start listening")
    port = server.sockets[0].getsockname()[1]  # the real port when --port 0
    shown = "127.0.0.1" if options.host in ("0.0.0.0", "::") else options.host
    shown = f"[{shown}]" if ":" in shown else shown
    announce(f"http://{shown}:{port}/" + (f"?token={token}" if token else ""))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await loop_close(session)


async def loop_close(session: Session) -> None:
    await asyncio.get_running_loop().run_in_executor(None, session.close)


def run_server(catalog: list[Character], options: ServerOptions, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT / SIGTERM (every save is already on disk when it is answered)."""
    asyncio.run(_serve(catalog, options, announce))
