#include "knowledge/text.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace sb::knowledge {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int word_count(std::string_view s) {
  int n = 0;
  bool in_word = false;
  for (char c : s) {
    if (is_space(c)) {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++n;
    }
  }
  return n;
}

// Pieces of at most `budget` tokens: sentences, and words for a sentence that is too long.
std::vector<std::string> split_long(std::string_view para, int budget) {
  std::vector<std::string> sentences;
  std::size_t start = 0;
  for (std::size_t i = 0; i < para.size(); ++i) {
    char c = para[i];
    if ((c == '.' || c == '!' || c == '?') && (i + 1 == para.size() || is_space(para[i + 1]))) {
      sentences.emplace_back(trim(para.substr(start, i + 1 - start)));
      start = i + 1;
    }
  }
  if (start < para.size()) sentences.emplace_back(trim(para.substr(start)));
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!trim(cur).empty()) out.emplace_back(trim(cur));
    cur.clear();
  };
  for (auto& s : sentences) {
    if (s.empty()) continue;
    if (estimate_tokens(s) > budget) {
      flush();
      // Words, packed up to the budget.
      std::string words;
      std::size_t pos = 0;
      while (pos < s.size()) {
        while (pos < s.size() && is_space(s[pos])) ++pos;
        std::size_t end = pos;
        while (end < s.size() && !is_space(s[end])) ++end;
        if (end > pos) {
          std::string w = s.substr(pos, end - pos);
          if (!words.empty() && estimate_tokens(words + " " + w) > budget) {
            out.push_back(words);
            words.clear();
          }
          words += (words.empty() ? "" : " ") + w;
        }
        pos = end;
      }
      if (!words.empty()) out.push_back(words);
      continue;
    }
    if (!cur.empty() && estimate_tokens(cur + " " + s) > budget) flush();
    cur += (cur.empty() ? "" : " ") + s;
  }
  flush();
  return out;
}

// Starts each chunk with the last words of the chunk before it in the same section.
void add_overlap(std::vector<Chunk>& chunks, int overlap_tokens) {
  const std::size_t words = static_cast<std::size_t>(std::max(1, overlap_tokens * 3 / 4));
  std::string tail;  // of the previous chunk, before its own overlap was added
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    std::string own = chunks[i].text;
    if (i > 0 && chunks[i].heading == chunks[i - 1].heading && !tail.empty()) {
      chunks[i].text = tail + " " + chunks[i].text;
      chunks[i].tokens = estimate_tokens(chunks[i].text);
    }
    // The last `words` words of this chunk's own text.
    std::size_t end = own.size(), n = 0, pos = own.size();
    while (pos > 0 && n < words) {
      while (pos > 0 && is_space(own[pos - 1])) --pos;
      if (pos == 0) break;
      while (pos > 0 && !is_space(own[pos - 1])) --pos;
      ++n;
    }
    tail = std::string(trim(std::string_view(own).substr(pos, end - pos)));
  }
}

}  // namespace

int estimate_tokens(std::string_view text) { return (word_count(text) * 4 + 2) / 3; }

std::vector<Chunk> chunk_text(std::string_view text, const ChunkOptions& options) {
  const int budget = std::max(options.max_tokens, 8);
  std::vector<Chunk> out;
  std::vector<std::string> headings;  // by level
  std::string heading;
  std::string cur;
  auto flush = [&] {
    std::string_view t = trim(cur);
    if (!t.empty()) out.push_back(Chunk{heading, std::string(t), estimate_tokens(t)});
    cur.clear();
  };
  auto add_paragraph = [&](std::string_view para) {
    para = trim(para);
    if (para.empty()) return;
    if (estimate_tokens(para) > budget) {
      flush();
      for (auto& piece : split_long(para, budget)) out.push_back(Chunk{heading, piece, estimate_tokens(piece)});
      return;
    }
    if (!cur.empty() && estimate_tokens(cur) + estimate_tokens(para) > budget) flush();
    if (!cur.empty()) cur += "\n\n";
    cur.append(para);
  };

  std::string para;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    std::string_view t = trim(line);
    // A Markdown ATX heading: 1-6 '#' then a space.
    std::size_t hashes = 0;
    while (hashes < t.size() && t[hashes] == '#') ++hashes;
    if (hashes >= 1 && hashes <= 6 && hashes < t.size() && t[hashes] == ' ') {
      add_paragraph(para);
      para.clear();
      flush();
      headings.resize(hashes - 1);
      headings.emplace_back(trim(t.substr(hashes)));
      heading.clear();
      for (const auto& h : headings) {
        if (h.empty()) continue;
        heading += (heading.empty() ? "" : " > ") + h;
      }
      continue;
    }
    if (t.empty()) {
      add_paragraph(para);
      para.clear();
      continue;
    }
    if (!para.empty()) para.push_back('\n');
    para.append(line);
  }
  add_paragraph(para);
  flush();
  if (options.overlap_tokens > 0) add_overlap(out, options.overlap_tokens);
  return out;
}

std::string normalized_hash(std::string_view text) {
  std::string norm;
  norm.reserve(text.size());
  bool space = false;
  for (char c : trim(text)) {
    if (is_space(c)) {
      space = true;
      continue;
    }
    if (space && !norm.empty()) norm.push_back(' ');
    space = false;
    norm.push_back(c);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(norm.data()), norm.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::vector<std::string> keyword_terms(std::string_view text) {
  // Lucene's English stop set: words that match nearly every chunk add cost, not ranking.
  static const std::set<std::string, std::less<>> kStop = {
      "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
      "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there",
      "these", "they", "this", "to", "was", "will", "with"};
  std::set<std::string> seen;
  std::vector<std::string> out;
  std::string word;
  auto emit = [&] {
    if (!word.empty() && !kStop.count(word) && seen.insert(word).second) out.push_back(word);
    word.clear();
  };
  for (unsigned char c : text) {
    // Letters and digits (and any non-ASCII byte, so UTF-8 words stay whole) form words.
    if (std::isalnum(c) || c >= 0x80) {
      word.push_back(static_cast<char>(c < 0x80 ? std::tolower(c) : c));
    } else {
      emit();
    }
  }
  emit();
  return out;
}

std::string keyword_query(std::string_view text) {
  std::string out;
  for (const auto& w : keyword_terms(text)) out += (out.empty() ? "\"" : " OR \"") + w + "\"";
  return out;
}

}  // namespace sb::knowledge
