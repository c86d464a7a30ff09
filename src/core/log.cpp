#include "core/log.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace sb::core::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<int> g_fd{1};  // where lines go (log::init)

// Batching writer: lines are appended to `pending` under a short lock; a background thread
// writes them out every kFlushInterval, or sooner when kWakeBytes are waiting. I/O threads never
// wait on stdout. Past kMaxPendingBytes new lines are dropped and counted, never queued.
constexpr std::size_t kWakeBytes = 64 * 1024;
constexpr std::size_t kMaxPendingBytes = 8 * 1024 * 1024;
constexpr auto kFlushInterval = std::chrono::milliseconds(50);

struct Writer {
  std::mutex mu;  // guards pending, stop, flush_seq, written_seq
  std::condition_variable wake;
  std::condition_variable flushed;
  std::string pending;
  bool stop = false;
  std::uint64_t flush_seq = 0;    // flush requests made
  std::uint64_t written_seq = 0;  // flush requests satisfied
  std::atomic<std::uint64_t> dropped{0};
  std::thread thread;

  void run() {
    std::string batch;
    std::unique_lock lock(mu);
    for (;;) {
      wake.wait_for(lock, kFlushInterval,
                    [&] { return stop || flush_seq != written_seq || pending.size() >= kWakeBytes; });
      batch.swap(pending);
      std::uint64_t seq = flush_seq;
      bool stopping = stop;
      lock.unlock();
      write_all(batch);
      batch.clear();
      lock.lock();
      written_seq = seq;
      flushed.notify_all();
      if (stopping && pending.empty()) return;
    }
  }

  static void write_all(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(g_fd.load(std::memory_order_relaxed), data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // stdout is gone; nothing better to do
      off += static_cast<std::size_t>(n);
    }
  }
};

std::mutex g_mutex;  // guards g_writer creation and destruction
std::unique_ptr<Writer> g_owner;
// Read on every line without a lock; set once by init, cleared by shutdown.
std::atomic<Writer*> g_writer{nullptr};

constexpr std::array<std::string_view, 11> kSecretParts = {
    "key",    "token",  "secret", "password",      "passwd", "authorization",
    "apikey", "cookie", "bearer", "authentication", "credential"};

bool is_secret_part(std::string_view part) {
  for (auto s : kSecretParts) {
    if (part == s) return true;
  }
  return false;
}

// Writes the UTC time with microseconds (27 bytes, "2026-01-02T03:04:05.123456Z").
char* put_time(char* p) {
  // The date and time to the second are formatted once per second per thread.
  thread_local std::time_t cached_sec = -1;
  thread_local char cached[24];
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != cached_sec) {
    std::tm tm{};
    gmtime_r(&ts.tv_sec, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_sec = ts.tv_sec;
  }
  std::memcpy(p, cached, 20);
  p += 20;
  long us = ts.tv_nsec / 1000;
  for (int i = 5; i >= 0; --i) {
    p[i] = static_cast<char>('0' + us % 10);
    us /= 10;
  }
  p += 6;
  *p++ = 'Z';
  return p;
}
constexpr std::size_t kTimeBytes = 27;

// is_secret_name, memoised per thread. The memo compares the key's bytes, not its address, so a
// reused buffer can never inherit another key's answer.
bool is_secret_key(std::string_view key) {
  struct Slot {
    std::array<char, 32> bytes{};
    std::size_t size = 0;  // 0 = empty
    bool secret = false;
  };
  if (key.empty() || key.size() > 32) return is_secret_name(key);
  thread_local std::array<Slot, 64> memo{};
  std::size_t h = key.size();
  for (char c : key) h = h * 31 + static_cast<unsigned char>(c);
  Slot& slot = memo[h % memo.size()];
  if (slot.size == key.size() && std::memcmp(slot.bytes.data(), key.data(), key.size()) == 0) {
    return slot.secret;
  }
  bool secret = is_secret_name(key);
  std::memcpy(slot.bytes.data(), key.data(), key.size());
  slot.size = key.size();
  slot.secret = secret;
  return secret;
}

// Writes `s` as a JSON string literal; the room needed is at most json_bound(s).
char* put_json_string(char* p, std::string_view s);
constexpr std::size_t json_bound(std::string_view s) { return 6 * s.size() + 2; }

char* put(char* p, std::string_view s) {
  if (s.empty()) return p;  // an empty view may have no data pointer: memcpy must not see it
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

std::size_t value_bound(const Field& f) {
  if (const auto* sv = std::get_if<std::string_view>(&f.value)) return json_bound(*sv);
  if (const auto* raw = std::get_if<RawJson>(&f.value)) return raw->json.size();
  return 32;  // numbers, booleans, and "***"
}

char* put_value(char* p, const Field& f) {
  if (is_secret_key(f.key)) return put(p, "\"***\"");
  return std::visit(
      [p](const auto& v) -> char* {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::string_view>) {
          return put_json_string(p, v);
        } else if constexpr (std::is_same_v<V, bool>) {
          return put(p, v ? "true" : "false");
        } else if constexpr (std::is_same_v<V, long long>) {
          return std::to_chars(p, p + 24, v).ptr;
        } else if constexpr (std::is_same_v<V, double>) {
          return std::to_chars(p, p + 32, v, std::chars_format::general, 6).ptr;
        } else {
          return put(p, v.json);
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
  char stack[64];
  std::string heap;
  char* lower = stack;
  if (name.size() > sizeof stack) {
    heap.resize(name.size());
    lower = heap.data();
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  std::string_view l(lower, name.size());
  if (l.find("apikey") != std::string_view::npos || l.find("api-key") != std::string_view::npos ||
      l.find("api_key") != std::string_view::npos) {
    return true;
  }
  std::size_t start = 0;
  for (std::size_t i = 0; i <= l.size(); ++i) {
    if (i == l.size() || l[i] == '-' || l[i] == '_' || l[i] == '.' || l[i] == ' ') {
      if (i > start && is_secret_part(l.substr(start, i - start))) return true;
      start = i + 1;
    }
  }
  return false;
}

namespace {

// Whether any of the 8 bytes in `w` needs escaping in a JSON string: below 0x20, '"' or '\\'.
// (The classic SWAR tests: has-less-than and has-zero-byte after xor.)
bool needs_escape8(std::uint64_t w) {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  auto zero_byte = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
  const std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;
  return (below_space | zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\'))) != 0;
}

char* put_json_string(char* p, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  *p++ = '"';
  std::size_t run = 0;  // start of the pending run of characters that need no escape
  std::size_t i = 0;
  while (i < s.size()) {
    // Skip eight plain bytes at a time; the byte test below finds the one that needs escaping.
    if (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (!needs_escape8(w)) {
        i += 8;
        continue;
      }
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    p = put(p, s.substr(run, i - run));
    run = ++i;
    *p++ = '\\';
    switch (c) {
      case '"': *p++ = '"'; break;
      case '\\': *p++ = '\\'; break;
      case '\n': *p++ = 'n'; break;
      case '\r': *p++ = 'r'; break;
      case '\t': *p++ = 't'; break;
      default:
        p = put(p, "u00");
        *p++ = kHex[c >> 4];
        *p++ = kHex[c & 0xf];
    }
  }
  p = put(p, s.substr(run));
  *p++ = '"';
  return p;
}

// Appends the line to `out`: its size is bounded first, then it is written in place.
void format_into(std::string& out, Level level, std::string_view msg, Fields fields) {
  std::size_t bound = 64 + kTimeBytes + json_bound(msg);
  for (const Field& f : fields) bound += json_bound(f.key) + 2 + value_bound(f);
  const std::size_t start = out.size();
  out.resize(start + bound);
  char* p = out.data() + start;
  p = put(p, "{\"time\":\"");
  p = put_time(p);
  p = put(p, "\",\"level\":\"");
  p = put(p, level_name(level));
  p = put(p, "\",\"msg\":");
  p = put_json_string(p, msg);
  for (const Field& f : fields) {
    *p++ = ',';
    p = put_json_string(p, f.key);
    *p++ = ':';
    p = put_value(p, f);
  }
  *p++ = '}';
  out.resize(static_cast<std::size_t>(p - out.data()));
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  const std::size_t start = out.size();
  out.resize(start + json_bound(s));
  char* end = put_json_string(out.data() + start, s);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

std::string format_line(Level level, std::string_view msg, Fields fields) {
  std::string out;
  format_into(out, level, msg, fields);
  return out;
}

void init(Level level, int fd) {
  g_fd.store(fd);
  g_level.store(level);
  std::lock_guard lock(g_mutex);
  if (g_owner) return;
  std::fflush(stdout);
  g_owner = std::make_unique<Writer>();
  g_owner->thread = std::thread([w = g_owner.get()] { w->run(); });
  g_writer.store(g_owner.get(), std::memory_order_release);
}

void set_level(Level level) { g_level.store(level); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view msg, Fields fields) {
  if (!enabled(level)) return;
  thread_local std::string line;  // keeps its capacity: formatting allocates nothing
  line.clear();
  format_into(line, level, msg, fields);
  line.push_back('\n');
  Writer* w = g_writer.load(std::memory_order_acquire);
  if (!w) {
    Writer::write_all(line);
    return;
  }
  bool wake = false;
  {
    std::lock_guard lock(w->mu);
    if (w->pending.size() + line.size() > kMaxPendingBytes) {
      w->dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    w->pending += line;
    wake = level >= Level::warn || w->pending.size() >= kWakeBytes;
    if (level >= Level::warn) ++w->flush_seq;
  }
  if (wake) w->wake.notify_one();
  if (line.capacity() > 64 * 1024) std::string().swap(line);  // after an outsized line
}

std::uint64_t dropped() {
  Writer* w = g_writer.load(std::memory_order_acquire);
  return w ? w->dropped.load(std::memory_order_relaxed) : 0;
}

void flush() {
  Writer* w = g_writer.load(std::memory_order_acquire);
  if (!w) return;
  std::unique_lock lock(w->mu);
  std::uint64_t seq = ++w->flush_seq;
  w->wake.notify_one();
  w->flushed.wait(lock, [&] { return w->written_seq >= seq; });
}

// REQUIRES: no other thread logs concurrently (called after the I/O threads stopped).
void shutdown() {
  std::lock_guard lock(g_mutex);
  if (!g_owner) return;
  g_writer.store(nullptr, std::memory_order_release);
  {
    std::lock_guard wl(g_owner->mu);
    g_owner->stop = true;
  }
  g_owner->wake.notify_one();
  g_owner->thread.join();
  g_owner.reset();
}

}  // namespace sb::core::log
