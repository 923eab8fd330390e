"""Startup logs: what a runtime printed about its memory, recomputed with kvcalc's engines
(``kvcalc check-log``). reader: a log as people paste it; check: starts and lines; vllm, sglang,
llamacpp: each runtime's lines; record: what is found; report: the answer."""
