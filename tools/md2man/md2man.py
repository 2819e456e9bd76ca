#!/usr/bin/env python3
"""md2man: the man pages of the package from the man-style Markdown in docs/.

    md2man.py SOURCE.md OUTPUT.N [--date YYYY-MM-DD] [--version V]

The docs are written as man pages (a first line "# name(N)", then ## NAME, ## SYNOPSIS,
## DESCRIPTION, ...), so the page is a translation, not a second text to keep true: headings,
paragraphs, `code` and **bold**, lists, fenced code blocks and tables (as tbl(1) tables).
Links keep their text. Only the subset docs/ uses is handled; anything else passes as text.
"""
import re
import sys


def escape(text):
    text = text.replace("\\", "\\e")
    # A line starting with . or ' would be a request.
    return re.sub(r"^([.'])", r"\\&\1", text)


def breakable(code):
    """A long code span (an XML or JSON example) may break after , > } or / (troff's \\:,
    a break point that prints nothing), so narrow table cells can hold it."""
    if len(code) <= 30:
        return code
    return re.sub(r"([,>}/])(?=.)", r"\1\\:", code)


def inline(text):
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)  # links: their text
    text = escape(text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"`([^`]+)`", lambda m: "\\fB" + breakable(m.group(1)) + "\\fR", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", text)
    return text.replace("—", "\\(em").replace("–", "\\(en")


def table(rows, out):
    cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
    header, body = cells[0], [r for r in cells[2:]]
    out.append(".TS")
    out.append("allbox tab(\t);")
    out.append(" ".join("lb" for _ in header))
    # Every column as wide as its widest word, the last one filling the line.
    out.append(" ".join(["l"] * (len(header) - 1) + ["lx"]) + ".")
    out.append("\t".join(inline(c) for c in header))
    for r in body:
        r = (r + [""] * len(header))[: len(header)]
        out.append("\t".join("T{\n" + inline(c) + "\nT}" for c in r))
    out.append(".TE")


def convert(lines, date, version):
    first = lines[0].strip() if lines else ""
    m = re.match(r"#\s+([\w.-]+)\((\d)\)", first)
    if not m:
        raise SystemExit("md2man: the first line must be '# name(N)', got %r" % first)
    name, section = m.group(1), m.group(2)
    out = ['.TH "%s" "%s" "%s" "Facegate %s" "Facegate"' % (name.upper(), section, date, version)]
    # Left-aligned, not justified: long code spans (XML, JSON, options) in narrow columns
    # would leave justified lines that troff cannot adjust.
    out.append(".ad l")
    # "# name(N): what it is" without a "## NAME" section of its own: the NAME line whatis and
    # apropos read ("name \- what it is") comes from the title.
    title = re.match(r"#\s+[\w.-]+\(\d\):\s*(.+)", first)
    if title and not any(re.match(r"##\s+NAME\s*$", l) for l in lines):
        out += [".SH NAME", "%s \\- %s" % (escape(name), escape(title.group(1).strip())),
                ".SH DESCRIPTION"]
    i = 1
    while i < len(lines):
        line = lines[i].rstrip("\n")
        if line.startswith("```"):
            i += 1
            out.append(".PP\n.nf\n.RS 4")
            while i < len(lines) and not lines[i].startswith("```"):
                out.append(escape(lines[i].rstrip("\n")))
                i += 1
            out.append(".RE\n.fi")
            i += 1
            continue
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i].rstrip("\n"))
                i += 1
            if len(rows) >= 2:
                table(rows, out)
            continue
        h = re.match(r"(#{2,4})\s+(.*)", line)
        if h:
            level, title = len(h.group(1)), inline(h.group(2)).replace('"', "")
            out.append('.SH "%s"' % title.upper() if level == 2 else '.SS "%s"' % title)
        elif re.match(r"\s*[-*]\s+", line):
            out.append(".IP \\(bu 2")
            out.append(inline(re.sub(r"^\s*[-*]\s+", "", line)))
        elif re.match(r"\s*\d+\.\s+", line):
            num = re.match(r"\s*(\d+)\.", line).group(1)
            out.append(".IP %s. 4" % num)
            out.append(inline(re.sub(r"^\s*\d+\.\s+", "", line)))
        elif not line.strip():
            out.append(".PP")
        elif re.fullmatch(r"\s*`[^`]+`\s*", line):
            # A line that is one code span (a synopsis form) stays a line of its own.
            out.append(inline(line.strip()))
            out.append(".br")
        else:
            out.append(inline(line.strip()))
        i += 1
    # Collapse repeated paragraph marks.
    text = "\n".join(out)
    text = re.sub(r"(\.PP\n)+", ".PP\n", text)
    return text.rstrip() + "\n"


def main(argv):
    args = [a for a in argv[1:]]
    date, version = "", ""
    if "--date" in args:
        k = args.index("--date"); date = args[k + 1]; del args[k:k + 2]
    if "--version" in args:
        k = args.index("--version"); version = args[k + 1]; del args[k:k + 2]
    if len(args) != 2 or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args and args[0] in ("-h", "--help") else 2
    with open(args[0], encoding="utf-8") as f:
        lines = f.readlines()
    page = convert(lines, date, version)
    with open(args[1], "w", encoding="utf-8") as f:
        f.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
