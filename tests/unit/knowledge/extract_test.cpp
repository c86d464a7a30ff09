#include "knowledge/extract.hpp"

#include <gtest/gtest.h>

#include "documents.hpp"

namespace sb::knowledge {
namespace {

using core::ErrorKind;

TEST(Extract, HtmlKeepsVisibleTextAndHeadingsAndDropsScriptsAndStyles) {
  const std::string html =
      "<!DOCTYPE html><html><head><title>Leave  policy</title><style>p{color:red}</style>"
      "<script>var secret = 'hidden';</script></head><body><nav>Home</nav><h1>Holidays</h1>"
      "<p>Employees get <b>25 days</b>\n of paid holiday.</p><noscript>enable js</noscript>"
      "<h2>Sick <i>leave</i></h2><ul><li>Call your manager.</li><li>Rest.</li></ul></body></html>";
  auto e = extract(html, "text/html; charset=utf-8", "");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->content_type, "text/html");
  EXPECT_EQ(e->title, "Leave policy");
  EXPECT_NE(e->text.find("# Holidays\n\nEmployees get 25 days of paid holiday."), std::string::npos) << e->text;
  EXPECT_NE(e->text.find("## Sick leave"), std::string::npos) << e->text;
  EXPECT_NE(e->text.find("Call your manager.\n\nRest."), std::string::npos) << e->text;
  EXPECT_EQ(e->text.find("secret"), std::string::npos);
  EXPECT_EQ(e->text.find("color"), std::string::npos);
  EXPECT_EQ(e->text.find("enable js"), std::string::npos);
  // Sniffed without a type or name.
  auto sniffed = extract("  <html><body><p>Hi</p></body></html>", "", "");
  ASSERT_TRUE(sniffed);
  EXPECT_EQ(sniffed->content_type, "text/html");
  EXPECT_EQ(sniffed->text, "Hi");
}

TEST(Extract, PdfTextPerPage) {
  const std::string pdf = sbtest::make_pdf({"First page about zebras.", "Second page about lions.", "Third."});
  auto e = extract(pdf, "application/pdf", "animals.pdf");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->content_type, "application/pdf");
  ASSERT_EQ(e->pages.size(), 3u);
  EXPECT_NE(e->pages[0].find("zebras"), std::string::npos) << e->pages[0];
  EXPECT_NE(e->pages[1].find("lions"), std::string::npos) << e->pages[1];
  EXPECT_EQ(e->pages[0].find("lions"), std::string::npos);
}

TEST(Extract, BrokenPdfsAreUnprocessable) {
  auto truncated = extract("%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "application/pdf", "x.pdf");
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().kind, ErrorKind::unprocessable);
  auto not_pdf = extract("hello", "application/pdf", "x.pdf");
  ASSERT_FALSE(not_pdf);
  EXPECT_EQ(not_pdf.error().kind, ErrorKind::unprocessable);
  auto locked = extract(sbtest::make_pdf({"Secret page."}, true), "application/pdf", "secret.pdf");
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().kind, ErrorKind::unprocessable);
  EXPECT_NE(locked.error().message.find("encrypted"), std::string::npos) << locked.error().message;
  EXPECT_TRUE(extract(sbtest::make_pdf({"Open page."}, false), "application/pdf", "open.pdf"));
}

TEST(Extract, DocxParagraphsWithHeadingStyles) {
  const std::string docx = sbtest::make_docx(
      {{"Title", "Handbook"}, {"Heading1", "Holidays"}, {"", "Employees get 25 days."}, {"Heading2", "Carry-over"},
       {"", "Five days carry over."}},
      "The Handbook");
  auto e = extract(docx, "", "handbook.docx");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->title, "The Handbook");
  EXPECT_EQ(e->text, "# Handbook\n\n# Holidays\n\nEmployees get 25 days.\n\n## Carry-over\n\nFive days carry over.");
}

TEST(Extract, BadAndHostileArchivesAreRefused) {
  auto not_zip = extract("definitely not a zip", "", "report.docx");
  ASSERT_FALSE(not_zip);
  EXPECT_EQ(not_zip.error().kind, ErrorKind::unprocessable);
  auto no_document = extract(sbtest::make_zip({{"readme.txt", "hi"}}), "", "report.docx");
  ASSERT_FALSE(no_document);
  EXPECT_EQ(no_document.error().kind, ErrorKind::unprocessable);
  // A zip bomb: 8 MB of zeros deflates to a few KB; the limit stops it.
  const std::string bomb = sbtest::make_zip({{"word/document.xml", std::string(8 << 20, '\0')}});
  EXPECT_LT(bomb.size(), 100000u);
  auto refused = extract(bomb, "", "bomb.docx", ExtractLimits{1 << 20});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::unprocessable);
  EXPECT_NE(refused.error().message.find("zip bomb"), std::string::npos);
  auto other_zip = extract(sbtest::make_zip({{"a.txt", "hi"}}), "application/zip", "a.zip");
  ASSERT_FALSE(other_zip);
  EXPECT_EQ(other_zip.error().kind, ErrorKind::unsupported_media_type);
}

TEST(Extract, TextMarkdownAndBinary) {
  auto md = extract("# Title\n\nBody", "", "notes.md");
  ASSERT_TRUE(md);
  EXPECT_EQ(md->content_type, "text/markdown");
  EXPECT_EQ(md->text, "# Title\n\nBody");
  auto txt = extract("plain words", "text/plain", "");
  ASSERT_TRUE(txt);
  EXPECT_EQ(txt->content_type, "text/plain");
  auto binary = extract(std::string("\x89PNG\r\n\x1a\n\0\0\0", 11), "image/png", "x.png");
  ASSERT_FALSE(binary);
  EXPECT_EQ(binary.error().kind, ErrorKind::unsupported_media_type);
  auto image = extract("GIF89a", "image/gif", "x.gif");
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().kind, ErrorKind::unsupported_media_type);
}

TEST(Extract, DeepNestingIsWalkedWithoutRecursion) {
  // 200,000 levels: a recursive walk would overflow a thread's 8 MiB stack.
  std::string xml = R"(<w:document xmlns:w="w"><w:body><w:p>)";
  for (int i = 0; i < 200000; ++i) xml += "<w:r>";
  xml += "<w:t>deep</w:t>";
  for (int i = 0; i < 200000; ++i) xml += "</w:r>";
  xml += "</w:p></w:body></w:document>";
  auto docx = extract(sbtest::make_zip({{"word/document.xml", xml}}), "", "deep.docx");
  ASSERT_TRUE(docx) << docx.error().message;
  EXPECT_EQ(docx->text, "deep");
  std::string html = "<title>T</title><h1>";
  for (int i = 0; i < 20000; ++i) html += "<span>";
  html += "heading";
  for (int i = 0; i < 20000; ++i) html += "</span>";
  html += "</h1><p>body</p>";
  auto e = extract(html, "text/html", "");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->title, "T");
  EXPECT_EQ(e->text, "# heading\n\nbody");
}

TEST(Extract, TextPastTheLimitIsRefused) {
  ExtractLimits limits;
  limits.max_text_bytes = 100;
  auto big = extract(std::string(101, 'a'), "text/plain", "", limits);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().kind, ErrorKind::unprocessable);
  EXPECT_TRUE(extract(std::string(90, 'a'), "text/plain", "", limits));
  std::string html = "<p>";
  for (int i = 0; i < 1000; ++i) html += "word ";
  EXPECT_FALSE(extract(html, "text/html", "", limits));
  EXPECT_FALSE(extract(sbtest::make_pdf({std::string(60, 'x'), std::string(60, 'y')}), "", "", limits));
}

TEST(Extract, InvalidUtf8IsRepairedAndCounted) {
  auto e = extract("caf\xc3 and \xff", "text/plain", "");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->text, "caf\xef\xbf\xbd and \xef\xbf\xbd");
  EXPECT_EQ(e->invalid_utf8, 2u);
}

}  // namespace
}  // namespace sb::knowledge
