#include "knowledge/extract.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gumbo.h>
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>
#include <pugixml.hpp>

#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace sb::knowledge {

using core::Error;
using core::ErrorKind;

namespace {

constexpr std::string_view kPdf = "application/pdf";
constexpr std::string_view kDocx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The media type without parameters, lowercased.
std::string media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string t = lower(content_type.substr(0, semi));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  while (!t.empty() && t.front() == ' ') t.erase(t.begin());
  return t;
}

Error unprocessable(const std::string& what) { return Error(ErrorKind::unprocessable, what, "file"); }

// ---- HTML -------------------------------------------------------------------------------------

// The visible text of a parsed document, walked with an explicit stack: a document nested
// 100,000 elements deep costs a vector of frames, not the thread's stack.
class HtmlText {
 public:
  explicit HtmlText(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  void walk(const GumboNode* root) {
    if (enter(root)) stack_.push_back(Frame{root, 0, 0, Frame::Kind::plain});
    while (!stack_.empty() && out_.size() <= max_bytes_) {
      Frame& f = stack_.back();
      const GumboVector& children = f.node->type == GUMBO_NODE_DOCUMENT ? f.node->v.document.children
                                                                         : f.node->v.element.children;
      if (f.next < children.length) {
        const auto* child = static_cast<const GumboNode*>(children.data[f.next++]);
        if (enter(child)) stack_.push_back(Frame{child, 0, out_.size(), kind_of(child)});
        continue;
      }
      const Frame done = f;
      stack_.pop_back();
      leave(done);
    }
  }

  Extracted result() {
    Extracted e;
    e.content_type = "text/html";
    e.title = title_;
    e.text = std::move(out_);
    while (!e.text.empty() && (e.text.back() == '\n' || e.text.back() == ' ')) e.text.pop_back();
    return e;
  }

 private:
  static bool is_block(GumboTag t) {
    switch (t) {
      case GUMBO_TAG_P: case GUMBO_TAG_DIV: case GUMBO_TAG_LI: case GUMBO_TAG_UL: case GUMBO_TAG_OL:
      case GUMBO_TAG_TR: case GUMBO_TAG_TABLE: case GUMBO_TAG_SECTION: case GUMBO_TAG_ARTICLE:
      case GUMBO_TAG_HEADER: case GUMBO_TAG_FOOTER: case GUMBO_TAG_NAV: case GUMBO_TAG_ASIDE:
      case GUMBO_TAG_BLOCKQUOTE: case GUMBO_TAG_PRE: case GUMBO_TAG_DL: case GUMBO_TAG_DT:
      case GUMBO_TAG_DD: case GUMBO_TAG_FIGURE: case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_MAIN:
      case GUMBO_TAG_BODY: case GUMBO_TAG_HR: case GUMBO_TAG_FORM:
        return true;
      default:
        return false;
    }
  }

  struct Frame {
    enum class Kind { plain, title, heading };
    const GumboNode* node;
    unsigned next;     // the next child to visit
    std::size_t mark;  // out_'s size when the node was entered (title, heading)
    Kind kind;
  };

  static Frame::Kind kind_of(const GumboNode* node) {
    if (node->type != GUMBO_NODE_ELEMENT) return Frame::Kind::plain;
    const GumboTag tag = node->v.element.tag;
    if (tag == GUMBO_TAG_TITLE) return Frame::Kind::title;
    if (tag >= GUMBO_TAG_H1 && tag <= GUMBO_TAG_H6) return Frame::Kind::heading;
    return Frame::Kind::plain;
  }

  // Handles a node on the way down; true when its children are to be visited.
  bool enter(const GumboNode* node) {
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_CDATA || node->type == GUMBO_NODE_WHITESPACE) {
      inline_text(node->v.text.text);
      return false;
    }
    if (node->type == GUMBO_NODE_DOCUMENT) return true;
    if (node->type != GUMBO_NODE_ELEMENT) return false;
    const GumboTag tag = node->v.element.tag;
    switch (tag) {
      case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_TEMPLATE:
      case GUMBO_TAG_IFRAME: case GUMBO_TAG_SVG: case GUMBO_TAG_CANVAS: case GUMBO_TAG_OBJECT:
        return false;
      case GUMBO_TAG_BR:
        out_ += '\n';
        space_ = false;
        return false;
      default:
        break;
    }
    if (kind_of(node) == Frame::Kind::plain && is_block(tag)) block();
    return true;
  }

  // Handles a node on the way up: a title or heading takes the text written below it.
  void leave(const Frame& f) {
    if (f.kind == Frame::Kind::plain) {
      if (f.node->type == GUMBO_NODE_ELEMENT && is_block(f.node->v.element.tag)) block();
      return;
    }
    std::string inner = collapse(std::string_view(out_).substr(std::min(f.mark, out_.size())));
    out_.resize(std::min(f.mark, out_.size()));
    space_ = false;
    if (f.kind == Frame::Kind::title) {
      title_ = std::move(inner);
      return;
    }
    if (inner.empty()) return;
    const int level = static_cast<int>(f.node->v.element.tag - GUMBO_TAG_H1) + 1;
    block();
    out_ += std::string(static_cast<std::size_t>(level), '#') + " " + inner;
    block();
  }

  // Whitespace runs as single spaces, none at the ends.
  static std::string collapse(std::string_view in) {
    std::string out;
    bool sp = false;
    for (char ch : in) {
      if (std::isspace(static_cast<unsigned char>(ch))) {
        sp = !out.empty();
        continue;
      }
      if (sp) out += ' ';
      sp = false;
      out += ch;
    }
    return out;
  }

  void inline_text(const char* text) {
    for (const char* p = text; *p; ++p) {
      if (std::isspace(static_cast<unsigned char>(*p))) {
        space_ = true;
        continue;
      }
      if (space_ && !out_.empty() && out_.back() != '\n' && out_.back() != ' ') out_ += ' ';
      space_ = false;
      out_ += *p;
    }
  }

  void block() {
    while (!out_.empty() && out_.back() == ' ') out_.pop_back();
    if (!out_.empty() && !ends_with(out_, "\n\n")) out_ += out_.back() == '\n' ? "\n" : "\n\n";
    space_ = false;
  }

  std::size_t max_bytes_;
  std::vector<Frame> stack_;
  std::string out_, title_;
  bool space_ = false;
};

// ---- PDF --------------------------------------------------------------------------------------

std::mutex pdf_mu;  // poppler's global state is not safe to share between threads

core::Result<Extracted> extract_pdf(std::string_view bytes, const ExtractLimits& limits) {
  std::lock_guard lock(pdf_mu);
  static const bool quiet = [] {
    poppler::set_debug_error_function([](const std::string&, void*) {}, nullptr);
    return true;
  }();
  (void)quiet;
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX)) return unprocessable("PDF too large");
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!doc) return unprocessable("the PDF is corrupt or not a PDF");
  if (doc->is_locked()) return unprocessable("the PDF is encrypted (password protected)");
  Extracted e;
  e.content_type = std::string(kPdf);
  {
    auto t = doc->info_key("Title").to_utf8();
    e.title.assign(t.begin(), t.end());
  }
  const int n = doc->pages();
  std::size_t total = 0;
  for (int i = 0; i < n && total <= limits.max_text_bytes; ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    std::string text;
    if (page) {
      auto utf8 = page->text().to_utf8();
      text.assign(utf8.begin(), utf8.end());
    }
    total += text.size();
    e.pages.push_back(std::move(text));
  }
  if (e.pages.empty()) return unprocessable("the PDF has no pages");
  return e;
}

// ---- DOCX -------------------------------------------------------------------------------------

// The text of a paragraph's runs, in document order, walked with an explicit stack.
void docx_runs(const pugi::xml_node& paragraph, std::string& out, std::size_t max_bytes) {
  std::vector<pugi::xml_node> stack;
  for (auto c = paragraph.last_child(); c; c = c.previous_sibling()) stack.push_back(c);
  while (!stack.empty() && out.size() <= max_bytes) {
    const pugi::xml_node child = stack.back();
    stack.pop_back();
    const std::string_view name = child.name();
    if (name == "w:t") {
      out += child.text().get();
    } else if (name == "w:tab") {
      out += '\t';
    } else if (name == "w:br" || name == "w:cr") {
      out += '\n';
    } else if (name != "w:pPr" && name != "w:rPr") {
      for (auto c = child.last_child(); c; c = c.previous_sibling()) stack.push_back(c);
    }
  }
}

core::Result<Extracted> extract_docx(std::string_view bytes, const ExtractLimits& limits) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), &archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return unprocessable("the DOCX is not a readable ZIP archive");
  }
  std::string document, core_props;
  bool found = false;
  std::size_t unpacked = 0;
  archive_entry* entry = nullptr;
  for (;;) {
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return unprocessable("the DOCX archive is corrupt");
    const char* p = archive_entry_pathname(entry);
    const std::string name = p ? p : "";
    std::string* target = name == "word/document.xml" ? &document : name == "docProps/core.xml" ? &core_props : nullptr;
    if (!target) {
      archive_read_data_skip(a.get());
      continue;
    }
    found = found || target == &document;
    char buf[65536];
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
      if (n < 0) return unprocessable("the DOCX archive is corrupt (" + name + ")");
      if (n == 0) break;
      unpacked += static_cast<std::size_t>(n);
      if (unpacked > limits.max_unpacked_bytes) {
        return unprocessable("the DOCX unpacks to more than " + std::to_string(limits.max_unpacked_bytes) +
                             " bytes (a zip bomb?)");
      }
      target->append(buf, static_cast<std::size_t>(n));
    }
  }
  if (!found) return unprocessable("not a DOCX: the archive has no word/document.xml");
  pugi::xml_document xml;
  if (!xml.load_buffer(document.data(), document.size())) return unprocessable("the DOCX's document.xml is not valid XML");
  Extracted e;
  e.content_type = std::string(kDocx);
  pugi::xml_document props;
  if (!core_props.empty() && props.load_buffer(core_props.data(), core_props.size())) {
    e.title = props.child("cp:coreProperties").child("dc:title").text().get();
  }
  for (const auto& x : xml.select_nodes("//w:p")) {
    const auto p = x.node();
    std::string text;
    docx_runs(p, text, limits.max_text_bytes);
    if (text.find_first_not_of(" \t\n") == std::string::npos) continue;
    const std::string style = p.child("w:pPr").child("w:pStyle").attribute("w:val").as_string();
    int level = 0;
    if (style == "Title") level = 1;
    if (style.rfind("Heading", 0) == 0 && style.size() == 8 && style[7] >= '1' && style[7] <= '6') level = style[7] - '0';
    if (!e.text.empty()) e.text += "\n\n";
    if (level > 0) e.text += std::string(static_cast<std::size_t>(level), '#') + " ";
    e.text += text;
    if (e.text.size() > limits.max_text_bytes) break;  // extract() refuses it
  }
  return e;
}

}  // namespace

Extracted extract_html(std::string_view html, std::size_t max_text_bytes) {
  GumboOutput* out = gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size());
  HtmlText t(max_text_bytes);
  t.walk(out->document);
  gumbo_destroy_output(&kGumboDefaultOptions, out);
  return t.result();
}

namespace {

core::Result<Extracted> extract_any(std::string_view bytes, std::string_view content_type,
                                    std::string_view filename, const ExtractLimits& limits) {
  const std::string type = media_type(content_type);
  const std::string name = lower(filename);
  if (bytes.substr(0, 5) == "%PDF-") return extract_pdf(bytes, limits);
  if (type == kPdf || ends_with(name, ".pdf")) return unprocessable("the file is not a PDF (no %PDF- header)");
  const bool zip = bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4);
  if (zip && (type == kDocx || ends_with(name, ".docx"))) return extract_docx(bytes, limits);
  if (type == kDocx || ends_with(name, ".docx")) return unprocessable("the file is not a DOCX (not a ZIP archive)");
  if (zip) return Error(ErrorKind::unsupported_media_type, "ZIP archives other than DOCX are not supported", "file");
  // Text from here on: a NUL byte near the start means binary.
  if (bytes.substr(0, 8192).find('\0') != std::string_view::npos) {
    return Error(ErrorKind::unsupported_media_type,
                 "unsupported file type" + (type.empty() ? std::string() : " '" + type + "'") +
                     ": send text, Markdown, HTML, PDF or DOCX",
                 "file");
  }
  std::string head = lower(bytes.substr(0, 512));
  head.erase(0, head.find_first_not_of(" \t\r\n\xef\xbb\xbf"));
  const bool html_sniffed = head.rfind("<!doctype html", 0) == 0 || head.rfind("<html", 0) == 0;
  if (type == "text/html" || type == "application/xhtml+xml" || ends_with(name, ".html") ||
      ends_with(name, ".htm") || html_sniffed) {
    return extract_html(bytes, limits.max_text_bytes);
  }
  const bool markdown = type == "text/markdown" || ends_with(name, ".md") || ends_with(name, ".markdown");
  const bool text = markdown || type.empty() || type.rfind("text/", 0) == 0 || type == "application/octet-stream" ||
                    type == "application/json";
  if (!text) {
    return Error(ErrorKind::unsupported_media_type,
                 "unsupported file type '" + type + "': send text, Markdown, HTML, PDF or DOCX", "file");
  }
  Extracted e;
  e.content_type = markdown ? "text/markdown" : "text/plain";
  e.text.assign(bytes);
  return e;
}

}  // namespace

core::Result<Extracted> extract(std::string_view bytes, std::string_view content_type, std::string_view filename,
                                const ExtractLimits& limits) {
  auto r = extract_any(bytes, content_type, filename, limits);
  if (!r) return r;
  // Never stored as they came: a strict client reading the text back would fail on them.
  r->invalid_utf8 = core::repair_utf8(r->title) + core::repair_utf8(r->text);
  for (auto& p : r->pages) r->invalid_utf8 += core::repair_utf8(p);
  std::size_t total = r->text.size() + r->title.size();
  for (const auto& p : r->pages) total += p.size();
  if (total > limits.max_text_bytes) {
    return unprocessable("the document holds more than " + std::to_string(limits.max_text_bytes) +
                         " bytes of text (knowledge.max_extracted_chars)");
  }
  return r;
}

}  // namespace sb::knowledge
