"""What the web application keeps between requests: one `WebState` on the app itself
(`app.extensions["palimpsest"]`), never in module globals, so that two apps (two tests, two
collections) never share it and a test needs to patch nothing to start afresh.

The blueprints ask for it through `collection()`, `network_config()` and `catalog()`; the
catalog itself is opened per request (on `g`) and closed at its end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, g

from index.catalog import CATALOG_NAME, Catalog
from index.collection import Collection
from index.config import NetworkConfig
from index.file_stamp import Stamp, catalog_stamp, file_stamp

EXTENSION = "palimpsest"


@dataclass
class WebState:
    """An app's memory: its collection, located once (resolving the path takes a few system
    calls, a tenth of a millisecond of every request); the network config and the stamp of
    the file it was read from; answers remembered per capture (`remembered`) until the
    catalog changes, at most `remember_at_most` of them."""

    collection: Collection
    remember_at_most: int = 10_000
    config: NetworkConfig | None = None
    config_stamp: Stamp | None = None
    remembered: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def recall(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """`compute()`, remembered under `key` plus the catalog's stamp: a write to the
        catalog makes every remembered answer stale."""
        stamped = (*key, catalog_stamp(self.collection.derived_dir / CATALOG_NAME))
        found = self.remembered.get(stamped)
        if found is None:
            if len(self.remembered) >= self.remember_at_most:
                self.remembered.clear()  # stale stamps go too
            found = self.remembered[stamped] = compute()
        return found


def install(app: Flask) -> WebState:
    """Give `app` its state, over the collection its config names."""
    state = app.extensions[EXTENSION] = WebState(Collection.locate(app.config["COLLECTION"]))
    app.teardown_appcontext(_close_catalog)
    return state


def state() -> WebState:
    """The state of the app handling this request."""
    return current_app.extensions[EXTENSION]


def collection() -> Collection:
    """The collection this app serves."""
    return state().collection


def network_config() -> NetworkConfig | None:
    """The collection's network config (None for a collection of imported WARCs only), read
    again only when the file changes: every search and timeline needs it, and parsing it
    costs more than the SQL they run."""
    held = state()
    stamp = file_stamp(held.collection.config_path)
    if stamp[0] is None:
        return None
    if held.config_stamp != stamp:
        held.config, held.config_stamp = held.collection.load_config(), stamp
    return held.config


def catalog() -> Catalog:
    """The catalog, opened on first use in a request and closed at its end."""
    if "catalog" not in g:
        g.catalog = Catalog.open(collection())
    return g.catalog


def _close_catalog(_exc: BaseException | None) -> None:
    opened = g.pop("catalog", None)
    if opened is not None:
        opened.close()
