#include "knowledge/extract.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gumbo.h>
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>
#include <pugixml.hpp>

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

class HtmlText {
 public:
  void walk(const GumboNode* node) {
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_CDATA || node->type == GUMBO_NODE_WHITESPACE) {
      inline_text(node->v.text.text);
      return;
    }
    if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_DOCUMENT) return;
    const GumboVector* children = node->type == GUMBO_NODE_DOCUMENT ? &node->v.document.children
                                                                     : &node->v.element.children;
    if (node->type == GUMBO_NODE_ELEMENT) {
      const GumboTag tag = node->v.element.tag;
      switch (tag) {
        case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_TEMPLATE:
        case GUMBO_TAG_IFRAME: case GUMBO_TAG_SVG: case GUMBO_TAG_CANVAS: case GUMBO_TAG_OBJECT:
          return;
        case GUMBO_TAG_TITLE:
          title_ = collect(node);
          return;
        case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3: case GUMBO_TAG_H4: case GUMBO_TAG_H5:
        case GUMBO_TAG_H6: {
          const int level = static_cast<int>(tag - GUMBO_TAG_H1) + 1;
          std::string heading = collect(node);
          if (!heading.empty()) {
            block();
            out_ += std::string(static_cast<std::size_t>(level), '#') + " " + heading;
            block();
          }
          return;
        }
        case GUMBO_TAG_BR:
          out_ += '\n';
          space_ = false;
          return;
        default:
          break;
      }
      if (is_block(tag)) block();
    }
    for (unsigned i = 0; i < children->length; ++i) walk(static_cast<const GumboNode*>(children->data[i]));
    if (node->type == GUMBO_NODE_ELEMENT && is_block(node->v.element.tag)) block();
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

  // The text below a node, whitespace collapsed.
  static std::string collect(const GumboNode* node) {
    HtmlText inner;
    if (node->type == GUMBO_NODE_ELEMENT) {
      const GumboVector& c = node->v.element.children;
      for (unsigned i = 0; i < c.length; ++i) {
        const auto* child = static_cast<const GumboNode*>(c.data[i]);
        if (child->type == GUMBO_NODE_ELEMENT) {
          inner.walk(child);
        } else if (child->type == GUMBO_NODE_TEXT || child->type == GUMBO_NODE_WHITESPACE ||
                   child->type == GUMBO_NODE_CDATA) {
          inner.inline_text(child->v.text.text);
        }
      }
    }
    std::string out;
    bool sp = false;
    for (char ch : inner.out_) {
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

  std::string out_, title_;
  bool space_ = false;
};

// ---- PDF --------------------------------------------------------------------------------------

std::mutex pdf_mu;  // poppler's global state is not safe to share between threads

core::Result<Extracted> extract_pdf(std::string_view bytes) {
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
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    std::string text;
    if (page) {
      auto utf8 = page->text().to_utf8();
      text.assign(utf8.begin(), utf8.end());
    }
    e.pages.push_back(std::move(text));
  }
  if (e.pages.empty()) return unprocessable("the PDF has no pages");
  return e;
}

// ---- DOCX -------------------------------------------------------------------------------------

void docx_runs(const pugi::xml_node& node, std::string& out) {
  for (auto child : node.children()) {
    const std::string_view name = child.name();
    if (name == "w:t") {
      out += child.text().get();
    } else if (name == "w:tab") {
      out += '\t';
    } else if (name == "w:br" || name == "w:cr") {
      out += '\n';
    } else if (name != "w:pPr" && name != "w:rPr") {
      docx_runs(child, out);
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
    docx_runs(p, text);
    if (text.find_first_not_of(" \t\n") == std::string::npos) continue;
    const std::string style = p.child("w:pPr").child("w:pStyle").attribute("w:val").as_string();
    int level = 0;
    if (style == "Title") level = 1;
    if (style.rfind("Heading", 0) == 0 && style.size() == 8 && style[7] >= '1' && style[7] <= '6') level = style[7] - '0';
    if (!e.text.empty()) e.text += "\n\n";
    if (level > 0) e.text += std::string(static_cast<std::size_t>(level), '#') + " ";
    e.text += text;
  }
  return e;
}

}  // namespace

Extracted extract_html(std::string_view html) {
  GumboOutput* out = gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size());
  HtmlText t;
  t.walk(out->document);
  gumbo_destroy_output(&kGumboDefaultOptions, out);
  return t.result();
}

core::Result<Extracted> extract(std::string_view bytes, std::string_view content_type, std::string_view filename,
                                const ExtractLimits& limits) {
  const std::string type = media_type(content_type);
  const std::string name = lower(filename);
  if (bytes.substr(0, 5) == "%PDF-") return extract_pdf(bytes);
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
    return extract_html(bytes);
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

}  // namespace sb::knowledge
