#pragma once
// Text extraction from uploaded files: plain text, Markdown, HTML (visible text, headings kept
// as Markdown headings), PDF (poppler; text per page) and DOCX (libarchive + pugixml; heading
// styles kept). The type comes from the bytes first (PDF, ZIP, HTML signatures), then the
// declared content type and the file name.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace sb::knowledge {

struct Extracted {
  std::string content_type;         // what the file was read as (e.g. "application/pdf")
  std::string title;                // from the file's own metadata, if any
  std::string text;                 // Markdown-ish text (headings as "# ...")
  std::vector<std::string> pages;   // PDF: text per page (then text is empty)
  std::size_t invalid_utf8 = 0;     // invalid UTF-8 sequences replaced with U+FFFD
};

struct ExtractLimits {
  std::size_t max_unpacked_bytes = 64 * 1024 * 1024;  // DOCX: a zip bomb is refused past this
  std::size_t max_text_bytes = 32 * 1024 * 1024;      // text taken from one document (422 past it)
};

// Errors: unsupported_media_type (415) for a type not read here; unprocessable (422) for a
// corrupt, encrypted or hostile file, or one with more text than limits.max_text_bytes. Every
// tree walk here is iterative, so nesting depth costs heap, not stack. Hostile input can still
// make a parser slow or large: the server runs this in a sandboxed worker (extract_sandbox.hpp).
core::Result<Extracted> extract(std::string_view bytes, std::string_view content_type,
                                std::string_view filename, const ExtractLimits& limits = {});

// The visible text of an HTML document (scripts, styles and other invisible elements dropped;
// h1-h6 as Markdown headings; block elements separated by blank lines) and its <title>. The
// walk stops once the text passes max_text_bytes.
Extracted extract_html(std::string_view html, std::size_t max_text_bytes = SIZE_MAX);

}  // namespace sb::knowledge
