#include "knowledge/filters.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace sb::knowledge {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

core::Result<std::vector<std::string>> string_array(const json::object& o, std::string_view field,
                                                    std::string_view where) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(field);
  const std::string name = std::string(where) + std::string(field);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) return Error(ErrorKind::invalid_field, "'" + name + "' must be an array of strings", name);
  for (const auto& item : v->as_array()) {
    if (!item.is_string() || item.as_string().empty()) {
      return Error(ErrorKind::invalid_field, "'" + name + "' must be an array of non-empty strings", name);
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

core::Result<storage::SearchFilters> parse_filters(const json::value* v) {
  storage::SearchFilters f;
  if (!v || v->is_null()) return f;
  if (!v->is_object()) return Error(ErrorKind::invalid_field, "'filters' must be an object", "filters");
  const auto& o = v->as_object();
  for (const auto& kv : o) {
    if (kv.key() != "tags" && kv.key() != "document_ids" && kv.key() != "metadata") {
      return Error(ErrorKind::invalid_field,
                   "unknown filter 'filters." + std::string(kv.key()) + "' (tags, document_ids, metadata)",
                   "filters." + std::string(kv.key()));
    }
  }
  auto tags = string_array(o, "tags", "filters.");
  if (!tags) return std::move(tags).error();
  f.tags = std::move(*tags);
  auto ids = string_array(o, "document_ids", "filters.");
  if (!ids) return std::move(ids).error();
  f.document_ids = std::move(*ids);
  if (const json::value* m = o.if_contains("metadata"); m && !m->is_null()) {
    if (!m->is_object()) {
      return Error(ErrorKind::invalid_field, "'filters.metadata' must be an object", "filters.metadata");
    }
    for (const auto& kv : m->as_object()) {
      storage::SearchFilters::Equals e;
      e.key = kv.key();
      const auto& val = kv.value();
      using Kind = storage::SearchFilters::Equals::Kind;
      if (val.is_string()) {
        e.kind = Kind::text;
        e.text = val.as_string();
      } else if (val.is_bool()) {
        e.kind = Kind::boolean;
        e.boolean = val.as_bool();
      } else if (val.is_number()) {
        e.kind = Kind::number;
        e.number = val.to_number<double>();
      } else {
        const std::string name = "filters.metadata." + std::string(kv.key());
        return Error(ErrorKind::invalid_field, "'" + name + "' must be a string, number or boolean", name);
      }
      f.metadata.push_back(std::move(e));
    }
  }
  return f;
}

}  // namespace sb::knowledge
