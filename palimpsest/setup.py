"""Writing a collection's network config (`palimpsest init`)."""

from __future__ import annotations

import json
from pathlib import Path

from index.collection import Collection
from index.config import Watch, load_config, render_template
from index.errors import UsageError


def write_config(collection: Collection, sites: tuple[str, ...], sample_proxy: str | None,
                 *, force: bool = False, browser: bool = False, rendered: bool = False) -> Path:
    """Write the commented network config for `sites` ("NAME=URL"), or for the bundled sample
    network behind `sample_proxy`; refuse to overwrite an existing one unless `force`. With
    `browser`, each given site is captured in the browser (`capture = "browser"`). With
    `rendered` (sample network only), the script-rendered sister site is configured too, as
    `capture = "browser"`."""
    path = collection.config_path
    if path.exists() and not force:
        raise UsageError(f"{path} exists; use --force to overwrite it")
    if sites and sample_proxy:
        raise UsageError("give --site or --sample-network, not both")
    if rendered and not sample_proxy:
        raise UsageError("the script-rendered sample site needs --sample-network")
    if sample_proxy:
        from palimpsest.sample_network import RENDERED_SITES, SITES, manifest

        extra = list(RENDERED_SITES) if rendered else []
        text = render_template(list(SITES) + extra, name="sample", proxy=sample_proxy,
                               watch=[Watch("disclosure", phrase=manifest(1).disclosure)])
        text = _captured_in_browser(text, [url for _, url in extra])
    else:
        pairs = []
        for given in sites:
            name, sep, url = given.partition("=")
            if not sep or not name or not url:
                raise UsageError(f"--site {given!r}: expected NAME=URL")
            pairs.append((name, url))
        text = render_template(pairs or [("example", "http://example.test/")],
                               capture="browser" if browser else "plain")
    collection.root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        load_config(tmp)  # what we write must load: fail here, not at the first crawl
    except Exception:
        tmp.unlink()
        raise
    tmp.replace(path)
    return path


def _captured_in_browser(text: str, seeds: list[str]) -> str:
    """`text` (a rendered config) with `capture = "browser"` in the sites whose seed is one of
    `seeds`. render_template gives every site one capture mode; the sample network mixes two."""
    for seed in seeds:
        line = f"seeds = {json.dumps([seed])}\n"
        if text.count(line) != 1:
            raise AssertionError(f"no single site seeded with {seed} in the config template")
        text = text.replace(line, line + 'capture = "browser"\n')
    return text
