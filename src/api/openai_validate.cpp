// Checks of OpenAI request bodies shared by the synchronous endpoints and the job API.

#include "api/openai_validate.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "api/json.hpp"
#include "core/text.hpp"

namespace sb::api {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

namespace {

core::Status check_model(const json::object& body) {
  auto model = get_string(body, "model");
  if (!model) return std::move(model).error();
  if (!*model || (*model)->empty()) return Error(ErrorKind::invalid_field, "'model' is required", "model");
  if ((*model)->size() > kMaxModelBytes) {
    return Error(ErrorKind::invalid_field, "'model' is longer than " + std::to_string(kMaxModelBytes) + " bytes",
                 "model");
  }
  if (core::has_control_chars(**model)) {
    return Error(ErrorKind::invalid_field, "'model' holds a control character", "model");
  }
  return {};
}

}  // namespace

// Checks what the gateway itself relies on; everything else is the upstream's to judge.
core::Status validate_chat_request(const json::object& body) {
  if (auto st = check_model(body); !st) return st;
  const json::value* messages = body.if_contains("messages");
  if (!messages || !messages->is_array()) {
    return Error(ErrorKind::invalid_field, "'messages' must be an array", "messages");
  }
  if (messages->get_array().empty()) {
    return Error(ErrorKind::invalid_field, "'messages' must not be empty", "messages");
  }
  for (std::size_t i = 0; i < messages->get_array().size(); ++i) {
    const auto* m = messages->get_array()[i].if_object();
    const json::value* role = m ? m->if_contains("role") : nullptr;
    if (!role || !role->is_string()) {
      std::string p = "messages[" + std::to_string(i) + "].role";
      return Error(ErrorKind::invalid_field, "'" + p + "' must be a string", p);
    }
  }
  auto stream = get_bool(body, "stream");
  if (!stream) return std::move(stream).error();
  return {};
}

core::Status validate_completions_request(const json::object& body) {
  if (auto st = check_model(body); !st) return st;
  const json::value* prompt = body.if_contains("prompt");
  bool ok = prompt && (prompt->is_string() || (prompt->is_array() && !prompt->get_array().empty()));
  if (ok && prompt->is_array()) {
    for (const auto& item : prompt->get_array()) {
      ok = ok && (item.is_string() || item.is_int64() || item.is_array());
    }
  }
  if (!ok) {
    return Error(ErrorKind::invalid_field,
                 "'prompt' must be a string, an array of strings, an array of token ids or an array of "
                 "token-id arrays",
                 "prompt");
  }
  auto stream = get_bool(body, "stream");
  if (!stream) return std::move(stream).error();
  return {};
}

core::Status validate_embeddings_request(const json::object& body, std::size_t max_response_bytes) {
  if (auto st = check_model(body); !st) return st;
  const json::value* input = body.if_contains("input");
  auto bad_input = [] {
    return Error(ErrorKind::invalid_field,
                 "'input' must be a non-empty string, an array of strings, an array of token ids "
                 "or an array of token-id arrays",
                 "input");
  };
  if (!input) return bad_input();
  // Token ids are vocabulary indexes: 0 to 2^31 - 1.
  auto token_ids = [](const json::array& a) {
    return !a.empty() && std::all_of(a.begin(), a.end(), [](const json::value& v) {
      return (v.is_int64() && v.get_int64() >= 0 && v.get_int64() <= INT32_MAX) ||
             (v.is_uint64() && v.get_uint64() <= INT32_MAX);
    });
  };
  std::size_t inputs = 1;
  if (input->is_string()) {
    if (input->get_string().empty()) return bad_input();
  } else if (const auto* a = input->if_array()) {
    if (a->empty() || a->size() > 2048) return bad_input();
    bool strings = std::all_of(a->begin(), a->end(), [](const json::value& v) { return v.is_string() && !v.get_string().empty(); });
    bool tokens = token_ids(*a);
    bool token_lists = std::all_of(a->begin(), a->end(), [&](const json::value& v) { return v.is_array() && token_ids(v.get_array()); });
    if (!strings && !tokens && !token_lists) return bad_input();
    inputs = tokens ? 1 : a->size();
  } else {
    return bad_input();
  }
  auto dims = get_int(body, "dimensions", 1, 65536);
  if (!dims) return std::move(dims).error();
  auto fmt = get_string(body, "encoding_format");
  if (!fmt) return std::move(fmt).error();
  if (*fmt && **fmt != "float" && **fmt != "base64") {
    return Error(ErrorKind::invalid_field, "'encoding_format' must be \"float\" or \"base64\"", "encoding_format");
  }
  if (*dims) {
    const bool base64 = *fmt && **fmt == "base64";
    const double values = static_cast<double>(inputs) * static_cast<double>(**dims);
    const double bytes = values * (base64 ? 16.0 / 3.0 : 12.0);
    if (bytes > static_cast<double>(max_response_bytes)) {
      return Error(ErrorKind::payload_too_large,
                   std::to_string(inputs) + " inputs x " + std::to_string(**dims) +
                       " dimensions would make an answer of about " +
                       std::to_string(static_cast<long long>(bytes / (1 << 20))) + " MiB, over server.max_response_bytes (" +
                       std::to_string(max_response_bytes) + "): send fewer inputs per request" +
                       (base64 ? "" : " or encoding_format \"base64\""),
                   "input");
    }
  }
  return {};
}

}  // namespace sb::api
