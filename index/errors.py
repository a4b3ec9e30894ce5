"""One exception type per kind of user-facing failure.

The edges (the CLI, the HTTP app) turn these into one clear line and an exit code or status;
everything below them raises and never prints."""


class PalimpsestError(Exception):
    """Base of every failure a user can cause or meet; its message is one readable line."""

    exit_code = 1


class ConfigError(PalimpsestError):
    """The network config is missing, unreadable or has a bad key or value."""

    exit_code = 2


class UsageError(PalimpsestError):
    """A command was asked for something that cannot be done with these arguments."""

    exit_code = 2


class QueryError(PalimpsestError):
    """A search query or a query parameter could not be parsed."""

    exit_code = 2


class QueryTooCostly(QueryError):
    """A search would cost more than a search may (too long, too many words or wildcard
    expansions, or past its deadline); the message says so and how to narrow it."""


class CaptureNotFound(PalimpsestError):
    """No capture matches the URL (and time) asked for."""


class CannotListen(PalimpsestError):
    """A server could not listen on the address asked for: the port is in use, the address
    is not this machine's, or the port is one only root may take."""


class CatalogOutOfDate(PalimpsestError):
    """The catalog does not hold the collection's WARC files as they are on disk, and what
    was asked needs it to (a crawl's payload history)."""


class WriteFailed(PalimpsestError):
    """Writing the collection's files failed (a full disk, an I/O error): what was written
    before stays whole, and the command can be run again once the cause is gone."""


class DamagedRecord(PalimpsestError):
    """A WARC record could not be read or its digests do not match."""


class BadPackage(PalimpsestError):
    """A WACZ package cannot be read safely: not a zip, a damaged one, not a WACZ, or a member
    whose name, kind or size it may not have."""
