#include "storage/page_sql.hpp"

namespace sb::storage {

Result<std::int64_t> page_pivot(Connection& c, std::string_view table, const PageRequest& page, std::string_view what) {
  const std::string& id = page.after.empty() ? page.before : page.after;
  if (id.empty()) return std::int64_t{0};
  auto q = c.prepare("SELECT seq FROM " + std::string(table) + " WHERE id = ?1");
  if (!q) return std::move(q).error();
  q->bind(1, std::string_view(id));
  auto row = q->step();
  if (!row) return std::move(row).error();
  if (!*row) {
    const char* name = page.after.empty() ? "before" : "after";
    return Error(core::ErrorKind::invalid_field, std::string("'") + name + "' is not the id of " + std::string(what), name);
  }
  return q->column_int64(0);
}

std::string seq_clause(const PageRequest& page, int param) {
  const std::string p = "?" + std::to_string(param);
  return page.scan_descending() ? " AND (" + p + " <= 0 OR seq < " + p + ") ORDER BY seq DESC"
                                : " AND seq > " + p + " ORDER BY seq ASC";
}

}  // namespace sb::storage
