#pragma once
// JSON text as this product prints it: Boost.JSON's serializer, except that numbers are written
// in the shortest form that reads back to the same double ("0.7", "0.000123", "1e-7", "2.0"),
// never Boost's "7E-1" (../shared/API.md). Every JSON answer and stored JSON goes through here.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace sb::core {

std::string to_json(const boost::json::value& v);
std::string to_json(const boost::json::object& o);
std::string to_json(const boost::json::array& a);
std::string to_json(const boost::json::string& s);

void append_json(std::string& out, const boost::json::value& v);
// A finite double in its shortest round-trip form, always readable as a double (an integral
// value keeps ".0"); a non-finite one as null (requests with one are refused before).
void append_double(std::string& out, double d);

}  // namespace sb::core
