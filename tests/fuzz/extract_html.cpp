// The HTML extractor.
#include "extract.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sbfuzz::extract_as(data, size, "text/html", "x.html");
  return 0;
}
