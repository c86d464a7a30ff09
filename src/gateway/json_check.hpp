#pragma once
// A check of an upstream's answer before it is relayed: valid JSON whose top level is an
// object, read with Boost.JSON's SAX parser (no document is built, nothing is allocated).

#include <string_view>

namespace sb::gateway {

bool is_json_object(std::string_view text);

}  // namespace sb::gateway
