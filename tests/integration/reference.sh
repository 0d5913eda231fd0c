#!/usr/bin/env bash
# tests/integration/reference.sh -- doc/reference.md (README's reference and
# the man pages' one source) against the code: every key the config loader
# accepts (the keys[] lists of proto/config.c) has its row, every long
# option a program's --help shows is in its page, each subcommand of zsse
# is listed; the man pages the build made render without a groff warning
# and carry the same rows.  A key or option added to the code without its
# entry fails here.
. "$top_srcdir/tests/lib.sh"
t_init reference
ref="$top_srcdir/doc/reference.md"

# config keys: every quoted name in a `keys[] = { ... }` list of config.c
keys=$(python3 - "$top_srcdir/proto/config.c" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
for body in re.findall(r'keys\[\]\s*=\s*\{([^}]*)\}', src):
    for k in re.findall(r'"([^"]+)"', body):
        print(k)
PY
)
ok "found the loader's key lists" test "$(wc -w <<<"$keys")" -ge 30
missing=""
for k in $keys; do
    # a row: | `key` | or, for a key of a nested object, | `parent.key` |
    grep -qE "^\| \`([a-z_]+(\[\])?\.)?$k\` \|" "$ref" || missing="$missing $k"
done
eq "every config key has a row in doc/reference.md" "" "${missing# }"

# options: every --long option of each program's --help in its section
section() { awk -v s="<!-- man: $1 " 'index($0, s) == 1 { on = 1; next } /^<!-- man: / { on = 0 } on' "$ref"; }
for prog in zsse-broker zsse-fcgi zsse; do
    missing=""
    for o in $("$prog" --help 2>&1 | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        section "$prog" | grep -q -- "$o" || missing="$missing $o"
    done
    eq "$prog: every --help option in its page" "" "${missing# }"
done
missing=""
for c in $(zsse --help 2>&1 | awk '/^  [a-z]/ { print $1 }' | sort -u); do
    section zsse | grep -qE "^\| \`$c[ \`]" || missing="$missing $c"
done
eq "zsse: every command in its page" "" "${missing# }"

# the man pages the build made
for page in zsse.1 zsse-broker.8 zsse-fcgi.8 zsse-handoff.8 zsse.json.5; do
    f="$top_builddir/doc/$page"
    ok "$page built" test -s "$f"
    w=$(groff -man -ww -z "$f" 2>&1)
    eq "$page: groff renders it without warnings" "" "$w"
done
ok "zsse.json(5) carries the rows (key_file, max_lifetime)" eval \
    'grep -qF "key_file\\fR (file" "$top_builddir/doc/zsse.json.5" &&
     grep -qF "max_lifetime\\fR (integer" "$top_builddir/doc/zsse.json.5"'
t_done
