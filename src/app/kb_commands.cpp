#include "app/kb_commands.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "app/progress.hpp"
#include "http/client.hpp"
#include "core/json_text.hpp"

namespace sb::app {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

bool supported(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* e : {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}) {
    if (ext == e) return true;
  }
  return false;
}

// Runs one request on a private io_context and waits for it. nullopt = transport failure
// (printed).
std::optional<http::ClientResponse> call(const KbOptions& o, std::string method, const std::string& path,
                                         std::string body, std::string content_type) {
  asio::io_context ioc(1);
  http::Client client;
  http::ClientRequest req;
  req.method = std::move(method);
  req.url = o.server + path;
  req.body = std::move(body);
  req.headers.emplace_back("Content-Type", std::move(content_type));
  if (!o.api_key.empty()) req.headers.emplace_back("Authorization", "Bearer " + o.api_key);
  req.timeouts.first_byte = std::chrono::minutes(10);  // a large PDF takes a while to index
  std::optional<core::Result<http::ClientResponse>> result;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> { result.emplace(co_await client.fetch(std::move(req))); },
      asio::detached);
  ioc.run();
  client.close_idle();
  if (!result || !*result) {
    std::fprintf(stderr, "switchboard: cannot reach %s: %s\n", o.server.c_str(),
                 result ? result->error().message.c_str() : "no answer");
    return std::nullopt;
  }
  return std::move(**result);
}

std::string error_message(const http::ClientResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (const auto* e = v.as_object().if_contains("error"); e && e->is_object()) {
      if (const auto* m = e->as_object().if_contains("message"); m && m->is_string()) return std::string(m->as_string());
    }
  }
  return r.body.substr(0, 200);
}

}  // namespace

int ingest(const KbOptions& o, const std::vector<std::string>& paths) {
  std::vector<std::pair<fs::path, std::string>> files;  // path, external id
  int failed = 0;
  auto excluded = [&o](const std::string& rel, const std::string& name) {
    for (const auto& g : o.exclude) {
      if (fnmatch(g.c_str(), rel.c_str(), 0) == 0 || fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
    }
    return false;
  };
  for (const auto& arg : paths) {
    std::error_code ec;
    fs::path p(arg);
    if (fs::is_directory(p, ec)) {
      std::vector<std::pair<fs::path, std::string>> found;
      fs::recursive_directory_iterator it(p, fs::directory_options::skip_permission_denied, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {  // hidden: .git, .DS_Store, editors' files
          if (it->is_directory(ec)) it.disable_recursion_pending();
          continue;
        }
        const std::string rel = it->path().lexically_relative(p).lexically_normal().generic_string();
        if (excluded(rel, name)) {
          if (it->is_directory(ec)) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file(ec) && supported(it->path())) found.emplace_back(it->path(), rel);
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(p, ec)) {
      const std::string name = p.filename().generic_string();
      if (!excluded(name, name)) files.emplace_back(p, name);
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", arg.c_str());
      ++failed;
    }
  }
  Progress progress;
  std::size_t done = 0;
  for (const auto& [path, id] : files) {
    progress.update("ingest", done++, files.size());
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string boundary = "switchboard-ingest-7f3a9c";
    std::string body;
    auto field = [&](const std::string& name, const std::string& value) {
      body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
    };
    field("collection", o.collection);
    field("external_id", id);
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" +
            path.filename().string() + "\"\r\n\r\n" + bytes.str() + "\r\n--" + boundary + "--\r\n";
    auto r = call(o, "POST", "/api/v1/documents", std::move(body), "multipart/form-data; boundary=" + boundary);
    if (!r) return 2;
    if (r->status == 202) {
      auto v = json::parse(r->body).as_object();
      std::printf("%s: accepted %s (processing in the background)\n", path.string().c_str(),
                  std::string(v.at("id").as_string()).c_str());
      continue;
    }
    if (r->status != 200 && r->status != 201) {
      std::printf("%s: error %d: %s\n", path.string().c_str(), r->status, error_message(*r).c_str());
      ++failed;
      continue;
    }
    auto v = json::parse(r->body).as_object();
    const bool unchanged = v.at("unchanged").as_bool();
    std::printf("%s: %s %s v%lld (%lld chunks)\n", path.string().c_str(),
                unchanged ? "unchanged" : (r->status == 201 ? "created" : "updated"),
                std::string(v.at("id").as_string()).c_str(), static_cast<long long>(v.at("version").as_int64()),
                static_cast<long long>(v.at("chunks").as_int64()));
    std::fflush(stdout);
  }
  progress.update("ingest", done, files.size());
  progress.finish();
  std::printf("%zu files, %d failed\n", files.size(), failed);
  return failed ? 1 : 0;
}

int search(const KbOptions& o, const std::string& query, const std::string& mode, int top_k) {
  json::object req{{"collection", o.collection}, {"query", query}, {"top_k", top_k}};
  if (!mode.empty()) req["mode"] = mode;
  auto r = call(o, "POST", "/api/v1/search", core::to_json(req), "application/json");
  if (!r) return 2;
  if (r->status != 200) {
    std::fprintf(stderr, "error %d: %s\n", r->status, error_message(*r).c_str());
    return 1;
  }
  auto v = json::parse(r->body).as_object();
  if (const auto* note = v.if_contains("note")) std::printf("(%s)\n", std::string(note->as_string()).c_str());
  int rank = 0;
  for (const auto& h : v.at("data").as_array()) {
    const auto& o2 = h.as_object();
    std::string where = o2.at("external_id").is_string() ? std::string(o2.at("external_id").as_string())
                                                         : std::string(o2.at("document_id").as_string());
    if (o2.at("page").is_int64()) where += " p." + std::to_string(o2.at("page").as_int64());
    std::string text(o2.at("text").as_string());
    if (text.size() > 160) text = text.substr(0, 157) + "...";
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::printf("%2d. %.4f  %s  %s\n    %s\n", ++rank, o2.at("score").to_number<double>(), where.c_str(),
                std::string(o2.at("title").as_string()).c_str(), text.c_str());
  }
  return 0;
}

std::optional<ServerAnswer> call_server(const KbOptions& o, const std::string& method, const std::string& path,
                                        std::string body) {
  auto r = call(o, method, path, std::move(body), "application/json");
  if (!r) return std::nullopt;
  return ServerAnswer{r->status, r->body};
}

std::string ServerAnswer::error_message() const {
  http::ClientResponse r;
  r.status = status;
  r.body = body;
  return app::error_message(r);
}

}  // namespace sb::app
