"""Benchmarks, run as ``python -m benchmarks.<name>``; each writes its section of
``docs/benchmarks.md``. They measure and report; they assert nothing about timings."""
