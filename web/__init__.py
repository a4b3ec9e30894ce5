"""The web UI and the JSON APIs: a Flask application factory, one blueprint per area.

Read-only: it reads the collection's catalog, full-text index and WARC files; nothing here
crawls or writes. Every page has a JSON twin built from the same objects as the CLI's --json.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, render_template, request
from werkzeug.exceptions import HTTPException, SecurityError

from index.catalog import Catalog
from index.collection import Collection
from index.config import NetworkConfig
from index.errors import CaptureNotFound, QueryError, UsageError
from index.search import prepare as prepare_search

# our pages: scripts and styles only from our static files (inline style attributes are
# allowed for the chart's colours), frames only of the archive itself
UI_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; frame-src 'self'; object-src 'none'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'self'")

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")

# the blueprints, in the order their routes are tried; an area adds itself here
BLUEPRINTS = [
    "web.search:bp",
    "web.captures:bp",
    "web.api:bp",
    "web.cdx:bp",
    "web.memento:bp",
    "web.diff:bp",
    "web.reports:bp",
]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The application over the collection named by `COLLECTION` in `test_config` (default:
    $PALIMPSEST_COLLECTION, else ./warcs). `REQUISITE_SKEW_HOURS`: how far in time from its
    page a requisite's capture may be before the capture view says so."""
    app = Flask(__name__)
    app.config.from_mapping(COLLECTION=str(Collection.locate().root), REQUISITE_SKEW_HOURS=12)
    if test_config:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False  # the JSON objects keep the CLI's key order
    for target in BLUEPRINTS:
        module, _, name = target.partition(":")
        app.register_blueprint(getattr(import_module(module), name))

    app.teardown_appcontext(_close_catalog)
    app.register_error_handler(QueryError, _bad_request)
    app.register_error_handler(UsageError, _bad_request)
    app.register_error_handler(CaptureNotFound, _not_found)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SecurityError, _untrusted_host)
    app.after_request(_security_headers)
    return app


def collection() -> Collection:
    """The collection this app serves (located once per app: resolving its path takes a few
    system calls, a tenth of a millisecond of every request)."""
    given = current_app.config["COLLECTION"]
    located = current_app.extensions.setdefault("palimpsest.collections", {})
    if given not in located:
        located[given] = Collection.locate(given)
    return located[given]


def network_config() -> NetworkConfig | None:
    """The collection's network config (None for a collection of imported WARCs only), read
    again only when the file changes: every search and timeline needs it, and parsing it
    costs more than the SQL they run."""
    root = collection()
    try:
        stamp = root.config_path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = current_app.extensions.setdefault("palimpsest.config", {})
    if cached.get("stamp") != stamp:
        cached.update(config=root.load_config(), stamp=stamp)
    return cached["config"]


def catalog() -> Catalog:
    """The catalog, opened on first use in a request and closed at its end."""
    if "catalog" not in g:
        g.catalog = Catalog.open(collection())
    return g.catalog


def wants_json() -> bool:
    """Whether the client reads JSON (the APIs, or an Accept header asking for it)."""
    return request.path.startswith(("/api/", "/cdx", "/timemap")) or \
        request.accept_mimetypes.best == "application/json"


def _close_catalog(_exc: BaseException | None) -> None:
    opened = g.pop("catalog", None)
    if opened is not None:
        opened.close()


def _bad_request(exc: Exception) -> Any:
    return _error(400, str(exc))


def _not_found(exc: Exception) -> Any:
    return _error(404, str(exc))


def _http_error(exc: HTTPException) -> Any:
    return _error(exc.code or 500, exc.description or exc.name)


def _untrusted_host(exc: SecurityError) -> Any:
    # no page of ours can be built for a host we do not answer to (url_for has no adapter)
    return f"{exc.description}\n", 400, {"Content-Type": "text/plain; charset=utf-8"}


def _error(status: int, message: str) -> Any:
    if wants_json():
        return {"error": message, "status": status}, status
    return render_template("error.html", status=status, message=message), status


def _security_headers(response: Any) -> Any:
    # archived documents carry their own sandboxing policy (web/replay.py) and may be framed
    # by their sandboxed, opaque-origin parents; our own pages load only our own files and
    # are framed by nobody else
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if "sandbox" not in response.headers.get("Content-Security-Policy", ""):
        response.headers.setdefault("Content-Security-Policy", UI_CSP)
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def serve(collection_root: Path, host: str = "127.0.0.1", port: int = 8080, *,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve the UI on waitress (a production WSGI server) until interrupted; `ready` is
    called with the address once it listens (port 0 picks a free one)."""
    from waitress import create_server

    settings: dict[str, Any] = {"COLLECTION": str(collection_root)}
    if host in LOOPBACK:
        # answer only to loopback names, so that a web page whose DNS name is rebound to
        # 127.0.0.1 cannot read the archive as if it were its own origin
        settings["TRUSTED_HOSTS"] = list(LOOPBACK)
    app = create_app(settings)
    server = create_server(app, host=host, port=port, threads=8, ident="palimpsest")
    # the first search would otherwise read the catalog (~1 s at 100,000 captures)
    threading.Thread(target=prepare_search, args=(Collection.locate(collection_root),),
                     name="prepare-search", daemon=True).start()
    if ready is not None:
        ready(f"http://{host}:{server.effective_port}/")
    try:
        server.run()
    finally:
        server.close()
