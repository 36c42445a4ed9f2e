"""Throughput benchmark of the notice worker against a naive worker and the transport ceiling."""
