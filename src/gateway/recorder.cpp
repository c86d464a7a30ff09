#include "gateway/recorder.hpp"


#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sys/stat.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "core/log.hpp"
#include "core/text.hpp"
#include "gateway/provider.hpp"

namespace sb::gateway {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxRecorded = 4 * 1024 * 1024;
std::atomic<unsigned long long> g_seq{0};

bool credential_header(std::string_view name) {
  const std::string n = core::ascii_lower(name);
  return n == "authorization" || n == "x-api-key" || n == "x-goog-api-key" || n == "api-key" ||
         n == "proxy-authorization" || n == "cookie" || n == "set-cookie";
}

json::array headers_json(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view key) {
  json::array out;
  for (const auto& [k, v] : headers) {
    json::array h;
    h.push_back(json::string(k));
    h.push_back(json::string(credential_header(k) ? "[removed]" : strip_secrets(v, key)));
    out.push_back(std::move(h));
  }
  return out;
}

// A body as JSON when it is JSON, else as text.
json::value body_json(const std::string& body, std::string_view key) {
  std::string clean = strip_secrets(body, key);
  boost::system::error_code ec;
  json::value v = json::parse(clean, ec);
  if (!ec) return v;
  return json::string(clean);
}

std::string stamp(std::chrono::system_clock::time_point t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  const long ms =
      static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

void keep(Recording& r, std::string& into, std::string_view data) {
  if (r.bytes + data.size() > kMaxRecorded) {
    into.append(data.substr(0, kMaxRecorded - r.bytes));
    r.bytes = kMaxRecorded;
    r.cut = true;
    return;
  }
  into.append(data);
  r.bytes += data.size();
}

}  // namespace

core::Status check_record_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) return core::Error(core::ErrorKind::invalid_field, "gateway.record_dir: cannot create " + dir + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return core::Error(core::ErrorKind::invalid_field, "gateway.record_dir: " + dir + " is not a directory");
  }
  if (st.st_mode & (S_IWOTH | S_IWGRP)) {
    return core::Error(core::ErrorKind::invalid_field,
                       "gateway.record_dir: " + dir +
                           " can be written by others (group or world); recordings hold prompts and answers: "
                           "chmod 700 it");
  }
  if (st.st_uid != ::geteuid()) {
    return core::Error(core::ErrorKind::invalid_field, "gateway.record_dir: " + dir + " belongs to another user");
  }
  return {};
}

Recording start_recording(const core::ProviderConfig& provider, const http::ClientRequest& request) {
  Recording r;
  if (provider.record_dir.empty()) return r;
  r.provider = &provider;
  r.method = request.method;
  r.url = request.url;
  r.request_headers = request.headers;
  r.request_body = request.body.substr(0, kMaxRecorded);
  return r;
}

void add_event(Recording& r, std::string_view data) {
  if (!r.provider || r.cut) return;
  std::string e;
  keep(r, e, data);
  r.events.push_back(std::move(e));
}

std::string recording_json(const Recording& r) {
  const std::string_view key = r.provider ? std::string_view(r.provider->api_key) : std::string_view();
  json::object o;
  o["provider"] = r.provider ? r.provider->name : "";
  o["type"] = r.provider ? r.provider->type : "";
  o["started_at"] = stamp(r.started);
  o["duration_ms"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - r.t0).count();
  json::object req;
  req["method"] = r.method;
  req["url"] = strip_secrets(r.url, key);
  req["headers"] = headers_json(r.request_headers, key);
  req["body"] = body_json(r.request_body, key);
  o["request"] = std::move(req);
  json::object res;
  res["status"] = r.status;
  res["headers"] = headers_json(r.response_headers, key);
  if (!r.events.empty()) {
    json::array events;
    for (const auto& e : r.events) events.push_back(body_json(e, key));
    res["events"] = std::move(events);
  } else {
    res["body"] = body_json(r.response_body, key);
  }
  o["response"] = std::move(res);
  if (!r.error.empty()) o["error"] = strip_secrets(r.error, key);
  if (r.cut) o["cut_at_bytes"] = static_cast<std::int64_t>(kMaxRecorded);
  return json::serialize(o);
}

void finish_recording(Recording& r) {
  if (!r.provider) return;
  const std::string name = stamp(r.started) + "-" + std::to_string(g_seq.fetch_add(1)) + "-" + r.provider->name + ".json";
  const fs::path path = fs::path(r.provider->record_dir) / name;
  std::ofstream out(path, std::ios::binary);
  out << recording_json(r) << '\n';
  if (!out) core::log::warn("recording an upstream exchange failed", {{"path", path.string()}});
  ::chmod(path.c_str(), 0600);
}

void record_response(Recording& r, const http::ClientResponse& res) {
  if (!r.provider) return;
  r.status = res.status;
  r.response_headers = res.headers;
}

void record_body(Recording& r, std::string_view body) {
  if (!r.provider) return;
  keep(r, r.response_body, body);
}

}  // namespace sb::gateway
