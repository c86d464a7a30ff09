#pragma once
// Structured output, shared by the workflows that ask a model for a JSON object (comparison,
// the intent classifier, the log analyzer): the strict `response_format` (the gateway makes it
// Anthropic's forced tool and Gemini's responseSchema), and the object read back out of a
// chat.completion — never trusted: the callers validate every field.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace sb::workflows {

// {"type":"json_schema","json_schema":{"name","strict":true,"schema":{"type":"object",
// "properties","required","additionalProperties":false}}}.
boost::json::object strict_object_format(std::string_view name, boost::json::object properties,
                                         const std::vector<std::string>& required);

// The first choice's message content of a chat.completion, parsed as a JSON object (a ```json
// fence around it tolerated). `raw` (when given) gets the content as written. Errors
// (invalid_field) say "<what> is missing: …" or "<what> is not a JSON object".
core::Result<boost::json::object> structured_content(std::string_view completion, std::string_view what,
                                                     std::string* raw = nullptr);

// A number a model wrote: a JSON number, or a string holding one (spaces around allowed); NaN
// for anything else (a missing field included).
double model_number(const boost::json::value* v);

}  // namespace sb::workflows
