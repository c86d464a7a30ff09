// An FTS5 tokenizer "snowball": words are runs of letters and digits (ASCII) or of non-ASCII
// UTF-8 bytes, lowercased (ASCII) and stemmed with libstemmer's English Snowball stemmer.
// Registered on every connection (tokenizers are per connection), so documents and queries are
// tokenized alike.

#include "storage/snowball_tokenizer.hpp"

#include <libstemmer.h>
#include <sqlite3.h>

#include <cctype>
#include <string>

namespace sb::storage {

namespace {

struct Tokenizer {
  sb_stemmer* stemmer = nullptr;
  std::string word;
};

int create(void*, const char**, int, Fts5Tokenizer** out) {
  auto* t = new Tokenizer;
  t->stemmer = sb_stemmer_new("english", "UTF_8");
  if (!t->stemmer) {
    delete t;
    return SQLITE_NOMEM;
  }
  *out = reinterpret_cast<Fts5Tokenizer*>(t);
  return SQLITE_OK;
}

void destroy(Fts5Tokenizer* p) {
  auto* t = reinterpret_cast<Tokenizer*>(p);
  sb_stemmer_delete(t->stemmer);
  delete t;
}

bool word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80; }

int tokenize(Fts5Tokenizer* p, void* ctx, int, const char* text, int n,
             int (*token)(void*, int, const char*, int, int, int)) {
  auto* t = reinterpret_cast<Tokenizer*>(p);
  int i = 0;
  while (i < n) {
    while (i < n && !word_byte(static_cast<unsigned char>(text[i]))) ++i;
    const int start = i;
    t->word.clear();
    while (i < n && word_byte(static_cast<unsigned char>(text[i]))) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      t->word.push_back(static_cast<char>(c < 0x80 ? std::tolower(c) : c));
      ++i;
    }
    if (i == start) break;
    const sb_symbol* stem = sb_stemmer_stem(t->stemmer, reinterpret_cast<const sb_symbol*>(t->word.data()),
                                            static_cast<int>(t->word.size()));
    int rc = stem ? token(ctx, 0, reinterpret_cast<const char*>(stem), sb_stemmer_length(t->stemmer), start, i)
                  : token(ctx, 0, t->word.data(), static_cast<int>(t->word.size()), start, i);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace

Stemmer::Stemmer() : stemmer_(sb_stemmer_new("english", "UTF_8")) {}

Stemmer::~Stemmer() {
  if (stemmer_) sb_stemmer_delete(stemmer_);
}

std::string_view Stemmer::stem(std::string_view word) {
  const sb_symbol* s = stemmer_ ? sb_stemmer_stem(stemmer_, reinterpret_cast<const sb_symbol*>(word.data()),
                                                  static_cast<int>(word.size()))
                                : nullptr;
  if (!s) return word;
  return {reinterpret_cast<const char*>(s), static_cast<std::size_t>(sb_stemmer_length(stemmer_))};
}

bool register_snowball_tokenizer(sqlite3* db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, nullptr) != SQLITE_OK) return false;
  sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
  sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (!api) return false;
  static fts5_tokenizer kTokenizer = {create, destroy, tokenize};
  return api->xCreateTokenizer(api, "snowball", nullptr, &kTokenizer, nullptr) == SQLITE_OK;
}

}  // namespace sb::storage
