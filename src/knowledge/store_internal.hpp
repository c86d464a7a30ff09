#pragma once
// What the Store's own files (store.cpp, store_search.cpp) share; not for other modules.

#include <cstddef>

#include "core/error.hpp"
#include "storage/knowledge_repository.hpp"

namespace sb::knowledge {

// 409: the embedding model answered vectors of another size than the collection holds.
core::Error size_mismatch(const storage::CollectionRow& col, std::size_t got);

}  // namespace sb::knowledge
