"""Cluster start-up under the start-up lock, three replicas racing in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import pytest

from pricewatch import config
from pricewatch.cluster import engine as cluster_engine
from pricewatch.cluster.replica import Replica
from pricewatch.db.database import open_database
from tests.integration.cluster.support import cluster_config, cluster_database

pytestmark = pytest.mark.postgres


async def test_racing_start_ups_migrate_and_sync_once(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Three replicas' start-ups at the same instant on an empty database: one migrates,
    installs the engine's schema and adds the offers; the others wait and find them done."""
    caplog.set_level(logging.INFO, logger="pricewatch.cluster.replica")
    async with cluster_database() as db:
        urls = [f"http://127.0.0.1:1/p{i}" for i in range(3)]
        settings = config.load(cluster_config(tmp_path / "c.yaml", db, urls), environ={})
        async with contextlib.AsyncExitStack() as stack:
            runs = []
            for _ in range(3):
                engine = await stack.enter_async_context(open_database(settings, upgrade=False))
                replica = Replica(settings, handle_signals=False)
                app = cluster_engine.build(settings.database_url, settings.model.cluster,
                                           replica, pool_size=2)
                await stack.enter_async_context(app.open_async())
                runs.append(replica._start_up(engine, app))
            ids = await asyncio.gather(*runs)
    assert ids[0] == ids[1] == ids[2]
    assert len(ids[0]) == 3
    text = caplog.text
    assert text.count("database migrated from empty") == 1
    assert text.count("job engine schema installed") == 1
    assert text.count("catalogue synced: 3 offers, 3 new") == 1
    assert text.count("catalogue synced: 3 offers, 0 new") == 2
