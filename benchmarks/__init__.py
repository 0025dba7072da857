"""Benchmarks of dedup against its peers (datasketch, rensa); see docs/benchmarks.md."""
