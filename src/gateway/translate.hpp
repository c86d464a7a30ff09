#pragma once
// Translations between the OpenAI Chat Completions wire format (what clients speak) and the
// native formats of Anthropic (Messages API) and Google Gemini (generateContent). Pure
// functions of JSON, so each case is checked by golden tests (tests/golden/<provider>/<case>/).
//
// Requests: an OpenAI chat request -> the provider's request body. Responses: the provider's
// answer -> an OpenAI chat.completion. Streams: each upstream SSE event's data -> zero or more
// OpenAI chat.completion.chunk objects.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace sb::gateway {

// What a response translation needs to know about the request.
struct TranslateContext {
  std::string model;          // the upstream model, reported back as `model`
  long long created = 0;      // `created` of the OpenAI objects (seconds)
  bool include_usage = false; // stream_options.include_usage
  std::string json_tool;      // Anthropic: the forced tool standing in for JSON output, if any
  std::string id;             // used when the upstream gives no id
};

// Reads model-independent parts of the context from an OpenAI request.
TranslateContext translate_context(const boost::json::object& openai, std::string model,
                                   long long created, std::string id);

// Turns one upstream stream into OpenAI chunks.
class StreamTranslator {
 public:
  virtual ~StreamTranslator() = default;
  // The data of one SSE event; appends the chunks it yields (serialised JSON). An error event
  // from the upstream, or data that is not what the provider sends, is an error.
  virtual core::Status feed(std::string_view data, std::vector<std::string>& chunks) = 0;
  // Whether the upstream said the stream is complete (else it ended early).
  virtual bool complete() const = 0;
};

namespace anthropic {
// invalid_field (400) for what the Messages API cannot express (e.g. n > 1).
core::Result<boost::json::object> request(const boost::json::object& openai, const std::string& model,
                                          bool stream);
core::Result<boost::json::object> response(const boost::json::value& upstream,
                                           const TranslateContext& ctx);
std::unique_ptr<StreamTranslator> stream_translator(TranslateContext ctx);
}  // namespace anthropic

namespace gemini {
core::Result<boost::json::object> request(const boost::json::object& openai);
core::Result<boost::json::object> response(const boost::json::value& upstream,
                                           const TranslateContext& ctx);
std::unique_ptr<StreamTranslator> stream_translator(TranslateContext ctx);
// POST models/{model}:batchEmbedContents: an OpenAI embeddings request (text input; `dimensions`
// becomes each request's outputDimensionality) and the answer back as an OpenAI "list".
core::Result<boost::json::object> embed_request(const boost::json::object& openai, const std::string& model);
core::Result<boost::json::object> embed_response(const boost::json::value& upstream, const std::string& model,
                                                 bool base64);
}  // namespace gemini

// Shared helpers for the translations.
namespace translate_detail {
// Text of an OpenAI message `content` (null, a string, or the text parts of an array of part
// objects). Anything else, or a text part whose text is not a string, is invalid_field naming
// `param` (never read as empty).
core::Result<std::string> content_text(const boost::json::value& content, const std::string& param);
// A data: URL split into media type and base64 payload; false when it is not one.
bool parse_data_url(std::string_view url, std::string& media_type, std::string& data);
core::Error bad(std::string message, std::string param);
// A string field, or "" when absent or not a string.
std::string str(const boost::json::object& o, std::string_view key);
// The URL of an OpenAI image_url part (string or {url}); invalid_field naming `param` when missing.
core::Result<std::string> image_url(const boost::json::object& part, const std::string& param);
struct ToolCall {
  std::string id, name;
  boost::json::value arguments;  // the parsed arguments object ({} when empty)
};
// An assistant message's tool_calls; invalid_field when a call has no function or its arguments
// are not a JSON object. `param` is the message's path ("messages[3]").
core::Result<std::vector<ToolCall>> tool_calls(const boost::json::object& message, const std::string& param);
// Appends `items` to the last turn when it has the same role (both APIs want alternating turns),
// else adds a turn {"role": role, key: items}.
void append_turn(boost::json::array& turns, std::string_view role, std::string_view key,
                 boost::json::array items);
boost::json::object chunk(const TranslateContext& ctx, boost::json::object delta,
                          boost::json::value finish_reason);
// One item of an OpenAI embeddings list: {"object":"embedding","index",embedding} with the
// vector as numbers, or with `base64` as little-endian float32 bytes in base64 (as OpenAI packs).
boost::json::object embedding_item(std::size_t index, const std::vector<float>& vector, bool base64);
}  // namespace translate_detail

}  // namespace sb::gateway
