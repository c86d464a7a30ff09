#pragma once
// Structured JSON logging: one JSON object per line on stdout. Lines are batched and written by
// a background thread (every 50 ms, or at once for warn and error), so an I/O thread never waits
// on the terminal or a pipe. The batch is bounded: when stdout cannot keep up, lines are dropped
// and counted (dropped()), never queued without limit.
//
//   log::info("request", {{"request_id", id}, {"status", 200}});
//
// Any field whose name looks like a secret (key, token, secret, password, authorization, cookie)
// is written as "***", whatever the caller passed.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace sb::core::log {

enum class Level { trace, debug, info, warn, error, off };

std::optional<Level> parse_level(std::string_view name);
std::string_view level_name(Level level);

// A JSON fragment written verbatim (the caller guarantees it is valid JSON).
struct RawJson {
  std::string_view json;
};

struct Field {
  std::string_view key;
  std::variant<std::string_view, long long, double, bool, RawJson> value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, RawJson v) : key(k), value(v) {}
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  Field(std::string_view k, T v) : key(k), value(static_cast<long long>(v)) {}
};

using Fields = std::initializer_list<Field>;

// True when a header or field with this name must never be logged in clear.
// Matches name parts (split on '-', '_', '.', ' ') such as "key", "token", "secret",
// "password", "authorization", "cookie", and the joined forms "apikey"/"api-key".
bool is_secret_name(std::string_view name);

// Appends `s` to `out` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);

// Formats one log line (without the trailing newline). Exposed for tests.
std::string format_line(Level level, std::string_view msg, Fields fields);

// Starts the background writer, writing to `fd` (stdout; the CLI commands other than serve
// give stderr, so their output stays clean). Until init is called (and after shutdown), lines
// go synchronously to stdout.
void init(Level level, int fd = 1);
void set_level(Level level);
Level level();
inline bool enabled(Level l) { return l >= level() && l != Level::off; }

void write(Level level, std::string_view msg, Fields fields = {});
inline void debug(std::string_view msg, Fields f = {}) { if (enabled(Level::debug)) write(Level::debug, msg, f); }
inline void info(std::string_view msg, Fields f = {}) { if (enabled(Level::info)) write(Level::info, msg, f); }
inline void warn(std::string_view msg, Fields f = {}) { if (enabled(Level::warn)) write(Level::warn, msg, f); }
inline void error(std::string_view msg, Fields f = {}) { if (enabled(Level::error)) write(Level::error, msg, f); }

// Lines dropped because the pending batch was full (8 MiB).
std::uint64_t dropped();

// Returns once everything logged before the call has been written.
void flush();
// Flushes and stops the background writer; later lines are written synchronously.
void shutdown();

}  // namespace sb::core::log
