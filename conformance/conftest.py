"""Conformance suites run the real runtimes; each lives in a venv of its own (README.md here)."""
