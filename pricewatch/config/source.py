"""Reading YAML while remembering where every value came from.

pydantic reports errors by path (``products.2.offers.0.url``); users need a line number. This
module turns a YAML document into plain Python values plus a map from path to line, expands
``${VAR}`` / ``${VAR:-default}`` from an explicit environment, and rejects duplicate keys (which
PyYAML would silently let the last one win).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from pricewatch.errors import ConfigError

Path = tuple[str | int, ...]

_VAR = re.compile(r"\$(\$)|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class Located:
    """A parsed document and the line (1-based) of every path in it."""

    data: Any
    lines: dict[Path, int]

    def line_of(self, path: Path) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def format_path(path: Path) -> str:
    """``("products", 2, "offers", 0, "url")`` -> ``products[2].offers[0].url``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# libyaml's parser is many times faster than PyYAML's pure-Python one (bench/scale.py times
# config loading), and keeps the same line marks; the pure-Python loader is the fallback where
# libyaml is absent.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class _Composer(yaml.composer.Composer, yaml.resolver.Resolver):
    """PyYAML's pure-Python composer fed by libyaml's events, so a document can be composed one
    part at a time. libyaml's own composer only builds whole documents, and a whole document is
    a node and its marks for every value of every offer; one product at a time is a few dozen.
    Anchors stay known across parts, as in a whole-document load."""

    def __init__(self, text: str | bytes) -> None:
        self._parser: Any = _Loader(text)  # the stubs leave the event methods untyped
        yaml.composer.Composer.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        # The parser's own methods, bound on the instance: they run once per event (several
        # per offer), so a Python wrapper in between is a large share of the load.
        vars(self).update(check_event=self._parser.check_event,
                          peek_event=self._parser.peek_event, get_event=self._parser.get_event)

    def check_event(self, *choices: type[yaml.Event]) -> bool:
        return bool(self._parser.check_event(*choices))

    def peek_event(self) -> Any:
        return self._parser.peek_event()

    def get_event(self) -> Any:
        return self._parser.get_event()

    def node(self) -> yaml.Node:
        """The next node, composed (anchors registered, aliases resolved)."""
        node = self.compose_node(None, None)  # type: ignore[arg-type]  # None: no parent
        assert node is not None  # only an alias of nothing is None, and that raises
        return node

    def dispose(self) -> None:
        self._parser.dispose()

    def skip_node(self) -> bool:
        """Consume one node's events without building it. False if it held an anchor, which
        a later alias may name, so the caller must compose it instead (from a fresh parse:
        its events are gone)."""
        get_event = self.get_event
        depth = 0
        anchored = False
        while True:
            event = get_event()
            if getattr(event, "anchor", None) is not None and not isinstance(
                    event, yaml.AliasEvent):
                anchored = True
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if depth == 0:
                return not anchored

    def open_document(self) -> bool:
        """Consume the stream's start; False for an empty stream."""
        self.get_event()  # StreamStart
        if self.check_event(yaml.StreamEndEvent):
            return False
        self.get_event()  # DocumentStart
        return True

    def close_document(self) -> None:
        self.get_event()  # DocumentEnd
        if not self.check_event(yaml.StreamEndEvent):
            event = self.get_event()
            raise yaml.composer.ComposerError(
                "expected a single document in the stream", None,
                "but found another document", event.start_mark)


@dataclass(frozen=True, slots=True)
class Streamed:
    """A document whose top-level ``key`` is read one item at a time (``items()``); ``top``
    holds every other top-level key (and ``key`` as an empty list, for its line)."""

    top: Located
    key: str
    streamed: bool  # False: the sequence was built with ``top`` (an anchored one, say)
    _text: str | bytes  # bytes: libyaml reads them in place; a str it copies as UTF-8
    _file: str
    _environ: Mapping[str, str]

    def items(self) -> Iterator[Located]:
        """Each item of the streamed sequence, built alone; its line map uses full paths
        (``("products", 7, "offers", 0, "url")``), so errors read as in a whole-file load."""
        if not isinstance(self.top.data, dict):
            return
        whole = self.top.data.get(self.key)
        if not isinstance(whole, list):
            return
        if not self.streamed:
            for index, item in enumerate(whole):
                prefix = (self.key, index)
                yield Located(item, {p: n for p, n in self.top.lines.items()
                                     if p[:2] == prefix})
            return
        composer = _Composer(self._text)
        builder = _Builder(self._file, self._environ, {})
        try:
            composer.open_document()
            composer.get_event()  # the top-level MappingStart, checked by the first pass
            while not composer.check_event(yaml.MappingEndEvent):
                key_node = composer.node()
                if not (isinstance(key_node, yaml.ScalarNode) and key_node.value == self.key):
                    composer.node()  # small, and composing registers its anchors
                    continue
                composer.get_event()  # SequenceStart
                index = 0
                while not composer.check_event(yaml.SequenceEndEvent):
                    node = composer.node()
                    builder.lines = {}
                    yield Located(builder.build(node, (self.key, index)), builder.lines)
                    index += 1
                return
        except yaml.YAMLError as exc:  # the first pass saw the whole text parse; defensive
            raise _yaml_error(exc, self._file, self._text) from exc
        finally:
            composer.dispose()


def stream(text: str | bytes, *, file: str, environ: Mapping[str, str], key: str
           ) -> Streamed:
    """Parse the document, building everything but the top-level sequence ``key``, whose items
    ``Streamed.items()`` then builds one at a time. The whole text is parsed here, so a syntax
    error anywhere, a duplicate key or a missing variable outside ``key`` is raised now."""
    try:
        try:
            node, streamed = _first_pass(text, key, compose_items=False)
        except _AnchorSkipped:
            node, streamed = _first_pass(text, key, compose_items=True)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, text) from exc
    lines: dict[Path, int] = {}
    if node is None:
        return Streamed(Located({}, lines), key, False, text, file, environ)
    builder = _Builder(file, environ, lines)
    return Streamed(Located(builder.build(node, ()), lines), key, streamed, text, file, environ)


class _AnchorSkipped(Exception):
    """The skipped sequence defined an anchor, which something after it may use."""


def _first_pass(text: str | bytes, key: str, *, compose_items: bool
                ) -> tuple[yaml.Node | None, bool]:
    composer = _Composer(text)
    try:
        if not composer.open_document():
            return None, False
        streamed = False
        if isinstance(composer.peek_event(), yaml.MappingStartEvent):
            node: yaml.Node
            node, streamed = _top_level(composer, key, compose_items=compose_items)
        else:
            node = composer.node()
        composer.close_document()
        return node, streamed
    finally:
        composer.dispose()


def _top_level(composer: _Composer, key: str, *, compose_items: bool
               ) -> tuple[yaml.MappingNode, bool]:
    """The top-level mapping with the sequence under ``key`` replaced by an empty one (which
    keeps its line), its items not built; True if that happened. Skipping the items' events
    is fastest; ``compose_items`` composes each item and drops it, which registers anchors."""
    start = composer.get_event()  # a MappingStart: the caller peeked
    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    skipped = False
    while not composer.check_event(yaml.MappingEndEvent):
        key_node = composer.node()
        event = composer.peek_event()
        streamed = (isinstance(key_node, yaml.ScalarNode)
                    and key_node.value == key and isinstance(event, yaml.SequenceStartEvent)
                    and not event.anchor)
        if streamed and not skipped:
            skipped = True
            if compose_items:
                composer.get_event()
                while not composer.check_event(yaml.SequenceEndEvent):
                    composer.node()
                composer.get_event()
            elif not composer.skip_node():
                raise _AnchorSkipped
            value: yaml.Node = yaml.SequenceNode(_SEQ_TAG, [], event.start_mark, event.end_mark)
        else:
            value = composer.node()
        pairs.append((key_node, value))
    end = composer.get_event()
    node = yaml.MappingNode(start.tag or _MAP_TAG, pairs, start.start_mark, end.end_mark)
    return node, skipped


def _yaml_error(exc: yaml.YAMLError, file: str, text: str | bytes) -> ConfigError:
    if isinstance(exc, yaml.reader.ReaderError):  # e.g. bytes that are not UTF-8
        head = text[: exc.position]
        lines = head.count("\n") if isinstance(head, str) else head.count(b"\n")
        return ConfigError(f"cannot read: {exc.reason} (character {exc.character!r})",
                           file=file, line=lines + 1)
    if isinstance(exc, yaml.MarkedYAMLError):
        # The file:line is where the broken construct began (an unclosed "[" at :3), which
        # is where the fix usually goes; the message also says where the parser noticed.
        began, broke = exc.context_mark, exc.problem_mark
        problem = exc.problem or str(exc)
        if began is not None and broke is not None and began.line != broke.line:
            context = (exc.context or "in this construct").removeprefix("while ")
            return ConfigError(f"invalid YAML: {context} that begins here (line "
                               f"{began.line + 1}): {problem} at line {broke.line + 1}, "
                               f"column {broke.column + 1}", file=file, line=began.line + 1)
        mark = broke or began
        line = mark.line + 1 if mark is not None else None
        column = f" (column {mark.column + 1})" if mark is not None else ""
        return ConfigError(f"invalid YAML: {problem}{column}", file=file, line=line)
    return ConfigError(f"invalid YAML: {exc}", file=file)


class _Builder:
    def __init__(self, file: str, environ: Mapping[str, str], lines: dict[Path, int]) -> None:
        self.file = file
        self.environ = environ
        self.lines = lines
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            pairs = self._pairs(node, path)
            result: dict[str, Any] = {}
            for key, (key_node, value_node) in pairs.items():
                child = (*path, key)
                self.lines[child] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _pairs(self, node: yaml.MappingNode, path: Path,
               inside: frozenset[int] = frozenset()) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """A mapping's pairs by key, YAML merge keys (``<<: *defaults``) resolved as the
        merge spec says: a key written in the mapping overrides merged ones, and of several
        merged maps the earlier one wins. Only a key written twice is an error."""
        written: list[tuple[yaml.Node, yaml.Node]] = []
        merged: list[yaml.MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                written.append((key_node, value_node))
            elif isinstance(value_node, yaml.MappingNode):
                merged.append(value_node)
            elif isinstance(value_node, yaml.SequenceNode) and all(
                    isinstance(item, yaml.MappingNode) for item in value_node.value):
                merged.extend(value_node.value)
            else:
                raise self._error("<< (merge) takes a mapping or a list of mappings",
                                  value_node, path)
        pairs: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        inside = inside | {id(node)}
        for source in reversed(merged):  # lowest precedence first; later assignments win
            if id(source) in inside:
                raise self._error("<< (merge) of a mapping into itself", source, path)
            pairs.update(self._pairs(source, path, inside))
        seen: set[str] = set()
        for key_node, value_node in written:
            key = self._scalar(key_node, path)
            if not isinstance(key, str | int | float | bool):
                raise self._error("mapping keys must be plain values", key_node, path)
            key = str(key)
            if key in seen:
                raise self._error(f"duplicate key {key!r}", key_node, (*path, key))
            seen.add(key)
            pairs[key] = (key_node, value_node)
        return pairs

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
            value: Any = node.value  # most values: no constructor round-trip needed
        else:
            try:
                value = self._scalars.construct_object(node, deep=True)
            except yaml.constructor.ConstructorError as exc:
                raise self._error(f"invalid value: {exc.problem}", node, path) from exc
        if isinstance(value, str) and "$" in value:
            value = self._interpolate(value, node, path)
        return value

    def _interpolate(self, value: str, node: yaml.Node, path: Path) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(1):  # "$$" is a literal "$"
                return "$"
            name, default = match.group(2), match.group(3)
            found = self.environ.get(name)
            if found is None or (found == "" and default is not None):
                if default is None:
                    raise self._error(f"environment variable {name} is not set", node, path)
                return default
            return found

        return _VAR.sub(replace, value)

    def _error(self, message: str, node: yaml.Node, path: Path) -> ConfigError:
        return ConfigError(
            message,
            file=self.file,
            line=node.start_mark.line + 1,
            field=format_path(path) or None,
        )
