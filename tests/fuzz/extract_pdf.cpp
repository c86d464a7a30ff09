// The PDF extractor.
#include "extract.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sbfuzz::extract_as(data, size, "application/pdf", "x.pdf");
  return 0;
}
