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
from typing import Annotated, Any, Final, Literal

import msgspec
import yaml

from monitor.errors import ConfigError
from monitor.events import AssetClass
from monitor.secret import MASK, Secret

ENV_PREFIX: Final = "LIQMON_"
NonNeg = Annotated[int, msgspec.Meta(ge=0)]
Pos = Annotated[int, msgspec.Meta(gt=0)]
PosFloat = Annotated[float, msgspec.Meta(gt=0)]
Ratio = Annotated[float, msgspec.Meta(ge=0, le=1)]
HostPort = Annotated[str, msgspec.Meta(pattern=r"^[^:\s]*:\d{1,5}$")]


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every config section: frozen, keyword-only, unknown keys refused."""


class HttpSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The one HTTP port: /metrics, /healthz, /readyz, /api/v1/*."""

    listen: HostPort = "127.0.0.1:9464"  # HOST:PORT; port 0 picks a free one
    api_token: Secret | None = None  # bearer token for POST endpoints


class LogSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Logging output."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"


class KafkaPartitions(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Partitions per topic, used only when liqmon creates a missing topic.

    Market topics are keyed by symbol, so their partition count caps how many ``aggregate``
    processes of one consumer group share the work.
    """

    liquidations: Pos = 6
    ticks: Pos = 6
    margin: Pos = 1
    windows: Pos = 1  # the cross-asset stage reads this low-volume topic whole
    alerts: Pos = 1


class KafkaSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The Kafka bus (``bus.kind: kafka``): brokers, topics, producer, consumer, security."""

    bootstrap_servers: str = "127.0.0.1:9092"  # comma-separated HOST:PORT list
    client_id: str = "liqmon"
    topic_prefix: str = "liqmon"  # replaces "liqmon" in "liqmon.ticks.v1" etc.
    partitions: KafkaPartitions = msgspec.field(default_factory=KafkaPartitions)
    replication_factor: Pos = 1  # for topics liqmon creates; 3 on a real cluster
    retention_ms: Pos = 7 * 86_400_000  # must exceed the longest window (rebuild on restart)
    create_topics: bool = True  # create missing topics at start (needs CreateTopics ACL)
    compression: Literal["auto", "zstd", "lz4", "gzip", "none"] = "auto"  # auto: zstd>lz4>none
    linger_ms: Annotated[int, msgspec.Meta(ge=5)] = 5  # producer batching delay
    max_batch_bytes: Pos = 262_144  # per partition batch
    max_in_flight: Pos = 50_000  # sends not yet acknowledged; beyond it publish waits/drops
    idempotent: bool = True  # Tansu 0.6 (memory storage) refuses it: set false there
    auto_offset_reset: Literal["earliest", "latest"] = "latest"  # a group with no offsets
    request_timeout_ms: Pos = 30_000  # every broker request; also the delivery bound
    fetch_max_wait_ms: NonNeg = 10  # Tansu answers a waiting fetch only at this deadline
    session_timeout_ms: Annotated[int, msgspec.Meta(ge=500)] = 10_000  # also rebalance bound
    close_timeout_ms: Pos = 10_000  # flush bound at shutdown
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: str | None = None  # PEM paths; none: the system trust store
    ssl_certfile: str | None = None  # client certificate (mutual TLS)
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        """Refuse SASL without credentials and a client key without its certificate."""
        if self.security_protocol.startswith("SASL") and (
            self.sasl_username is None or self.sasl_password is None
        ):
            msg = "%s needs sasl_username and sasl_password" % self.security_protocol
            raise ValueError(msg)
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            msg = "ssl_certfile and ssl_keyfile go together"
            raise ValueError(msg)


class BusSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The event bus between sources and the aggregator."""

    kind: Literal["memory", "kafka"] = "memory"
    queue_max_events: Pos = 200_000  # per subscriber, memory bus
    enqueue_timeout_ms: NonNeg = 50  # a live publisher waits this long, then drops
    kafka: KafkaSettings = msgspec.field(default_factory=KafkaSettings)


class AggregateSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Windowing (DESIGN §4)."""

    micro_batch_ms: Pos = 250  # engine pulls a batch at least this often
    micro_batch_max_events: Pos = 50_000
    grace_ms: NonNeg = 2_000  # events older than watermark are late and dropped
    windows_s: tuple[Pos, ...] = (10, 60, 300, 900, 3600)
    idle_eval_s: Pos = 10  # evaluation step while alerts are open and no data arrives


class BurstSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Liquidation-burst detector (per asset, asset class and market).

    Hot when, over ``window_s``: liquidated USD ≥ the floor of the scope's level, the
    robust z of log(1 + L / ref_usd) against the scope's per-minute baseline ≥ ``z_warning``,
    and one side's share ≥ ``min_side_share``.
    """

    window_s: Pos = 60
    floor_usd_asset: PosFloat = 1_000_000.0
    floor_usd_class: PosFloat = 5_000_000.0
    floor_usd_market: PosFloat = 10_000_000.0
    floor_usd_by_asset: dict[str, PosFloat] = msgspec.field(
        default_factory=lambda: {"BTC": 5_000_000.0, "ETH": 3_000_000.0}
    )
    ref_usd: PosFloat = 10_000.0
    z_warning: PosFloat = 4.0
    z_critical: PosFloat = 6.0
    critical_floor_multiple: PosFloat = 5.0  # ≥ this × floor is critical whatever z
    min_side_share: Ratio = 0.75
    baseline_half_life_min: PosFloat = 1440.0
    min_sd: PosFloat = 0.75  # floor of the baseline's sd, log units
    warmup_min: NonNeg = 60  # minutes before z counts; the floor alone decides until then


class CrashSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Price-crash velocity detector (per instrument, alerts on its asset).

    Hot when the drawdown from the highest price of a window reaches both the absolute
    floor and ``z_warning`` standard deviations of that window's baseline return.
    """

    windows_s: tuple[Pos, ...] = (300, 900)
    min_drop: tuple[Ratio, ...] = (0.03, 0.05)  # per window: minimum fall from its high
    z_warning: PosFloat = 6.0
    z_critical: PosFloat = 10.0
    baseline_half_life_min: PosFloat = 1440.0
    prior_sd_1m: PosFloat = 0.003  # 1-minute return sd assumed during warm-up
    warmup_min: NonNeg = 120


class LifecycleSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Alert state machine: pending → firing → resolved, waves and cooldown."""

    for_s: NonNeg = 20  # hot this long while pending before firing
    resolve_after_s: Pos = 600  # cold this long while firing before resolved
    cooldown_s: NonNeg = 3600  # hot again within this after resolved: next wave


class DetectSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Detector thresholds (documented defaults; see README)."""

    burst: BurstSettings = msgspec.field(default_factory=BurstSettings)
    crash: CrashSettings = msgspec.field(default_factory=CrashSettings)
    lifecycle: LifecycleSettings = msgspec.field(default_factory=LifecycleSettings)


class AssetSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Asset facts from config, not code."""

    classes: dict[str, AssetClass] = msgspec.field(
        default_factory=lambda: {
            "XAU": "metal",
            "XAG": "metal",
            "XPT": "metal",
            "XPD": "metal",
            "COPPER": "metal",
            "NVDA": "equity",
            "TSLA": "equity",
            "AAPL": "equity",
            "MSFT": "equity",
            "AMZN": "equity",
            "META": "equity",
            "GOOGL": "equity",
            "COIN": "equity",
            "MSTR": "equity",
            "HOOD": "equity",
            "SPX": "index",
            "NDX": "index",
            "US500": "index",
            "US100": "index",
            "WTI": "energy",
            "BRENT": "energy",
            "NATGAS": "energy",
            "EUR": "fx",
            "JPY": "fx",
            "GBP": "fx",
        }
    )
    watch: tuple[str, ...] = ("BTC", "ETH", "SOL", "XRP", "XAU", "XAG", "NVDA", "TSLA")
    """Assets that get their own ``scope`` label value; every other asset is ``other``."""


class SourcesSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Venue sources (ids from DESIGN §3) and how the runner treats them."""

    enabled: tuple[str, ...] = ("binance_usdm", "binance_coinm", "bybit", "okx")
    cache_dir: str = "~/.cache/liqmon"  # instrument catalogue cache
    refresh_s: Pos = 6 * 3600  # catalogue refresh period
    rest_timeout_s: PosFloat = 10.0
    backoff_initial_s: PosFloat = 1.0
    backoff_max_s: PosFloat = 60.0
    quiet_max_s: PosFloat = 900.0  # a liquidation stream silent this long while prices flow: dead
    queue_max_events: Pos = 100_000  # per venue, between the socket readers and the bus
    endpoint_override: dict[str, str] = msgspec.field(default_factory=dict)
    """venue → ``ws://host:port``: connect there instead, same paths (proxies, tests)."""
    rest_override: dict[str, str] = msgspec.field(default_factory=dict)
    """venue → ``http://host:port`` for the instruments endpoint."""
    symbols: dict[str, tuple[str, ...]] = msgspec.field(
        default_factory=lambda: {
            "binance_usdm": (
                "BTCUSDT",
                "ETHUSDT",
                "SOLUSDT",
                "XRPUSDT",
                "XAUUSDT",
                "XAGUSDT",
                "TSLAUSDT",
            ),
            "binance_coinm": ("BTCUSD_PERP", "ETHUSD_PERP"),
            "bybit": (
                "BTCUSDT",
                "ETHUSDT",
                "SOLUSDT",
                "XRPUSDT",
                "XAUUSDT",
                "XAGUSDT",
                "NVDAUSDT",
                "TSLAUSDT",
                "BTCUSD",
            ),
            "okx": ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP", "XAU-USDT-SWAP"),
        }
    )
    """venue → seed symbols used when neither the catalogue nor its cache is available."""


def _check_http_url(url: Secret | None, key: str) -> None:
    """Refuse a URL that is not http(s); the message names the key and never the secret.

    Raises `ConfigError` itself, not ValueError: msgspec would wrap a ValueError and `load`
    would then print the section's values, the secret among them.
    """
    if url is not None and not url.reveal().startswith(("https://", "http://")):
        msg = "config: alerts.%s: must be an http:// or https:// URL" % key
        raise ConfigError(msg)


class WebhookSinkSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Generic JSON webhook (contract alert JSON, HMAC-signed); off while ``url`` is unset."""

    url: Secret | None = None  # http(s) URL; may hold a token, so it is a secret
    secret: Secret | None = None  # HMAC-SHA256 key; unset: requests are not signed

    def __post_init__(self) -> None:
        """Refuse a non-http URL, and a secret without a URL."""
        _check_http_url(self.url, "webhook.url")
        if self.secret is not None and self.url is None:
            msg = "config: alerts.webhook.secret: set, but alerts.webhook.url is not"
            raise ConfigError(msg)


class SlackSinkSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Slack incoming webhook; off while ``webhook_url`` is unset."""

    webhook_url: Secret | None = None  # https://hooks.slack.com/services/…

    def __post_init__(self) -> None:
        """Refuse a non-http URL."""
        _check_http_url(self.webhook_url, "slack.webhook_url")


class DiscordSinkSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Discord channel webhook; off while ``webhook_url`` is unset."""

    webhook_url: Secret | None = None  # https://discord.com/api/webhooks/<id>/<token>

    def __post_init__(self) -> None:
        """Refuse a non-http URL."""
        _check_http_url(self.webhook_url, "discord.webhook_url")


class TelegramSinkSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Telegram bot message to one chat; off while ``bot_token`` and ``chat_id`` are unset."""

    bot_token: Secret | None = None
    chat_id: int | str | None = None  # numeric id (groups: negative) or "@channel"
    api_base: Annotated[str, msgspec.Meta(pattern=r"^https?://")] = "https://api.telegram.org"

    def __post_init__(self) -> None:
        """Refuse a token without a chat, or a chat without a token."""
        if (self.bot_token is None) != (self.chat_id is None):
            msg = "config: alerts.telegram: bot_token and chat_id go together"
            raise ConfigError(msg)


class AlertSinksSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Direct alert sinks, for deployments without Alertmanager; every sink is off by default.

    Each enabled sink has its own bounded queue, so a slow endpoint never slows the pipeline.
    """

    cooldown_s: Annotated[float, msgspec.Meta(ge=0)] = 600.0  # same alert key again: suppressed
    queue_max: Pos = 100  # alerts waiting per sink; beyond: dropped (counted)
    timeout_s: PosFloat = 10.0  # one HTTP attempt
    retries: NonNeg = 3  # further attempts on network errors, 5xx and 429
    backoff_initial_s: PosFloat = 1.0  # first retry delay ceiling (full jitter)
    backoff_max_s: PosFloat = 30.0
    stop_timeout_s: PosFloat = 5.0  # shutdown: deliver what is queued for at most this long
    webhook: WebhookSinkSettings = msgspec.field(default_factory=WebhookSinkSettings)
    slack: SlackSinkSettings = msgspec.field(default_factory=SlackSinkSettings)
    discord: DiscordSinkSettings = msgspec.field(default_factory=DiscordSinkSettings)
    telegram: TelegramSinkSettings = msgspec.field(default_factory=TelegramSinkSettings)


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


def _dec_hook(tp: type, obj: object) -> object:
    if tp is Secret and isinstance(obj, str | int | float | bool):
        return Secret(str(obj))  # env values are YAML scalars: an all-digit token is an int
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
    key = re.sub(r"\[\d+\]$", "", where)
    value: object = tree
    for part in key.split("."):
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
    if key in origins:
        return origins[key]
    return str(path) if path is not None else "defaults"


def _check_consistency(settings: Settings) -> None:
    crash = settings.detect.crash
    if len(crash.windows_s) != len(crash.min_drop):
        raise ConfigError(
            "config: detect.crash.min_drop: needs one value per detect.crash.windows_s entry "
            "(%d), got %d" % (len(crash.windows_s), len(crash.min_drop))
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
