"""The one exception tree of pricewatch.

Library errors (aiohttp, SQLAlchemy, YAML, pydantic) are converted at the module that talks to
the library, with ``raise ... from exc``, so callers only ever catch these::

    PricewatchError
     ├── ConfigError          (also ValueError)  a config file or value is wrong: file:line: field
     │    ├── ConfigErrors                        several of those, one per line
     │    └── BrowserUnavailable                  fetcher: browser, but no browser can start
     ├── StorageError                             the database refused or is unreachable
     │    ├── StorageUnavailable                  a temporary outage; the write may be retried
     │    └── DatabaseInUse                       another daemon holds the database's lock
     ├── ServeError                               the daemon cannot listen on its port
     ├── HandedOver                               a stopping cluster replica gave its job back
     ├── ExtractionError      (also ValueError)  an extraction rule is unusable (bad selector)
     ├── WorkerError                              an extraction worker process died on a page
     └── NotifyError                              an alert could not be delivered

Failed *checks* are not exceptions: a 404 or a missing price is a normal result recorded as a
row with an outcome. Exceptions are for the program's own failures and for bad input.
"""

from __future__ import annotations


class PricewatchError(Exception):
    """Base class of every error pricewatch raises on purpose."""


class ConfigError(PricewatchError, ValueError):
    """A configuration file or value is invalid; the message names file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class ConfigErrors(ConfigError):
    """Several problems in one file, reported together, one per line."""

    def __init__(self, problems: list[ConfigError]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(first.message, file=first.file, line=first.line, field=first.field)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class BrowserUnavailable(ConfigError):
    """Offers need the browser fetcher and none can be started (Playwright not installed, no
    Chromium, an endpoint that does not answer); the message names the setting."""


class StorageError(PricewatchError):
    """The database rejected an operation."""


class StorageUnavailable(StorageError):
    """The database cannot be reached right now; retrying later may succeed."""


class DatabaseInUse(StorageError):
    """Another pricewatch daemon runs on this database; the message names it."""


class HandedOver(PricewatchError):
    """A stopping cluster replica gave the rest of its job back to the queue (retried)."""


class ServeError(PricewatchError):
    """The daemon's HTTP server cannot listen where the config says (port in use, bad host)."""


class ExtractionError(PricewatchError, ValueError):
    """An extraction rule (selector, XPath, regex) cannot be used."""


class WorkerError(PricewatchError):
    """An extraction worker process died while it read a page (the check fails, the worker
    is replaced)."""


class NotifyError(PricewatchError):
    """A notification could not be delivered; ``temporary`` failures are worth retrying."""

    def __init__(self, message: str, *, temporary: bool = True) -> None:
        self.temporary = temporary
        super().__init__(message)
