// Hostile input against the real binary: request framing that could smuggle a request, bounds on
// what a client can make the server hold, and documents that crash, hang or bloat a parser
// (which runs in a sandboxed worker process). After each, the server still serves.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "harness.hpp"
#include "support/documents.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

// knowledge::Store::kMaxUploadAttempts: starts that may try a kept upload.
constexpr int kMaxUploadAttempts = 3;

class FramingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new Server(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void TearDown() override {
    auto r = http(port(), "GET", "/health");
    ASSERT_TRUE(r) << "server stopped serving";
    EXPECT_EQ(r->status, 200);
  }
  static int port() { return server_->port(); }
  static Server* server_;
};
Server* FramingTest::server_ = nullptr;

// A POST whose body is itself a request: if the server took the body as empty, it would answer
// the smuggled GET as a second response on the connection.
std::string smuggling(const std::string& framing_headers) {
  const std::string inner = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
  return "POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n" + framing_headers + "\r\n" + inner;
}

TEST_F(FramingTest, ATransferCodingOtherThanAFinalChunkedIs400AndCloses) {
  for (const char* te : {"identity", "xchunked", "chunked, chunked", "gzip", "chunked;q=1", "chunked, identity",
                         ""}) {
    Client c(port());
    ASSERT_TRUE(c.send(smuggling(std::string("Transfer-Encoding: ") + te + "\r\n")));
    auto r = c.read_response(3s);
    ASSERT_TRUE(r) << te;
    EXPECT_EQ(r->status, 400) << te << ": " << r->body;
    EXPECT_EQ(r->header("connection"), "close") << te;
    EXPECT_TRUE(c.wait_closed(3s)) << te << ": the body must not be read as the next request";
  }
}

TEST_F(FramingTest, TwoTransferEncodingFieldsOrOneWithContentLengthAre400) {
  for (const char* h : {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"}) {
    Client c(port());
    ASSERT_TRUE(c.send(smuggling(h)));
    auto r = c.read_response(3s);
    ASSERT_TRUE(r) << h;
    EXPECT_EQ(r->status, 400) << h << r->body;
    EXPECT_TRUE(c.wait_closed(3s)) << h;
  }
}

TEST_F(FramingTest, ACodingBeforeChunkedIs501) {
  for (const char* h : {"Transfer-Encoding: gzip, chunked\r\n",
                        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"}) {
    Client c(port());
    ASSERT_TRUE(c.send(std::string("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\n") + h +
                       "\r\n7\r\n{\"a\":1}\r\n0\r\n\r\n"));
    auto r = c.read_response(3s);
    ASSERT_TRUE(r) << h;
    EXPECT_EQ(r->status, 501) << h;
    EXPECT_EQ(code_of(*r), "not_implemented");
    EXPECT_TRUE(c.wait_closed(3s));
  }
}

TEST_F(FramingTest, ASingleChunkedCodingInAnyCaseIsRead) {
  Client c(port());
  ASSERT_TRUE(c.send("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:  Chunked \r\n\r\n"
                     "7\r\n{\"a\":1}\r\n0\r\n\r\n"));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"a":1})");
}

TEST_F(FramingTest, AFoldedHeaderLineIs400) {
  for (const char* fold : {"\r\n  continued", "\r\n\tcontinued"}) {
    Client c(port());
    ASSERT_TRUE(c.send(std::string("GET /health HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer a") + fold +
                       "\r\nAccept: */*\r\n\r\n"));
    auto r = c.read_response(3s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("folding"), std::string::npos) << r->body;
    EXPECT_TRUE(c.wait_closed(3s));
  }
  // The same head arriving byte by byte is refused too (the fold is split across reads).
  Client c(port());
  const std::string head = "GET /health HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n x\r\n\r\n";
  for (char ch : head) ASSERT_TRUE(c.send(std::string(1, ch)));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST_F(FramingTest, AHugeTrailerSectionIs431WithBoundedMemory) {
  const long before = rss_kib(server_->pid());
  Client c(port());
  ASSERT_TRUE(c.send("POST /api/v1/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "2\r\n{}\r\n0\r\n"));
  std::optional<HttpResponse> r;
  const std::string field = "X-Trailer: " + std::string(1000, 't') + "\r\n";
  std::string block;
  for (int i = 0; i < 64; ++i) block += field;
  for (int i = 0; i < 64 * 16 && c.send(block); ++i) {
  }  // up to 64 MiB, until the server closes
  r = c.read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_NE(r->body.find("trailer"), std::string::npos) << r->body;
  EXPECT_LT(rss_kib(server_->pid()) - before, 32 * 1024) << "the trailers were held in memory";
}

TEST_F(FramingTest, AnAbsoluteFormTargetIsServed) {
  Client c(port());
  ASSERT_TRUE(c.send("GET http://example.test/health HTTP/1.1\r\nHost: example.test\r\n\r\n"));
  auto r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(c.send("GET HTTPS://example.test/v1/models?x=1 HTTP/1.1\r\nHost: example.test\r\n\r\n"));
  r = c.read_response(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST(WriteTimeout, AClientThatStopsReadingIsResetAtTheWriteTimeout) {
  Server s({.env = {{"SWITCHBOARD_SERVER_WRITE_TIMEOUT_MS", "800"}}});
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(s.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string inputs;
  for (int i = 0; i < 40; ++i) inputs += std::string(i ? "," : "") + "\"w" + std::to_string(i) + "\"";
  const std::string req = raw_request("POST", "/v1/embeddings",
                                      R"({"model":"mock/embed","dimensions":65536,"input":[)" + inputs + "]}");
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::this_thread::sleep_for(2500ms);  // a 3.9 MB answer, not read
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[65536];
  std::size_t got = 0;
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got += static_cast<std::size_t>(n);
  const int err = errno;
  ::close(fd);
  EXPECT_TRUE(n < 0 && err == ECONNRESET) << "read " << got << " bytes, then " << (n == 0 ? "EOF" : std::strerror(err));
  EXPECT_LT(got, 3000000u);
  EXPECT_EQ(http(s.port(), "GET", "/health")->status, 200);
}

// ---- documents: parsed in sandboxed workers ------------------------------------------------------

std::string nested_html(int depth, const std::string& tag) {
  std::string s = "<html><body>";
  for (int i = 0; i < depth; ++i) s += "<" + tag + ">";
  s += "deep text";
  for (int i = 0; i < depth; ++i) s += "</" + tag + ">";
  return s + "</body></html>";
}

std::string nested_docx(int depth) {
  std::string xml =
      R"(<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p>)";
  for (int i = 0; i < depth; ++i) xml += "<w:r>";
  xml += "<w:t>deep text</w:t>";
  for (int i = 0; i < depth; ++i) xml += "</w:r>";
  xml += "</w:p></w:body></w:document>";
  return make_zip({{"[Content_Types].xml", "<Types/>"}, {"word/document.xml", xml}});
}

std::string upload(int port, const std::string& name, const std::string& type, const std::string& bytes,
                   bool async = false) {
  auto r = http(port, "POST", std::string("/api/v1/documents") + (async ? "?async=true" : "?async=false"),
                multipart_form({{"collection", "c"}}, name, type, bytes), kMultipart);
  return r ? std::to_string(r->status) + " " + r->body : "no answer";
}

std::string state_of(int port, const std::string& id) {
  auto r = http(port, "GET", "/api/v1/documents/" + id);
  if (!r || r->status != 200) return "?";
  auto d = json::parse(r->body);
  std::string s(d.at("state").as_string());
  if (d.at("error").is_string()) s += ": " + std::string(d.at("error").as_string());
  return s;
}

std::string wait_state(int port, const std::string& id, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  std::string s;
  while (std::chrono::steady_clock::now() < end) {
    s = state_of(port, id);
    if (s.rfind("ready", 0) == 0 || s.rfind("failed", 0) == 0) return s;
    std::this_thread::sleep_for(50ms);
  }
  return s;
}

std::string id_of(const std::string& answer) {
  auto body = json::parse(answer.substr(answer.find(' ') + 1));
  return std::string(body.at("id").as_string());
}

void make_collection(int port) {
  ASSERT_EQ(http(port, "POST", "/api/v1/collections", R"({"name":"c"})")->status, 201);
}

TEST(Sandbox, DeeplyNestedHtmlAndDocxAreReadWithoutCrashing) {
  Server s;
  make_collection(s.port());
  // Inline elements 50,000 deep; divs 10,000 (gumbo checks the open elements at each div, so
  // deep divs are quadratic: the extraction timeout's case, below).
  for (const char* tag : {"span", "b", "div"}) {
    const int depth = std::string_view(tag) == "div" ? 10000 : 50000;
    const std::string r = upload(s.port(), "deep.html", "text/html", nested_html(depth, tag));
    EXPECT_EQ(r.substr(0, 3), "201") << tag << ": " << r.substr(0, 300);
  }
  const std::string r = upload(s.port(), "deep.docx", "", nested_docx(50000));
  EXPECT_EQ(r.substr(0, 3), "201") << r.substr(0, 300);
  auto hit = http(s.port(), "POST", "/api/v1/search", R"({"collection":"c","query":"deep text"})");
  ASSERT_TRUE(hit);
  EXPECT_EQ(json::parse(hit->body).at("data").as_array().size(), 4u) << hit->body;
}

TEST(Sandbox, ADocumentThatTakesTooLongFailsWithTimeoutAndOthersGoOn) {
  Server s({.env = {{"SWITCHBOARD_KNOWLEDGE_EXTRACT_TIMEOUT_MS", "1500"}}});
  make_collection(s.port());
  const auto t0 = std::chrono::steady_clock::now();
  const std::string slow = nested_html(150000, "div");  // quadratic in gumbo: minutes of CPU
  const std::string r = upload(s.port(), "slow.html", "text/html", slow);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(r.substr(0, 3), "422") << r.substr(0, 300);
  EXPECT_NE(r.find("(timeout)"), std::string::npos) << r.substr(0, 300);
  EXPECT_NE(r.find("extract_timeout_ms"), std::string::npos) << r.substr(0, 300);
  // A normal PDF upload is not held behind a slow one.
  const std::string again = upload(s.port(), "slow2.html", "text/html", slow, true);
  const std::string pdf = upload(s.port(), "ok.pdf", "application/pdf", make_pdf({"A normal page."}));
  EXPECT_EQ(pdf.substr(0, 3), "201") << pdf.substr(0, 300);
  EXPECT_NE(wait_state(s.port(), id_of(again), 10s).find("(timeout)"), std::string::npos);
}

TEST(Sandbox, ADocumentNeedingMoreMemoryThanAllowedFailsWithMemory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "no address-space limit under AddressSanitizer";
#endif
  Server s({.env = {{"SWITCHBOARD_KNOWLEDGE_EXTRACT_MEMORY_MB", "200"}}});
  make_collection(s.port());
  std::string html = "<html><body>";
  for (int i = 0; i < 1100000; ++i) html += "<b>x</b>";  // 8.8 MB: a parse tree of over 200 MiB
  html += "</body></html>";
  const long before = rss_kib(s.pid());
  const std::string r = upload(s.port(), "many.html", "text/html", html);
  EXPECT_EQ(r.substr(0, 3), "422") << r.substr(0, 300);
  EXPECT_NE(r.find("(memory)"), std::string::npos) << r.substr(0, 300);
  EXPECT_LT(rss_kib(s.pid()) - before, 100 * 1024) << "the parse happened in the server";
  EXPECT_EQ(upload(s.port(), "ok.html", "text/html", "<p>fine</p>").substr(0, 3), "201");
}

TEST(Sandbox, AKilledWorkerFailsItsDocumentAndTheServerGoesOn) {
  Server s;
  make_collection(s.port());
  const std::string r = upload(s.port(), "slow.html", "text/html", nested_html(150000, "div"), true);
  ASSERT_EQ(r.substr(0, 3), "202") << r.substr(0, 300);
  const std::string id = id_of(r);
  std::vector<pid_t> workers;
  for (int i = 0; i < 100 && workers.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    workers = child_pids(s.pid());
  }
  ASSERT_EQ(workers.size(), 1u) << "one worker, started for the document";
  std::this_thread::sleep_for(200ms);  // mid-document
  ASSERT_EQ(::kill(workers[0], SIGKILL), 0);
  const std::string st = wait_state(s.port(), id, 5s);
  EXPECT_NE(st.find("failed: the document could not be extracted (crashed)"), std::string::npos) << st;
  EXPECT_EQ(http(s.port(), "GET", "/health")->status, 200);
  // A new worker takes the next document.
  const std::string ok = upload(s.port(), "ok.html", "text/html", "<p>after the crash</p>");
  EXPECT_EQ(ok.substr(0, 3), "201") << ok;
}

TEST(Sandbox, SigtermDuringASlowExtractionExitsWithinTheGracePeriod) {
  Server s({.env = {{"SWITCHBOARD_SERVER_SHUTDOWN_GRACE_MS", "1000"}}});
  make_collection(s.port());
  std::thread uploader([&] { upload(s.port(), "slow.html", "text/html", nested_html(150000, "div")); });
  for (int i = 0; i < 100 && child_pids(s.pid()).empty(); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_FALSE(child_pids(s.pid()).empty());
  std::this_thread::sleep_for(200ms);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.stop(SIGTERM, 10s), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2500ms) << "grace 1000 ms";
  uploader.join();
}

TEST(Sandbox, AnUploadThatKeepsTakingTheServerDownIsFailedNotRetriedForever) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  std::string id;
  {
    Server s({.data_dir = data});
    make_collection(s.port());
    const std::string r = upload(s.port(), "slow.html", "text/html", nested_html(150000, "div"), true);
    ASSERT_EQ(r.substr(0, 3), "202") << r.substr(0, 300);
    id = id_of(r);
    std::this_thread::sleep_for(300ms);
    s.kill9();  // as if the parser had taken the server down
  }
  // Each start resumes the kept upload; each is cut short the same way.
  for (int start = 0; start < kMaxUploadAttempts - 1; ++start) {
    Server s({.data_dir = data});
    for (int i = 0; i < 100 && child_pids(s.pid()).empty(); ++i) std::this_thread::sleep_for(20ms);
    ASSERT_FALSE(child_pids(s.pid()).empty()) << "start " << start << " resumed the upload";
    std::this_thread::sleep_for(200ms);
    s.kill9();
  }
  Server s({.data_dir = data});
  const std::string st = wait_state(s.port(), id, 5s);
  EXPECT_NE(st.find("failed: processing this upload was interrupted 3 times"), std::string::npos) << st;
  EXPECT_TRUE(child_pids(s.pid()).empty()) << "not parsed again";
}

TEST(Sandbox, InvalidUtf8IsRepairedAtIngestion) {
  Server s;
  make_collection(s.port());
  const std::string bad = "caf\xc3 ol\xe9 \xff\xfe text \xed\xa0\x80 end";  // cut, Latin-1, bytes, surrogate
  const std::string r = upload(s.port(), "bad.txt", "text/plain", bad);
  ASSERT_EQ(r.substr(0, 3), "201") << r;
  auto doc = http(s.port(), "GET", "/api/v1/documents/" + id_of(r) + "?include=text");
  ASSERT_TRUE(doc);
  auto body = json::parse(doc->body);  // strict: throws on invalid UTF-8
  const std::string text(body.at("text").as_string());
  EXPECT_NE(text.find("caf\xef\xbf\xbd ol\xef\xbf\xbd"), std::string::npos) << text;
  EXPECT_EQ(text.find('\xff'), std::string::npos);
  auto hit = http(s.port(), "POST", "/api/v1/search", R"({"collection":"c","query":"text end"})");
  ASSERT_TRUE(hit);
  EXPECT_NO_THROW(json::parse(hit->body));
}

TEST(Sandbox, FormFieldsMustBeValidUtf8AndIdsWithoutControlCharacters) {
  Server s;
  make_collection(s.port());
  auto up = [&](const std::map<std::string, std::string>& fields, const std::string& filename) {
    std::map<std::string, std::string> f = fields;
    f["collection"] = "c";
    auto r = http(s.port(), "POST", "/api/v1/documents?async=false", multipart_form(f, filename, "text/plain", "words"),
                  kMultipart);
    return r ? std::to_string(r->status) + " " + r->body : "none";
  };
  EXPECT_EQ(up({{"title", "caf\xc3"}}, "a.txt").substr(0, 3), "400");
  EXPECT_EQ(up({{"tags", "a,\xff"}}, "a.txt").substr(0, 3), "400");
  EXPECT_EQ(up({{"external_id", "a\x01b"}}, "a.txt").substr(0, 3), "400");
  const std::string ok = up({}, "bad\xff\x07name.txt");
  ASSERT_EQ(ok.substr(0, 3), "201") << ok;
  auto doc = http(s.port(), "GET", "/api/v1/documents/" + id_of(ok));
  ASSERT_TRUE(doc);
  EXPECT_EQ(std::string(json::parse(doc->body).at("title").as_string()), "bad\xef\xbf\xbdname.txt");
}

// ---- bounds on what one request can make the server build ---------------------------------------

std::string many_inputs(int n) {
  std::string in = "[";
  for (int i = 0; i < n; ++i) in += std::string(i ? "," : "") + "\"w" + std::to_string(i) + "\"";
  return in + "]";
}

TEST(Bounds, AnEmbeddingsAnswerTooLargeToBuildIs413BeforeWork) {
  Server s({.env = {{"SWITCHBOARD_JOBS_MAX_QUEUED_BYTES", "65536"}}});
  const long before = rss_kib(s.pid());
  const std::string body = R"({"model":"mock/embed","dimensions":65536,"input":)" + many_inputs(2048) + "}";
  ASSERT_LT(body.size(), 32768u);
  auto r = http(s.port(), "POST", "/v1/embeddings", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body.substr(0, 300);
  EXPECT_NE(r->body.find("max_response_bytes"), std::string::npos) << r->body;
  auto job = http(s.port(), "POST", "/api/v1/jobs", R"({"type":"embeddings","request":)" + body + "}");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->status, 413) << job->body.substr(0, 300);
  EXPECT_LT(rss_kib(s.pid()) - before, 64 * 1024);
  // Within the bound it is answered; base64 is smaller, so more fits.
  r = http(s.port(), "POST", "/v1/embeddings", R"({"model":"mock/embed","dimensions":1024,"input":)" + many_inputs(64) + "}");
  EXPECT_EQ(r->status, 200);
  // One job larger than the whole queue can never fit: 413, not "retry later".
  auto big = http(s.port(), "POST", "/api/v1/jobs",
                  R"({"type":"chat.completion","request":{"model":"mock/echo","messages":[{"role":"user","content":")" +
                      std::string(70000, 'x') + R"("}]}})");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413) << big->body.substr(0, 300);
  EXPECT_NE(big->body.find("max_queued_bytes"), std::string::npos);
}

TEST(Bounds, TokenIdsAndModelNamesAreChecked) {
  Server s;
  auto status = [&](const std::string& path, const std::string& body) {
    auto r = http(s.port(), "POST", path, body);
    return r ? std::to_string(r->status) + " " + r->body : "none";
  };
  EXPECT_EQ(status("/v1/embeddings", R"({"model":"mock/embed","input":[-1]})").substr(0, 3), "400");
  EXPECT_EQ(status("/v1/embeddings", R"({"model":"mock/embed","input":[[5, -2]]})").substr(0, 3), "400");
  EXPECT_EQ(status("/v1/embeddings", R"({"model":"mock/embed","input":[4294967296]})").substr(0, 3), "400");
  const std::string ids = status("/v1/embeddings", R"({"model":"mock/embed","input":[1,2,3]})");
  EXPECT_EQ(ids.substr(0, 3), "400") << "the mock takes text";
  EXPECT_NE(ids.find("token ids"), std::string::npos) << ids;
  const std::string chat = R"(,"messages":[{"role":"user","content":"hi"}]})";
  for (const std::string model : {std::string("mock/ec\\u0000ho"), std::string("mock/echo\\n"),
                                  std::string("mock/") + std::string(300, 'e')}) {
    const std::string r = status("/v1/chat/completions", R"({"model":")" + model + "\"" + chat);
    EXPECT_EQ(r.substr(0, 3), "400") << model;
    EXPECT_NE(r.find("\"param\":\"model\""), std::string::npos) << r;
  }
}

TEST(Bounds, NumbersThatAreNotFiniteAndBodiesThatAreNotUtf8AreRefused) {
  Server s;
  auto r = http(s.port(), "POST", "/v1/chat/completions",
                R"({"model":"mock/echo","messages":[{"role":"user","content":"hi"}],"temperature":1e999})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("\"param\":\"temperature\""), std::string::npos) << r->body;
  r = http(s.port(), "POST", "/api/v1/search", R"({"collection":"c","query":"x","filters":{"n":[1,-1e400]}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("filters.n[1]"), std::string::npos) << r->body;
  r = http(s.port(), "POST", "/v1/chat/completions", "{\"model\":\"mock/echo\",\"x\":\"caf\xc3\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("not valid UTF-8 at byte 29"), std::string::npos) << r->body;
}

TEST(Bounds, TheMockNeverCutsACharacter) {
  Server s;
  std::string text;
  for (int i = 0; i < 150; ++i) text += "\xc3\xa9";  // 300 bytes of é: the cut at 200 falls inside none
  text = "x" + text;                               // now byte 200 is in the middle of one
  auto r = http(s.port(), "POST", "/v1/chat/completions",
                R"({"model":"mock/echo","messages":[{"role":"user","content":")" + text + R"("}]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NO_THROW(json::parse(r->body)) << "invalid UTF-8 in the answer";
}

TEST(Ssrf, DocumentUrlsInEverySpellingOfAPrivateAddressAreRefused) {
  Server s;
  make_collection(s.port());
  for (const char* host : {"[::127.0.0.1]", "[::7f00:1]", "[::ffff:0:7f00:1]", "[64:ff9b::7f00:1]",
                           "[64:ff9b::a9fe:a9fe]", "[2002:7f00:1::]", "[::ffff:127.0.0.1]", "0x7f.1",
                           "2130706433", "017700000001", "localhost.", "169.254.169.254"}) {
    const std::string body = std::string(R"({"collection":"c","url":"http://)") + host + R"(:1/x"})";
    auto r = http(s.port(), "POST", "/api/v1/documents", body);
    ASSERT_TRUE(r) << host;
    EXPECT_EQ(r->status, 400) << host << ": " << r->body;
    EXPECT_NE(r->body.find("url_allow_private"), std::string::npos) << host << ": " << r->body;
  }
}

TEST(Multipart, AFormWithoutABoundaryIsSaidToBeOne) {
  Server s;
  make_collection(s.port());
  auto r = http(s.port(), "POST", "/api/v1/documents", "--x\r\n", {{"Content-Type", "multipart/form-data"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("boundary"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace sbtest
