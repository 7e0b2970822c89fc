#!/usr/bin/env bash
# Reruns the benchmark scripts of scripts/bench/ and rewrites their tables in the document:
# each script NAME.sh prints, at its end, a markdown block framed by <!-- table --> and
# <!-- /table --> (a "Measured <date> on <machine> ...; command: `...`" line, then its tables;
# scripts/bench/common.sh); all.sh replaces the text between <!-- bench:NAME begin --> and
# <!-- bench:NAME end --> in the document with that block, right after the script ends (the
# document is written to a temporary file next to it, then renamed over it). Scripts run one at
# a time with their default (full) arguments, or with --smoke; every block is also printed.
#   scripts/bench/all.sh [--smoke] [--doc FILE] [NAME...]
#     NAME...      scripts to run (default: every scripts/bench/*.sh but all.sh and builds.sh,
#                  which needs two binaries: OLD_ZOO=A NEW_ZOO=B scripts/bench/all.sh builds)
#     --smoke      the scripts' --smoke modes (tiny sizes); the document is then left alone
#                  unless --doc names one
#     --doc FILE   the document to rewrite (default docs/BENCHMARKS.md, without --smoke)
# Every NAME's marker pair is checked before anything runs; a missing one is an error naming it.
# A script that fails (or prints no block) leaves its section as it was; all.sh then goes on
# with the others and exits 1 naming the failures. ZOO=/path/to/zoo passes through to the scripts.
set -euo pipefail
cd "$(dirname "$0")/../.."
smoke=0 doc="" names=()
while [ $# -gt 0 ]; do
  case $1 in
    --smoke) smoke=1 ;;
    --doc) [ $# -ge 2 ] || { echo "all.sh: --doc needs a FILE" >&2; exit 2; }; doc=$2; shift ;;
    --doc=*) doc=${1#--doc=} ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "all.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) names+=("$1") ;;
  esac
  shift
done
if [ ${#names[@]} -eq 0 ]; then
  for script in scripts/bench/*.sh; do
    name=$(basename "$script" .sh)
    case $name in all|common|builds) ;; *) names+=("$name") ;; esac
  done
fi
[ -n "$doc" ] || [ "$smoke" = 1 ] || doc=docs/BENCHMARKS.md
for name in "${names[@]}"; do
  [ -x "scripts/bench/$name.sh" ] && [ "$name" != all ] && [ "$name" != common ] \
    || { echo "all.sh: no benchmark script scripts/bench/$name.sh" >&2; exit 2; }
done

# markers DOC check NAME... | markers DOC rewrite NAME BLOCK_FILE
markers() {
  /usr/bin/python3 - "$@" <<'PY'
import os, sys, tempfile
doc, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(doc, encoding="utf-8").read()
def span(name):
    begin, end = f"<!-- bench:{name} begin -->", f"<!-- bench:{name} end -->"
    b, e = text.count(begin), text.count(end)
    if b != 1 or e != 1 or text.index(begin) > text.index(end):
        sys.exit(f"all.sh: {doc} needs exactly one marker pair {begin} ... {end} "
                 f"(found {b} begin, {e} end{', in the wrong order' if b == e == 1 else ''})")
    return text.index(begin) + len(begin), text.index(end)
if mode == "check":
    for name in args:
        span(name)
    sys.exit(0)
name, block_file = args
lines = open(block_file, encoding="utf-8").read().strip("\n").split("\n")
inner = "\n".join(l for l in lines if l.strip() not in ("<!-- table -->", "<!-- /table -->")).strip("\n")
start, stop = span(name)
new = text[:start] + "\n" + inner + "\n\n" + text[stop:]  # a blank line ends the last table
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(doc)), prefix=".bench-", suffix=".md")
try:
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(new)
    os.chmod(tmp, os.stat(doc).st_mode & 0o7777)
    os.replace(tmp, doc)
except BaseException:
    os.unlink(tmp)
    raise
PY
}
if [ -n "$doc" ]; then
  [ -f "$doc" ] || { echo "all.sh: no document $doc" >&2; exit 2; }
  markers "$doc" check "${names[@]}"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=()
for name in "${names[@]}"; do
  flags=()
  [ "$smoke" = 0 ] || flags=(--smoke)
  echo "== scripts/bench/$name.sh ${flags[*]}" >&2
  start=$(date +%s)
  if ! "scripts/bench/$name.sh" "${flags[@]}" > "$tmp/$name.out"; then
    echo "all.sh: scripts/bench/$name.sh failed" >&2; failed+=("$name"); continue
  fi
  # The last block the script printed.
  awk '/^<!-- table -->$/ { block = ""; inside = 1 }
       inside { block = block $0 "\n" }
       /^<!-- \/table -->$/ { if (inside) last = block; inside = 0 }
       END { printf "%s", last }' "$tmp/$name.out" > "$tmp/$name.block"
  if [ ! -s "$tmp/$name.block" ]; then
    echo "all.sh: scripts/bench/$name.sh printed no <!-- table --> block" >&2; failed+=("$name"); continue
  fi
  cat "$tmp/$name.block"
  if [ -n "$doc" ]; then
    markers "$doc" rewrite "$name" "$tmp/$name.block"
    echo "all.sh: $name ($(( $(date +%s) - start )) s) rewritten in $doc" >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "all.sh: failed: ${failed[*]}" >&2
  exit 1
fi
