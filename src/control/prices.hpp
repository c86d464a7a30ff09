#pragma once
// What a model costs: USD per million tokens, by "provider/model" pattern (`*` matches any run
// of characters, slashes included). The [[prices]] of the config come first, in their order,
// then a built-in table of common OpenAI, Anthropic and Gemini models (list prices; a config
// entry overrides them). A model no entry matches costs nothing.

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/request_context.hpp"

namespace sb::control {

struct Price {
  std::string model;  // the pattern
  double input_per_mtok = 0;
  double output_per_mtok = 0;
  double cached_input_per_mtok = 0;
};

// `*` matches any run of characters (including none and slashes); everything else literally.
bool glob_match(std::string_view pattern, std::string_view text);

class Prices {
 public:
  explicit Prices(const std::vector<core::PriceConfig>& configured);
  // The entry for provider/model, if any.
  const Price* find(std::string_view provider, std::string_view model) const;
  double cost(std::string_view provider, std::string_view model, const core::TokenUsage& usage) const;
  // The built-in table (for the README and tests).
  static const std::vector<Price>& builtin();

 private:
  const Price* match(std::string_view name) const;

  std::vector<Price> entries_;
  // provider/model -> its entry (or null), for the names seen: bounded, cleared when full.
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, const Price*> seen_;
};

}  // namespace sb::control
