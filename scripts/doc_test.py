#!/usr/bin/env python3
"""The README as a test: runs every ```sh block of README.md, top to bottom, against one fresh
server with embedded defaults (what `make serve` starts), and fails when a command fails or its
HTTP status differs from the one the README shows.

Rules (README authors: see "Development" in the README):
- `localhost:8080` and `127.0.0.1:8080` become the test server's address, `build/switchboard`
  the binary (with $SWITCHBOARD_URL pointing at the server); commands run in a directory that
  holds the files the examples upload (leave-policy.pdf, expenses.docx, expenses-v2.pdf,
  policies/). The commands of one block run in one shell, so a block may keep state.
- Each command's expected status is the `# NNN` comment at the end of its line, or on the
  comment line right after it (`# 202 {...}`); a curl without one must answer 2xx.
- Placeholder ids (`job_4f1c...`, `doc_1f2e...`, `col_...`) become the latest real id of that
  kind seen in an answer so far.
- A block stops at its first failing command; the next block still runs.
- A block right after a line `<!-- doc-test: skip (why) -->` is not run (it needs a network,
  a file, a config or a second server); every skip needs its reason.

Usage: doc_test.py BINARY README.md
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

STATUS = re.compile(r"#\s*([1-5]\d\d)\b")
PLACEHOLDER = re.compile(r"\b(job|doc|col)_[0-9a-f]*\.\.\.")
REAL_ID = re.compile(r'"id":"((?:job|doc|col)_[0-9a-f]+)"')
SKIP = re.compile(r"<!--\s*doc-test:\s*skip\s*\((.+)\)\s*-->")

# A curl that checks its status against the one the README shows ($SBDOC_EXPECT; else 2xx) and
# remembers the ids it sees, for the placeholders of the commands after it.
PRELUDE = r"""
set -e
curl() {
  local out status body id
  out=$(command curl -sS -w '\n%{http_code}' "$@") || { echo "FAIL $SBDOC_WHERE: curl could not run" >&2; exit 97; }
  status=${out##*$'\n'}
  body=${out%$'\n'*}
  printf '%s\n' "$body"
  for id in $(printf '%s' "$body" | grep -oE '"id":"(job|doc|col)_[0-9a-f]+"' | cut -d'"' -f4); do
    printf -v "SBDOC_LAST_${id%%_*}" '%s' "$id"
    printf '%s %s\n' "${id%%_*}" "$id" >> "$SBDOC_IDS"
  done
  if [ -n "$SBDOC_EXPECT" ]; then
    [ "$status" = "$SBDOC_EXPECT" ] || { echo "FAIL $SBDOC_WHERE: status $status, the README shows $SBDOC_EXPECT: ${body:0:300}" >&2; exit 1; }
  elif [ "$status" -lt 200 ] || [ "$status" -ge 300 ]; then
    echo "FAIL $SBDOC_WHERE: status $status, the README shows 2xx: ${body:0:300}" >&2; exit 1
  fi
}
"""

def blocks(readme):
    """(line number, skip reason or None, [lines]) of each sh block."""
    lines = readme.split("\n")
    out = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            skip = None
            for back in range(i - 1, max(i - 3, -1), -1):
                m = SKIP.search(lines[back])
                if m:
                    skip = m.group(1)
                    break
                if lines[back].strip():
                    break
            j = i + 1
            body = []
            while j < len(lines) and lines[j].strip() != "```":
                body.append(lines[j])
                j += 1
            out.append((i + 1, skip, body))
            i = j
        i += 1
    return out


def commands(body):
    """Splits a block into (command text, expected status or None); a command ends where its
    quotes are balanced and its line does not end with a backslash."""
    out = []
    current = []
    quote = None
    for line in body:
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            m = STATUS.match(line.strip())
            if m and out and out[-1][1] is None:
                out[-1] = (out[-1][0], int(m.group(1)))
            continue
        current.append(line)
        i = 0
        while i < len(line):
            c = line[i]
            if quote:
                if c == "\\" and quote == '"':
                    i += 1
                elif c == quote:
                    quote = None
            elif c in "'\"":
                quote = c
            elif c == "#" and (i == 0 or line[i - 1] in " \t"):
                break  # a comment: the rest of the line
            elif c == "\\" and i + 1 < len(line):
                i += 1
            i += 1
        if quote is None and not line.rstrip().endswith("\\"):
            text = "\n".join(current)
            last = current[-1]
            m = None
            hash_at = last.find(" #")
            if hash_at >= 0:
                m = STATUS.search(last[hash_at:])
            out.append((text, int(m.group(1)) if m else None))
            current = []
    return out


def start_server(binary, data_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    m = re.search(r'"address":"127\.0\.0\.1:(\d+)"', line)
    if not m:
        p.kill()
        sys.exit("the server did not start: " + line + p.stderr.read())
    return p, int(m.group(1))


def fixtures(work):
    """The files the README's examples upload: a PDF, a DOCX, a folder of policies."""
    def pdf(text):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
                b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
                b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
        out = b"%PDF-1.4\n"
        offsets = []
        for i, o in enumerate(objs):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
        for off in offsets:
            out += b"%010d 00000 n \n" % off
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
        return out
    open(os.path.join(work, "leave-policy.pdf"), "wb").write(pdf("Employees get 25 days of paid holiday."))
    open(os.path.join(work, "expenses-v2.pdf"), "wb").write(pdf("Expenses are paid within 30 days."))
    import zipfile
    with zipfile.ZipFile(os.path.join(work, "expenses.docx"), "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
                   'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                   '<w:body><w:p><w:r><w:t>Expenses are paid within 14 days.</w:t></w:r></w:p></w:body></w:document>')
    os.makedirs(os.path.join(work, "policies"))
    open(os.path.join(work, "policies", "leave.md"), "w").write("# Holidays\n\nEmployees get 25 days of paid holiday.\n")
    open(os.path.join(work, "policies", "travel.md"), "w").write("# Travel\n\nBook trains for trips under 500 km.\n")


def main():
    binary, readme_path = os.path.abspath(sys.argv[1]), sys.argv[2]
    readme = open(readme_path, encoding="utf-8").read()
    work = tempfile.mkdtemp(prefix="sb-doctest-")
    fixtures(work)
    server, port = start_server(binary, os.path.join(work, "data"))
    failures = []
    ran = skipped = 0
    ids_file = os.path.join(work, "ids")
    try:
        for line_no, skip, body in blocks(readme):
            if skip is not None:
                skipped += 1
                print(f"README.md:{line_no}: skipped ({skip})")
                continue
            # Placeholders: the latest id of their kind from the blocks before, else the one an
            # earlier command of this block sees (a shell variable).
            latest = {}
            if os.path.exists(ids_file):
                for entry in open(ids_file).read().split("\n"):
                    if " " in entry:
                        kind, real = entry.split(" ", 1)
                        latest[kind] = real
            script = PRELUDE
            for text, expected in commands(body):
                cmd = text.replace("localhost:8080", f"127.0.0.1:{port}").replace("127.0.0.1:8080", f"127.0.0.1:{port}")
                cmd = cmd.replace("/dev/tcp/127.0.0.1/8080", f"/dev/tcp/127.0.0.1/{port}")
                cmd = cmd.replace("build/switchboard", binary)
                cmd = PLACEHOLDER.sub(lambda m: latest.get(m.group(1)) or "${SBDOC_LAST_" + m.group(1) + "}", cmd)
                where = f"README.md:{line_no}: " + text.splitlines()[0][:90].replace("'", "")
                script += f"SBDOC_EXPECT='{expected or ''}'; SBDOC_WHERE='{where}'\n{cmd}\n"
                ran += 1
            env = dict(os.environ, SWITCHBOARD_URL=f"http://127.0.0.1:{port}", SBDOC_IDS=ids_file)
            r = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                fail = [l for l in r.stderr.splitlines() if l.startswith("FAIL ")]
                failures.append(fail[0][5:] if fail else f"README.md:{line_no}: exit {r.returncode}: {r.stderr.strip()[:300]}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{ran} commands in {len(blocks(readme)) - skipped} blocks run, {skipped} blocks skipped, {len(failures)} failed")
    for f in failures:
        print("FAIL " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
