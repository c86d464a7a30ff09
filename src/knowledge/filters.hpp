#pragma once
// Search filters from their JSON form ({"tags": [...], "document_ids": [...], "metadata": {...}}),
// as /api/v1/search, the chat endpoints and [[assistants]] take them.

#include <boost/json/fwd.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "storage/knowledge_repository.hpp"

namespace sb::knowledge {

// `v` may be null (no filters). Errors: invalid_field naming the field ("filters.tags").
core::Result<storage::SearchFilters> parse_filters(const boost::json::value* v);

// An optional array of non-empty strings `field` of `o` (`where` prefixes the name in errors).
core::Result<std::vector<std::string>> string_array(const boost::json::object& o, std::string_view field,
                                                    std::string_view where = {});

}  // namespace sb::knowledge
