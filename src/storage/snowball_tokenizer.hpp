#pragma once

struct sqlite3;

#include <string>
#include <string_view>

struct sb_stemmer;

namespace sb::storage {

// The words of a text as the "snowball" tokenizer sees them: runs of ASCII letters and digits
// or of non-ASCII bytes, ASCII-lowercased, stemmed (English Snowball). One per thread.
class Stemmer {
 public:
  Stemmer();
  ~Stemmer();
  Stemmer(const Stemmer&) = delete;
  Stemmer& operator=(const Stemmer&) = delete;

  // The stem of one lowercased word (valid until the next call).
  std::string_view stem(std::string_view word);
  // Calls f(stem) for each word of text.
  template <class F>
  void each(std::string_view text, F&& f) {
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
      while (i < n && !word_byte(static_cast<unsigned char>(text[i]))) ++i;
      word_.clear();
      while (i < n && word_byte(static_cast<unsigned char>(text[i]))) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        word_.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
        ++i;
      }
      if (word_.empty()) break;
      f(stem(word_));
    }
  }

 private:
  static bool word_byte(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
  }
  sb_stemmer* stemmer_;
  std::string word_;
};

// Registers the FTS5 tokenizer "snowball" (English Snowball stems, libstemmer) on a connection.
bool register_snowball_tokenizer(sqlite3* db);

}  // namespace sb::storage
