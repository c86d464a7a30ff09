#pragma once
// Citation markers in an answer: "[n]" (and groups "[1, 3]") naming the numbered sources of the
// prompt. Markers naming no source (the model invented them) are removed from the text and
// counted; the numbers that remain are the answer's citations, in order of first appearance.
// Works on a whole text and on a stream of pieces alike: a piece that may be the start of a
// marker ("… [1", "[12,") is held back until the marker closes or cannot be one.

#include <string>
#include <string_view>
#include <vector>

namespace sb::chat {

class MarkerFilter {
 public:
  // Sources are numbered 1..sources.
  explicit MarkerFilter(int sources) : sources_(sources) {}

  // The text that can be sent now; numbers cited for the first time are appended to `newly`.
  std::string feed(std::string_view piece, std::vector<int>& newly);
  // The end of the text: whatever is still held back (an unfinished "[1" is plain text).
  std::string finish(std::vector<int>& newly);

  const std::vector<int>& cited() const { return cited_; }  // in order of first appearance
  int invented() const { return invented_; }                // markers (or numbers in a group) removed

 private:
  // `held_` is "[" followed by what may still become a marker: closes it (kept, rewritten or
  // removed) or gives it up (plain text).
  void close(std::string& out, std::vector<int>& newly);
  static constexpr std::size_t kMaxMarker = 32;

  int sources_;
  std::string held_;
  std::vector<int> cited_;
  int invented_ = 0;
};

struct Cleaned {
  std::string text;
  std::vector<int> cited;
  int invented = 0;
};

// The whole-text form of MarkerFilter.
Cleaned clean_markers(std::string_view text, int sources);

}  // namespace sb::chat
