"""Run every benchmark with short default settings: `python -m bench` (or `make bench`).

Each prints its figures next to a baseline measured in the same run; see docs/benchmarks.md.
`python -m bench --tiny` runs each with the smallest settings, to check they all still run.
"""
import argparse
import sys

# Each benchmark's main(argv) with its settings: (short, tiny).
BENCHMARKS = (
    ("audit_append", ["--seconds", "4"], ["--seconds", "0.5"]),
    ("intake", ["--seconds", "10"], ["--seconds", "1", "--clients", "2", "--workers", "1"]),
    ("upload", ["--size-mb", "256"], ["--size-mb", "1"]),
    ("photos", [], ["--repeat", "1"]),
    ("ranking", [], ["--offices", "5", "--visits", "2", "--repeat", "1"]),
    ("exports", [], ["--visits", "200"]),
    ("s3_serve", [], ["--requests", "20"]),
    ("xlsform", ["--rows", "200000"], ["--rows", "2000", "--claimed-rows", "20"]),
    ("alerts", [], ["--visits", "20", "--idle", "1"]),
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true",
                        help="smallest settings: checks that every benchmark runs")
    parser.add_argument("--only", choices=[name for name, _, _ in BENCHMARKS], action="append",
                        help="run only this benchmark (may be repeated)")
    args = parser.parse_args(argv)
    for name, short, tiny in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        try:
            module = __import__(f"bench.{name}", fromlist=["main"])
        except ImportError as exc:  # a benchmark whose feature is not installed here
            print(f"skipping bench.{name}: {exc}", file=sys.stderr)
            continue
        print(f"\n## bench.{name}", flush=True)
        module.main(tiny if args.tiny else short)


if __name__ == "__main__":
    main()
