"""The ``--cluster`` option of the commands that run sweeps on Ray (``codec test``, ``uvq score``)."""

from __future__ import annotations

import argparse


def add_cluster_argument(parser: argparse.ArgumentParser, job: str) -> None:
    parser.add_argument(
        "--cluster", metavar="local|auto|ADDRESS",
        help=f"run each {job} as a Ray task (needs pip install vidquant[cluster]): local starts a cluster on this "
             "machine, auto joins the one named by RAY_ADDRESS, HOST:PORT joins that one; input paths must be "
             "readable on every node (default: no Ray, as without the flag)")
