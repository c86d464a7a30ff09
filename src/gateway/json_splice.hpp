#pragma once
// The body sent to an OpenAI-compatible upstream is the client's, byte for byte, with only the
// top-level "model" value replaced: a splice, not a parse-and-print, so key order, spacing,
// unicode escapes, numbers (1e400 aside: refused earlier) and unknown fields reach the
// upstream exactly as the client wrote them.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sb::gateway {

// `json` with the value of its top-level "model" member replaced by the JSON string `model`;
// nullopt when the top level is not an object or has no, or more than one, "model" member.
// Meant for valid JSON (a request parsed before, an upstream's chunk); on any other text it
// stays within its bounds and its result is unspecified.
std::optional<std::string> splice_model(std::string_view json, std::string_view model);

// Where the value of the first top-level "model" member is ([begin, end) in `json`), reading no
// further: an upstream's answer, where it comes early. nullopt when there is none.
struct Span {
  std::size_t begin, end;
};
std::optional<Span> first_model(std::string_view json);
// `json` with the first top-level "model" value replaced by `model`, in place; false when none.
bool rename_model(std::string& json, std::string_view model);
// Appends `json` to `out` with the first top-level "model" value replaced by `model`.
void append_renamed(std::string& out, std::string_view json, std::string_view model);

}  // namespace sb::gateway
