"""Boxoffice benchmarks: `make bench` (or `python -m bench --help`).

Every scenario talks to real server processes on loopback only, and every loop in it is
bounded in count and in time.
"""
