#!/usr/bin/env python3
"""The plugin guide against the ABI it documents.

Parses include/berth/plugin.h and include/berth/error.h and checks that
docs/plugin-guide.md names, in backticks:

  - every member of every `typedef struct berth_X { ... } berth_X;`, in the
    subsection of the guide's "Reference" section whose heading names
    `berth_X` (so a new member of berth_host must be documented with
    berth_host, not merely mentioned somewhere);
  - every BERTH_* enumerator, in the Reference subsection of its enum;
  - every BERTH_* macro, and every typedef'd berth_* type, anywhere.

A name counts when an inline code span is exactly the name, or the name
followed by a parenthesised argument list (`before()`, `BERTH_HOST_HAS(host,
member)`). Code in fenced blocks does not count: a name that only appears
in an example is not documented.

The run also proves the check is not vacuous: it adds a member to a copy
of plugin.h and expects the check of that copy to fail.

usage: test_plugin_guide.py [--header FILE]... [--guide FILE]

--header replaces the default pair of headers (give it once per header);
--guide replaces docs/plugin-guide.md. Prints `ok - ...` / `not ok - ...`
per check and `N passed, M failed`; exits 1 when any check fails.
"""

import argparse
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("BERTH_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))

HEADERS = [
    os.path.join(SOURCE_DIR, "include", "berth", "plugin.h"),
    os.path.join(SOURCE_DIR, "include", "berth", "error.h"),
]
GUIDE = os.path.join(SOURCE_DIR, "docs", "plugin-guide.md")


class ParseError(Exception):
    pass


# ---------------------------------------------------------------------------
# The headers
# ---------------------------------------------------------------------------

def strip_comments(text):
    """Blank out comments, keeping newlines so line numbers stay right."""
    def blank(m):
        s = m.group(0)
        if s.startswith('"') or s.startswith("'"):
            return s
        return re.sub(r"[^\n]", " ", s)

    return re.sub(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|/\*.*?\*/|//[^\n]*',
                  blank, text, flags=re.S)


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def split_declarations(body):
    """Split a struct body at the semicolons that end declarations."""
    decls, depth, start = [], 0, 0
    for i, c in enumerate(body):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c in "{}":
            raise ParseError("a nested struct or union")
        elif c == ";" and depth == 0:
            decls.append((start, body[start:i]))
            start = i + 1
    if body[start:].strip():
        raise ParseError("a declaration without ';'")
    return decls


def member_names(decl):
    """The names a member declaration declares."""
    decl = " ".join(decl.split())
    if not decl:
        return []
    fn = re.search(r"\(\s*\*\s*(?:const\s+)?([A-Za-z_]\w*)\s*\)", decl)
    if fn:
        return [fn.group(1)]
    names = []
    for part in decl.split(","):
        part = re.sub(r"\[[^\]]*\]", "", part)      # arrays
        part = re.sub(r":\s*\w+\s*$", "", part)     # bit-fields
        m = re.search(r"([A-Za-z_]\w*)\s*$", part)
        if not m:
            raise ParseError("cannot find the name in '%s'" % decl)
        names.append(m.group(1))
    return names


def parse_header(path):
    """Structs (with members), enums (with enumerators), macros and type names."""
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    text = strip_comments(raw)
    base = os.path.basename(path)
    found = {"structs": [], "enums": [], "macros": [], "types": [], "errors": []}

    struct_re = re.compile(r"typedef\s+struct\s+(berth_\w+)\s*\{(.*?)\}\s*(berth_\w+)\s*;", re.S)
    for m in struct_re.finditer(text):
        tag, body, name = m.group(1), m.group(2), m.group(3)
        where = "%s:%d" % (base, line_of(text, m.start()))
        members = []
        try:
            for off, decl in split_declarations(body):
                for n in member_names(decl):
                    members.append((n, "%s:%d" % (base, line_of(text, m.start(2) + off +
                                                             len(decl) - len(decl.lstrip())))))
        except ParseError as e:
            found["errors"].append("%s: cannot parse struct %s: %s" % (where, name, e))
        found["structs"].append((name, where, members))
        if tag != name:
            found["errors"].append("%s: struct %s is typedef'd as %s" % (where, tag, name))

    # Every struct with a body must have been understood: a declaration the
    # pattern above misses would silently escape the check.
    bodies = len(re.findall(r"\bstruct\s+berth_\w+\s*\{", text))
    if bodies != len(found["structs"]):
        found["errors"].append("%s: %d struct bodies but %d parsed as typedef struct berth_X "
                               "{ ... } berth_X;" % (base, bodies, len(found["structs"])))

    for m in re.finditer(r"\benum\s+(\w+)\s*\{(.*?)\}", text, re.S):
        name, body = m.group(1), m.group(2)
        values = []
        for item in body.split(","):
            e = re.match(r"\s*([A-Za-z_]\w*)", item)
            if e and e.group(1).startswith("BERTH_"):
                values.append((e.group(1), "%s:%d" % (
                    base, line_of(text, m.start(2) + body.find(item) + item.find(e.group(1))))))
        found["enums"].append((name, "%s:%d" % (base, line_of(text, m.start())), values))

    guards = set(re.findall(r"#\s*ifndef\s+(\w+)\s*\n\s*#\s*define\s+\1\s*\n", text))
    seen = set()
    for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(BERTH_\w+)", text, re.M):
        name = m.group(1)
        if name in guards or name in seen:
            continue
        seen.add(name)
        found["macros"].append((name, "%s:%d" % (base, line_of(text, m.start()))))

    seen = set()
    for m in re.finditer(r"\btypedef\b([^;]*?)\(?\s*\*?\s*\b(berth_\w+)\s*\)?\s*(?:\([^;]*\))?\s*;",
                         re.sub(r"\{[^{}]*\}", "", text)):
        name = m.group(2)
        if name not in seen:
            seen.add(name)
            found["types"].append(name)
    return found


# ---------------------------------------------------------------------------
# The guide
# ---------------------------------------------------------------------------

def code_spans(markdown):
    """Inline code spans, with fenced code blocks left out."""
    lines, fenced, fence = [], False, ""
    for line in markdown.split("\n"):
        m = re.match(r"\s*(```+|~~~+)", line)
        if m and (not fenced or m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)):
            fenced, fence = not fenced, m.group(1)
            lines.append("")
            continue
        lines.append("" if fenced else line)
    text = "\n".join(lines)
    return [s.strip() for _, s in re.findall(r"(`+)(.+?)\1", text, re.S)]


def names_in(spans):
    """What the spans name: `x`, and `x(...)` as x."""
    out = set()
    for s in spans:
        out.add(s)
        m = re.match(r"([A-Za-z_]\w*)\(.*\)$", s, re.S)
        if m:
            out.add(m.group(1))
    return out


def reference_subsections(markdown):
    """{type name: set of names in that subsection} for `## Reference`."""
    m = re.search(r"^## +Reference\b.*$", markdown, re.M)
    if not m:
        return None
    rest = markdown[m.end():]
    end = re.search(r"^## ", rest, re.M)
    section = rest[:end.start()] if end else rest
    subs = {}
    parts = re.split(r"^### +(.*)$", section, flags=re.M)
    for heading, body in zip(parts[1::2], parts[2::2]):
        for t in re.findall(r"`(berth_\w+|enum berth_\w+)`", heading):
            subs[t.replace("enum ", "")] = names_in(code_spans(body))
    return subs


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

class Results:
    def __init__(self, quiet=False):
        self.passed = 0
        self.failed = 0
        self.quiet = quiet

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        if not self.quiet:
            print("%s - %s" % ("ok" if ok else "not ok", what))


def check_guide(headers, guide_path, r):
    try:
        with open(guide_path, encoding="utf-8") as f:
            guide = f.read()
    except OSError as e:
        r.check(False, "read %s: %s" % (guide_path, e.strerror))
        return
    guide_name = os.path.relpath(guide_path, SOURCE_DIR)
    anywhere = names_in(code_spans(guide))
    subs = reference_subsections(guide)
    r.check(subs is not None, "%s has a '## Reference' section" % guide_name)
    subs = subs or {}

    for path in headers:
        try:
            h = parse_header(path)
        except OSError as e:
            r.check(False, "read %s: %s" % (path, e.strerror))
            continue
        base = os.path.basename(path)
        r.check(not h["errors"], "%s parses%s" % (base, "".join("; " + e for e in h["errors"])))
        r.check(bool(h["structs"] or h["enums"] or h["macros"]),
                "%s declares something to document" % base)

        for name, where, members in h["structs"]:
            sub = subs.get(name)
            r.check(sub is not None, "struct %s (%s) has a Reference subsection '### `%s`'"
                    % (name, where, name))
            for member, mwhere in members:
                r.check(sub is not None and member in sub,
                        "%s.%s (%s) is listed as `%s` under ### `%s`" % (name, member, mwhere,
                                                                        member, name))
        for name, where, values in h["enums"]:
            sub = subs.get(name)
            r.check(sub is not None, "enum %s (%s) has a Reference subsection '### `%s`'"
                    % (name, where, name))
            for value, vwhere in values:
                r.check(sub is not None and value in sub,
                        "%s (%s) is listed as `%s` under ### `%s`" % (value, vwhere, value, name))
        for name, where in h["macros"]:
            r.check(name in anywhere, "macro %s (%s) appears as `%s`" % (name, where, name))
        for name in h["types"]:
            r.check(name in anywhere and name in subs,
                    "type %s (%s) appears as `%s` and has a Reference subsection"
                    % (name, base, name))


def self_test(headers, guide_path, r):
    """An undocumented member in a copy of plugin.h must fail the check."""
    plugin_h = next((h for h in headers if os.path.basename(h) == "plugin.h"), None)
    if not plugin_h:
        return
    with open(plugin_h, encoding="utf-8") as f:
        text = f.read()
    member = "guide_drift_probe"
    changed, n = re.subn(r"(\n\}\s*berth_host\s*;)", "\n\tint (*%s)(void);\\1" % member, text,
                         count=1)
    if n != 1:
        r.check(False, "self-test: found the end of berth_host in plugin.h to add a member")
        return
    baseline = Results(quiet=True)
    check_guide([plugin_h], guide_path, baseline)
    with tempfile.TemporaryDirectory(prefix="berth-guide-") as tmp:
        copy = os.path.join(tmp, "plugin.h")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(changed)
        probe = Results(quiet=True)
        check_guide([copy], guide_path, probe)
        parsed = any(member in [m for m, _ in members]
                     for name, _, members in parse_header(copy)["structs"]
                     if name == "berth_host")
    r.check(parsed and probe.failed == baseline.failed + 1,
            "self-test: berth_host.%s, added to a copy of plugin.h without docs, fails the "
            "check (parsed: %s, failures: %d, without it: %d)"
            % (member, "yes" if parsed else "no", probe.failed, baseline.failed))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--header", action="append",
                    help="a header to check instead of plugin.h and error.h (repeatable)")
    ap.add_argument("--guide", default=GUIDE, help="the guide (default docs/plugin-guide.md)")
    args = ap.parse_args()
    headers = args.header or HEADERS

    r = Results()
    check_guide(headers, args.guide, r)
    if not args.header:
        self_test(headers, args.guide, r)
    print("%d passed, %d failed" % (r.passed, r.failed))
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
