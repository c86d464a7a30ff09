#include "gateway/json_check.hpp"

#include <boost/json/basic_parser_impl.hpp>

namespace sb::gateway {

namespace {

using boost::json::error_code;
using boost::json::string_view;

// Accepts every event: basic_parser itself checks the grammar, UTF-8 and nesting depth.
struct NullHandler {
  constexpr static std::size_t max_object_size = static_cast<std::size_t>(-1);
  constexpr static std::size_t max_array_size = static_cast<std::size_t>(-1);
  constexpr static std::size_t max_key_size = static_cast<std::size_t>(-1);
  constexpr static std::size_t max_string_size = static_cast<std::size_t>(-1);
  int depth = 0;
  bool object_at_top = false;
  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_array_begin(error_code&) { ++depth; return true; }
  bool on_array_end(std::size_t, error_code&) { --depth; return true; }
  bool on_object_begin(error_code&) {
    if (depth++ == 0) object_at_top = true;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) { --depth; return true; }
  bool on_string_part(string_view, std::size_t, error_code&) { return true; }
  bool on_string(string_view, std::size_t, error_code&) { return true; }
  bool on_key_part(string_view, std::size_t, error_code&) { return true; }
  bool on_key(string_view, std::size_t, error_code&) { return true; }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t, string_view, error_code&) { return true; }
  bool on_uint64(std::uint64_t, string_view, error_code&) { return true; }
  bool on_double(double, string_view, error_code&) { return true; }
  bool on_bool(bool, error_code&) { return true; }
  bool on_null(error_code&) { return true; }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }
};

}  // namespace

bool is_json_object(std::string_view text) {
  boost::json::parse_options opt;
  opt.max_depth = 256;
  boost::json::basic_parser<NullHandler> p(opt);
  error_code ec;
  const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  return !ec && n == text.size() && p.done() && p.handler().object_at_top;
}

}  // namespace sb::gateway
