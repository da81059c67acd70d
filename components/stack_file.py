"""Reading a stack file (`Pulumi.<stack>.yaml`): its `config:` mapping, or ONE line saying what is wrong.

Every tool that reads a stack file goes through `read_stack_config`, so a file that is not UTF-8, not
YAML, not a mapping, or whose `config:` is not a mapping of text keys to plain values is refused the
same way everywhere: `StackFileError`, whose text names the file and the problem (no traceback).
Plain Python: no Pulumi import.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

EXAMPLE = "config: {neo4j:coreCount: 3, …}"


class StackFileError(ValueError):
    """A stack file that cannot be read as stack config; str() is one line naming the file."""

    def __init__(self, file: str, problem: str):
        self.file = file
        self.problem = problem
        super().__init__(f"{file}: {problem}")


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text (as the Pulumi CLI reads them) and refuses a key given twice
    (which PyYAML would silently let the last one win, and the Pulumi CLI refuses)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                ident = (key_node.tag, key_node.value)
                if ident in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key_node.value!r} given twice (first at line {seen[ident]})",
                        key_node.start_mark)
                seen[ident] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _kind(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return f"text ({value[:40]!r})"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    return f"a {type(value).__name__} value"


def _line_and_column(text: str | bytes, position: int) -> tuple[int, int]:
    newline = "\n" if isinstance(text, str) else b"\n"
    line_start = text.rfind(newline, 0, position) + 1
    return text.count(newline, 0, position) + 1, position - line_start + 1


def _parse(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.reader.ReaderError as error:  # a control character, such as \x01
        line, column = _line_and_column(text, error.position)
        raise ValueError(f"character {chr(error.character)!r} at line {line}, column {column} is not allowed in YAML "
                         f"(a control character); allowed: printable text, tabs and newlines") from None
    except yaml.MarkedYAMLError as error:
        what = error.problem or error.context or "not YAML"
        where = f" at line {error.problem_mark.line + 1}" if error.problem_mark else ""
        raise ValueError(f"not valid YAML{where}: {what}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"not valid YAML ({' '.join(str(error).split())})") from None
    except RecursionError:
        raise ValueError("not valid YAML for a stack file (nested too deeply)") from None


def _plain(value: Any, where: str, ancestors: set[int], checked: set[int]) -> None:
    """Refuse what Pulumi config cannot hold: YAML-only types (!!binary, !!set), non-text keys, cycles."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if not isinstance(value, (list, tuple, dict)):
        raise ValueError(f"{where}: got {_kind(value)}; allowed: text, numbers, true/false, lists and mappings")
    if id(value) in ancestors:
        raise ValueError(f"{where}: an alias refers to the value that holds it; allowed: values without cycles")
    if id(value) in checked:  # an alias to a value already checked: once is enough
        return
    ancestors.add(id(value))
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {json.dumps(key, default=str)} is not text; allowed: text keys")
            _plain(item, f"{where}.{key}", ancestors, checked)
    else:
        for index, item in enumerate(value):
            _plain(item, f"{where}[{index}]", ancestors, checked)
    ancestors.discard(id(value))
    checked.add(id(value))


def parse_stack_config(text: str) -> dict[str, Any]:
    """The `config:` mapping of a stack file's text (empty when there is none); ValueError("what is wrong")."""
    document = _parse(text)
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise ValueError(f"got {_kind(document)} at the top; allowed: a mapping with a config: section "
                         f"({EXAMPLE})")
    config = document.get("config")
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise ValueError(f"config: got {_kind(config)}; allowed: a mapping of keys such as neo4j:coreCount to "
                         f"their values ({EXAMPLE})")
    checked: set[int] = set()
    for key, value in config.items():
        if not isinstance(key, str):
            raise ValueError(f"config: key {json.dumps(key, default=str)} is not text; allowed: keys such as "
                             f"neo4j:coreCount")
        _plain(value, f"config: {key}", set(), checked)
    return dict(config)


def read_stack_config(path: Path, display: str | None = None) -> dict[str, Any]:
    """The `config:` mapping of the stack file at `path`; StackFileError naming it (as `display`) if unreadable."""
    name = display or str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StackFileError(name, f"cannot be read ({error.strerror or error})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _line_and_column(data, error.start)
        raise StackFileError(name, f"byte 0x{data[error.start]:02x} at line {line}, column {column} is not UTF-8; "
                                   f"allowed: a UTF-8 text file (save it as UTF-8)") from None
    try:
        return parse_stack_config(text)
    except ValueError as error:
        raise StackFileError(name, str(error)) from None
