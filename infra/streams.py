"""The JetStream streams of Interforces, declared here once and nowhere else.

Services bind to these streams but never create them: `interforces up` (or
`interforces infra streams`) declares them before any service starts.

Per mode (live, exercise), three streams:
- `IFC_<MODE>_PROPOSALS`: what agencies propose; the coordinator's durable consumer reads it.
- `IFC_<MODE>_TIMELINE`: the log of record. File-stored, no delete, no purge, no expiry,
  deduplicated by event id over `DUPLICATE_WINDOW_S`.
- `IFC_<MODE>_FEEDS`: each recipient's redacted copies; each agency reads its own.

And one key-value bucket, `IFC_LEASES`: the lease that makes one coordinator (or projector)
per mode the active one among several instances (`services/runtime/lease.py`).

`Profile.SINGLE` is one embedded node (R1); `Profile.CLUSTER` three nodes (R3), whose servers
run with `sync_interval: always` (see `infra/nats/`).
"""

from __future__ import annotations

from enum import StrEnum

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from contracts import subjects
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode

#: How long JetStream remembers a message id: retries inside it are dropped as duplicates.
DUPLICATE_WINDOW_S = 30 * 60.0
#: Proposals and feeds are working copies; the timeline is kept for good.
WORKING_COPY_MAX_AGE_S = 14 * 24 * 3600.0
#: The leases' key-value bucket, and how long a lease nobody renews survives.
LEASE_BUCKET = "IFC_LEASES"
LEASE_TTL_S = 6.0
#: Largest message any stream accepts (the coordinator refuses bigger proposals earlier).
MAX_MSG_BYTES = 256 * 1024


class Profile(StrEnum):
    """Where the streams live."""

    SINGLE = "single"
    CLUSTER = "cluster"

    @property
    def replicas(self) -> int:
        """Copies of each stream."""
        return 1 if self is Profile.SINGLE else 3


def stream_config(mode: Mode, role: StreamRole, profile: Profile) -> StreamConfig:
    """The configuration of one stream."""
    timeline = role is StreamRole.TIMELINE
    return StreamConfig(
        name=subjects.stream_name(mode, role),
        description=f"Interforces {mode.value} {role.value.lower()}",
        subjects=subjects.stream_subjects(mode, role),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=profile.replicas,
        discard=DiscardPolicy.OLD,
        max_age=None if timeline else WORKING_COPY_MAX_AGE_S,
        max_msg_size=MAX_MSG_BYTES,
        duplicate_window=DUPLICATE_WINDOW_S,
        deny_delete=timeline,
        deny_purge=timeline,
        allow_rollup_hdrs=False,
        allow_direct=True,
    )


def all_stream_configs(profile: Profile) -> list[StreamConfig]:
    """Every stream of every mode."""
    return [stream_config(mode, role, profile) for mode in Mode for role in StreamRole]


async def declare_streams(js: JetStreamContext, profile: Profile) -> list[str]:
    """Create the streams, or bring existing ones to this configuration. Idempotent."""
    declared: list[str] = []
    for config in all_stream_configs(profile):
        name = str(config.name)
        try:
            await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            try:
                await js.update_stream(config)
            except NatsError as exc:  # e.g. replicas cannot change on a single node
                raise StreamDeclarationError(name, str(exc)) from exc
        declared.append(name)
    declared.append(await declare_lease_bucket(js, profile))
    return declared


async def declare_lease_bucket(js: JetStreamContext, profile: Profile) -> str:
    """Create the leases' bucket unless it exists; the name of its stream."""
    try:
        await js.key_value(LEASE_BUCKET)
    except (NotFoundError, NatsError):
        await js.create_key_value(
            KeyValueConfig(
                bucket=LEASE_BUCKET,
                description="Interforces: which instance is active, per consumer",
                history=1,
                ttl=LEASE_TTL_S,
                storage=StorageType.FILE,
                replicas=profile.replicas,
            )
        )
    return f"KV_{LEASE_BUCKET}"


class StreamDeclarationError(Exception):
    """A stream exists with a configuration that cannot be brought to ours."""

    def __init__(self, stream: str, detail: str) -> None:
        super().__init__(f"stream {stream}: {detail}")
        self.stream = stream
        self.detail = detail
