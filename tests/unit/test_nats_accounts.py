"""Broker perimeters from the charters: who exists, what each may touch, how it is written
for nats-server, and where the passwords live. The broker's own refusals are tested against
a real server in `integration/security`."""

from __future__ import annotations

import json
import stat
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from integration.security.conftest import FESTIVAL, exercise_twin
from pydantic import SecretStr
from typer.testing import CliRunner

from contracts import subjects
from contracts.charter import Charter, load_charter
from contracts.subjects import StreamRole
from contracts.vocabulary import Agency, Mode
from infra.nats.accounts import hashed_passwords, render
from infra.nats.perimeters import (
    CORE_ACCOUNT,
    EVERYTHING,
    FASTSTREAM_INBOX,
    OVERSIGHT_ACCOUNT,
    BrokerUser,
    PerimeterError,
    Perimeters,
    Role,
    ShareKind,
    agency_account,
    build_perimeters,
    durable_grants,
    timeline_destruction,
)
from infra.nats.secrets import (
    MIN_COST,
    NatsSecretError,
    ensure_password,
    hash_password,
    password_path,
    read_password,
    verify_password,
)
from infra.nats.users import (
    BORROWED_JS_API,
    JS_API,
    OPERATOR,
    OVERSIGHT,
    TRAINER,
    NatsLogin,
    desk_user,
    inbox_prefix,
    jetstream_api,
    units_user,
)
from interforces.cli import app
from interforces.stack.services import AGENCY_SERVICES, SERVICES
from services.agency.app import feed_durable
from services.runtime.broker import nats_options
from services.runtime.health import health_subject
from services.runtime.settings import RuntimeSettings
from unit.test_subjects import overlap

pytestmark = pytest.mark.unit

FIELD_AGENCIES = (
    Agency.POLICE_NATIONALE,
    Agency.POLICE_MUNICIPALE,
    Agency.SECURITE_PRIVEE,
    Agency.MEDIATION,
)


@cache
def festival() -> Charter:
    return load_charter(FESTIVAL)


@cache
def both() -> Perimeters:
    """The festival, live and rehearsed as an exercise."""
    return build_perimeters([festival(), exercise_twin(festival())], tuple(Mode))


def allowed(user: BrokerUser) -> tuple[str, ...]:
    return (*user.permissions.publish, *user.permissions.subscribe)


def any_operation_any_unit(subject: str) -> str:
    """`ifc.<mode>.<op>.<channel>.<agency>.<unit>` with operation and unit as wildcards."""
    tokens = subject.split(".")
    tokens[2] = tokens[-1] = "*"
    return ".".join(tokens)


def test_every_service_an_agency_and_a_role_has_its_user() -> None:
    names = {u.name for u in both().users}
    assert {spec.name for spec in SERVICES} <= names
    assert {units_user(a, m) for a in FIELD_AGENCIES for m in Mode} <= names
    assert {desk_user(m) for m in Mode} | {OPERATOR, TRAINER, OVERSIGHT} <= names
    # No gendarmerie on the Presqu'île: its service exists, its units have no operation.
    assert units_user(Agency.GENDARMERIE, Mode.LIVE) not in names
    assert len(names) == len(both().users)


def test_each_agency_has_its_own_account_and_jetstream_lives_in_the_core_one() -> None:
    perimeters = both()
    for agency in AGENCY_SERVICES:
        assert perimeters.user(agency.value).account == agency_account(agency)
        assert perimeters.user(agency.value).js_api == BORROWED_JS_API
    for name in (OPERATOR, "coordinator", "timeline", "crisis-api"):
        assert perimeters.user(name).account == CORE_ACCOUNT
    assert perimeters.user(TRAINER).account == agency_account(Agency.EXERCISE_CONTROL)
    assert perimeters.accounts[0] == CORE_ACCOUNT


def test_nobody_but_the_operator_has_everything() -> None:
    for user in both().users:
        holds_everything = EVERYTHING in allowed(user)
        assert holds_everything is (user.name == OPERATOR), user.name


def test_nobody_may_destroy_a_timeline_not_even_the_operator() -> None:
    destruction = {s for mode in Mode for s in timeline_destruction(mode)}
    for user in both().users:
        if user.name == OVERSIGHT:
            assert user.permissions.deny_publish == (EVERYTHING,)
            continue
        assert destruction <= set(user.permissions.deny_publish), user.name
        if user.name != OPERATOR:
            granted = [(a, d) for a in user.permissions.publish for d in destruction]
            assert not any(overlap(a, d) for a, d in granted), user.name


def test_every_user_but_the_operator_reads_only_its_own_inbox() -> None:
    for user in both().users:
        inboxes = [s for s in user.permissions.subscribe if s.startswith("_INBOX")]
        if user.role in (Role.OPERATOR, Role.OVERSIGHT):
            assert inboxes == []
        elif user.name in {a.value for a in AGENCY_SERVICES}:
            # FastStream's feed deliveries: in the agency's own account, its own inbox.
            assert inboxes == [FASTSTREAM_INBOX, f"{inbox_prefix(user.name)}.>"], user.name
            assert user.account == agency_account(Agency(user.name))
        else:
            assert inboxes == [f"{inbox_prefix(user.name)}.>"], user.name


def test_the_jetstream_api_prefix_follows_the_account() -> None:
    for user in both().users:
        assert jetstream_api(user.name) == user.js_api, user.name
        assert (user.js_api == JS_API) is (user.account == CORE_ACCOUNT), user.name


def test_an_agency_touches_no_other_agency_s_subjects() -> None:
    perimeters = both()
    for agency in FIELD_AGENCIES:
        users = [perimeters.user(agency.value)]
        users += [perimeters.user(units_user(agency, m)) for m in Mode]
        for other in Agency:
            if other is agency:
                continue
            theirs = [
                pattern
                for mode in Mode
                for pattern in (
                    subjects.proposals_of(mode, other),
                    subjects.feed_of(mode, other),
                    subjects.reports_of(mode, other),
                    subjects.recepisses_of(mode, other),
                    any_operation_any_unit(subjects.dispatch(mode, "op", other, "unit")),
                )
            ]
            for user in users:
                clashes = [(a, t) for a in allowed(user) for t in theirs if overlap(a, t)]
                assert clashes == [], (user.name, other)


def test_no_field_credential_reaches_the_timeline_or_another_feed() -> None:
    perimeters = both()
    walled = [subjects.timeline_of(m) for m in Mode] + [subjects.feeds_of(m) for m in Mode]
    for user in perimeters.users:
        if user.account in (CORE_ACCOUNT, OVERSIGHT_ACCOUNT):
            continue  # the coordinator writes them, the operator holds everything
        agency = Agency(user.account.lower())
        own_feeds = {subjects.feed_of(op.mode, agency, op.id) for op in perimeters.operations}
        for subject in allowed(user):
            if subject not in own_feeds:
                assert not any(overlap(subject, w) for w in walled), (user.name, subject)


def test_exercise_credentials_hold_exercise_subjects_only() -> None:
    perimeters = both()
    exercise_users = [
        perimeters.user(TRAINER),
        perimeters.user(desk_user(Mode.EXERCISE)),
        *(perimeters.user(units_user(a, Mode.EXERCISE)) for a in FIELD_AGENCIES),
    ]
    for user in exercise_users:
        for subject in allowed(user):
            assert not overlap(subject, "ifc.live.>"), (user.name, subject)
        assert any(s.startswith("ifc.exercise.") for s in user.permissions.publish)


def test_an_agency_service_reaches_jetstream_only_for_its_own_feed_consumer() -> None:
    for agency in AGENCY_SERVICES:
        user = both().user(agency.value)
        api = [s for s in user.permissions.publish if s.startswith(("$JS", BORROWED_JS_API))]
        expected = [
            s
            for mode in Mode
            for s in durable_grants(
                subjects.stream_name(mode, StreamRole.FEEDS),
                feed_durable(agency, mode),
                subjects.feed_of(mode, agency),
                api=BORROWED_JS_API,
            ).subjects
        ]
        assert api == expected


def test_the_core_account_lends_each_agency_only_what_is_its_own() -> None:
    perimeters = both()
    for share in perimeters.shares:
        if share.borrower == CORE_ACCOUNT:  # requests the core account makes of another
            if share.owner == agency_account(Agency.EXERCISE_CONTROL):
                assert share.subject in {
                    subjects.exercise_control(op.id) for op in perimeters.operations
                }
            else:
                assert share.subject == health_subject(share.owner.lower())
            continue
        agency = Agency(share.borrower.lower())
        assert share.owner == CORE_ACCOUNT
        if share.kind is ShareKind.STREAM:
            assert share.subject in {
                subjects.feed_of(op.mode, agency, op.id) for op in perimeters.operations
            }
        elif share.subject.startswith("ifc."):
            assert share.subject in {
                subjects.proposals_of(op.mode, agency, op.id) for op in perimeters.operations
            }
        else:
            assert any(feed_durable(agency, mode) in share.subject for mode in Mode)
            assert share.alias is not None or share.subject.startswith("$JS.ACK.")


def test_trainers_run_their_exercises_and_the_crisis_cell_api_may_drive_them() -> None:
    perimeters = both()
    control = subjects.exercise_control(festival().operation.id)
    trainer = perimeters.user(TRAINER)
    assert control in trainer.permissions.subscribe
    assert trainer.permissions.responds
    assert control in perimeters.user("crisis-api").permissions.publish
    for agency in FIELD_AGENCIES:
        assert not any(overlap(control, s) for s in allowed(perimeters.user(agency.value)))


def test_a_live_only_configuration_has_no_exercise_at_all() -> None:
    perimeters = build_perimeters([festival(), exercise_twin(festival())], (Mode.LIVE,))
    assert [op.mode for op in perimeters.operations] == [Mode.LIVE]
    names = {u.name for u in perimeters.users}
    assert TRAINER not in names
    assert desk_user(Mode.EXERCISE) not in names
    for user in perimeters.users:
        assert not any("exercise" in s.lower() for s in allowed(user)), user.name


def test_charters_that_cannot_share_a_broker_are_refused() -> None:
    with pytest.raises(PerimeterError, match="two charters"):
        build_perimeters([festival(), festival()])
    with pytest.raises(PerimeterError, match="no mode"):
        build_perimeters([festival()], ())


# --- the configuration text ----------------------------------------------------------------


def accounts_of(text: str) -> dict[str, Any]:
    """The accounts block (JSON, after the header comments)."""
    block: dict[str, Any] = json.loads(text.split("accounts ", 1)[1])
    return block


def test_the_configuration_holds_hashes_never_passwords(tmp_path: Path) -> None:
    perimeters = both()
    text = render(perimeters, hashed_passwords(perimeters, tmp_path, cost=MIN_COST))
    entries = {u["user"]: u for a in accounts_of(text).values() for u in a["users"]}
    assert set(entries) == {u.name for u in perimeters.users}
    for name, entry in entries.items():
        password = read_password(tmp_path, name)
        assert password not in text
        assert verify_password(password, entry["password"])


def test_every_import_is_an_export_of_its_owner_to_that_account(tmp_path: Path) -> None:
    perimeters = both()
    accounts = accounts_of(render(perimeters, hashed_passwords(perimeters, tmp_path, MIN_COST)))
    assert [name for name, block in accounts.items() if "jetstream" in block] == [CORE_ACCOUNT]
    for name, block in accounts.items():
        for entry in block.get("imports", []):
            ((kind, source),) = [(k, v) for k, v in entry.items() if k != "to"]
            exported = accounts[source["account"]]["exports"]
            assert any(
                e.get(kind) == source["subject"] and name in e["accounts"] for e in exported
            ), (name, source)


def test_nothing_allowed_is_written_as_everything_denied(tmp_path: Path) -> None:
    perimeters = both()
    accounts = accounts_of(render(perimeters, hashed_passwords(perimeters, tmp_path, MIN_COST)))
    (oversight,) = accounts["OVERSIGHT"]["users"]
    assert oversight["permissions"] == {
        "publish": {"deny": [EVERYTHING]},
        "subscribe": {"deny": [EVERYTHING]},
    }


# --- passwords -----------------------------------------------------------------------------


def test_a_password_is_created_once_private_and_kept(tmp_path: Path) -> None:
    first = ensure_password(tmp_path, "securite_privee")
    path = password_path(tmp_path, "securite_privee")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert (
        ensure_password(tmp_path, "securite_privee")
        == first
        == read_password(tmp_path, "securite_privee")
    )
    assert len(first) >= 40
    assert ensure_password(tmp_path, "mediation") != first


def test_a_missing_or_empty_password_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NatsSecretError, match=r"mediation\.password"):
        read_password(tmp_path, "mediation")
    path = password_path(tmp_path, "mediation")
    path.parent.mkdir(parents=True)
    path.write_text("\n")
    with pytest.raises(NatsSecretError, match="empty"):
        read_password(tmp_path, "mediation")


def test_hashes_are_bcrypt_salted_and_checked() -> None:
    hashed = hash_password("correct horse", cost=MIN_COST)
    assert hashed.startswith("$2b$04$")
    assert hashed != hash_password("correct horse", cost=MIN_COST)
    assert verify_password("correct horse", hashed)
    assert not verify_password("wrong horse", hashed)
    with pytest.raises(NatsSecretError, match="cost"):
        hash_password("x", cost=3)


def test_a_login_never_shows_its_password() -> None:
    login = NatsLogin("mediation", "s3cret-value")
    assert "s3cret-value" not in repr(login)
    assert login.connect_options()["inbox_prefix"] == "_INBOX_mediation"


# --- the command ---------------------------------------------------------------------------


def test_the_command_writes_a_private_configuration_from_the_charter(tmp_path: Path) -> None:
    out = tmp_path / "conf" / "perimeters.conf"
    result = CliRunner().invoke(
        app,
        [
            "infra", "nats-config", "--charter", str(FESTIVAL),
            "--secrets-dir", str(tmp_path / "secrets"), "--mode", "live", "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    accounts = accounts_of(out.read_text())
    assert "SECURITE_PRIVEE" in accounts
    assert password_path(tmp_path / "secrets", OPERATOR).exists()
    assert "exercise" not in out.read_text().split("accounts ", 1)[1]


@pytest.mark.parametrize(
    "arguments",
    [
        ["infra", "nats-config"],
        ["infra", "nats-config", "--cluster", "--charter", str(FESTIVAL)],
    ],
)
def test_the_command_wants_the_cluster_or_charters(arguments: list[str]) -> None:
    assert CliRunner().invoke(app, arguments).exit_code == 2


def test_a_broken_charter_writes_nothing(tmp_path: Path) -> None:
    broken = Path(__file__).parents[1] / "data" / "charters" / "broken-charter.yaml"
    out = tmp_path / "perimeters.conf"
    result = CliRunner().invoke(
        app,
        [
            "infra", "nats-config", "--charter", str(broken),
            "--secrets-dir", str(tmp_path), "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert not out.exists()


# --- a process's own credentials -----------------------------------------------------------


def test_without_a_user_a_process_connects_without_credentials(tmp_path: Path) -> None:
    settings = RuntimeSettings(secrets_dir=tmp_path)
    assert settings.nats_login() is None
    assert nats_options(settings) == {}


def test_a_process_reads_its_password_from_the_environment_or_the_secrets_dir(
    tmp_path: Path,
) -> None:
    stored = ensure_password(tmp_path, "mediation")
    from_dir = RuntimeSettings(secrets_dir=tmp_path, nats_user="mediation").nats_login()
    assert from_dir == NatsLogin("mediation", stored)
    given = RuntimeSettings(
        secrets_dir=tmp_path, nats_user="mediation", nats_password=SecretStr("from-env")
    )
    assert nats_options(given) == {
        "user": "mediation",
        "password": "from-env",
        "inbox_prefix": "_INBOX_mediation",
    }
    elsewhere = tmp_path / "mounted-secret"
    elsewhere.write_text("from-file\n")
    mounted = RuntimeSettings(nats_user="mediation", nats_password_file=elsewhere)
    assert mounted.nats_login() == NatsLogin("mediation", "from-file")
    with pytest.raises(NatsSecretError):
        RuntimeSettings(secrets_dir=tmp_path, nats_user="coordinator").nats_login()
