#pragma once
// Lists, the same on every /api/v1 endpoint (../shared/API.md): ?limit=20&after=<id>&before=<id>
// &order=desc|asc -> {"object":"list","data":[...],"first_id","last_id","has_more"}.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <initializer_list>
#include <iterator>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "http/message.hpp"
#include "storage/page.hpp"

namespace sb::api {

// The list parameters a list endpoint's schema allows (with its own filters).
inline constexpr std::string_view kListQuery[] = {"limit", "after", "before", "order"};

// kListQuery and a list's own filters, for its Schema.
inline std::vector<std::string_view> list_query(std::initializer_list<std::string_view> filters = {}) {
  std::vector<std::string_view> q(std::begin(kListQuery), std::end(kListQuery));
  q.insert(q.end(), filters.begin(), filters.end());
  return q;
}

// limit 1..100 (default 20), at most one of after/before, order desc (default) or asc.
core::Result<storage::PageRequest> page_request(const http::Request& req);

// The list envelope; first_id / last_id are the `id_field` of the first and last items (null
// for an empty page).
boost::json::object list_object(boost::json::array data, bool has_more, std::string_view id_field = "id");

// A page of items already in memory (a short list: collections, versions), by their `id_field`.
// A cursor that names no item is invalid_field.
core::Result<boost::json::object> page_in_memory(boost::json::array all_newest_first,
                                                 const storage::PageRequest& page,
                                                 std::string_view id_field = "id");

}  // namespace sb::api
