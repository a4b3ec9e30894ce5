"""The network config: one TOML file in the collection, read once into typed objects.

Every option is declared once below, with its default and its help text; `palimpsest init`
writes the commented template from those declarations, and the loader rejects any key it does
not know with an error that names it.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field, fields, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from index.errors import ConfigError
from index.search.engines import DEFAULT_ENGINE, ENGINES, check_config_engine

CONFIG_NAME = "palimpsest.toml"
DEFAULT_USER_AGENT = "Palimpsest/{version} (+https://palimpsest.test/about-our-crawler)"


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Politeness:
    obey_robots: bool = _opt(True, "obey robots.txt (the WARC's warcinfo records the policy)")
    concurrency_per_site: int = _opt(2, "connections to one site at once (one if delay > 0)")
    delay: float = _opt(0.25, "least seconds between two requests to one site")
    autothrottle: bool = _opt(True, "slow down when a site answers slowly (Scrapy AutoThrottle)")
    retries: int = _opt(2, "retries of a request that failed or answered 5xx")
    timeout: float = _opt(30.0, "seconds before a request is given up")


@dataclass(frozen=True)
class Limits:
    max_pages_per_site: int = _opt(2000, "pages (HTML documents) fetched per site and crawl")
    max_depth: int = _opt(20, "link hops from a seed")
    max_response_bytes: int = _opt(20_000_000, "a longer response is cut and marked "
                                   "WARC-Truncated; a body is inflated no further than this")
    max_query_variants: int = _opt(25, "distinct query strings followed for one path (trap guard)")
    max_repeated_segments: int = _opt(2, "times one path segment may repeat (trap guard)")
    max_path_segments: int = _opt(16, "path segments in a URL (trap guard)")
    warc_max_bytes: int = _opt(1_000_000_000, "a WARC file is closed and a new one begun past this")


@dataclass(frozen=True)
class Search:
    engine: str = _opt(DEFAULT_ENGINE,
                       "full-text engine: " + " or ".join(f'"{e}"' for e in ENGINES))


@dataclass(frozen=True)
class Web:
    base_url: str = _opt("", "the web UI's address (\"https://archive.example.org/\"), for "
                             "absolute links in CLI output; empty: links are printed as paths")


@dataclass(frozen=True)
class Schedule:
    """`palimpsest monitor`'s limits (index/schedule): the fetch budget, and how often a page
    may and must be visited. Durations are a number and a unit: "90s", "30m", "6h", "7d"."""

    fetches_per_day: int = _opt(2000, "pages `palimpsest monitor` fetches per day across the "
                                      "network, at most (any 24 hours)")
    fetches_per_day_per_site: int = _opt(500, "pages it fetches per day from each site, "
                                              "at most")
    min_interval: str = _opt("1h", "a page is fetched again no sooner than this")
    max_interval: str = _opt("7d", "every page is fetched again at least this often (as the "
                                   "budget allows: `palimpsest schedule` says when it cannot)")


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str, where: str = "duration") -> float:
    """Seconds in a duration written "90s", "30m", "6h" or "7d"; ConfigError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"{where}: {text!r} is not a duration (a number and s, m, h or d: "
                          '"30m", "7d")')
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _check_schedule(schedule: Schedule) -> None:
    low = duration_seconds(schedule.min_interval, "schedule.min_interval")
    high = duration_seconds(schedule.max_interval, "schedule.max_interval")
    if not 0 < low <= high:
        raise ConfigError("schedule: min_interval must be above 0 and at most max_interval")
    if schedule.fetches_per_day < 1 or schedule.fetches_per_day_per_site < 1:
        raise ConfigError("schedule: the fetch budgets must be at least 1 a day")


@dataclass(frozen=True)
class Site:
    """One site of the network: where a crawl starts and what belongs to it.

    A site is what its seeds name: a URL belongs to it if it lies under a seed's prefix
    (scheme, host, port and path up to the last "/"), as Heritrix's SURT prefixes and
    Browsertrix's prefix scope read seeds. A site whose config names `hosts` also takes in
    every URL of those hosts and their subdomains, on any scheme and port."""

    name: str
    seeds: tuple[str, ...]
    hosts: tuple[str, ...]
    obey_robots: bool | None = None
    max_pages: int | None = None
    delay: float | None = None
    ignore: tuple[str, ...] = ()
    # how its HTML pages are captured: "plain" (as fetched) or "browser" (rendered in headless
    # Chromium, recorded on the wire; `palimpsest crawl --browser` does so for every site)
    capture: str = "plain"
    # pages `palimpsest monitor` fetches from this site a day, at most (None: the
    # [schedule] section's fetches_per_day_per_site)
    fetches_per_day: int | None = None
    # not a config key: whether `hosts` was given in the config (else it is the seeds' hosts)
    whole_hosts: bool = field(default=False, metadata={"derived": True})

    def in_scope(self, host: str) -> bool:
        """Whether `host` is one of the site's hosts or their subdomains (the host alone
        cannot tell two sites on one host apart: see `claim`)."""
        host = host.lower()
        return any(host == h or host.endswith("." + h) for h in self.hosts)

    @cached_property
    def prefixes(self) -> tuple[str, ...]:
        # cached: the crawler asks which site a URL is of several times per fetch
        return tuple(dict.fromkeys(url_prefix(seed) for seed in self.seeds))

    @property
    def origins(self) -> tuple[str, ...]:
        """scheme://host[:port] of each seed, where its robots.txt and sitemaps live."""
        return tuple(dict.fromkeys(url_origin(seed) for seed in self.seeds))

    def claim(self, url: str) -> int | None:
        """How closely `url` belongs to this site: the length of the longest seed prefix it
        lies under, 0 if only its host is one of the site's `hosts`, None if it is not the
        site's at all."""
        normal = _normal(url)
        lengths = [len(p) for p in self.prefixes if normal.startswith(p)]
        if lengths:
            return max(lengths)
        if self.whole_hosts and self.in_scope(urlsplit(url).hostname or ""):
            return 0
        return None


def site_for_url(sites: tuple[Site, ...], url: str) -> Site | None:
    """The site `url` belongs to: the one with the longest seed prefix it lies under, else
    the first whose configured hosts hold it, else None."""
    best, best_claim = None, -1
    for site in sites:
        claim = site.claim(url)
        if claim is not None and claim > best_claim:
            best, best_claim = site, claim
    return best


class SiteIndex:
    """`site_for_url` for one tuple of sites, asking only the sites that can hold the URL's
    host (those with a seed on it, and those whose configured hosts hold it) rather than
    every site: a network of hundreds of sites costs about what one of five does per URL."""

    def __init__(self, sites: tuple[Site, ...]) -> None:
        self.sites = sites
        self._seeded: dict[str, list[int]] = defaultdict(list)  # host: sites with a seed on it
        self._hosted: dict[str, list[int]] = defaultdict(list)  # configured host: its sites
        for n, site in enumerate(sites):
            for host in {(urlsplit(p).hostname or "") for p in site.prefixes}:
                self._seeded[host].append(n)  # a prefix holds only URLs of its own host
            if site.whole_hosts:
                for host in site.hosts:
                    self._hosted[host].append(n)

    def site_for_url(self, url: str) -> Site | None:
        host = (urlsplit(url).hostname or "").lower()
        asked = set(self._seeded.get(host, ()))
        if self._hosted:  # the host, then each domain above it (Site.in_scope's rule)
            labels = host.split(".")
            for n in range(len(labels)):
                asked.update(self._hosted.get(".".join(labels[n:]), ()))
        # in the sites' own order: of two equal claims the first site's wins, as ever
        return site_for_url(tuple(self.sites[n] for n in sorted(asked)), url)


def url_origin(url: str) -> str:
    """scheme://host[:port] of `url`, lower-cased, without a default port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def url_prefix(seed: str) -> str:
    """The prefix a seed scopes by: its origin and its path up to the last "/"."""
    normal = _normal(seed)
    origin = url_origin(seed)
    path = normal[len(origin):]
    return origin + path[:path.rindex("/") + 1]


_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=4096)
def _normal(url: str) -> str:
    """`url` with its origin normalised, and without query or fragment: what prefixes match
    (remembered for the last URLs asked: each lookup of a URL's site asks once per site)."""
    path = urlsplit(url).path or "/"
    return url_origin(url) + path


@dataclass(frozen=True)
class Watch:
    """A phrase or pattern tracked across the network (see `palimpsest changes`)."""

    name: str
    phrase: str | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class Notify:
    """A target of the notifications sent after each crawl that changed something it covers
    (index/notify.py): an apprise URL, and filters. `watch`: only these watched phrases'
    appearances and disappearances (none: every change); `sites`: only pages of these sites;
    `min_ratio`: of the changed pages, only those with at least this share of their words
    changed, from 0 to 1 as the change report's `ratio` (a watched phrase moving, a page added
    or removed always counts). DESIGN.md names the filter."""

    url: str
    watch: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    min_ratio: float = 0.0


@dataclass(frozen=True)
class NetworkConfig:
    name: str
    sites: tuple[Site, ...]
    user_agent: str = DEFAULT_USER_AGENT
    proxy: str | None = None
    politeness: Politeness = Politeness()
    limits: Limits = Limits()
    search: Search = Search()
    web: Web = Web()
    schedule: Schedule = Schedule()
    watch: tuple[Watch, ...] = ()
    ignore: tuple[str, ...] = ()
    notify: tuple[Notify, ...] = ()
    digest: str = ""

    def site(self, name: str) -> Site:
        for site in self.sites:
            if site.name == name:
                return site
        known = ", ".join(s.name for s in self.sites)
        raise ConfigError(f"no site named {name!r} in the network (sites: {known})")

    def site_for_host(self, host: str) -> Site | None:
        return next((s for s in self.sites if s.in_scope(host)), None)

    def site_for_url(self, url: str) -> Site | None:
        return self._site_index.site_for_url(url)

    @cached_property
    def _site_index(self) -> SiteIndex:
        return SiteIndex(self.sites)

    def site_of(self, url: str) -> Site | None:
        """The site a capture of `url` is filed under: the one whose seed prefix holds it,
        else the first whose hosts do (a page requisite outside the site's folder); None for
        a URL of no site, or one that cannot be parsed."""
        try:
            return self.site_for_url(url) or self.site_for_host(urlsplit(url).hostname or "")
        except ValueError:  # an archived target URI that is no URL (http://[oops/)
            return None

    def obey_robots(self, site: Site) -> bool:
        return self.politeness.obey_robots if site.obey_robots is None else site.obey_robots


_SECTIONS = {"politeness": Politeness, "limits": Limits, "search": Search, "web": Web,
             "schedule": Schedule}
_TOP_KEYS = {"name", "user_agent", "proxy", "sites", "watch", "ignore", "notify", *_SECTIONS}


def load_config(path: Path) -> NetworkConfig:
    """Read and validate the network config at `path`; raise ConfigError naming any bad key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no network config at {path}: run `palimpsest init` to write one"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    config = parse_config(raw)
    return replace(config, digest="sha256:" + hashlib.sha256(text.encode()).hexdigest())


def parse_config(raw: dict[str, Any]) -> NetworkConfig:
    """Turn the parsed TOML into a NetworkConfig, checking every key and value."""
    _no_unknown(raw, _TOP_KEYS, "")
    sections = {
        name: _section(cls, raw.get(name, {}), name) for name, cls in _SECTIONS.items()
    }
    check_config_engine(sections["search"].engine)
    _check_schedule(sections["schedule"])
    if sections["web"].base_url:
        _check_url(sections["web"].base_url, "web.base_url")
    sites = raw.get("sites")
    if not isinstance(sites, list) or not sites:
        raise ConfigError("sites: the network needs at least one [[sites]] entry")
    parsed_sites = tuple(_site(s, i) for i, s in enumerate(sites))
    names = [s.name for s in parsed_sites]
    if len(set(names)) != len(names):
        raise ConfigError("sites: two sites share a name")
    proxy = raw.get("proxy")
    if proxy is not None:
        _check_url(proxy, "proxy")
    watches = tuple(_watch(w, i) for i, w in enumerate(raw.get("watch", [])))
    return NetworkConfig(
        name=_typed(raw.get("name", "network"), str, "name"),
        sites=parsed_sites,
        user_agent=_typed(raw.get("user_agent", DEFAULT_USER_AGENT), str, "user_agent"),
        proxy=proxy,
        watch=watches,
        notify=tuple(_notify(n, i, names, [w.name for w in watches])
                     for i, n in enumerate(_typed_list(raw.get("notify", []), dict, "notify"))),
        ignore=tuple(_typed_list(raw.get("ignore", []), str, "ignore")),
        **sections,
    )


def _site(raw: Any, i: int) -> Site:
    where = f"sites[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    _no_unknown(raw, {f.name for f in fields(Site) if not f.metadata.get("derived")},
                where + ".")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: every site needs a name")
    where = f"sites.{name}"
    seeds = _typed_list(raw.get("seeds", []), str, where + ".seeds")
    if not seeds:
        raise ConfigError(f"{where}.seeds: give at least one seed URL")
    for seed in seeds:
        _check_url(seed, where + ".seeds")
    hosts = _typed_list(raw.get("hosts") or [urlsplit(s).hostname for s in seeds], str,
                        where + ".hosts")
    return Site(
        name=name,
        seeds=tuple(seeds),
        hosts=tuple(h.lower() for h in hosts),
        whole_hosts=bool(raw.get("hosts")),
        obey_robots=_optional(raw, "obey_robots", bool, where),
        max_pages=_optional(raw, "max_pages", int, where),
        delay=_optional(raw, "delay", (int, float), where),
        ignore=tuple(_typed_list(raw.get("ignore", []), str, where + ".ignore")),
        capture=_capture(raw, where),
        fetches_per_day=_site_budget(raw, where),
    )


def _site_budget(raw: dict, where: str) -> int | None:
    budget = _optional(raw, "fetches_per_day", int, where)
    if budget is not None and budget < 1:
        raise ConfigError(f"{where}.fetches_per_day: must be at least 1")
    return budget


CAPTURES = ("plain", "browser")


def _capture(raw: dict, where: str) -> str:
    capture = _typed(raw.get("capture", "plain"), str, where + ".capture")
    if capture not in CAPTURES:
        raise ConfigError(f"{where}.capture: must be one of "
                          + ", ".join(f'"{c}"' for c in CAPTURES) + f", not {capture!r}")
    return capture


def _watch(raw: Any, i: int) -> Watch:
    where = f"watch[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    _no_unknown(raw, {"name", "phrase", "pattern"}, where + ".")
    name = _typed(raw.get("name", ""), str, where + ".name")
    if not name or ("phrase" in raw) == ("pattern" in raw):
        raise ConfigError(f"{where}: needs a name and exactly one of phrase or pattern")
    return Watch(name=name, phrase=raw.get("phrase"), pattern=raw.get("pattern"))


def _notify(raw: dict, i: int, sites: list[str], watches: list[str]) -> Notify:
    """A [[notify]] table, its URL one apprise can send to and its filters naming sites and
    watched phrases the config has: a typo fails at load, not silently at every crawl."""
    where = f"notify[{i}]"
    _no_unknown(raw, {f.name for f in fields(Notify)}, where + ".")
    url = _typed(raw.get("url", ""), str, where + ".url")
    if not url:
        raise ConfigError(f"{where}.url: every [[notify]] needs an apprise URL "
                          "(mailto://, matrix://, slack://, tgram://, json://, ...)")
    _check_apprise_url(url, where + ".url")
    for key, known, kind in (("watch", watches, "watched phrase"), ("sites", sites, "site")):
        for name in _typed_list(raw.get(key, []), str, f"{where}.{key}"):
            if name not in known:
                raise ConfigError(f"{where}.{key}: no {kind} named {name!r} "
                                  f"(known: {', '.join(known) or 'none'})")
    min_ratio = _typed(raw.get("min_ratio", 0), (int, float), where + ".min_ratio")
    if not 0 <= min_ratio <= 1:
        raise ConfigError(f"{where}.min_ratio: a share of the words, from 0 to 1")
    return Notify(url=url, watch=tuple(raw.get("watch", [])), sites=tuple(raw.get("sites", [])),
                  min_ratio=float(min_ratio))


def _check_apprise_url(url: str, where: str) -> None:
    # apprise is imported only for a config that notifies: it costs every command otherwise
    import apprise

    if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
        scheme = url.partition("://")[0] if "://" in url else ""
        why = f"unknown scheme {scheme!r}" if scheme else "no scheme"
        raise ConfigError(f"{where}: not a URL apprise can send to ({why}; e.g. mailto://, "
                          "matrix://, slack://, tgram://, json://)")


def _section(cls: type, raw: Any, name: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: must be a table")
    _no_unknown(raw, {f.name for f in fields(cls)}, name + ".")
    values = {}
    for f in fields(cls):
        if f.name in raw:
            kind = (int, float) if f.type == "float" else {"bool": bool, "int": int,
                                                            "str": str}[f.type]
            values[f.name] = _typed(raw[f.name], kind, f"{name}.{f.name}")
            if isinstance(values[f.name], (int, float)) and values[f.name] < 0:
                raise ConfigError(f"{name}.{f.name}: must not be negative")
    return cls(**values)


def _no_unknown(raw: dict, known: set[str], prefix: str) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown key (known: {', '.join(sorted(known))})")


def _typed(value: Any, kind: type | tuple, where: str) -> Any:
    # bool is an int in Python; a config that says `max_depth = true` is still wrong
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "number"
        raise ConfigError(f"{where}: must be a {names}, not {json.dumps(value, default=str)}")
    return value


def _typed_list(value: Any, kind: type, where: str) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: must be a list")
    return [_typed(v, kind, where) for v in value]


def _optional(raw: dict, key: str, kind: type | tuple, where: str) -> Any:
    return _typed(raw[key], kind, f"{where}.{key}") if key in raw else None


def _check_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: {url!r} is not an http(s) URL")


def render_template(
    sites: list[tuple[str, str]],
    *,
    name: str = "network",
    proxy: str | None = None,
    watch: list[Watch] | None = None,
    ignore: list[str] | None = None,
    obey_robots: bool = True,
    capture: str = "plain",
) -> str:
    """The commented TOML of a network config with these sites, every option shown."""
    lines = [
        "# Palimpsest network config: the sites to keep on record, and how to crawl them.",
        "# Edit freely; `palimpsest crawl` reads it at the start of each crawl.",
        "",
        f"name = {_toml(name)}",
        "# Sent with every request; keep a URL where site owners can reach you.",
        f"user_agent = {_toml(DEFAULT_USER_AGENT)}",
    ]
    if proxy:
        lines += ["# Every request goes through this HTTP proxy.", f"proxy = {_toml(proxy)}"]
    else:
        lines += ["# proxy = \"http://127.0.0.1:3128\""]
    lines += [
        "# Noise that changes on every visit and is not news, for every site: regular",
        "# expressions over the text, or CSS selectors of elements to drop (\"css:.updated\").",
        f"ignore = {_toml(ignore or [])}",
        "",
    ]
    for section, cls in _SECTIONS.items():
        lines.append(f"[{section}]")
        for f in fields(cls):
            default = obey_robots if f.name == "obey_robots" else f.default
            lines.append(f"# {f.metadata['help']}")
            lines.append(f"{f.name} = {_toml(default)}")
        lines.append("")
    for site_name, url in sites:
        host = urlsplit(url).hostname or ""
        lines += [
            "[[sites]]",
            f"name = {_toml(site_name)}",
            f"seeds = {_toml([url])}",
            "# in scope: URLs under a seed (its scheme, host, port, and path up to the last /);",
            "# naming hosts takes in every URL of those hosts and their subdomains too",
            f"# hosts = {_toml([host])}",
            "# per-site overrides: obey_robots, max_pages, delay, ignore, capture,",
            "# fetches_per_day (`palimpsest monitor`'s budget for the site)",
            "# (capture = \"browser\": pages rendered in headless Chromium, recorded on the wire)",
            *([f"capture = {_toml(capture)}"] if capture != "plain" else []),
            "",
        ]
    for w in watch or []:
        key = "phrase" if w.phrase else "pattern"
        lines += ["[[watch]]", f"name = {_toml(w.name)}", f"{key} = {_toml(w.phrase or w.pattern)}",
                  ""]
    if not watch:
        lines += ["# [[watch]]", '# name = "disclosure"', '# phrase = "distributed on behalf of"',
                  ""]
    return "\n".join(lines + _notify_template(sites[0][0] if sites else "example"))


def _notify_template(site: str) -> list[str]:
    """The commented [[notify]] example every config `palimpsest init` writes carries."""
    return [*_NOTIFY_HELP, f"# sites = [{_toml(site)}]", "# min_ratio = 0.05", ""]


_NOTIFY_HELP = [
    "# Notifications after each crawl (`palimpsest crawl` or `palimpsest monitor`) that changed",
    "# something a target covers: one message per target and crawl, with the watched phrases",
    "# that appeared or disappeared, the pages changed, added and removed, and links to their",
    "# diffs (absolute with [web] base_url). `url` is an apprise URL: mailto://, matrix://,",
    "# slack://, tgram://, json:// or jsons:// (a webhook), ... Optional filters: `watch` (only",
    "# these phrases' moves), `sites` (only these sites' pages), `min_ratio` (changed pages",
    "# with at least this share of their words changed, 0 to 1). A failure is retried,",
    "# logged in the crawl's notify-log.jsonl, and never fails the crawl.",
    "# [[notify]]",
    '# url = "mailtos://user:password@mail.example.org?to=desk@example.org"',
    '# watch = ["disclosure"]',
]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return "[" + ", ".join(_toml(v) for v in value) + "]"
