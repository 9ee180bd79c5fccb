"""Reading YAML while remembering where every value came from.

pydantic reports errors by path (``products.2.offers.0.url``); users need a line number. This
module turns a YAML document into plain Python values plus a map from path to line, expands
``${VAR}`` / ``${VAR:-default}`` from an explicit environment, and rejects duplicate keys (which
PyYAML would silently let the last one win).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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


# libyaml's parser is ~10x faster than PyYAML's pure-Python one (a 100,000-offer config), and
# keeps the same line marks; the pure-Python loader is the fallback where libyaml is absent.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


def load(text: str, *, file: str, environ: Mapping[str, str]) -> Located:
    """Parse ``text`` as one YAML document; errors are ConfigError with file and line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {exc.problem or exc}", file=file, line=line) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from exc
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    if node is None:
        return Located({}, lines)
    builder = _Builder(file, environ, lines)
    return Located(builder.build(node, ()), lines)


class _Builder:
    def __init__(self, file: str, environ: Mapping[str, str], lines: dict[Path, int]) -> None:
        self.file = file
        self.environ = environ
        self.lines = lines
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self._scalars.flatten_mapping(node)  # resolves YAML merge keys (<<: *defaults)
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node, path)
                if not isinstance(key, str | int | float | bool):
                    raise self._error("mapping keys must be plain values", key_node, path)
                key = str(key)
                child = (*path, key)
                if key in result:
                    raise self._error(f"duplicate key {key!r}", key_node, child)
                self.lines[child] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

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
