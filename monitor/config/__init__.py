"""Typed, frozen settings: defaults < config file (YAML/TOML) < ``LIQMON_*`` env < CLI flags.

Validation is msgspec's (`msgspec.convert` into frozen Structs with `Meta` constraints), the
library the event contract already uses. Unknown keys are errors. Every error becomes a
`ConfigError` whose message names the key, e.g.
``config: aggregate.grace_ms: Expected `int` >= 0, got -5``.

Env: ``LIQMON_AGGREGATE__GRACE_MS=500`` sets ``aggregate.grace_ms``; values are read as
YAML scalars, so numbers, booleans and ``[a, b]`` lists work.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import msgspec
import yaml

from monitor.config._base import HostPort, NonNeg, Pos, PosFloat, Ratio, _Section
from monitor.config.alerts import (
    AlertSinksSettings,
    DiscordSinkSettings,
    SlackSinkSettings,
    TelegramSinkSettings,
    WebhookSinkSettings,
)
from monitor.config.kafka import BusSettings, KafkaPartitions, KafkaSettings
from monitor.config.margin import MarginSettings
from monitor.config.sections import (
    AggregateSettings,
    AssetSettings,
    BurstSettings,
    ContagionSettings,
    CrashSettings,
    DetectSettings,
    HttpSettings,
    LifecycleSettings,
    LogSettings,
    MarginHikeSettings,
)
from monitor.config.signals import check_rules
from monitor.config.sources import SourcesSettings
from monitor.errors import ConfigError
from monitor.secret import MASK, Secret
from monitor.sessions.settings import SessionSettings
from monitor.state.settings import StateSettings

ENV_PREFIX: Final = "LIQMON_"


class Settings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole configuration tree; built once by the CLI and passed down."""

    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    log: LogSettings = msgspec.field(default_factory=LogSettings)
    bus: BusSettings = msgspec.field(default_factory=BusSettings)
    aggregate: AggregateSettings = msgspec.field(default_factory=AggregateSettings)
    detect: DetectSettings = msgspec.field(default_factory=DetectSettings)
    assets: AssetSettings = msgspec.field(default_factory=AssetSettings)
    sources: SourcesSettings = msgspec.field(default_factory=SourcesSettings)
    alerts: AlertSinksSettings = msgspec.field(default_factory=AlertSinksSettings)
    margin: MarginSettings = msgspec.field(default_factory=MarginSettings)
    state: StateSettings = msgspec.field(default_factory=StateSettings)
    sessions: SessionSettings = msgspec.field(default_factory=SessionSettings)


def _dec_hook(tp: type, obj: object) -> object:
    if tp is Secret:
        if isinstance(obj, str | int | float | bool):
            return Secret(str(obj))  # env values are YAML scalars: an all-digit token is an int
        msg = "Expected a string (a secret)"
        raise ValueError(msg)  # msgspec reports it with the key's path
    raise NotImplementedError


def _enc_hook(obj: object) -> object:
    if isinstance(obj, Secret):
        return MASK
    raise NotImplementedError


def load(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Build the settings from a file, the environment and explicit overrides.

    Args:
        path: a ``.yaml``/``.yml`` or ``.toml`` file, or None for defaults only.
        env: the environment to read ``LIQMON_*`` keys from (``os.environ`` when None).
        overrides: dotted keys from CLI flags, e.g. ``{"http.listen": "127.0.0.1:0"}``.

    Raises:
        ConfigError: naming the key and the reason, in one line.
    """
    tree: dict[str, Any] = _read_file(path) if path is not None else {}
    origins: dict[str, str] = {}
    for key, value in _env_items(os.environ if env is None else env):
        origins[key] = "env %s%s" % (ENV_PREFIX, key.upper().replace(".", "__"))
        _set_dotted(tree, key, value, origin=origins[key])
    for key, value in (overrides or {}).items():
        origins[key] = "flag"
        _set_dotted(tree, key, value, origin="flag")
    return _convert(tree, origins, path)


def _convert(tree: dict[str, Any], origins: Mapping[str, str], path: Path | None) -> Settings:
    try:
        settings = msgspec.convert(tree, Settings, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise ConfigError("config: %s" % _describe(str(exc), tree, origins, path)) from None
    _check_consistency(settings)
    return settings


def _describe(
    message: str, tree: Mapping[str, Any], origins: Mapping[str, str], path: Path | None
) -> str:
    """Turn msgspec's ``reason - at `$.a.b` `` into ``a.b: reason, got VALUE (from SOURCE)``."""
    match = re.match(r"^(.*?) - at `\$\.?(.*)`$", message)
    if match is None:
        return message
    reason, where = match.groups()
    unknown = re.match(r"^Object contains unknown field `(.+)`$", reason)
    if unknown:
        key = "%s.%s" % (where, unknown.group(1)) if where else unknown.group(1)
        return "%s: unknown key (from %s)" % (key, _origin(key, origins, path))
    key = re.sub(r"\[\d+\]", "", where)
    value: object = tree
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", where):
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict | list) or _secret_key(key):
        value = "…"  # never echo a section (it may hold secrets) or a secret
    return "%s: %s, got %r (from %s)" % (
        where or "(top level)",
        reason,
        value,
        _origin(key, origins, path),
    )


def _secret_key(key: str) -> bool:
    """Return True for keys whose values are secrets (tokens, passwords, webhook URLs)."""
    leaf = key.rsplit(".", 1)[-1]
    return any(word in leaf for word in ("token", "password", "secret", "url"))


def _origin(key: str, origins: Mapping[str, str], path: Path | None) -> str:
    parts = re.sub(r"\[\d+\]", "", key).split(".")
    for end in range(len(parts), 0, -1):  # the key, else the section a flag or env set
        if ".".join(parts[:end]) in origins:
            return origins[".".join(parts[:end])]
    return str(path) if path is not None else "defaults"


PLACEHOLDER_TOKENS: Final = frozenset(
    {"change-me", "changeme", "change_me", "replace-me", "your-token", "token", "secret"}
)
"""Example values an API token must not keep (the margin API would be open to anyone)."""


def _check_consistency(settings: Settings) -> None:
    token = settings.http.api_token
    if token is not None and token.reveal().strip().lower() in PLACEHOLDER_TOKENS:
        msg = "config: http.api_token: a placeholder, not a token (openssl rand -hex 32 makes one)"
        raise ConfigError(msg)
    check_rules(settings.detect.rules, settings.aggregate.windows_s)
    crash = settings.detect.crash
    for name in ("min_drop", "guard_drop", "prior_z"):
        values = getattr(crash, name)
        if len(values) != len(crash.windows_s):
            raise ConfigError(
                "config: detect.crash.%s: needs one value per detect.crash.windows_s entry "
                "(%d), got %d" % (name, len(crash.windows_s), len(values))
            )
    longest = max(settings.aggregate.windows_s)
    if settings.detect.burst.window_s not in settings.aggregate.windows_s:
        raise ConfigError(
            "config: detect.burst.window_s: %d is not one of aggregate.windows_s %s"
            % (settings.detect.burst.window_s, list(settings.aggregate.windows_s))
        )
    if max(crash.windows_s) > longest:
        raise ConfigError(
            "config: detect.crash.windows_s: %d exceeds the longest aggregate window %d"
            % (max(crash.windows_s), longest)
        )


def _read_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError("config: %s: cannot read: %s" % (path, exc.strerror or exc)) from None
    try:
        if path.suffix == ".toml":
            data: object = msgspec.toml.decode(raw)
        else:
            data = yaml.safe_load(raw)
    except (yaml.YAMLError, msgspec.DecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(
            "config: %s: not valid %s: %s" % (path, path.suffix[1:], reason)
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("config: %s: the top level must be a mapping" % path)
    return data


def _env_items(env: Mapping[str, str]) -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    for name, text in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name.startswith("LIQMON_TEST"):
            continue
        key = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        try:
            value: object = yaml.safe_load(text) if text else text
        except yaml.YAMLError:
            value = text
        items.append((key, value))
    return items


def _set_dotted(tree: dict[str, Any], key: str, value: object, origin: str) -> None:
    parts = key.split(".")
    node = tree
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(
                "config: %s: %s is not a section" % (origin, ".".join(parts[: i + 1]))
            )
        node = child
    node[parts[-1]] = value


def to_builtins(settings: Settings) -> dict[str, Any]:
    """Return the settings as plain data with every secret masked (for ``check-config``)."""
    data: dict[str, Any] = msgspec.to_builtins(settings, enc_hook=_enc_hook)
    return data


def dump_yaml(settings: Settings) -> str:
    """Return the effective settings as YAML, secrets masked."""
    return yaml.safe_dump(to_builtins(settings), sort_keys=False, default_flow_style=False)


__all__ = [
    "ENV_PREFIX",
    "AggregateSettings",
    "AlertSinksSettings",
    "AssetSettings",
    "BurstSettings",
    "BusSettings",
    "ContagionSettings",
    "CrashSettings",
    "DetectSettings",
    "DiscordSinkSettings",
    "HostPort",
    "HttpSettings",
    "KafkaPartitions",
    "KafkaSettings",
    "LifecycleSettings",
    "LogSettings",
    "MarginHikeSettings",
    "NonNeg",
    "Pos",
    "PosFloat",
    "Ratio",
    "Settings",
    "SlackSinkSettings",
    "SourcesSettings",
    "TelegramSinkSettings",
    "WebhookSinkSettings",
    "dump_yaml",
    "load",
    "to_builtins",
]
