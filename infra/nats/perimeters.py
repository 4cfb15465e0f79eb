"""Broker perimeters derived from the charters: which accounts and users the broker knows,
what each may publish and subscribe to, and what the accounts lend each other.

Accounts, and users with permissions inside them. Permissions alone, in one account, leave a
side door: a client chooses the reply subject of what it publishes, and JetStream answers
there without any permission check (a publish acknowledgement, a pull consumer's
deliveries). Private security could have its own proposal acknowledged *onto a police
proposal subject*, or its feed delivered onto one, and the proposals stream would store it
as the police's. So each agency has an account of its own, JetStream lives in the `IFC`
account only, and `IFC` lends each agency exactly its proposal subjects and its own feed's
durable consumer (cross-account services, whose replies come back through the broker's own
reply mapping into the agency's account, where an arbitrary reply subject reaches nothing).
Subjects are the same in every account; only the JetStream API of the consumer is seen
under `BORROWED_JS_API` outside `IFC` (an account's own `$JS.API` belongs to the server,
which answers that JetStream is not enabled there), so an agency service's JetStream
context uses that prefix. Inside each account, user permissions still refuse, with a
permissions violation, everything a user does not need.

- `IFC`: JetStream and every stream; the operator (the only user with `>`), the coordinator
  and the timeline projector (their durable consumers and their leases), the crisis-cell API
  (replays, and the remote control of running exercises).
- One account per agency service (`SECURITE_PRIVEE`, …): the service and its field units
  (one user per mode). Units send reports to their service, receive its dispatches and the
  receipts it hands out; the service proposes, answers its units, consumes its own feed
  through its durable consumer, answers health requests.
- `CRISIS_CELL`: the crisis-cell desk, one user per mode: proposes as the crisis cell, reads
  its own feed. `EXERCISE_CONTROL`: trainers, exercise subjects only: they inject, read
  their feed, run an exercise and answer its remote control.
- `OVERSIGHT`: a user that may neither publish nor subscribe (oversight reads the journal
  through the crisis-cell API).

The timeline's delete, purge and message delete are denied to every user, the operator
included. Exercise users (units, desk, trainer) only hold `ifc.exercise.…` subjects; a
service serving both modes holds each mode's subjects, per operation for what it publishes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from contracts import subjects
from contracts.charter import Charter
from contracts.ids import OperationId
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from infra.nats import users
from infra.nats.users import BORROWED_JS_API, JS_API
from infra.streams import LEASE_BUCKET
from interforces.stack.services import AGENCY_SERVICES
from services.agency.app import feed_durable
from services.coordinator.app import SERVICE as COORDINATOR
from services.coordinator.app import durable_name as coordinator_durable
from services.crisis_api.app import SERVICE as CRISIS_API
from services.runtime.consumer import max_deliveries_subject
from services.runtime.health import health_subject
from services.timeline.app import SERVICE as TIMELINE
from services.timeline.handlers import consumer_name as projector_durable

#: The account holding JetStream, the streams and the core services.
CORE_ACCOUNT = "IFC"
#: The account of oversight's user.
OVERSIGHT_ACCOUNT = "OVERSIGHT"
#: Everything (subscribing and publishing): only the operator holds it.
EVERYTHING = ">"
#: Where FastStream's pull subscribers take their deliveries, whatever the connection's
#: inbox prefix (`_INBOX.<nuid>`). An agency service may read it: in its own account only it
#: uses that inbox (its units have their own prefix), so it is its own reply inbox.
FASTSTREAM_INBOX = "_INBOX.*"


class ModeSelection(StrEnum):
    """Which modes a configuration serves."""

    LIVE = "live"
    EXERCISE = "exercise"
    BOTH = "both"

    @property
    def modes(self) -> tuple[Mode, ...]:
        """The modes selected."""
        return tuple(Mode) if self is ModeSelection.BOTH else (Mode(self.value),)


class Role(StrEnum):
    """What a broker user is."""

    OPERATOR = "operator"
    SERVICE = "service"
    UNITS = "units"
    DESK = "desk"
    TRAINER = "trainer"
    OVERSIGHT = "oversight"


class ShareKind(StrEnum):
    """How an account lends subjects to another (nats-server exports and imports)."""

    SERVICE = "service"  # requests go to the owner, replies come back
    STREAM = "stream"  # messages published in the owner are seen in the borrower


@dataclass(frozen=True, slots=True)
class Permissions:
    """What a user may publish and subscribe to (deny wins over allow; `responds`: it may
    answer requests it receives, once each)."""

    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    deny_publish: tuple[str, ...] = ()
    deny_subscribe: tuple[str, ...] = ()
    responds: bool = False


@dataclass(frozen=True, slots=True)
class BrokerUser:
    """One user of the broker, in one account."""

    name: str
    account: str
    role: Role
    permissions: Permissions
    description: str

    @property
    def js_api(self) -> str:
        """The JetStream API prefix its clients use (nats-py `jetstream(prefix=…)`)."""
        return JS_API if self.account == CORE_ACCOUNT else BORROWED_JS_API


@dataclass(frozen=True, slots=True)
class Share:
    """Subjects `owner` lends `borrower`, seen there as `alias` when given (the JetStream
    API); `streamed_replies`: a request may get many replies (a pull consumer's fetch)."""

    kind: ShareKind
    subject: str
    owner: str
    borrower: str
    alias: str | None = None
    streamed_replies: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    """An operation of a charter, as the broker sees it: its mode, id and actors."""

    mode: Mode
    id: OperationId
    actors: frozenset[Agency]


@dataclass(frozen=True, slots=True)
class Perimeters:
    """Every account, user and share of a broker configuration."""

    operations: tuple[Operation, ...]
    users: tuple[BrokerUser, ...]
    shares: tuple[Share, ...]
    modes: tuple[Mode, ...] = field(default=tuple(Mode))

    @property
    def accounts(self) -> tuple[str, ...]:
        """Account names, the core account first."""
        names = dict.fromkeys([CORE_ACCOUNT, *(u.account for u in self.users)])
        return tuple(names)

    def user(self, name: str) -> BrokerUser:
        """The user called `name` (KeyError when there is none)."""
        for user in self.users:
            if user.name == name:
                return user
        raise KeyError(name)

    def users_of(self, account: str) -> tuple[BrokerUser, ...]:
        """The users of one account."""
        return tuple(u for u in self.users if u.account == account)


class PerimeterError(Exception):
    """The charters cannot make one broker configuration."""


def agency_account(agency: Agency) -> str:
    """The account of an agency (`securite_privee` → `SECURITE_PRIVEE`)."""
    return agency.value.upper()


# --- JetStream API subjects ----------------------------------------------------------------


def _js(*tokens: str, api: str = JS_API) -> str:
    return ".".join((api, *tokens))


@dataclass(frozen=True, slots=True)
class DurableGrants:
    """What a client needs to run one durable pull consumer: create it with exactly its
    filter (the filter is part of the subject, so no other filter passes), read its info,
    fetch from it (many replies per request), acknowledge its messages."""

    create: str
    info: str
    fetch: str
    ack: str

    @property
    def subjects(self) -> tuple[str, ...]:
        """Every subject granted."""
        return (self.create, self.info, self.fetch, self.ack)


def durable_grants(
    stream: str, durable: str, filter_subject: str, api: str = JS_API
) -> DurableGrants:
    """The grants of durable consumer `durable` of `stream`, filtered on `filter_subject`,
    through the JetStream API at `api`."""
    return DurableGrants(
        create=_js("CONSUMER", "CREATE", stream, durable, filter_subject, api=api),
        info=_js("CONSUMER", "INFO", stream, durable, api=api),
        fetch=_js("CONSUMER", "MSG", "NEXT", stream, durable, api=api),
        ack=f"$JS.ACK.{stream}.{durable}.>",
    )


def lease_grants(key: str) -> tuple[str, ...]:
    """What an instance needs to compete for the lease `key` (`services/runtime/lease.py`):
    find the leases' bucket, read the lease, create, renew and release it."""
    stream, subject = f"KV_{LEASE_BUCKET}", f"$KV.{LEASE_BUCKET}.{key}"
    return (
        _js("STREAM", "INFO", stream),
        _js("DIRECT", "GET", stream, subject),
        _js("STREAM", "MSG", "GET", stream),
        subject,
    )


def timeline_destruction(mode: Mode) -> tuple[str, ...]:
    """Deleting or purging a mode's timeline stream, or one of its messages."""
    stream = subjects.stream_name(mode, StreamRole.TIMELINE)
    return (
        _js("STREAM", "DELETE", stream),
        _js("STREAM", "PURGE", stream),
        _js("STREAM", "MSG", "DELETE", stream),
    )


def _never() -> tuple[str, ...]:
    """Denied to everybody: destroying any timeline."""
    return tuple(s for mode in Mode for s in timeline_destruction(mode))


# --- subject patterns the subjects module builds for one unit --------------------------------


def _any_unit(subject: str) -> str:
    """A one-unit subject with its unit token made a wildcard."""
    return f"{subject.rsplit('.', 1)[0]}.*"


def _reports(operation: Operation, agency: Agency) -> str:
    return _any_unit(subjects.report(operation.mode, operation.id, agency, "unit"))


def _dispatches(operation: Operation, agency: Agency) -> str:
    return _any_unit(subjects.dispatch(operation.mode, operation.id, agency, "unit"))


# --- the perimeters ------------------------------------------------------------------------


def operations_of(charters: Iterable[Charter], modes: Collection[Mode]) -> tuple[Operation, ...]:
    """The operations of the charters whose mode is selected (one per mode and id)."""
    found: dict[tuple[Mode, str], Operation] = {}
    for charter in charters:
        header = charter.operation
        if header.mode not in modes:
            continue
        key = (header.mode, header.id)
        if key in found:
            raise PerimeterError(
                f"two charters define the {header.mode.value} operation {header.id}"
            )
        found[key] = Operation(header.mode, header.id, frozenset(a.agency for a in charter.actors))
    order = list(Mode)
    return tuple(found[k] for k in sorted(found, key=lambda k: (order.index(k[0]), k[1])))


def build_perimeters(
    charters: Sequence[Charter], modes: Collection[Mode] = tuple(Mode)
) -> Perimeters:
    """Accounts, users and shares for the operations of `charters` in `modes`."""
    selected = tuple(m for m in Mode if m in modes)
    if not selected:
        raise PerimeterError("no mode selected")
    operations = operations_of(charters, selected)
    built: list[tuple[BrokerUser, list[Share]]] = [
        (_operator(), []),
        (_coordinator(selected), []),
        (_projector(selected), []),
        (_crisis_api(_controls(operations)), []),
    ]
    for agency in AGENCY_SERVICES:
        built.append(_agency_service(agency, selected, operations))
        built.extend((units, []) for units in _units(agency, selected, operations))
    for mode in selected:
        in_mode = [op for op in operations if op.mode is mode]
        built.extend(_proposer(Agency.CRISIS_CELL, users.desk_user(mode), Role.DESK, in_mode))
    if Mode.EXERCISE in selected:
        exercises = [op for op in operations if op.mode is Mode.EXERCISE]
        trainer = _proposer(
            Agency.EXERCISE_CONTROL, users.TRAINER, Role.TRAINER, exercises, _controls(exercises)
        )
        built.extend(trainer)
    built.append((_oversight(), []))
    shares = tuple(dict.fromkeys(s for _, user_shares in built for s in user_shares))
    return Perimeters(
        operations=operations,
        users=tuple(user for user, _ in built),
        shares=shares,
        modes=selected,
    )


def _user(
    name: str,
    account: str,
    role: Role,
    description: str,
    *,
    publish: Iterable[str] = (),
    subscribe: Iterable[str] = (),
    responds: bool = False,
) -> BrokerUser:
    """A user that reads its own inbox and may never destroy a timeline."""
    return BrokerUser(
        name=name,
        account=account,
        role=role,
        permissions=Permissions(
            publish=tuple(dict.fromkeys(publish)),
            subscribe=tuple(dict.fromkeys([*subscribe, f"{users.inbox_prefix(name)}.>"])),
            deny_publish=_never(),
            responds=responds,
        ),
        description=description,
    )


def _operator() -> BrokerUser:
    return BrokerUser(
        name=users.OPERATOR,
        account=CORE_ACCOUNT,
        role=Role.OPERATOR,
        permissions=Permissions(
            publish=(EVERYTHING,), subscribe=(EVERYTHING,), deny_publish=_never()
        ),
        description="declares the streams, probes health, administers",
    )


def _coordinator(modes: Sequence[Mode]) -> BrokerUser:
    def grants(mode: Mode) -> Iterator[str]:
        proposals = subjects.stream_name(mode, StreamRole.PROPOSALS)
        timeline = subjects.stream_name(mode, StreamRole.TIMELINE)
        yield subjects.timeline_of(mode)
        yield subjects.feeds_of(mode)
        yield from durable_grants(
            proposals, coordinator_durable(mode), subjects.proposals_of(mode)
        ).subjects
        yield from lease_grants(coordinator_durable(mode))
        yield _js("STREAM", "INFO", timeline)
        yield _js("STREAM", "MSG", "GET", timeline)
        yield _js("STREAM", "MSG", "GET", proposals)  # a proposal JetStream gave up on
        # Folding the timeline at start: an ephemeral consumer of the whole timeline.
        yield _js("CONSUMER", "CREATE", timeline, "*", subjects.timeline_of(mode))
        yield _js("CONSUMER", "MSG", "NEXT", timeline, "*")

    return _user(
        COORDINATOR,
        CORE_ACCOUNT,
        Role.SERVICE,
        "decides proposals, appends the timeline, sends each recipient its copy",
        publish=[g for mode in modes for g in grants(mode)],
        subscribe=[
            health_subject(COORDINATOR),
            *(
                max_deliveries_subject(
                    subjects.stream_name(mode, StreamRole.PROPOSALS), coordinator_durable(mode)
                )
                for mode in modes
            ),
        ],
        responds=True,
    )


def _projector(modes: Sequence[Mode]) -> BrokerUser:
    def grants(mode: Mode) -> Iterator[str]:
        timeline = subjects.stream_name(mode, StreamRole.TIMELINE)
        durable = projector_durable(mode)
        yield from durable_grants(timeline, durable, subjects.timeline_of(mode)).subjects
        yield from lease_grants(durable)
        yield _js("CONSUMER", "DELETE", timeline, durable)  # reset when ahead of the database

    return _user(
        TIMELINE,
        CORE_ACCOUNT,
        Role.SERVICE,
        "projects the timeline into PostgreSQL",
        publish=[g for mode in modes for g in grants(mode)],
        subscribe=[health_subject(TIMELINE)],
        responds=True,
    )


def _crisis_api(controls: Sequence[str]) -> BrokerUser:
    return _user(
        CRISIS_API,
        CORE_ACCOUNT,
        Role.SERVICE,
        "the crisis cell's API: replays into their own namespace, drives exercises",
        publish=[subjects.replay_of(), *controls],
        subscribe=[health_subject(CRISIS_API)],
        responds=True,
    )


def _agency_service(
    agency: Agency, modes: Sequence[Mode], operations: Sequence[Operation]
) -> tuple[BrokerUser, list[Share]]:
    account = agency_account(agency)
    engaged = [op for op in operations if agency in op.actors]
    publish: list[str] = []
    shares = [Share(ShareKind.SERVICE, health_subject(agency.value), account, CORE_ACCOUNT)]
    for op in engaged:
        proposals = subjects.proposals_of(op.mode, agency, op.id)
        publish += [
            proposals,
            _dispatches(op, agency),
            subjects.recepisse(op.mode, op.id, agency),
        ]
        shares.append(Share(ShareKind.SERVICE, proposals, CORE_ACCOUNT, account))
    for mode in modes:
        consumer = (
            subjects.stream_name(mode, StreamRole.FEEDS),
            feed_durable(agency, mode),
            subjects.feed_of(mode, agency),
        )
        lent, borrowed = durable_grants(*consumer), durable_grants(*consumer, api=BORROWED_JS_API)
        publish += borrowed.subjects
        shares += [
            Share(
                ShareKind.SERVICE,
                subject,
                CORE_ACCOUNT,
                account,
                alias=alias if alias != subject else None,
                streamed_replies=subject == lent.fetch,
            )
            for subject, alias in zip(lent.subjects, borrowed.subjects, strict=True)
        ]
    user = _user(
        agency.value,
        account,
        Role.SERVICE,
        f"the {agency.value} service: proposes, answers its units, reads its own feed",
        publish=publish,
        subscribe=[
            health_subject(agency.value),
            *(subjects.reports_of(m, agency) for m in modes),
            FASTSTREAM_INBOX,
        ],
        responds=True,
    )
    return user, shares


def _units(
    agency: Agency, modes: Sequence[Mode], operations: Sequence[Operation]
) -> Iterator[BrokerUser]:
    for mode in modes:
        engaged = [op for op in operations if op.mode is mode and agency in op.actors]
        if not engaged:
            continue
        yield _user(
            users.units_user(agency, mode),
            agency_account(agency),
            Role.UNITS,
            f"the {agency.value} field units ({mode.value}): report, receive dispatches",
            publish=[_reports(op, agency) for op in engaged],
            subscribe=[
                s
                for op in engaged
                for s in (_dispatches(op, agency), subjects.recepisse(op.mode, op.id, agency))
            ],
        )


def _engaged(agency: Agency, operations: Sequence[Operation]) -> list[Operation]:
    return [op for op in operations if agency in op.actors]


def _controls(operations: Sequence[Operation]) -> list[str]:
    """The remote controls of the exercises a trainer runs."""
    return [
        subjects.exercise_control(op.id) for op in _engaged(Agency.EXERCISE_CONTROL, operations)
    ]


def _proposer(
    agency: Agency,
    name: str,
    role: Role,
    operations: Sequence[Operation],
    controls: Sequence[str] = (),
) -> Iterator[tuple[BrokerUser, list[Share]]]:
    """An actor without a service of its own (crisis-cell desk, exercise control): proposes
    straight onto JetStream and reads its own feed; a running exercise also answers its
    remote control (`controls`), which the crisis-cell API may use too."""
    engaged = _engaged(agency, operations)
    if not engaged:
        return
    account = agency_account(agency)
    proposals = [subjects.proposals_of(op.mode, agency, op.id) for op in engaged]
    feeds = [subjects.feed_of(op.mode, agency, op.id) for op in engaged]
    user = _user(
        name,
        account,
        role,
        f"{agency.value}: proposes, reads its own feed"
        + (", runs and drives exercises" if controls else ""),
        publish=[*proposals, *controls],
        subscribe=[*feeds, *controls],
        responds=bool(controls),
    )
    shares = [Share(ShareKind.SERVICE, s, CORE_ACCOUNT, account) for s in proposals]
    shares += [Share(ShareKind.STREAM, s, CORE_ACCOUNT, account) for s in feeds]
    shares += [Share(ShareKind.SERVICE, s, account, CORE_ACCOUNT) for s in controls]
    yield user, shares


def _oversight() -> BrokerUser:
    return BrokerUser(
        name=users.OVERSIGHT,
        account=OVERSIGHT_ACCOUNT,
        role=Role.OVERSIGHT,
        permissions=Permissions(deny_publish=(EVERYTHING,), deny_subscribe=(EVERYTHING,)),
        description="oversight: nothing on the bus (the journal is read through the API)",
    )
