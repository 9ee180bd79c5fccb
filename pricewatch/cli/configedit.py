"""Appending one product to a config file, leaving every other byte of it as it was.

Round-trip YAML libraries rewrite what they re-emit (``null`` becomes empty, sequences are
re-indented), so the file is edited as text: PyYAML's event marks say where the ``products``
list ends and how its items are indented, and the new item is inserted there, indented alike.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pricewatch.errors import ConfigError

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the new item goes and how the file indents its products and their offers."""

    at: int  # character offset of the insertion
    dash: int  # column of a product's "-"
    key: int  # column of a product's keys
    offer_dash: int  # columns of an offer's "-" and keys, relative to ``key``
    offer_key: int
    lead: str = ""  # text written before the item ("products:" when the file has none)
    cut: tuple[int, int] | None = None  # a span replaced by the item: ``[]`` or ``null``


def scalar(value: str) -> str:
    """``value`` as a one-line YAML scalar, quoted only where YAML needs it. ``$`` is doubled:
    the loader would read ``${...}`` as an environment variable."""
    text = " ".join(value.split()).replace("$", "$$")
    dumped = yaml.safe_dump(text, allow_unicode=True, width=1_000_000)
    dumped = dumped.removesuffix("\n...\n").removesuffix("\n")
    return dumped if "\n" not in dumped else json.dumps(text, ensure_ascii=False)


def product_item(fields: list[tuple[str, str]], offer: list[tuple[str, str]],
                 layout: Layout, newline: str = "\n") -> str:
    """The YAML lines of one product with one offer, indented as ``layout`` says."""
    pad, offer_pad = " " * layout.key, " " * (layout.key + layout.offer_key)
    lines = []
    for i, (name, value) in enumerate(fields):
        start = " " * layout.dash + "-" + " " * (layout.key - layout.dash - 1) if i == 0 else pad
        lines.append(f"{start}{name}: {scalar(value)}")
    lines.append(f"{pad}offers:")
    for i, (name, value) in enumerate(offer):
        start = (" " * (layout.key + layout.offer_dash) + "-"
                 + " " * (layout.offer_key - layout.offer_dash - 1)) if i == 0 else offer_pad
        lines.append(f"{start}{name}: {scalar(value)}")
    return newline.join(lines) + newline


def layout_of(text: str, *, file: str) -> Layout:
    """Where a new product goes in ``text``. Raises ConfigError for a file whose products
    cannot be appended to as text (a non-empty flow list ``products: [...]``)."""
    try:
        # Marks are all that is needed (the stubs leave events untyped): no nodes are built.
        events: list[Any] = list(yaml.parse(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from exc
    default = Layout(at=len(text), dash=2, key=4, offer_dash=2, offer_key=4)
    i = 0
    while i < len(events) and not _is(events[i], yaml.MappingStartEvent):
        if _is(events[i], yaml.ScalarEvent | yaml.SequenceStartEvent):
            raise ConfigError("the top level must be a mapping of settings", file=file, line=1)
        i += 1
    if i == len(events):  # an empty file, or only comments
        return _with_lead(text, default, "products:")
    top = events[i]
    if top.flow_style:
        raise ConfigError("the top level is a flow mapping ({...}); add the product by hand",
                          file=file, line=1)
    i += 1
    depth = 0
    while i < len(events):
        event = events[i]
        if depth == 0 and _is(event, yaml.MappingEndEvent):
            break
        if depth == 0 and _is(event, yaml.ScalarEvent) and event.value == "products":
            return _products_layout(text, events, i + 1, file)
        depth = _step(depth, event)
        i += 1
        if depth == 0 and i < len(events) and not _is(events[i], yaml.MappingEndEvent):
            i = _skip(events, i)  # the value of this key
    return _with_lead(text, default, "products:")


def _is(event: Any, kinds: type | types.UnionType) -> bool:
    """isinstance that leaves ``event`` typed Any: the yaml stubs type marks as optional."""
    return isinstance(event, kinds)


def _step(depth: int, event: Any) -> int:
    if _is(event, yaml.CollectionStartEvent):
        return depth + 1
    if _is(event, yaml.CollectionEndEvent):
        return depth - 1
    return depth


def _skip(events: list[Any], i: int) -> int:
    """The index after the node starting at ``i``."""
    depth = 0
    while True:
        depth = _step(depth, events[i])
        i += 1
        if depth == 0:
            return i


def _with_lead(text: str, layout: Layout, lead: str) -> Layout:
    return Layout(at=len(text), dash=layout.dash, key=layout.key, offer_dash=layout.offer_dash,
                  offer_key=layout.offer_key, lead=lead)


def _line_end(text: str, index: int) -> int:
    """The offset just after the newline ending the line that holds ``index``."""
    if index > 0 and text[index - 1] == "\n":
        return index  # a block scalar's end mark is already at the next line's start
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _dash_column(text: str, mark: Any) -> int | None:
    line_start = text.rfind("\n", 0, mark.index) + 1
    head = text[line_start:mark.index]
    dash = head.rfind("-")
    return dash if dash >= 0 and head[dash + 1:].strip() == "" else None


def _products_layout(text: str, events: list[Any], i: int, file: str) -> Layout:
    value = events[i]
    if _is(value, yaml.ScalarEvent):  # `products:` or `products: null`
        if value.value not in ("", "null", "~", "Null", "NULL"):
            raise ConfigError("products must be a list", file=file,
                              line=value.start_mark.line + 1)
        at = _line_end(text, value.end_mark.index)
        return Layout(at=at, dash=2, key=4, offer_dash=2, offer_key=4,
                      cut=(value.start_mark.index, value.end_mark.index))
    if not _is(value, yaml.SequenceStartEvent):
        raise ConfigError("products must be a list", file=file, line=value.start_mark.line + 1)
    end = _skip(events, i)
    items = events[i + 1:end - 1]
    if value.flow_style:
        if items:
            raise ConfigError("products is written as a flow list [...]; add the product by "
                              "hand, or write the list one item per line", file=file,
                              line=value.start_mark.line + 1)
        close = events[end - 1].end_mark.index
        return Layout(at=_line_end(text, close), dash=2, key=4, offer_dash=2, offer_key=4,
                      cut=(value.start_mark.index, close))
    dash, key, offer_dash, offer_key = 2, 4, 2, 4
    first: Any = items[0] if items else None
    if _is(first, yaml.MappingStartEvent) and not first.flow_style:
        found = _dash_column(text, first.start_mark)
        if found is not None:
            dash, key = found, first.start_mark.column
        offer_dash, offer_key = _offer_indent(text, items, key)
    last = _content_end(items)
    if last is None:
        at = _line_end(text, value.start_mark.index)
    else:
        at = _after_item_comments(text, _line_end(text, last), dash)
    return Layout(at=at, dash=dash, key=key, offer_dash=offer_dash, offer_key=offer_key)


def _content_end(items: list[Any]) -> int | None:
    """Where the written text of ``items`` ends: the last scalar, alias or flow bracket.
    A block collection's end mark is the next token's, which may be lines further down."""
    last = None
    flows: list[bool] = []
    for event in items:
        if _is(event, yaml.CollectionStartEvent):
            flows.append(bool(event.flow_style))
        elif _is(event, yaml.CollectionEndEvent):
            if flows.pop():
                last = event.end_mark.index
        elif _is(event, yaml.ScalarEvent | yaml.AliasEvent):
            last = event.end_mark.index
    return last


def _offer_indent(text: str, items: list[Any], key: int) -> tuple[int, int]:
    """The first product's offer indentation, relative to its keys (default 2 and 4)."""
    depth = 0
    for n, event in enumerate(items):
        if (depth == 1 and _is(event, yaml.ScalarEvent) and event.value == "offers"
                and n + 2 < len(items)):
            seq, item = items[n + 1], items[n + 2]
            if (_is(seq, yaml.SequenceStartEvent) and not seq.flow_style
                    and _is(item, yaml.MappingStartEvent) and not item.flow_style):
                dash = _dash_column(text, item.start_mark)
                if dash is not None and dash >= key:
                    return dash - key, item.start_mark.column - key
            break
        depth = _step(depth, event)
        if depth == 0:
            break
    return 2, 4


def _after_item_comments(text: str, at: int, dash: int) -> int:
    """Past comment lines indented deeper than the items' dashes: they belong to the last
    item (commented-out options). A blank line or anything else ends it."""
    while at < len(text):
        end = text.find("\n", at)
        line = text[at:] if end < 0 else text[at:end]
        stripped = line.lstrip(" ")
        if not stripped.startswith("#") or len(line) - len(stripped) <= dash:
            break
        at = len(text) if end < 0 else end + 1
    return at


def insert_item(text: str, layout: Layout, item: str, newline: str = "\n"
                ) -> tuple[str, int]:
    """``text`` with ``item`` inserted as ``layout`` says, and the 1-based line it starts on."""
    head, tail = text[:layout.at], text[layout.at:]
    if layout.cut is not None:
        start, stop = layout.cut
        before = text[:start].rstrip(" ")
        head = before + text[stop:layout.at]
        tail = text[layout.at:]
    if head and not head.endswith("\n"):
        head += newline
    if layout.lead:
        head += layout.lead + newline
    return head + item + tail, head.count("\n") + 1


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step (a temporary file renamed over it), keeping
    its permissions: a reader, the daemon's reload watcher included, sees old or new, never
    half a file."""
    directory = path.parent if str(path.parent) else Path(".")
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, mode)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
