"""Cluster mode (`pricewatch run --cluster`): several replicas on one PostgreSQL share one
schedule through Procrastinate, a PostgreSQL job queue. This package is its only importer, and
is imported only in cluster mode (the `pricewatch[cluster]` extra). See docs/cluster.md.

- ``slots``: pure planning, one window's due slots -> jobs (offer, slot, when, host lock)
- ``engine``: the Procrastinate app, its tasks and its worker
- ``replica``: one replica's life: start-up under a lock, the worker, the web server, shutdown
"""
