"""Engine and channel configuration: TOML files loaded into strict pydantic models.

Unknown keys and wrong types fail early with the file, the key and what is allowed.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.durations import parse_duration

M = TypeVar("M", bound=BaseModel)
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A configuration file is missing, unreadable or invalid."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Duration = Annotated[float, Field(ge=0)]


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


class TLSConfig(Strict):
    enabled: bool = True
    cert: str = ""
    key: str = ""
    ca: str = ""
    verify: bool = True


class RetryPolicy(Strict):
    max_attempts: int = Field(default=10, ge=1)
    backoff: Literal["fixed", "exponential"] = "exponential"
    initial: Duration = 1.0
    max: Duration = 300.0
    jitter: float = Field(default=0.1, ge=0, le=1)
    max_age: Duration = 0.0  # 0 = no age limit

    _durations = field_validator("initial", "max", "max_age", mode="before")(_duration)


class ReceiptPolicy(Strict):
    wait: Duration = 1800.0  # MedCom: 30 minutes
    resends: int = Field(default=2, ge=0, le=10)

    _durations = field_validator("wait", mode="before")(_duration)


# --- sources -------------------------------------------------------------------------


class MllpSource(Strict):
    type: Literal["mllp"]
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    timeout: Duration = 60.0  # idle connection timeout
    max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # open connections at most; more are closed at once (a flood must not use up the
    # process's file descriptors, which the store and the other listeners need too)
    max_connections: int = Field(default=200, ge=1)
    tls: TLSConfig | None = None

    _durations = field_validator("timeout", mode="before")(_duration)


class HttpSource(Strict):
    type: Literal["http"]
    path: str = ""  # informational: always served at /api/v1/channels/{name}/messages
    max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)


class DirectorySource(Strict):
    type: Literal["directory"]
    path: str
    pattern: str = "*"
    poll: Duration = 1.0
    # MedCom (a VANS inbox): where the receipts for what was taken are written, one file
    # each (CTL/XCTL receipts, FHIR Acknowledgements); "" writes none
    receipts: str = ""

    _durations = field_validator("poll", mode="before")(_duration)


Source = Annotated[MllpSource | HttpSource | DirectorySource, Field(discriminator="type")]


# --- destinations --------------------------------------------------------------------


class DestinationBase(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    mapping: str = ""
    when: str = ""  # per-destination filter expression over `msg`
    retry: RetryPolicy = RetryPolicy()
    batch: int = Field(default=100, ge=1, le=10_000)  # deliveries claimed at a time
    connections: int = Field(default=1, ge=1, le=64)  # parallel senders; >1 gives up order
    # "vans": what is sent travels in a VANSEnvelope (MedCom's network envelope), one per file
    envelope: Literal["", "vans"] = ""
    # a template over `msg`, e.g. "{{ msg.cpr }}": deliveries with the same key go out in
    # the order received; a failing one holds back only those with its key
    order_by: str = ""
    # MedCom reliable messaging: no receipt within `wait` after sending → send again with a
    # new envelope id, at most `resends` times, then DEAD
    receipt: ReceiptPolicy | None = None


class MllpDestination(DestinationBase):
    type: Literal["mllp"]
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    timeout: Duration = 30.0
    on_ae: Literal["fatal", "transient"] = "fatal"
    on_ar: Literal["fatal", "transient"] = "transient"
    tls: TLSConfig | None = None

    _durations = field_validator("timeout", mode="before")(_duration)


class HttpDestination(DestinationBase):
    type: Literal["http"]
    url: str
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = {}
    timeout: Duration = 30.0
    tls: TLSConfig | None = None

    _durations = field_validator("timeout", mode="before")(_duration)


class DirectoryDestination(DestinationBase):
    type: Literal["directory"]
    path: str
    filename: str = "{{ msg.id }}.{{ msg.format }}"


class FhirDestination(DestinationBase):
    type: Literal["fhir"]
    base_url: str  # the FHIR server's base, e.g. http://host/fhir
    # process-message: POST the message Bundle to {base_url}/$process-message and read the
    # Acknowledgement; transaction: POST the Bundle to the base; create: each resource
    # created (conditionally on its first identifier, so a resend makes no second copy)
    mode: Literal["process-message", "transaction", "create"] = "process-message"
    headers: dict[str, str] = {}
    timeout: Duration = 30.0
    tls: TLSConfig | None = None

    _durations = field_validator("timeout", mode="before")(_duration)


class SoapDestination(DestinationBase):
    type: Literal["soap"]
    wsdl: str  # URL or file of the partner's WSDL
    service: str = ""  # "" with port "": the WSDL's first service and port
    port: str = ""
    operation: str  # takes the payload as its single string argument
    timeout: Duration = 30.0
    tls: TLSConfig | None = None

    _durations = field_validator("timeout", mode="before")(_duration)


class AmqpDestination(DestinationBase):
    type: Literal["amqp"]
    url: str = Field(pattern=r"^amqps?://")  # amqps:// (or a `tls` table) for TLS
    exchange: str = ""  # "": the default exchange, where the routing key names a queue
    routing_key: str = ""  # a template over `msg`, e.g. "medcom.{{ msg.type | lower }}"
    # A message that no queue takes is returned by the broker and retried (never dropped)
    mandatory: bool = True
    headers: dict[str, str] = {}
    timeout: Duration = 30.0
    tls: TLSConfig | None = None

    _durations = field_validator("timeout", mode="before")(_duration)


Destination = Annotated[
    MllpDestination
    | HttpDestination
    | DirectoryDestination
    | FhirDestination
    | SoapDestination
    | AmqpDestination,
    Field(discriminator="type"),
]


class ChannelInfo(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    enabled: bool = True
    # content retention, e.g. "30d": older content stages of finished messages are deleted
    # (metadata, deliveries, attempts and audit stay); None keeps content for ever
    retention: Duration | None = None

    _durations = field_validator("retention", mode="before")(_duration)


class ChannelFilter(Strict):
    when: str = ""


class ChannelConfig(Strict):
    channel: ChannelInfo
    source: Source
    filter: ChannelFilter = ChannelFilter()
    # none: a channel that only takes in, such as an inbox for partners' MedCom receipts
    destination: list[Destination] = Field(default_factory=list)

    @property
    def name(self) -> str:
        return self.channel.name

    @field_validator("destination")
    @classmethod
    def _unique_destinations(cls, value: list[Any]) -> list[Any]:
        names = [d.name for d in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"destination names must be unique; repeated: {duplicates}")
        return value


# --- engine --------------------------------------------------------------------------


class EngineSection(Strict):
    channels_dir: str = "channels"
    mappings_dir: str = "mappings"
    data_dir: str = "var"
    prune_every: Duration = 600.0  # how often channels' content retention runs

    _durations = field_validator("prune_every", mode="before")(_duration)


class StoreSection(Strict):
    url: str = "sqlite:///var/kanal.db"
    commit_batch: int = Field(default=500, ge=1)  # messages per group commit at most
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"


class QueueSection(Strict):
    # sql: workers claim from the store; rabbitmq: RabbitMQ tells workers what to claim
    backend: Literal["sql", "rabbitmq"] = "sql"
    url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/%2F", pattern=r"^amqps?://")
    lease: Duration = 60.0  # a claimed delivery returns to the queue if not finished in time
    poll: Duration = 0.5
    # rabbitmq: deliveries overdue this long are claimed from the store (a lost notice)
    sweep: Duration = 60.0

    _durations = field_validator("lease", "poll", "sweep", mode="before")(_duration)


class ApiSection(Strict):
    listen: str = "127.0.0.1:8080"
    enabled: bool = True
    tls: TLSConfig | None = None  # cert + key to serve HTTPS; ca to require client certs

    @field_validator("listen")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"takes HOST:PORT, e.g. 127.0.0.1:8080 (got {value!r})")
        return value

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class MedcomStandards(Strict):
    schema_dir: str = ""


class StandardsSection(Strict):
    medcom: MedcomStandards = MedcomStandards()


class AlertsSection(Strict):
    """One alert per destination state change (failing, recovered), never one per message:
    always to the log, and to `webhook` (a JSON POST) when set."""

    webhook: str = ""
    failing_after: int = Field(default=3, ge=1)  # consecutive failed attempts
    timeout: Duration = 5.0

    _durations = field_validator("timeout", mode="before")(_duration)


class EngineConfig(Strict):
    engine: EngineSection = EngineSection()
    store: StoreSection = StoreSection()
    queue: QueueSection = QueueSection()
    api: ApiSection = ApiSection()
    standards: StandardsSection = StandardsSection()
    alerts: AlertsSection = AlertsSection()
    base_dir: Path = Path(".")  # folder of engine.toml; relative paths resolve here

    def path(self, value: str) -> Path:
        candidate = Path(value)
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    @property
    def channels_dir(self) -> Path:
        return self.path(self.engine.channels_dir)

    @property
    def mappings_dir(self) -> Path:
        return self.path(self.engine.mappings_dir)

    @property
    def schema_dir(self) -> Path | None:
        """Official MedCom schemas (XSD), when configured."""
        folder = self.standards.medcom.schema_dir
        return self.path(folder) if folder else None

    @property
    def data_dir(self) -> Path:
        return self.path(self.engine.data_dir)

    @property
    def store_url(self) -> str:
        """The store URL with a relative SQLite path resolved against base_dir."""
        prefix = "sqlite:///"
        url = self.store.url
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix) :]).resolve())
        return url


# --- loading -------------------------------------------------------------------------


def substitute_env(value: Any, where: str) -> Any:
    """Replace ${NAME} and ${NAME:-default} in every string of a parsed TOML tree."""
    if isinstance(value, dict):
        return {k: substitute_env(v, f"{where}.{k}" if where else k) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable ${{{name}}} is not set")

        return _ENV.sub(replace, value)
    return value


def _resolve_paths(channel: ChannelConfig, base: Path) -> ChannelConfig:
    def absolute(value: str) -> str:
        return str(base / value) if value and not Path(value).is_absolute() else value

    def fix(model: Any) -> Any:
        update: dict[str, Any] = {}
        if isinstance(model, DirectorySource | DirectoryDestination):
            update["path"] = absolute(model.path)
        if isinstance(model, DirectorySource):
            update["receipts"] = absolute(model.receipts)
        if isinstance(model, SoapDestination) and "://" not in model.wsdl:
            update["wsdl"] = absolute(model.wsdl)  # a WSDL file beside the configuration
        tls = getattr(model, "tls", None)
        if tls is not None:
            update["tls"] = tls.model_copy(
                update={k: absolute(getattr(tls, k)) for k in ("cert", "key", "ca")}
            )
        return model.model_copy(update=update) if update else model

    return channel.model_copy(
        update={"source": fix(channel.source), "destination": [fix(d) for d in channel.destination]}
    )


def _key(location: tuple[Any, ...]) -> str:
    """destination[0].retry.initial: indexes in brackets, union tags left out."""
    key = ""
    for part in location:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part not in _CONNECTOR_TAGS:
            key += f".{part}" if key else str(part)
    return key or "(top level)"


_CONNECTOR_TAGS = {"mllp", "http", "directory", "fhir", "soap", "amqp"}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def describe_errors(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for item in error.errors():
        key = _key(item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "union_tag_invalid":
            context = item.get("ctx", {})
            key += ".type"
            message = f"{context.get('tag')!r} is not one of {context.get('expected_tags')}"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def _validate(model: type[M], path: Path, data: dict[str, Any]) -> M:
    try:
        return model.model_validate(substitute_env(data, ""))
    except ValidationError as exc:
        raise ConfigError(describe_errors(path, exc)) from None


def load_engine_config(path: Path | str = "engine.toml") -> EngineConfig:
    """Load engine.toml; a missing file means all defaults relative to its folder."""
    path = Path(path)
    data = _read_toml(path) if path.exists() else {}
    if "base_dir" in data:
        raise ConfigError(f"{path}: base_dir: unknown key")
    data["base_dir"] = path.resolve().parent
    return _validate(EngineConfig, path, data)


def load_channel(path: Path) -> ChannelConfig:
    channel = _validate(ChannelConfig, path, _read_toml(path))
    if channel.name != path.stem:
        raise ConfigError(
            f"{path}: channel.name: {channel.name!r} must match the file name {path.stem!r}"
        )
    return channel


def load_channels(directory: Path, base_dir: Path | None = None) -> list[ChannelConfig]:
    """Every channels/*.toml, sorted by name; errors from all files are reported together.

    Relative file paths in channels (folders, certificates) resolve against `base_dir`,
    the folder of engine.toml, so the engine behaves the same from any working directory.
    """
    channels, errors = [], []
    for path in sorted(directory.glob("*.toml")):
        try:
            channel = load_channel(path)
            channels.append(_resolve_paths(channel, base_dir) if base_dir else channel)
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError("\n".join(errors))
    ports: dict[int, str] = {}
    for channel in channels:
        port = getattr(channel.source, "port", None)
        if port:
            if port in ports:
                errors.append(
                    f"channels {ports[port]!r} and {channel.name!r} both listen on {port}"
                )
            ports[port] = channel.name
    if errors:
        raise ConfigError("\n".join(errors))
    return channels
