"""A production-shaped hub cluster on one machine: its own PostgreSQL, N `hub serve` replicas, HAProxy with TLS.

`Cluster` is the API of tests and benches; `python -m deploy.cluster` (or `deploy/cluster/up`) starts one for an
operator and prints its URLs. See docs/operations.md §Cluster.
"""

from deploy.cluster.cluster import Cluster, ClusterError, Replica

__all__ = ["Cluster", "ClusterError", "Replica"]
