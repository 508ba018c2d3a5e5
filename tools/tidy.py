#!/usr/bin/env python3
"""zinc tidy check: the architecture and safety rules that the compiler cannot see.

Rules (../shared/DESIGN.md section 5, STYLE.md):
  layering   a module includes only the project modules it may depend on;
  internal   a module's private headers (internal.h, *_internal.h) are included only by that
             module's own files: another module uses its public header, even where layering
             lets it depend on the module (a white-box test names its exception);
  purity     consensus/ and store/ never touch DPDK, a clock, rand, printf-style output or the
             system allocator (store/ allocates through its allocator layer, listed in
             tools/tidy-allow.txt); consensus/ and common/ never include liburcu, jemalloc or
             liburing;
  banned     no strcpy, strcat, sprintf, vsprintf, gets, atoi, strtok anywhere.
Comments and string literals are ignored. Exceptions live in tools/tidy-allow.txt, one per line:
`path rule  # why`.

Usage: tidy.py [ROOT]          check the tree (default: the repository root)
       tidy.py --self-test     prove that each rule fires (a consensus/ file including a DPDK
                               header must fail the check)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

MODULES = ["common", "proto", "consensus", "store", "dataplane", "node", "mgmt", "client",
           "perf", "tests", "tools"]
ALL = set(MODULES)
# Project modules each module may include (DESIGN.md section 5).
MAY_INCLUDE = {
    "common": {"common"},
    "proto": {"common", "proto"},
    "consensus": {"common", "proto", "consensus"},
    "store": {"common", "proto", "store"},
    "dataplane": {"common", "proto", "dataplane"},
    "node": {"common", "proto", "consensus", "store", "dataplane", "node", "mgmt"},
    "mgmt": {"common", "proto", "consensus", "store", "dataplane", "node", "mgmt"},
    "client": {"common", "proto", "dataplane", "client"},
    "perf": ALL,
    "tests": ALL,
    "tools": ALL,
}
# System headers a module must not include (prefix match on the header name).
BANNED_HEADERS = {
    "common": ["rte_", "urcu", "jemalloc", "liburing"],
    "proto": ["rte_", "urcu", "jemalloc", "liburing"],
    "consensus": ["rte_", "urcu", "jemalloc", "liburing", "pthread.h", "sys/socket.h",
                  "unistd.h", "fcntl.h", "time.h", "sys/time.h"],
    "store": ["rte_"],
}
CLOCK = r"\b(clock_gettime|gettimeofday|time|rdtsc|__rdtsc|rte_rdtsc\w*|rte_get_timer\w*|ftime)\s*\("
RAND = r"\b(rand|srand|random|srandom|drand48|lrand48|rand_r)\s*\("
PRINT = r"\b(printf|fprintf|vprintf|vfprintf|puts|fputs|perror|dprintf)\s*\("
ALLOC = r"\b(malloc|calloc|realloc|free|strdup|strndup|aligned_alloc|posix_memalign)\s*\("
DPDK = r"\brte_\w+"
PURITY = {
    "consensus": [("dpdk", DPDK), ("clock", CLOCK), ("rand", RAND), ("print", PRINT),
                  ("alloc", ALLOC)],
    "store": [("dpdk", DPDK), ("clock", CLOCK), ("rand", RAND), ("print", PRINT),
              ("alloc", ALLOC)],
}
BANNED_CALLS = r"\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|strtok)\s*\("
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
INTERNAL_HEADER = re.compile(r"(^|_)internal\.h$")


def strip_c(text):
    """Blank out comments and string/char literals, keeping line structure."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            seg = text[i:j]
            # keep #include "x" visible: includes are parsed from the raw text separately
            out.append(c + re.sub(r"[^\n]", " ", seg[1:-1]) + c if len(seg) >= 2 else seg)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def load_allow(root):
    allow = set()
    path = os.path.join(root, "tools", "tidy-allow.txt")
    if os.path.exists(path):
        for line in open(path):
            line = line.split("#", 1)[0].strip()
            if line:
                p, rule = line.split()
                allow.add((p, rule))
    return allow


def sources(root):
    for mod in MODULES:
        base = os.path.join(root, mod)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "build"))]
            for f in sorted(filenames):
                if f.endswith((".c", ".h")):
                    yield mod, os.path.relpath(os.path.join(dirpath, f), root)


def check(root):
    allow = load_allow(root)
    problems = []
    for mod, rel in sources(root):
        raw = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
        code = strip_c(raw)
        lineno = lambda pos: code.count("\n", 0, pos) + 1

        def report(rule, pos, what):
            if (rel, rule) not in allow:
                problems.append(f"{rel}:{lineno(pos)}: [{rule}] {what}")

        for m in INCLUDE.finditer(raw):
            kind, name = m.group(1), m.group(2)
            head = name.split("/", 1)[0]
            if kind == '"' and "/" in name and head in ALL and head not in MAY_INCLUDE[mod]:
                report("layering", m.start(), f"{mod}/ may not include {name}")
            elif (kind == '"' and "/" in name and head in ALL and head != mod and
                  INTERNAL_HEADER.search(os.path.basename(name))):
                report("internal", m.start(),
                       f"{mod}/ may not include {head}/'s private header {name}")
            for banned in BANNED_HEADERS.get(mod, []):
                if name.startswith(banned) or (kind == "<" and os.path.basename(name).startswith(banned)):
                    report("layering", m.start(), f"{mod}/ may not include <{name}>")
        for rule, pattern in PURITY.get(mod, []):
            for m in re.finditer(pattern, code):
                report(rule, m.start(), f"{mod}/ may not use {m.group(0).strip('( ')}")
        for m in re.finditer(BANNED_CALLS, code):
            report("banned", m.start(), f"banned call {m.group(1)}() (use the bounded variant)")
    return problems


def self_test():
    tmp = tempfile.mkdtemp(prefix="zn-tidy-")
    try:
        os.makedirs(os.path.join(tmp, "consensus"))
        os.makedirs(os.path.join(tmp, "common"))
        good = os.path.join(tmp, "consensus", "good.c")
        open(good, "w").write('#include "common/zn_err.h"\n/* printf( in a comment is fine */\n'
                              'static const char *s = "rand( in a string is fine";\n')
        assert check(tmp) == [], check(tmp)
        cases = {
            "dpdk_header.c": ("#include <rte_eal.h>\n", "layering"),
            "dpdk_call.c": ("void f(void) { rte_eal_init(0, 0); }\n", "dpdk"),
            "clock.c": ("void f(void) { clock_gettime(1, 0); }\n", "clock"),
            "rand.c": ("int f(void) { return rand(); }\n", "rand"),
            "print.c": ('void f(void) { printf("x"); }\n', "print"),
            "alloc.c": ("void *f(void) { return malloc(4); }\n", "alloc"),
            "layer.c": ('#include "store/tree.h"\n', "layering"),
            "banned.c": ("void f(char *d) { strcpy(d, d); }\n", "banned"),
        }
        for name, (text, rule) in cases.items():
            path = os.path.join(tmp, "consensus", name)
            open(path, "w").write(text)
            found = check(tmp)
            assert any(f"[{rule}]" in p and name in p for p in found), (name, found)
            os.remove(path)
        # Private headers: another module may not include them even where layering allows the
        # module (node/ may use store/), the owning module may, and so may the public header.
        os.makedirs(os.path.join(tmp, "node"))
        os.makedirs(os.path.join(tmp, "store"))
        for name, text in {"own.c": '#include "store/internal.h"\n#include "store/wal_internal.h"\n'}.items():
            open(os.path.join(tmp, "store", name), "w").write(text)
        open(os.path.join(tmp, "node", "public.c"), "w").write('#include "store/store.h"\n'
                                                               '#include "node/internal.h"\n')
        assert check(tmp) == [], check(tmp)
        internal_cases = {"peek.c": '#include "store/internal.h"\n',
                          "peek_wal.c": '#include "store/wal_internal.h"\n'}
        for name, text in internal_cases.items():
            path = os.path.join(tmp, "node", name)
            open(path, "w").write(text)
            found = check(tmp)
            assert len(found) == 1 and "[internal]" in found[0] and name in found[0], (name, found)
            os.remove(path)
        # The real command-line entry point must exit non-zero on a DPDK include in consensus/.
        open(os.path.join(tmp, "consensus", "bad.c"), "w").write("#include <rte_ethdev.h>\n")
        rc = subprocess.run([sys.executable, __file__, tmp], capture_output=True, text=True)
        assert rc.returncode == 1 and "rte_ethdev.h" in rc.stdout, rc
        print(f"tidy self-test: {len(cases) + len(internal_cases) + 1} violations detected, "
              "clean files accepted")
        return 0
    finally:
        shutil.rmtree(tmp)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = check(root)
    nfiles = sum(1 for _ in sources(root))
    for p in problems:
        print(p)
    print(f"tidy: {nfiles} files checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
