"""`python -m deploy.cluster [--replicas N] [--port P] [--turn]`: start the cluster, print its URLs, run until Ctrl+C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from deploy.cluster.cluster import Cluster


def main(argv: list[str] | None = None) -> int:
    """Start a cluster for an operator to try; stop it (and remove its files unless --workdir) on Ctrl+C."""
    parser = argparse.ArgumentParser(prog="deploy/cluster/up", description=__doc__)
    parser.add_argument(
        "--replicas", type=int, default=2, help="hub serve replicas behind HAProxy (default 2)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="the load balancer's HTTPS port (default: a free one)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="keep logs, keys and configuration here (kept after stop)"
    )
    parser.add_argument("--dev-pki", type=Path, help="a `hub dev-pki` directory (virtual card test roots)")
    parser.add_argument(
        "--turn",
        action="store_true",
        help="also start coturn (deploy/coturn/turnserver.conf) and hand its TURN credentials out",
    )
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    cluster = Cluster(
        replicas=args.replicas,
        lb_port=args.port,
        workdir=args.workdir,
        dev_pki_dir=args.dev_pki,
        turn=args.turn,
    )
    print(
        "starting PostgreSQL, migrations, HAProxy, the replicas (and coturn with --turn)…",
        file=sys.stderr,
        flush=True,
    )
    with cluster:
        print(cluster.summary(), flush=True)
        stopping.wait()
        print("stopping…", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
