#include "core/log.hpp"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

namespace sb::core::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::mutex g_mutex;  // guards init/shutdown (g_owner)
std::shared_ptr<spdlog::logger> g_owner;
// Read on every line without a lock; set once by init, cleared by shutdown.
std::atomic<spdlog::logger*> g_logger{nullptr};

constexpr std::array<std::string_view, 11> kSecretParts = {
    "key",    "token",  "secret", "password",      "passwd", "authorization",
    "apikey", "cookie", "bearer", "authentication", "credential"};

bool is_secret_part(std::string_view part) {
  for (auto s : kSecretParts) {
    if (part == s) return true;
  }
  return false;
}

void append_time(std::string& out) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  gmtime_r(&ts.tv_sec, &tm);
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        ts.tv_nsec / 1000);
  out.append(buf, static_cast<std::size_t>(n));
}

void append_value(std::string& out, const Field& f) {
  if (is_secret_name(f.key)) {
    out += "\"***\"";
    return;
  }
  std::visit(
      [&out](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::string_view>) {
          append_json_string(out, v);
        } else if constexpr (std::is_same_v<V, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<V, long long>) {
          out += std::to_string(v);
        } else if constexpr (std::is_same_v<V, double>) {
          char buf[32];
          int n = std::snprintf(buf, sizeof buf, "%.6g", v);
          out.append(buf, static_cast<std::size_t>(n));
        } else {
          out += v.json;
        }
      },
      f.value);
}

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  if (name == "trace") return Level::trace;
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "error") return Level::error;
  if (name == "off") return Level::off;
  return std::nullopt;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    case Level::off: return "off";
  }
  return "info";
}

bool is_secret_name(std::string_view name) {
  std::string lower;
  lower.reserve(name.size());
  for (char c : name) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower.find("apikey") != std::string::npos || lower.find("api-key") != std::string::npos ||
      lower.find("api_key") != std::string::npos) {
    return true;
  }
  std::size_t start = 0;
  for (std::size_t i = 0; i <= lower.size(); ++i) {
    if (i == lower.size() || lower[i] == '-' || lower[i] == '_' || lower[i] == '.' ||
        lower[i] == ' ') {
      if (i > start && is_secret_part(std::string_view(lower).substr(start, i - start))) {
        return true;
      }
      start = i + 1;
    }
  }
  return false;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string format_line(Level level, std::string_view msg, Fields fields) {
  std::string out;
  out.reserve(160 + fields.size() * 24);
  out += "{\"time\":\"";
  append_time(out);
  out += "\",\"level\":\"";
  out += level_name(level);
  out += "\",\"msg\":";
  append_json_string(out, msg);
  for (const Field& f : fields) {
    out.push_back(',');
    append_json_string(out, f.key);
    out.push_back(':');
    append_value(out, f);
  }
  out.push_back('}');
  return out;
}

void init(Level level) {
  g_level.store(level);
  std::lock_guard lock(g_mutex);
  if (g_owner) return;
  spdlog::init_thread_pool(8192, 1);  // ~300 bytes per slot, preallocated
  auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  auto logger = std::make_shared<spdlog::async_logger>(
      "switchboard", std::move(sink), spdlog::thread_pool(),
      spdlog::async_overflow_policy::overrun_oldest);
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::trace);
  logger->flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));
  g_owner = std::move(logger);
  g_logger.store(g_owner.get());
}

void set_level(Level level) { g_level.store(level); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view msg, Fields fields) {
  if (!enabled(level)) return;
  std::string line = format_line(level, msg, fields);
  spdlog::logger* logger = g_logger.load(std::memory_order_acquire);
  if (logger) {
    logger->log(level >= Level::warn ? spdlog::level::warn : spdlog::level::info, line);
  } else {
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
  }
}

std::uint64_t dropped() {
  std::lock_guard lock(g_mutex);
  return g_owner ? spdlog::thread_pool()->overrun_counter() : 0;
}

void flush() {
  {
    std::lock_guard lock(g_mutex);
    if (g_owner) g_owner->flush();
  }
  std::fflush(stdout);
}

// REQUIRES: no other thread logs concurrently (called after the I/O threads stopped).
void shutdown() {
  {
    std::lock_guard lock(g_mutex);
    if (!g_owner) return;
    g_logger.store(nullptr);
    g_owner->flush();
    g_owner.reset();
  }
  spdlog::shutdown();
  std::fflush(stdout);
}

}  // namespace sb::core::log
