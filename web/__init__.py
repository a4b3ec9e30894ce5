"""The web UI and the JSON APIs: a Flask application factory, one blueprint per area.

Read-only: it reads the collection's catalog, full-text index and WARC files; nothing here
crawls or writes. Every page has a JSON twin built from the same objects as the CLI's --json.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException

from index.catalog import Catalog
from index.collection import Collection
from index.errors import CaptureNotFound, QueryError, UsageError

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
    --collection / $PALIMPSEST_COLLECTION / ./warcs)."""
    app = Flask(__name__)
    app.config.from_mapping(COLLECTION=os.environ.get("PALIMPSEST_COLLECTION", "warcs"),
                            JSON_SORT_KEYS=False)
    if test_config:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False
    from importlib import import_module

    for target in BLUEPRINTS:
        module, _, name = target.partition(":")
        app.register_blueprint(getattr(import_module(module), name))

    app.teardown_appcontext(_close_catalog)
    app.register_error_handler(QueryError, _bad_request)
    app.register_error_handler(UsageError, _bad_request)
    app.register_error_handler(CaptureNotFound, _not_found)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_security_headers)
    return app


def collection() -> Collection:
    """The collection this app serves."""
    if "collection" not in g:
        from flask import current_app

        g.collection = Collection.locate(current_app.config["COLLECTION"])
    return g.collection


def catalog() -> Catalog:
    """The catalog, opened on first use in a request and closed at its end."""
    if "catalog" not in g:
        g.catalog = Catalog.open(collection())
    return g.catalog


def wants_json() -> bool:
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


def _error(status: int, message: str) -> Any:
    if wants_json():
        return {"error": message, "status": status}, status
    return render_template("error.html", status=status, message=message), status


def _security_headers(response: Any) -> Any:
    # our own pages: no framing by others, no sniffing; the archived documents get a stricter
    # policy of their own (web/replay.py)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def serve(collection_root: Path, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve the UI on waitress (a production WSGI server) until interrupted."""
    from waitress import serve as waitress_serve

    app = create_app({"COLLECTION": str(collection_root)})
    waitress_serve(app, host=host, port=port, threads=8, ident="palimpsest")
