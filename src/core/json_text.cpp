#include "core/json_text.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace sb::core {

namespace json = boost::json;

namespace {

void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

template <class Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_object(std::string& out, const json::object& o) {
  out.push_back('{');
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out.push_back(',');
    first = false;
    append_string(out, kv.key());
    out.push_back(':');
    append_json(out, kv.value());
  }
  out.push_back('}');
}

void append_array(std::string& out, const json::array& a) {
  out.push_back('[');
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i) out.push_back(',');
    append_json(out, a[i]);
  }
  out.push_back(']');
}

}  // namespace

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest round trip, fixed or exponent
  std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
  const auto e = text.find('e');
  if (e == std::string_view::npos) {
    out.append(text);
    if (text.find('.') == std::string_view::npos) out += ".0";  // stays a double when read back
    return;
  }
  // "1e-07" -> "1e-7", "1e+21" -> "1e21".
  out.append(text.substr(0, e + 1));
  std::size_t i = e + 1;
  if (text[i] == '-') out.push_back('-');
  if (text[i] == '-' || text[i] == '+') ++i;
  while (i + 1 < text.size() && text[i] == '0') ++i;
  out.append(text.substr(i));
}

void append_json(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; break;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case json::kind::int64: append_int(out, v.get_int64()); break;
    case json::kind::uint64: append_int(out, v.get_uint64()); break;
    case json::kind::double_: append_double(out, v.get_double()); break;
    case json::kind::string: append_string(out, v.get_string()); break;
    case json::kind::array: append_array(out, v.get_array()); break;
    case json::kind::object: append_object(out, v.get_object()); break;
  }
}

namespace {

// The text `write` appends to an empty string.
template <class Write>
std::string written(Write write) {
  std::string out;
  out.reserve(256);
  write(out);
  return out;
}

}  // namespace

std::string to_json(const json::value& v) { return written([&](std::string& o) { append_json(o, v); }); }
std::string to_json(const json::object& obj) { return written([&](std::string& o) { append_object(o, obj); }); }
std::string to_json(const json::array& a) { return written([&](std::string& o) { append_array(o, a); }); }
std::string to_json(const json::string& s) { return written([&](std::string& o) { append_string(o, s); }); }

}  // namespace sb::core
