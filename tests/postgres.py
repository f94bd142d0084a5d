"""A real PostgreSQL for the tests: bench/postgres_cluster.py's throwaway cluster (bench.county starts one too)."""

from bench.postgres_cluster import Cluster, running_cluster

__all__ = ["Cluster", "running_cluster"]
