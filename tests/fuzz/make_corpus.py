#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/ (committed; run
again after changing it). Seeds are small valid and near-valid inputs, plus the hostile shapes
the hardening issue found (deep nesting, odd framing); the translation seeds come from the golden
test cases. Standard library only. Beside these seeds the folders hold the inputs the fuzzers
found that add coverage (named by their SHA-1), merged in with
`build-fuzz/tests/fuzz/fuzz_<t> -merge=1 -max_len=4096 tests/fuzz/corpus/<t> build-fuzz/corpus/<t>`."""
import io
import json
import os
import zipfile
import zlib

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "corpus")


def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- http_request ---------------------------------------------------------------------------
http = {
    "get": "GET /health HTTP/1.1\r\nHost: t\r\n\r\n",
    "post_length": "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\n\r\n{\"a\":1}",
    "post_chunked": "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n7;ext=1\r\n{\"a\":1}\r\n0\r\nX-T: 1\r\n\r\n",
    "te_identity": "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    "te_double": "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    "te_gzip_chunked": "POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    "cl_te": "POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "fold": "GET / HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer a\r\n b\r\n\r\n",
    "absolute": "GET http://h:1/health?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
    "pipelined": "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
    "expect": "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    "bare_lf": "GET / HTTP/1.1\nHost: t\n\n",
}
for k, v in http.items():
    put("http_request", k, v)

# ---- json_request ---------------------------------------------------------------------------
js = {
    "chat": {"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    "chat_parts": {"model": "a/b", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]},
    "embed": {"model": "mock/embed", "input": ["a", "b"], "dimensions": 8, "encoding_format": "base64"},
    "embed_ids": {"model": "m", "input": [[1, 2], [3]]},
    "embed_big": {"model": "m", "input": ["w"] * 64, "dimensions": 65536},
}
for k, v in js.items():
    put("json_request", k, json.dumps(v))
put("json_request", "deep", "[" * 40 + "]" * 40)
put("json_request", "numbers", '{"model":"m","messages":[],"t":1e999,"u":-0,"v":0.7}')
put("json_request", "nul_model", '{"model":"a\\u0000b","messages":[{"role":"user","content":"x"}]}')

# ---- multipart ------------------------------------------------------------------------------
mp = ("multipart/form-data; boundary=BoUnDaRy\n--BoUnDaRy\r\nContent-Disposition: form-data; name=\"collection\"\r\n\r\n"
      "c\r\n--BoUnDaRy\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
      "hello\r\n--BoUnDaRy--\r\n")
put("multipart", "form", mp)
put("multipart", "no_boundary", "multipart/form-data\n--x\r\n\r\n")
put("multipart", "quoted", 'multipart/form-data; boundary="a b"\n--a b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--a b--')
put("multipart", "unterminated", "multipart/form-data; boundary=z\n--z\r\nContent-Disposition: form-data; name=\"f\"\r\n")

# ---- sse ------------------------------------------------------------------------------------
put("sse", "openai", 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n')
put("sse", "fields", "\xef\xbb\xbfevent: ping\r\nid: 7\r\nretry: 100\r\n: comment\r\ndata: a\r\ndata: b\r\n\r\n")
put("sse", "cr_only", "data: x\rdata: y\r\r")

# ---- translations from the golden cases -----------------------------------------------------
golden = os.path.join(here, "..", "golden")
for provider in ("anthropic", "gemini"):
    base = os.path.join(golden, provider)
    for case in sorted(os.listdir(base)):
        d = os.path.join(base, case)
        parts = [open(os.path.join(d, "request.json")).read()]
        for name in ("upstream_response.json",):
            if os.path.exists(os.path.join(d, name)):
                parts.append(open(os.path.join(d, name)).read())
        sse_file = os.path.join(d, "upstream.sse")
        if os.path.exists(sse_file):
            if len(parts) == 1:
                parts.append("{}")
            for block in open(sse_file).read().split("\n\n"):
                for line in block.splitlines():
                    if line.startswith("data:"):
                        parts.append(line[5:].strip())
        put(provider, case, "\n--\n".join(parts))

# ---- extractors -----------------------------------------------------------------------------
put("extract_html", "page", "<!doctype html><title>T</title><h1>Head</h1><p>Some <b>bold</b> text<br>x</p>"
    "<script>no</script><ul><li>a<li>b</ul><h2><span>Sub</span></h2>")
put("extract_html", "deep_span", "<span>" * 3000 + "deep" + "</span>" * 3000)
put("extract_html", "heading_in_heading", "<h1>a<div><h2>b<div><h3>c</h3></div></h2></div></h1>")
put("extract_html", "invalid_utf8", b"<p>caf\xc3 \xff\xfe</p>")


def pdf(pages, compress=False):
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for text in pages:
        stream = "BT /F1 12 Tf 72 720 Td (%s) Tj ET" % text
        data = zlib.compress(stream.encode()) if compress else stream.encode()
        filt = " /Filter /FlateDecode" if compress else ""
        objs.append(b"<< /Length %d%s >>\nstream\n" % (len(data), filt.encode()) + data + b"\nendstream")
        objs.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                    "/Resources << /Font << /F1 3 0 R >> >> >>" % (len(objs)))
        kids.append(len(objs))
    objs[1] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % k for k in kids), len(kids))
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        body = o if isinstance(o, bytes) else o.encode()
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


put("extract_pdf", "two_pages", pdf(["Hello page one", "Page two"]))
put("extract_pdf", "flate", pdf(["Compressed text"], compress=True))
put("extract_pdf", "truncated", pdf(["cut"])[:300])


def docx(document_xml, core=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", document_xml)
        if core:
            z.writestr("docProps/core.xml", core)
    return buf.getvalue()


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
put("extract_docx", "paragraphs", docx(
    '<w:document %s><w:body><w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Title</w:t></w:r></w:p>'
    '<w:p><w:r><w:t>Body</w:t><w:tab/><w:t>text</w:t><w:br/></w:r></w:p></w:body></w:document>' % W,
    '<cp:coreProperties xmlns:cp="c" xmlns:dc="d"><dc:title>T</dc:title></cp:coreProperties>'))
put("extract_docx", "deep", docx("<w:document %s><w:body><w:p>%s<w:t>x</w:t>%s</w:p></w:body></w:document>"
                                 % (W, "<w:r>" * 2000, "</w:r>" * 2000)))
put("extract_docx", "not_xml", docx("<w:document><unclosed"))

# ---- utf8 -----------------------------------------------------------------------------------
for i, s in enumerate([b"plain", "caf\u00e9 \u20ac \U0001F600".encode(), b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                       b"\xe2\x82", b"ok \xff\xfe ok", b"\xc0\xaf"]):
    put("utf8", "seed%d" % i, s)

# ---- control_scan ---------------------------------------------------------------------------
for i, s in enumerate([b'{"model":"openai/gpt-4o","messages":[{"role":"user","content":"model"}],"max_tokens":64}',
                       b'{"model" : "a\\"b", "max_tokens": -1}', b'{"max_tokens":99999999999999999999999}',
                       b'1.2.3.4, 10.0.0.2, ::ffff:10.0.0.3', b'"model":', b'"model"  :  "x',
                       b'\xff\xff\xff\xff\xff\xff\xff\x7f\x01\x00\x00\x00\x00\x00\x00\x80\x00\x00\x00\x00\x00\x00\x00\x80\xff']):
    put("control_scan", "seed%d" % i, s)


# ---- workflows ------------------------------------------------------------------------------
workflows = {
    "intent": '{"intent":"billing","confidence":0.9}',
    "intent_string_conf": '{"intent":"TECH","confidence":"0.5"}',
    "intent_fenced": '```json\n{"intent":"tech","confidence":1}\n```',
    "intent_out_of_range": '{"intent":"billing","confidence":1e308}',
    "judgment": json.dumps({"winner": "Essay A", "justification": "x" * 60, "confidence": 4.5}),
    "judgment_letter": json.dumps({"winner": "b", "justification": "y" * 499, "confidence": "1"}),
    "completion": json.dumps({"choices": [{"message": {"content": '{"intent":"tech","confidence":0}'}}]}),
    "chat": json.dumps({"model": "support", "messages": [{"role": "user", "content": [{"type": "text", "text": "h\u00e9llo"}]}]}),
    "pipeline": json.dumps({"message": "hi", "route": "support", "steps": ["classify", "generate", "store"],
                            "generation": {"temperature": 0.7, "max_tokens": 10}}),
    "pipeline_bad": json.dumps({"message": "", "steps": ["store", "store"], "compress_rate": 0}),
    "deep": "[" * 5000,
    "nan": '{"intent":"billing","confidence":NaN}',
}
workflows.update({
    "log_gha": "2026-11-20T10:15:03.1234567Z ##[group]Build\n\x1b[31msrc/a.cpp:1:2: error: x\x1b[0m\n##[error]Process completed with exit code 1.\n##[endgroup]\n",
    "log_gitlab": "section_start:1:build\r\x1b[0Kx\n[  FAILED  ] A.B (1 ms)\nsection_end:1:build\r\x1b[0K\nERROR: Job failed: exit code 1\n",
    "log_cr": "10%\r50%\r100%\rerror: done\r\n\r\n\x1b]0;t\x07",
    "analysis": json.dumps({"choices": [{"message": {"content": json.dumps({"summary": "s", "category": "Test", "failing_step": "t",
        "root_cause": "r", "suggested_fix": "f", "confidence": 0.5, "references": [1, 3]})}}]}),
})
for name, text in workflows.items():
    put("workflows", name, text)
