#pragma once
// One page of a list, as every /api/v1 list answers it (../shared/API.md): `limit` items after
// or before the item with a given id, newest first unless ascending.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace sb::storage {

struct PageRequest {
  int limit = 20;
  std::string after;   // an item's id: the page starts past it ("" = from the start)
  std::string before;  // an item's id: the page ends just before it; at most one of the two
  bool ascending = false;

  // The rows are read from `pivot` (an item's sequence number, 0 = from the start) going
  // newest-first when this is true, and the page is put back in the list's order afterwards.
  bool scan_descending() const { return before.empty() ? !ascending : ascending; }
};

template <class Row>
struct Page {
  std::vector<Row> rows;  // in the list's order
  bool has_more = false;  // there are more items past this page, in the direction it was read
};

// `rows` read with limit + 1 in the scan's direction, trimmed and put in the list's order.
template <class Row>
Page<Row> make_page(std::vector<Row> rows, const PageRequest& p) {
  Page<Row> out;
  out.has_more = static_cast<int>(rows.size()) > p.limit;
  if (out.has_more) rows.resize(static_cast<std::size_t>(p.limit));
  if (!p.before.empty()) std::reverse(rows.begin(), rows.end());
  out.rows = std::move(rows);
  return out;
}

}  // namespace sb::storage
