#pragma once
// Real files for the extractor tests, built in memory: a PDF with one text page per string
// (Helvetica, correct cross-reference table) and DOCX/ZIP archives (libarchive).

#include <string>
#include <utility>
#include <vector>

namespace sbtest {

// password_protected: the trailer names a Standard security handler whose user password is not
// empty (readers must ask for it), as a password-protected PDF's does.
std::string make_pdf(const std::vector<std::string>& pages, bool password_protected = false);
// A ZIP with these (path, content) entries (deflated).
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries);
// A DOCX of (paragraph style, text) paragraphs; style "" = body text, "Heading1", "Title", ...
std::string make_docx(const std::vector<std::pair<std::string, std::string>>& paragraphs,
                      const std::string& title = "");

}  // namespace sbtest
