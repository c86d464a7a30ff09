#pragma once
// Checks of OpenAI request bodies: what the gateway itself relies on (model, messages and
// roles, stream's type; embeddings' input shapes, dimensions, encoding_format). Everything
// else is the upstream's to judge. Errors name the field (400).

#include <boost/json/object.hpp>

#include "core/error.hpp"

namespace sb::api {

core::Status validate_chat_request(const boost::json::object& body);
core::Status validate_embeddings_request(const boost::json::object& body);

}  // namespace sb::api
