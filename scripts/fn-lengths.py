#!/usr/bin/env python3
"""Function lengths of Rust sources: from the `fn` line to its closing brace.

    scripts/fn-lengths.py DIR [DIR ...] [--list N] [--over N]

Test code is left out: files under `tests/` or `benches/`, files named `tests.rs`,
`*_test.rs` or `*_tests.rs`, and `#[cfg(test)]` items
(usually `mod tests { ... }`). Strings, chars and comments are skipped when matching
braces. Prints the count, median, p90, p99 and the longest functions.
"""

import os
import re
import statistics
import sys

FN = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")


def strip(text):
    """Blank out comments, strings and char literals, keeping line breaks."""
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
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 12]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^'\\])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(code, open_at):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def test_spans(code):
    """Character spans of `#[cfg(test)]` items."""
    spans = []
    for m in re.finditer(r"#\[cfg\(test\)\]", code):
        brace = code.find("{", m.end())
        semi = code.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue
        spans.append((m.start(), matching_brace(code, brace)))
    return spans


def functions(path):
    with open(path, encoding="utf-8") as f:
        code = strip(f.read())
    skip = test_spans(code)
    found = []
    for m in FN.finditer(code):
        if any(a <= m.start() <= b for a, b in skip):
            continue
        # The body starts at the first `{` after the signature, unless a `;` comes first
        # (a trait method without a body).
        k = m.end()
        depth = 0
        body = -1
        while k < len(code):
            ch = code[k]
            if ch in "(<[":
                depth += 1
            elif ch in ")>]":
                depth -= 1
            elif ch == ";" and depth <= 0:
                break
            elif ch == "{" and depth <= 0:
                body = k
                break
            k += 1
        if body < 0:
            continue
        end = matching_brace(code, body)
        first = code.count("\n", 0, m.start()) + 1
        last = code.count("\n", 0, end) + 1
        found.append((last - first + 1, f"{path}:{first}", m.group(1)))
    return found


def main(argv):
    dirs, listing, over = [], 10, None
    args = iter(argv)
    for a in args:
        if a == "--list":
            listing = int(next(args))
        elif a == "--over":
            over = int(next(args))
        else:
            dirs.append(a)
    found = []
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            subdirs[:] = [s for s in subdirs if s not in ("tests", "benches", "target")]
            for name in files:
                if name.endswith(".rs") and not name.endswith(("_test.rs", "_tests.rs")) and name != "tests.rs":
                    found.extend(functions(os.path.join(root, name)))
    if not found:
        print("no functions found")
        return 1
    lengths = sorted(length for length, _, _ in found)

    def pct(p):
        return lengths[min(len(lengths) - 1, int(round(p / 100 * (len(lengths) - 1))))]

    print(f"{' '.join(dirs)}: {len(lengths)} functions, median {statistics.median(lengths):g}, "
          f"p90 {pct(90)}, p99 {pct(99)}, max {lengths[-1]}")
    longest = sorted(found, reverse=True)
    if over is not None:
        longest = [f for f in longest if f[0] > over]
    else:
        longest = longest[:listing]
    for length, where, name in longest:
        print(f"  {length:4}  {name}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
