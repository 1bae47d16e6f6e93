"""Run every benchmark with short default settings: `python -m bench` (or `make bench`).

Each prints its figures next to a baseline measured in the same run; see docs/benchmarks.md.
"""
import sys

from bench import audit_append, intake

if __name__ == "__main__":
    audit_append.main(["--seconds", "4"])
    intake.main(["--seconds", "10"])
    for name, args in (("upload", ["--size-mb", "256"]), ("photos", []), ("ranking", [])):
        try:
            module = __import__(f"bench.{name}", fromlist=["main"])
        except ImportError as exc:  # a benchmark whose feature is not installed here
            print(f"skipping bench.{name}: {exc}", file=sys.stderr)
            continue
        module.main(args)
