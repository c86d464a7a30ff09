#pragma once
// Real files for the extractor tests, built in memory: a PDF with one text page per string
// (Helvetica, correct cross-reference table) and DOCX/ZIP archives (libarchive).

#include <string>
#include <utility>
#include <vector>

namespace sbtest {

std::string make_pdf(const std::vector<std::string>& pages);
// A ZIP with these (path, content) entries (deflated).
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries);
// A DOCX of (paragraph style, text) paragraphs; style "" = body text, "Heading1", "Title", ...
std::string make_docx(const std::vector<std::pair<std::string, std::string>>& paragraphs,
                      const std::string& title = "");

}  // namespace sbtest
