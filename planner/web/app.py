"""The web page and JSON API: upload a workbook, watch it solve, download the plan.

Server-rendered HTML (Jinja2, autoescaped), charts drawn in the job process,
no front-end build and nothing from a CDN. Solves run in worker processes
(:mod:`planner.web.jobs`); the event loop only reads and writes files.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware

from planner.errors import PlannerError
from planner.io import template as blank_workbook
from planner.version import __version__
from planner.web.jobs import FINISHED, MAX_MEMORY_MB, UPLOAD, Busy, Job, JobRunner
from planner.web.protocol import LISTS

HERE = Path(__file__).parent
access_log = logging.getLogger("planner.web.access")
JOB_PATH = re.compile(r"(/jobs/[A-Za-z0-9_-]{8})[A-Za-z0-9_-]+")  # ids are keys: log a prefix
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CSRF_COOKIE = "planner_csrf"
Kind = Literal["solve", "sweep"]
CHARTS = ("shares", "costs", "stock")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
WILDCARD = ("0.0.0.0", "::", "")  # "every address": never a Host header
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer makes Origin "null"
    "Cross-Origin-Resource-Policy": "same-origin",
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass
class ServerConfig:
    """How the server runs (``planner serve --help`` sets these)."""

    data_dir: Path | None = None  # default: a new temporary folder
    workers: int = 2
    queue_limit: int = 20
    keep_seconds: float = 24 * 3600
    grace_seconds: float = 10.0  # plus a twentieth of the job's time limit
    max_memory_mb: int | None = MAX_MEMORY_MB  # each job process's address space
    max_upload_bytes: int = 20 * 1024 * 1024
    max_time_limit: float = 300.0
    token: str | None = None
    basic_auth: tuple[str, str] | None = None
    allowed_hosts: tuple[str, ...] = LOOPBACK  # Host headers answered (DNS rebinding); "*": any
    runner: JobRunner | None = field(default=None, repr=False)


class JobView(BaseModel):
    """A job as the JSON API shows it."""

    id: str
    kind: str
    filename: str
    status: str
    created: float
    started: float | None
    finished: float | None
    time_limit_s: float
    error: str
    progress: dict[str, Any] | None = None  # while running: stage, and variants done of total
    result: dict[str, Any] | None = None
    page: str
    solution: str | None = None
    lists: dict[str, str] | None = None  # a list cut short in result: its whole, as text


def served_hosts(host: str, extra: list[str] | None = None) -> tuple[str, ...]:
    """Return the Host names a server listening on ``host`` answers to.

    The loopback names, ``host`` itself (an IPv6 address in brackets, as in a
    Host header), for an every-address ``host`` this machine's names, and
    ``extra`` (``--allowed-host``; ``*`` allows any, ``*.example.org`` its subdomains).

    Raises
    ------
    PlannerError
        A name that is no host name or pattern.
    """
    for name in extra or []:
        wild = name.startswith("*.") or name == "*"
        if not name.strip() or "*" in name[1:] or ("*" in name and not wild) or "/" in name:
            raise PlannerError(f"--allowed-host {name!r}: give a host name, *.DOMAIN or *")
    names = list(LOOPBACK)
    if host in WILDCARD:
        names += [socket.gethostname(), socket.getfqdn()]
    else:
        names.append(f"[{host}]" if ":" in host and not host.startswith("[") else host)
    names += extra or []
    return tuple(dict.fromkeys(name.strip().lower() for name in names if name.strip()))


class SecurityHeaders:
    """Add :data:`SECURITY_HEADERS` to every response, error replies (400, 401, 413...) too."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers the answer lacks."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, guarded)


class AccessLog:
    """Log one line per request (logger ``planner.web.access``, INFO).

    Client, method, path (job ids cut to their first eight characters, no
    query string), status and milliseconds: what uvicorn's access log says,
    without the keys in the paths.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; log it when its answer has gone."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 0

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:
            client = scope.get("client") or ("-", 0)
            path = CONTROL.sub("?", JOB_PATH.sub(r"\1...", scope.get("path", "")))
            access_log.info(
                '%s "%s %s" %s %.0f ms',
                client[0],
                scope.get("method", ""),
                path[:300],  # one line, whatever was asked
                status or "-",
                (time.perf_counter() - began) * 1000,
            )


def log_config() -> dict[str, Any]:
    """Return the server's logging setup (``logging.config.dictConfig``; uvicorn's ``log_config``).

    The job log (``planner.web.jobs``) and the access log (``planner.web.access``)
    at INFO, and uvicorn's own messages, one line each on stderr.
    """
    console = {"handlers": ["console"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "line": {"format": "%(asctime)s %(levelname)s %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "line",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "planner.web": {**console, "level": "INFO"},
            "uvicorn": {**console, "level": "WARNING"},
            "uvicorn.access": {"handlers": [], "propagate": False},  # AccessLog says it
        },
    }


class UploadLimit:
    """Refuse a request body over ``max_bytes`` with 413, while it streams in."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body's bytes."""
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        over = False
        started = False

        async def counted() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True  # the app sees the client go; its answer becomes the 413
                    return {"type": "http.disconnect"}
            return message

        async def answered(message: Message) -> None:
            nonlocal started
            if over:
                if not started:
                    started = True
                    await self._refuse(send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, answered)
        if over and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = f"upload too large: the limit is {self.max_bytes // (1024 * 1024)} MB".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """Build the application (the job runner starts and stops with it)."""
    config = config or ServerConfig()
    root = config.data_dir or Path(tempfile.mkdtemp(prefix="planner-serve-"))
    runner = config.runner or JobRunner(
        root / "jobs",
        workers=config.workers,
        queue_limit=config.queue_limit,
        keep_seconds=config.keep_seconds,
        grace_seconds=config.grace_seconds,
        max_memory_mb=config.max_memory_mb,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner.start()
        yield
        runner.stop()
        if config.data_dir is None:  # the server's own temporary folder
            shutil.rmtree(root, ignore_errors=True)

    app = FastAPI(
        title="planner",
        version=__version__,
        description="Upload a sourcing workbook, get the plan. The same operations as the page.",
        docs_url=None,  # Swagger UI loads from a CDN; the OpenAPI document is at /openapi.json
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runner = runner
    app.state.config = config
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["number"] = _number
    templates.env.filters["percent"] = _percent
    templates.env.filters["points"] = _points
    templates.env.globals["version"] = __version__
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path != "/healthz" and not _authorised(request, config):
            headers = {"WWW-Authenticate": 'Basic realm="planner"'} if config.basic_auth else {}
            return Response("authentication required", status_code=401, headers=headers)
        if request.method == "POST" and not _same_origin(request):
            return Response("cross-site request refused", status_code=403)
        return await call_next(request)

    _add_pages(app, runner, config, templates)
    _add_lists(app, runner)
    _add_api(app, runner, config)
    # outermost first: headers on every answer; a foreign Host (DNS rebinding) gets 400
    # before anything else; then the upload limit (413)
    guarded = TrustedHostMiddleware(
        UploadLimit(app, config.max_upload_bytes), allowed_hosts=list(config.allowed_hosts)
    )
    return AccessLog(SecurityHeaders(guarded))  # type: ignore[return-value]


def _job_or_404(runner: JobRunner, job_id: str) -> Job:
    job = runner.get(job_id)
    if job is None:
        raise HTTPException(404, "no such job (results are deleted after a while)")
    return job


def _accept(
    runner: JobRunner,
    config: ServerConfig,
    upload: UploadFile,
    kind: str,
    change: str,
    values: str,
    time_limit: float | None,
) -> Job:
    """Store an upload under a random name in a new job folder and queue the job."""
    name = (upload.filename or "workbook.xlsx")[:200]  # shown only; the reader judges the content
    limit = min(time_limit or config.max_time_limit, config.max_time_limit)
    if runner.closing:
        raise HTTPException(503, "busy: the server is shutting down; try again in a minute")
    job_id, folder = runner.new_folder()
    try:
        with (folder / UPLOAD).open("wb") as target:
            shutil.copyfileobj(upload.file, target)
    except OSError as error:  # a full disk: no half upload left behind, and say so
        runner.discard(job_id)
        reason = error.strerror or str(error)
        raise HTTPException(503, f"busy: the upload could not be stored ({reason})") from None
    except BaseException:
        runner.discard(job_id)
        raise
    params = {"filename": name}
    if kind == "sweep":
        params.update(change=change.strip(), values=values.strip())
    job = Job(job_id, kind, name, folder, limit, params)
    try:
        return runner.submit(job)
    except Busy as error:
        raise HTTPException(503, f"busy: {error}", headers={"Retry-After": "30"}) from None


def _add_pages(
    app: FastAPI, runner: JobRunner, config: ServerConfig, templates: Jinja2Templates
) -> None:
    """Add the HTML pages: upload, job, charts, template and download."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def upload_page(request: Request) -> Response:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = templates.TemplateResponse(
            request, "upload.html", {"csrf": token, "max_mb": config.max_upload_bytes >> 20}
        )
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.post("/jobs", include_in_schema=False)
    def upload_form(  # sync: FastAPI runs it in a thread, the copy off the event loop
        request: Request,
        file: Annotated[UploadFile, File()],
        csrf: Annotated[str, Form()] = "",
        kind: Annotated[Kind, Form()] = "solve",
        change: Annotated[str, Form()] = "",
        values: Annotated[str, Form()] = "",
    ) -> Response:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not secrets.compare_digest(cookie.encode(), csrf.encode()):
            raise HTTPException(403, "the form has expired: reload the page and upload again")
        job = _accept(runner, config, file, kind, change, values, None)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:  # asked for by browsers on pages without the link
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    @app.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
    def job_page(request: Request, job_id: str) -> Response:  # sync: rendered in a thread
        job = _job_or_404(runner, job_id)
        elapsed = time.time() - (job.started or job.created)
        running, before = runner.waiting(job)
        return templates.TemplateResponse(
            request,
            "job.html",
            {
                "job": job,
                "result": job.result(),
                "progress": job.progress(),
                "elapsed": elapsed,
                "finished": FINISHED,
                "running": running,
                "before": before,
                "workers": runner.workers,
            },
        )

    @app.get("/jobs/{job_id}/charts/{name}.svg", include_in_schema=False)
    async def chart(job_id: str, name: str) -> Response:
        job = _job_or_404(runner, job_id)
        if name not in CHARTS or not (job.folder / f"{name}.svg").exists():
            raise HTTPException(404, "no such chart")
        return FileResponse(job.folder / f"{name}.svg", media_type="image/svg+xml")

    @app.get("/jobs/{job_id}/trade-off.png", include_in_schema=False)
    async def picture(job_id: str) -> Response:
        job = _job_or_404(runner, job_id)
        if not (job.folder / "trade-off.png").exists():
            raise HTTPException(404, "no trade-off picture")
        return FileResponse(job.folder / "trade-off.png", media_type="image/png")

    @app.get("/template.xlsx", include_in_schema=False)
    def template() -> Response:  # sync: built in a worker thread, never on the event loop
        return Response(
            _template_bytes(),
            media_type=XLSX,
            headers={"Content-Disposition": 'attachment; filename="planner-template.xlsx"'},
        )

    @app.get("/jobs/{job_id}/solution.xlsx", include_in_schema=False)
    async def solution_page(job_id: str) -> Response:
        return _download(_job_or_404(runner, job_id))


def _add_lists(app: FastAPI, runner: JobRunner) -> None:
    """Add the downloads of a job's whole list of problems or warnings (the page shows a part)."""

    @app.get("/jobs/{job_id}/{name}.txt", include_in_schema=False)
    async def full_list(job_id: str, name: str) -> Response:
        job = _job_or_404(runner, job_id)
        path = job.folder / f"{name}.txt"
        if name not in LISTS or not path.exists():
            raise HTTPException(404, "no such list")
        return FileResponse(
            path,
            media_type="text/plain; charset=utf-8",
            filename=f"{_stem(job.filename)}-{name}.txt",
        )


def _add_api(app: FastAPI, runner: JobRunner, config: ServerConfig) -> None:
    """Add the JSON API (in the OpenAPI document)."""

    @app.post(
        "/api/jobs",
        status_code=202,
        response_model=JobView,
        responses={
            401: {"description": "Authentication required (when the server has a token)"},
            403: {"description": "A browser's cross-site request"},
            413: {"description": "The upload is over the size limit"},
            422: {"description": "Not an .xlsx upload, or a bad field"},
            503: {"description": "Too many jobs are waiting; retry after Retry-After seconds"},
        },
    )
    def create_job(  # sync: the upload is copied in a worker thread
        file: Annotated[UploadFile, File(description="The input workbook (.xlsx).")],
        kind: Annotated[Kind, Form(description="solve, or sweep one value")] = "solve",
        change: Annotated[str, Form(description="sweep: e.g. china_share_max[Dy]")] = "",
        values: Annotated[str, Form(description="sweep: e.g. 1.0:0.0:-0.1")] = "",
        time_limit_s: Annotated[
            float, Form(ge=0, le=86400, description="0: the server's limit (--time-limit)")
        ] = 0,
    ) -> JobView:
        """Upload a workbook; the job solves (or sweeps) in the background."""
        return _view(_accept(runner, config, file, kind, change, values, time_limit_s or None))

    @app.get(
        "/api/jobs/{job_id}",
        response_model=JobView,
        responses={404: {"description": "No such job (or it was deleted)"}},
    )
    def read_job(job_id: str) -> JobView:  # sync: a large result is serialised in a thread
        """Return the job's status and, once finished, its result."""
        return _view(_job_or_404(runner, job_id))

    @app.get(
        "/api/jobs/{job_id}/solution.xlsx",
        responses={
            200: {"content": {XLSX: {}}, "description": "The workbook"},
            404: {"description": "No such job, or it has no workbook"},
        },
        response_class=FileResponse,
    )
    async def solution(job_id: str) -> Response:
        """Download the solution workbook (or the sweep workbook) of a finished job."""
        return _download(_job_or_404(runner, job_id))

    @app.get("/healthz")
    async def health() -> JSONResponse:
        """Liveness, and how many jobs are in each state."""
        return JSONResponse({"ok": True, "jobs": runner.counts()})


@functools.cache
def _template_bytes() -> bytes:
    """Return the empty input workbook (built once per process)."""
    with tempfile.TemporaryDirectory() as folder:
        return blank_workbook.write_template(Path(folder) / "planner-template.xlsx").read_bytes()


def _download(job: Job) -> Response:
    result = job.result() or {}
    name = result.get("solution")
    if not name or not (job.folder / name).exists():
        raise HTTPException(404, "this job has no workbook to download")
    suffix = "sweep" if job.kind == "sweep" else "solution"
    return FileResponse(
        job.folder / name,
        filename=f"{_stem(job.filename)}-{suffix}.xlsx",
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _stem(filename: str) -> str:
    """Return the upload's name, made safe for a download's file name."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(filename).stem)
    return stem[:80]


def _view(job: Job) -> JobView:
    result = job.result()
    has_file = bool(result and result.get("solution"))
    return JobView(
        **job.public(),
        result=result,
        page=f"/jobs/{job.id}",
        solution=f"/api/jobs/{job.id}/solution.xlsx" if has_file else None,
        lists={
            name: f"/jobs/{job.id}/{name}.txt"
            for name in LISTS
            if result and result.get(f"{name}_file")
        }
        or None,
    )


def _authorised(request: Request, config: ServerConfig) -> bool:
    if config.token is None and config.basic_auth is None:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if config.token is not None and scheme.lower() == "bearer":
        return secrets.compare_digest(credentials.strip().encode(), config.token.encode())
    if config.basic_auth is not None and scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credentials.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        good_user = secrets.compare_digest(user.encode(), config.basic_auth[0].encode())
        good_password = secrets.compare_digest(password.encode(), config.basic_auth[1].encode())
        return good_user and good_password
    return False


def _same_origin(request: Request) -> bool:
    """Tell a browser's cross-site POST (its Origin is not this host) from the rest."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser (curl, scripts): they hold the token if one is set
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _number(value: Any, missing: str = "–", digits: int = 2) -> str:
    if not isinstance(value, int | float):
        return missing if value is None else str(value)
    if abs(value) < 0.5 * 10**-digits:
        value = 0.0  # never "-0.00"
    return f"{value:,.{digits}f}"


def _percent(value: Any, digits: int = 1) -> str:
    if not isinstance(value, int | float):
        return "–" if value is None else str(value)
    if abs(value) < 0.5 * 10 ** -(digits + 2):
        value = 0.0  # a rounding error's -1e-16 is 0.0%, not -0.0%
    return f"{value:.{digits}%}"


def _points(value: Any, digits: int = 1) -> str:
    """Return a difference of two shares in percentage points (``2.0 pts``)."""
    if not isinstance(value, int | float):
        return "–" if value is None else str(value)
    shown = _number(value * 100, digits=digits)
    return f"{shown} pt{'' if shown == '1.0' else 's'}"
