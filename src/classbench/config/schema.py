"""The study's files: YAML loading, JSON-schema validation with defaults, registry lists.

Every key is validated against the JSON schemas before any job starts, so a typo stops the run
with one message naming the file and the key instead of failing hours later on a cluster.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """The study's configuration is wrong; the message names the file and the key."""


def _location(path: Iterator[Any] | Any) -> str:
    parts = [str(part) for part in path]
    return ".".join(parts) if parts else "(top level)"


def _with_defaults(validator_class: Any) -> Any:
    """A validator that also fills in the schemas' ``default`` values."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def validate(instance: Any, schema: Mapping[str, Any], source: str) -> None:
    """Validate (and fill defaults into) ``instance``; raise one clear :class:`ConfigError`."""
    errors = sorted(
        _Validator(schema).iter_errors(instance), key=lambda e: (len(e.absolute_path), e.path)
    )
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors)
    where = _location(error.absolute_path)
    if error.validator == "additionalProperties":
        message = f"{source}: {where}: {error.message}"
    elif error.validator == "oneOf" and error.context:
        detail = jsonschema.exceptions.best_match(error.context)
        message = f"{source}: {where}: {detail.message}"
        negated = detail.validator_value if detail.validator == "not" else None
        banned = negated.get("required") if isinstance(negated, dict) else None
        if banned:
            # "X should not be valid under {...}" dumps the whole entry; name the clashing keys.
            branch = error.validator_value[detail.relative_schema_path[0]]
            given = " and ".join(repr(key) for key in branch.get("required", []))
            clash = " and ".join(repr(key) for key in banned)
            message = f"{source}: {where}: {clash} cannot be combined with {given}"
    else:
        message = f"{source}: {where}: {error.message}"
    raise ConfigError(message)


def schema_defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The values an empty ``schema`` object is filled with: every ``default``, nested ones
    included (what the validator fills into a config that names nothing)."""
    defaults: dict[str, Any] = {}
    for name, subschema in schema.get("properties", {}).items():
        if not isinstance(subschema, dict) or "default" not in subschema:
            continue
        value = copy.deepcopy(subschema["default"])
        if isinstance(value, dict):
            value = {**schema_defaults(subschema), **value}
        defaults[name] = value
    return defaults


def load_yaml(path: str | os.PathLike) -> Any:
    try:
        with open(path) as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None


def registry_files(value: str | Sequence[str]) -> list[str]:
    """A ``registries.<kind>`` value as its list of files (one file, or several)."""
    return [value] if isinstance(value, str) else list(value)


def load_registry(
    files: Sequence[str], schema: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """One registry from its files, each validated on its own so that an error names its file.

    Returns the entries and, for each name, the file that defines it. A name defined in two
    files is a :class:`ConfigError` naming both: neither may silently win.
    """
    entries: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for path in files:
        content = load_yaml(path) or {}
        validate(content, schema, path)
        for name, entry in content.items():
            if name in sources:
                raise ConfigError(f"{path}: {name}: already defined in {sources[name]}")
            entries[name] = entry
            sources[name] = path
    return entries, sources
