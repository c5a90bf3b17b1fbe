"""Reliability and security proof, by command (longer runs than CI's):

- `python -m reliability.fuzz --examples N`   schemathesis over /openapi.json + mutated FHIR bodies
- `python -m reliability.crash --rounds N`     SIGKILL gunicorn mid-load, restart, check every ack
- `python -m reliability.soak --minutes M`     mixed load against gunicorn on loopback

The CI versions are tests/test_fuzz_*.py, tests/test_crash_durability.py, tests/test_soak.py.
"""
