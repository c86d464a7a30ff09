#pragma once

struct sqlite3;

namespace sb::storage {

// Registers the FTS5 tokenizer "snowball" (English Snowball stems, libstemmer) on a connection.
bool register_snowball_tokenizer(sqlite3* db);

}  // namespace sb::storage
