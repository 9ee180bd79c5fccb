"""Delivery channels: a JSON webhook (aiohttp) and anything apprise speaks.

Each channel's ``send`` delivers one message once and raises ``NotifyError`` on failure,
saying whether a retry could help; retrying and logging are the dispatcher's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Protocol

import aiohttp

from pricewatch import __version__
from pricewatch.alerts.message import Message
from pricewatch.config import AlertsConfig, ChannelConfig
from pricewatch.errors import ConfigError, NotifyError

log = logging.getLogger(__name__)


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> None: ...

    async def close(self) -> None: ...


class WebhookChannel:
    """POSTs ``message.payload`` as JSON; 2xx is success, 5xx/429/network errors are retried,
    other 4xx are permanent (the receiver rejects what we send; retrying cannot help)."""

    def __init__(self, name: str, url: str, *, headers: dict[str, str] | None = None,
                 timeout: float = 15.0) -> None:
        self.name = name
        self._url = url
        self._headers = {"User-Agent": f"pricewatch/{__version__}", **(headers or {})}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, message: Message) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        body = json.dumps(message.payload, ensure_ascii=False)
        try:
            async with self._session.post(
                self._url, data=body.encode(),
                headers={**self._headers, "Content-Type": "application/json"},
            ) as response:
                if 200 <= response.status < 300:
                    return
                text = (await response.text(errors="replace"))[:200]
                temporary = response.status >= 500 or response.status in (408, 429)
                raise NotifyError(f"HTTP {response.status}: {text}".strip(),
                                  temporary=temporary)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NotifyError(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class AppriseChannel:
    """One apprise URL (ntfy://, tgram://, slack://, mailto://, ...). Apprise reports success
    as a boolean, so every failure counts as temporary; its log lines give the reason."""

    def __init__(self, name: str, url: str, *, timeout: float = 15.0,
                 throttle: float | None = None) -> None:
        # Imported here: apprise loads all its plugins, which a process without an apprise
        # channel (most `once` runs, a 100,000-offer round) should not carry.
        import apprise

        self.name = name
        self._timeout = timeout
        self._format = apprise.NotifyFormat.TEXT  # keep our line breaks
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise ConfigError(f"apprise does not understand the URL of channel {name!r}",
                              field="alerts.channels")
        if throttle is not None:
            # apprise waits ~5.5 s between two requests of one service (politeness); our own
            # backoff already spaces retries, and tests should not sleep.
            for service in self._apprise:
                service.request_rate_per_sec = throttle

    async def send(self, message: Message) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                result = await self._apprise.async_notify(
                    body=message.body, title=message.title,
                    body_format=self._format)
        except TimeoutError as exc:
            raise NotifyError(f"no answer within {self._timeout:g}s") from exc
        if not result:
            raise NotifyError(_reason(result))

    async def close(self) -> None:
        return None


def _reason(result: object) -> str:
    # apprise >= 1.10 returns a result object carrying the log lines of the call.
    logs = getattr(result, "logs", None)
    if callable(logs):
        logs = logs()
    lines = [str(getattr(entry, "message", entry)) for entry in logs or ()]
    warnings = [line for line in lines if line]
    return "; ".join(warnings[-3:])[:500] or "apprise reported a failure"


def build(config: AlertsConfig) -> list[Channel]:
    """The configured channels; an apprise URL apprise cannot parse is a ConfigError."""
    channels: list[Channel] = []
    for index, channel in enumerate(config.channels):
        try:
            channels.append(_one(channel))
        except ConfigError as exc:
            raise ConfigError(exc.message, field=f"alerts.channels[{index}]") from exc
    return channels


def _one(channel: ChannelConfig) -> Channel:
    if channel.webhook is not None:
        return WebhookChannel(channel.name, channel.webhook, headers=channel.headers,
                              timeout=channel.timeout)
    assert channel.apprise is not None  # ChannelConfig requires exactly one of the two
    return AppriseChannel(channel.name, channel.apprise, timeout=channel.timeout)
