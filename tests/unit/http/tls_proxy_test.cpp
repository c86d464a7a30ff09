// https:// through an HTTPS_PROXY end to end: the client sends CONNECT to a tunnelling proxy, then
// speaks TLS through the tunnel to a server whose certificate it must verify (name and chain).
// The certificate is made here (a self-signed P-256 certificate for api.example.test) and given
// to the client as ca_file; without it the same server is refused.

#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "http/client.hpp"

namespace sb::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// A key and a self-signed certificate for `host`, written as PEM to a temporary file.
class TestCertificate {
 public:
  explicit TestCertificate(const std::string& host) {
    key_ = EVP_EC_gen("P-256");
    cert_ = X509_new();
    X509_set_version(cert_, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert_), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert_), 3600);
    X509_set_pubkey(cert_, key_);
    X509_NAME* name = X509_get_subject_name(cert_);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert_, name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert_, cert_, nullptr, nullptr, 0);
    const std::string san = "DNS:" + host;
    for (auto [nid, value] : {std::pair<int, const char*>{NID_subject_alt_name, san.c_str()},
                              std::pair<int, const char*>{NID_basic_constraints, "critical,CA:TRUE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      X509_add_ext(cert_, ext, -1);
      X509_EXTENSION_free(ext);
    }
    X509_sign(cert_, key_, EVP_sha256());
    path_ = (std::filesystem::temp_directory_path() / ("sb-tls-" + std::to_string(std::random_device{}()) + ".pem")).string();
    FILE* f = std::fopen(path_.c_str(), "w");
    PEM_write_X509(f, cert_);
    std::fclose(f);
  }
  ~TestCertificate() {
    X509_free(cert_);
    EVP_PKEY_free(key_);
    std::filesystem::remove(path_);
  }
  TestCertificate(const TestCertificate&) = delete;
  TestCertificate& operator=(const TestCertificate&) = delete;

  X509* cert() const { return cert_; }
  EVP_PKEY* key() const { return key_; }
  const std::string& path() const { return path_; }

 private:
  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  std::string path_;
};

std::string read_head(auto& stream, asio::streambuf& buf) {
  boost::system::error_code ec;
  const std::size_t n = asio::read_until(stream, buf, "\r\n\r\n", ec);
  if (ec) return {};
  std::string head(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
  buf.consume(n);
  return head;
}

// A loopback listener whose thread takes one connection and hands it to `serve`, which records
// what it saw with record(); the destructor stops a listener still waiting.
class OneConnection {
 public:
  OneConnection() = default;
  ~OneConnection() { stop(); }
  OneConnection(const OneConnection&) = delete;
  OneConnection& operator=(const OneConnection&) = delete;

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string recorded() {
    std::lock_guard lock(mu_);
    return recorded_;
  }

 protected:
  void start(std::function<void(tcp::socket&)> serve) {
    thread_ = std::thread([this, serve = std::move(serve)] {
      boost::system::error_code ec;
      tcp::socket socket = acceptor_.accept(ec);
      if (!ec) serve(socket);
    });
  }
  // Waits for the connection's thread (a subclass calls it first when `serve` uses its members).
  void stop() {
    boost::system::error_code ec;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes an accept() still waiting
    acceptor_.close(ec);
    if (thread_.joinable()) thread_.join();
  }
  void record(std::string what) {
    std::lock_guard lock(mu_);
    recorded_ = std::move(what);
  }
  asio::io_context ioc_;

 private:
  tcp::acceptor acceptor_{ioc_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  std::mutex mu_;
  std::string recorded_;
  std::thread thread_;
};

// Serves one HTTPS request with the certificate and records its head.
class TlsServer : public OneConnection {
 public:
  explicit TlsServer(const TestCertificate& cert) : tls_(asio::ssl::context::tls_server) {
    SSL_CTX_use_certificate(tls_.native_handle(), cert.cert());
    SSL_CTX_use_PrivateKey(tls_.native_handle(), cert.key());
    start([this](tcp::socket& socket) {
      boost::system::error_code ec;
      asio::ssl::stream<tcp::socket&> stream(socket, tls_);
      stream.handshake(asio::ssl::stream_base::server, ec);
      if (ec) return;
      asio::streambuf buf;
      record(read_head(stream, buf));
      const std::string answer =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nsecure hello";
      asio::write(stream, asio::buffer(answer), ec);
      stream.shutdown(ec);
    });
  }
  ~TlsServer() { stop(); }
  std::string head() { return recorded(); }

 private:
  asio::ssl::context tls_;
};

// A CONNECT proxy for one connection: records the CONNECT line, then copies bytes both ways
// between the client and `target_port` on loopback, whatever host the client named.
class TunnelProxy : public OneConnection {
 public:
  explicit TunnelProxy(unsigned short target_port) {
    start([this, target_port](tcp::socket& client) {
      boost::system::error_code ec;
      asio::streambuf buf;
      const std::string head = read_head(client, buf);
      record(head.substr(0, head.find("\r\n")));
      tcp::socket upstream(ioc_);
      upstream.connect(tcp::endpoint(asio::ip::address_v4::loopback(), target_port), ec);
      if (ec) return;
      asio::write(client, asio::buffer(std::string("HTTP/1.1 200 Connection established\r\n\r\n")), ec);
      std::thread back([&] { pipe(upstream, client); });
      pipe(client, upstream);
      back.join();
    });
  }
  std::string connect_line() { return recorded(); }

 private:
  static void pipe(tcp::socket& from, tcp::socket& to) {
    char data[16384];
    boost::system::error_code ec;
    for (;;) {
      const std::size_t n = from.read_some(asio::buffer(data), ec);
      if (ec) break;
      asio::write(to, asio::buffer(data, n), ec);
      if (ec) break;
    }
    to.shutdown(tcp::socket::shutdown_send, ec);
  }
};

core::Result<ClientResponse> fetch_once(const ClientOptions& options, const std::string& url) {
  asio::io_context ioc;
  Client client(options);
  ClientRequest r;
  r.url = url;
  r.timeouts.connect = 5000ms;
  r.timeouts.first_byte = 5000ms;
  std::optional<core::Result<ClientResponse>> out;
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { out.emplace(co_await client.fetch(r)); }, asio::detached);
  ioc.run();
  client.close_idle();
  return std::move(*out);
}

TEST(Proxy, HttpsThroughTheProxyIsVerifiedTlsToTheNamedHost) {
  TestCertificate cert("api.example.test");
  TlsServer server(cert);
  TunnelProxy proxy(server.port());
  auto res = fetch_once(ClientOptions{.ca_file = cert.path(), .https_proxy = "http://127.0.0.1:" + std::to_string(proxy.port())},
                        "https://api.example.test/v1/models");
  ASSERT_TRUE(res) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "secure hello");
  EXPECT_EQ(proxy.connect_line(), "CONNECT api.example.test:443 HTTP/1.1");
  const std::string head = server.head();
  EXPECT_EQ(head.substr(0, head.find("\r\n")), "GET /v1/models HTTP/1.1");
  EXPECT_NE(head.find("api.example.test"), std::string::npos) << head;  // the Host header
}

TEST(Proxy, AnUntrustedCertificateThroughTheProxyIsRefused) {
  TestCertificate cert("api.example.test");
  TlsServer server(cert);
  TunnelProxy proxy(server.port());
  auto res = fetch_once(ClientOptions{.https_proxy = "http://127.0.0.1:" + std::to_string(proxy.port())},
                        "https://api.example.test/v1/models");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().kind, core::ErrorKind::upstream_error) << res.error().message;
  EXPECT_NE(res.error().message.find("certificate"), std::string::npos) << res.error().message;
  EXPECT_EQ(proxy.connect_line(), "CONNECT api.example.test:443 HTTP/1.1");
  EXPECT_EQ(server.head(), "") << "nothing is sent over an unverified connection";
}

TEST(Proxy, ACertificateForAnotherNameIsRefused) {
  TestCertificate cert("other.example.test");
  TlsServer server(cert);
  TunnelProxy proxy(server.port());
  auto res = fetch_once(ClientOptions{.ca_file = cert.path(), .https_proxy = "http://127.0.0.1:" + std::to_string(proxy.port())},
                        "https://api.example.test/v1/models");
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().message.find("certificate"), std::string::npos) << res.error().message;
  EXPECT_EQ(server.head(), "");
}

}  // namespace
}  // namespace sb::http
