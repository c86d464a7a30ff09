#pragma once
// Text processing for the knowledge base: structure-aware chunking within a token budget, the
// normalised-text hash of a chunk, and keyword queries for the FTS5 index.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sb::knowledge {

struct ChunkOptions {
  int max_tokens = 512;  // budget per chunk (tokens estimated as words × 4/3)
  int overlap_tokens = 0;  // a chunk starts with about this many tokens from the end of the one
                           // before it in the same section (on top of the budget)
};

struct Chunk {
  std::string heading;  // the Markdown heading path above it ("Intro > Setup"), or ""
  std::string text;
  int tokens = 0;       // the estimate
};

// Splits text at its structure: Markdown headings start a new chunk and name it; paragraphs
// (blank-line separated) are packed together up to the budget; a paragraph over the budget is
// split at sentence ends, and a sentence over it at word boundaries. No empty chunks.
std::vector<Chunk> chunk_text(std::string_view text, const ChunkOptions& options = {});

// Estimated tokens of a text: words × 4/3, rounded up.
int estimate_tokens(std::string_view text);

// Lowercase hex SHA-256 of the text with runs of whitespace collapsed and ends trimmed: equal for
// chunks that differ only in spacing.
std::string normalized_hash(std::string_view text);

// An FTS5 query matching any word of the user's text: words (letters and digits) quoted and
// joined by OR, duplicates and English stop words dropped. Empty when no word is left. Never lets FTS5 syntax
// through (quotes, operators, column filters are just text).
std::string keyword_query(std::string_view text);

// The words keyword_query keeps (lowercased, stop words and duplicates dropped), in order.
std::vector<std::string> keyword_terms(std::string_view text);

}  // namespace sb::knowledge
