"""The web UI and the JSON APIs: a Flask application factory, one blueprint per area.

Read-only: it reads the collection's catalog, full-text index and WARC files; nothing here
crawls or writes. Every page has a JSON twin built from the same objects as the CLI's --json.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask, current_app, render_template, request
from werkzeug.exceptions import HTTPException, SecurityError

from index.collection import Collection
from index.errors import CannotListen, CaptureNotFound, QueryError, UsageError
from index.search.service import prepare as prepare_search
from web import api, captures, cdx, diff, feeds, memento, reports, schedule, search, state

# our pages: scripts and styles only from our static files (inline style attributes are
# allowed for the chart's colours), frames only of the archive itself
UI_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; frame-src 'self'; object-src 'none'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'self'")

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("", "0.0.0.0", "::")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The application over the collection named by `COLLECTION` in `test_config` (default:
    $PALIMPSEST_COLLECTION, else ./warcs). `REQUISITE_SKEW_HOURS`: how far in time from its
    page a requisite's capture may be before the capture view says so. `ALLOWED_HOSTS`: the
    host names (as `served_names` gives them) a request's Host may name, any if None."""
    app = Flask(__name__)
    app.config.from_mapping(COLLECTION=str(Collection.locate().root), REQUISITE_SKEW_HOURS=12,
                            ALLOWED_HOSTS=None)
    if test_config:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False  # the JSON objects keep the CLI's key order
    # in the order their routes are tried
    for area in (search, captures, api, cdx, memento, diff, reports, feeds, schedule):
        app.register_blueprint(area.bp)
    state.install(app)

    app.before_request(_check_host)
    app.register_error_handler(QueryError, _bad_request)
    app.register_error_handler(UsageError, _bad_request)
    app.register_error_handler(CaptureNotFound, _not_found)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SecurityError, _untrusted_host)
    app.after_request(_security_headers)
    return app


def wants_json() -> bool:
    """Whether the client reads JSON (the APIs, or an Accept header asking for it)."""
    return request.path.startswith(("/api/", "/cdx", "/timemap")) or \
        request.accept_mimetypes.best == "application/json"


def served_names(host: str, others: Iterable[str] = ()) -> frozenset[str]:
    """The host names a server listening on `host` answers to: the loopback names, `host`, for
    a wildcard address the machine's own names and addresses, and `others` (a reverse proxy's
    name, say); each as `host_name` spells it. No other: a web page whose DNS name is rebound
    to the server's address must not read the archive as if it were its own origin."""
    names = {*LOOPBACK, host, *others}
    if host in WILDCARDS:
        machine = {socket.gethostname(), socket.getfqdn()}
        names |= machine
        for name in machine:
            try:
                names |= {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
            except OSError:
                continue  # a name that does not resolve has no addresses to add
    return frozenset(host_name(name) for name in names if name)


def host_name(host: str) -> str:
    """A Host header's name, without its port, lower-case; an IP address in its usual
    spelling (`[0:0::1]:8080` -> `::1`)."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:].partition("]")[0]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name.rstrip(".")


def _check_host() -> None:
    allowed = current_app.config["ALLOWED_HOSTS"]
    # request.host is empty when the Host header is missing or malformed
    if allowed is not None and host_name(request.host) not in allowed:
        raise SecurityError(f"Host {request.host or '(none)'!r} is not one this server "
                            "answers to")


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
          also_answer: Iterable[str] = (), ready: Callable[[str], None] | None = None) -> None:
    """Serve the UI on waitress (a production WSGI server) until interrupted, answering only
    requests whose Host is one of `served_names(host, also_answer)`; `ready` is called with
    the address once it listens (port 0 picks a free one)."""
    from waitress import create_server

    app = create_app({"COLLECTION": str(collection_root),
                      "ALLOWED_HOSTS": served_names(host, also_answer)})
    served = app.extensions[state.EXTENSION].collection
    try:
        server = create_server(app, host=host, port=port, threads=8, ident="palimpsest")
    except OSError as exc:
        raise CannotListen(_cannot_listen(host, port, exc)) from None
    # the first search would otherwise read the catalog (~1 s at 100,000 captures)
    threading.Thread(target=prepare_search, args=(served,),
                     name="prepare-search", daemon=True).start()
    if ready is not None:
        ready(f"http://{f'[{host}]' if ':' in host else host}:{server.effective_port}/")
    try:
        server.run()
    finally:
        server.close()


def check_address(host: str, port: int) -> None:
    """Raise CannotListen if `serve` could not listen on `host`:`port` now: a command that
    serves after long work (the demo crawls first) asks before it starts."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            # as waitress binds: a port left in TIME_WAIT by a server just stopped is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise CannotListen(_cannot_listen(host, port, exc)) from None


def _cannot_listen(host: str, port: int, exc: OSError) -> str:
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return f"cannot serve on {where}: the port is in use; stop what holds it, or " \
               "choose another port with --port"
    return f"cannot serve on {where}: {exc.strerror or exc}"
