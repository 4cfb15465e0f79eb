"""Faults under a steady load of proposals, on real servers with the services as real
processes: whatever breaks, every proposal sent ends as exactly one timeline record
(accepted or rejected) on the stream and in PostgreSQL, and the projection equals a rebuild
from the stream."""

from __future__ import annotations

import pytest

from simulations.chaos import ChaosConfig, ChaosPostgres, ChaosRow, Scenario, run_scenario

pytestmark = pytest.mark.faults


def assert_exact(row: ChaosRow, config: ChaosConfig) -> None:
    """Nothing lost, nothing duplicated, nothing else recorded; both outcomes flowed."""
    assert row.settled, row
    assert (row.sent, row.lost, row.duplicated, row.unexpected) == (config.count, 0, 0, 0), row
    assert row.stream_records == row.projected_records == row.sent
    assert row.accepted > 0
    assert row.rejected > 0
    assert row.accepted + row.rejected == row.sent
    assert (row.unconfirmed, row.dead_letters) == (0, 0)
    assert row.digest_equal


async def test_a_coordinator_killed_mid_load_restarts_and_loses_nothing(
    chaos_config: ChaosConfig, chaos_postgres: ChaosPostgres
) -> None:
    # when the coordinator is killed -9 under load, and its supervisor restarts it
    row = await run_scenario(Scenario.COORDINATOR_KILL, chaos_config, chaos_postgres)
    # then every proposal is exactly one record
    assert_exact(row, chaos_config)


async def test_a_projector_killed_mid_batch_converges_on_the_rebuilt_digest(
    chaos_config: ChaosConfig, chaos_postgres: ChaosPostgres
) -> None:
    # when the projector is killed -9 while a batch transaction is open
    row = await run_scenario(Scenario.PROJECTOR_KILL, chaos_config, chaos_postgres)
    assert row.detail["transaction_open"]
    # then the restarted one resumes from its checkpoint: the projection equals a rebuild
    assert_exact(row, chaos_config)


async def test_postgres_crashed_mid_load_is_caught_up_by_the_projector(
    chaos_config: ChaosConfig, chaos_postgres: ChaosPostgres
) -> None:
    # when PostgreSQL is aborted (immediate stop), stays down, then starts again
    row = await run_scenario(Scenario.POSTGRES_RESTART, chaos_config, chaos_postgres)
    # then the projector's batches failed meanwhile, were retried, and nothing is missing
    assert row.detail["failures"] > 0
    assert_exact(row, chaos_config)


async def test_a_cluster_node_killed_under_load_loses_no_acknowledged_event(
    chaos_config: ChaosConfig, chaos_postgres: ChaosPostgres
) -> None:
    # when the node leading the timeline (R3, every node fsyncing each write) is killed -9
    row = await run_scenario(Scenario.NATS_NODE_KILL, chaos_config, chaos_postgres)
    detail = row.detail
    assert detail["sync_always"] == {"n1": True, "n2": True, "n3": True}
    # then another node leads, and the two left decide and project the rest of the load
    assert detail["new_leader"] != detail["killed_node"]
    assert detail["settled_without_node"]
    assert detail["appended_while_down"] > 0
    # and once the node is back, every acknowledged proposal is exactly one record
    assert_exact(row, chaos_config)


async def test_an_agency_service_restarted_under_load_keeps_every_report_single(
    chaos_config: ChaosConfig, chaos_postgres: ChaosPostgres
) -> None:
    # when the service of the agency with most units is killed -9 while its units report
    row = await run_scenario(Scenario.AGENCY_RESTART, chaos_config, chaos_postgres)
    # then units sent again what was not acknowledged, and each report is one record
    assert row.retries > 0
    assert "refused_by_service" not in row.detail
    assert_exact(row, chaos_config)


async def test_a_standby_coordinator_takes_over_when_the_active_one_dies(
    chaos_config: ChaosConfig, chaos_postgres: ChaosPostgres
) -> None:
    # given two coordinators sharing the durable consumer (one holds its lease)
    # when the active one is killed -9 under load
    row = await run_scenario(Scenario.COORDINATOR_FAILOVER, chaos_config, chaos_postgres)
    # then a live instance took the lease (the standby, or the killed one restarted, first
    # come), folded the timeline and decided the rest
    assert "took_over" in row.detail
    assert row.detail["instances"] == 2  # the killed one came back
    assert_exact(row, chaos_config)


async def test_a_standby_projector_takes_over_when_the_active_one_dies(
    chaos_config: ChaosConfig, chaos_postgres: ChaosPostgres
) -> None:
    # given two projectors sharing the durable consumer, when the active one is killed -9
    row = await run_scenario(Scenario.PROJECTOR_FAILOVER, chaos_config, chaos_postgres)
    # then a live instance projects the rest, and the projection equals a rebuild
    assert "took_over" in row.detail
    assert_exact(row, chaos_config)
