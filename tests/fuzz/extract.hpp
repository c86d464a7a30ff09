#pragma once
// Shared by the extractor targets: knowledge::extract on the input, read as the given type,
// and its promises checked (valid UTF-8, the text bound).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/text.hpp"
#include "knowledge/extract.hpp"

namespace sbfuzz {

inline void extract_as(const std::uint8_t* data, std::size_t size, std::string_view type, std::string_view name) {
  sb::knowledge::ExtractLimits limits;
  limits.max_unpacked_bytes = 4 << 20;
  limits.max_text_bytes = 1 << 20;
  auto r = sb::knowledge::extract(std::string_view(reinterpret_cast<const char*>(data), size), type, name, limits);
  if (!r) return;
  if (!sb::core::is_valid_utf8(r->text) || !sb::core::is_valid_utf8(r->title)) __builtin_trap();
  std::size_t total = r->text.size() + r->title.size();
  for (const auto& p : r->pages) {
    if (!sb::core::is_valid_utf8(p)) __builtin_trap();
    total += p.size();
  }
  if (total > limits.max_text_bytes) __builtin_trap();
}

}  // namespace sbfuzz
