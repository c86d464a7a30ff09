#include "api/lists.hpp"

#include <algorithm>
#include <string>

namespace sb::api {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

core::Result<storage::PageRequest> page_request(const http::Request& req) {
  storage::PageRequest p;
  if (auto l = req.query("limit"); l && !l->empty()) {
    int v = 0;
    std::size_t used = 0;
    try {
      v = std::stoi(*l, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != l->size() || v < 1 || v > 100) {
      return Error(ErrorKind::invalid_field, "'limit' must be an integer from 1 to 100", "limit");
    }
    p.limit = v;
  }
  p.after = req.query("after").value_or("");
  p.before = req.query("before").value_or("");
  if (!p.after.empty() && !p.before.empty()) {
    return Error(ErrorKind::invalid_field, "give 'after' or 'before', not both", "before");
  }
  const std::string order = req.query("order").value_or("desc");
  if (order != "desc" && order != "asc") {
    return Error(ErrorKind::invalid_field, "'order' must be \"desc\" or \"asc\"", "order");
  }
  p.ascending = order == "asc";
  return p;
}

json::object list_object(json::array data, bool has_more, std::string_view id_field) {
  auto id_of = [id_field](const json::value& item) -> json::value {
    const auto* o = item.if_object();
    const json::value* v = o ? o->if_contains(id_field) : nullptr;
    return v ? *v : json::value(nullptr);
  };
  json::value first = data.empty() ? json::value(nullptr) : id_of(data.front());
  json::value last = data.empty() ? json::value(nullptr) : id_of(data.back());
  return json::object{{"object", "list"},
                      {"data", std::move(data)},
                      {"first_id", std::move(first)},
                      {"last_id", std::move(last)},
                      {"has_more", has_more}};
}

core::Result<json::object> page_in_memory(json::array all, const storage::PageRequest& page,
                                          std::string_view id_field) {
  if (page.ascending) std::reverse(all.begin(), all.end());
  auto matches = [id_field](const json::value& item, const std::string& id) {
    const json::value* v = item.as_object().if_contains(id_field);
    if (!v) return false;
    if (v->is_string()) return v->get_string() == id;
    return v->is_int64() && std::to_string(v->get_int64()) == id;
  };
  std::size_t begin = 0, end = all.size();
  bool more = false;
  if (const std::string& id = page.after.empty() ? page.before : page.after; !id.empty()) {
    auto it = std::find_if(all.begin(), all.end(), [&](const json::value& v) { return matches(v, id); });
    if (it == all.end()) {
      const char* name = page.after.empty() ? "before" : "after";
      return Error(ErrorKind::invalid_field, std::string("'") + name + "' is not the id of an item of this list", name);
    }
    const auto at = static_cast<std::size_t>(it - all.begin());
    if (!page.after.empty()) {
      begin = at + 1;
    } else {
      end = at;
    }
  }
  const auto limit = static_cast<std::size_t>(page.limit);
  if (page.before.empty()) {
    more = end - begin > limit;
    end = std::min(end, begin + limit);
  } else {
    more = end - begin > limit;
    begin = end - std::min(end - begin, limit);
  }
  json::array data;
  for (std::size_t i = begin; i < end; ++i) data.push_back(std::move(all[i]));
  return list_object(std::move(data), more, id_field);
}

}  // namespace sb::api
