#pragma once
// The SQL side of a list page (page.hpp): the sequence number of the cursor item, and the clause
// that reads from it in the scan's direction. For tables with `seq INTEGER PRIMARY KEY` and a
// unique `id`.

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/page.hpp"
#include "storage/sqlite.hpp"

namespace sb::storage {

// The seq of the page's cursor item (`after` or `before`), 0 = none. Errors: invalid_field
// naming the parameter when no row of `table` has that id (`what`: "a key", for the message).
Result<std::int64_t> page_pivot(Connection& c, std::string_view table, const PageRequest& page, std::string_view what);

// " AND <seq from ?param> ORDER BY seq ..." for the scan's direction; ?param holds the pivot.
std::string seq_clause(const PageRequest& page, int param);

}  // namespace sb::storage
