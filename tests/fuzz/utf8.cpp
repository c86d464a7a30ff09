// UTF-8 validation and repair: repaired text is valid, valid text is unchanged, prefixes never
// cut a character.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  const bool valid = sb::core::is_valid_utf8(s);
  const std::string before = s;
  const std::size_t replaced = sb::core::repair_utf8(s);
  if (!sb::core::is_valid_utf8(s)) __builtin_trap();
  if (valid != (replaced == 0) || (valid && s != before)) __builtin_trap();
  for (std::size_t max = 0; max <= s.size(); max += 1 + max / 3) {
    if (!sb::core::is_valid_utf8(sb::core::utf8_prefix(s, max))) __builtin_trap();
  }
  return 0;
}
