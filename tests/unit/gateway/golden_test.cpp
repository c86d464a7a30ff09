// Golden translation cases, one folder per case under tests/golden/<provider>/<case>/:
//   request.json            the client's OpenAI request ("model" = the upstream model)
//   upstream_request.json   the provider request it must become
//   error_param.txt         instead: the request must be refused naming this field
//   upstream_response.json  a provider answer ...
//   response.json           ... and the OpenAI chat.completion it must become
//   upstream.sse            a provider stream (raw SSE bytes) ...
//   chunks.jsonl            ... and the OpenAI chunks it must become, one per line
//   stream_error.txt        instead: the stream must fail with a message containing this
// Streams are also fed split at every byte boundary, and one byte at a time.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gateway/translate.hpp"
#include "http/sse.hpp"

namespace sb::gateway {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct Dialect {
  std::function<core::Result<json::object>(const json::object&, const std::string&)> request;
  std::function<core::Result<json::object>(const json::value&, const TranslateContext&)> response;
  std::function<std::unique_ptr<StreamTranslator>(TranslateContext)> stream;
};

Dialect dialect(const std::string& provider) {
  if (provider == "anthropic") {
    return {[](const json::object& o, const std::string& m) {
              bool stream = o.contains("stream") && o.at("stream").is_bool() && o.at("stream").get_bool();
              return anthropic::request(o, m, stream);
            },
            anthropic::response, anthropic::stream_translator};
  }
  return {[](const json::object& o, const std::string&) { return gemini::request(o); }, gemini::response,
          gemini::stream_translator};
}

struct StreamOutcome {
  std::vector<json::value> chunks;
  std::string error;
};

// Feeds `pieces` of raw SSE through the parser and the translator.
StreamOutcome run_stream(const Dialect& d, const TranslateContext& ctx, const std::vector<std::string_view>& pieces) {
  StreamOutcome out;
  http::SseParser parser;
  auto tr = d.stream(ctx);
  std::vector<std::string> chunks;
  for (auto piece : pieces) {
    std::vector<std::string> datas;
    auto st = parser.feed(piece, [&](http::SseEvent&& e) { datas.push_back(std::move(e.data)); });
    if (!st) {
      out.error = st.error().message;
      return out;
    }
    for (const auto& data : datas) {
      chunks.clear();
      auto r = tr->feed(data, chunks);
      for (const auto& c : chunks) out.chunks.push_back(json::parse(c));
      if (!r) {
        out.error = r.error().message;
        return out;
      }
    }
  }
  if (!tr->complete()) out.error = "incomplete";
  return out;
}

void check_case(const std::string& provider, const fs::path& dir) {
  SCOPED_TRACE(dir.string());
  const Dialect d = dialect(provider);
  json::object req = json::parse(slurp(dir / "request.json")).as_object();
  std::string model(req.at("model").as_string());
  TranslateContext ctx = translate_context(req, model, 1700000000, "chatcmpl-test");

  auto up = d.request(req, model);
  if (fs::exists(dir / "error_param.txt")) {
    ASSERT_FALSE(up.ok()) << json::serialize(*up);
    EXPECT_EQ(up.error().param, trim(slurp(dir / "error_param.txt"))) << up.error().message;
    EXPECT_EQ(up.error().status(), 400);
    return;
  }
  ASSERT_TRUE(up.ok()) << up.error().message;
  if (fs::exists(dir / "upstream_request.json")) {
    json::value want = json::parse(slurp(dir / "upstream_request.json"));
    EXPECT_EQ(json::value(*up), want) << "got:  " << json::serialize(*up) << "\nwant: " << json::serialize(want);
  }
  if (fs::exists(dir / "upstream_response.json")) {
    auto res = d.response(json::parse(slurp(dir / "upstream_response.json")), ctx);
    ASSERT_TRUE(res.ok()) << res.error().message;
    json::value want = json::parse(slurp(dir / "response.json"));
    EXPECT_EQ(json::value(*res), want) << "got:  " << json::serialize(*res) << "\nwant: " << json::serialize(want);
  }
  if (fs::exists(dir / "upstream.sse")) {
    const std::string sse = slurp(dir / "upstream.sse");
    StreamOutcome whole = run_stream(d, ctx, {sse});
    if (fs::exists(dir / "stream_error.txt")) {
      EXPECT_NE(whole.error.find(trim(slurp(dir / "stream_error.txt"))), std::string::npos) << whole.error;
    } else {
      EXPECT_EQ(whole.error, "");
    }
    if (fs::exists(dir / "chunks.jsonl")) {
      std::vector<json::value> want;
      std::istringstream lines(slurp(dir / "chunks.jsonl"));
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty()) want.push_back(json::parse(line));
      }
      ASSERT_EQ(whole.chunks.size(), want.size());
      for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(whole.chunks[i], want[i]) << "chunk " << i << "\ngot:  " << json::serialize(whole.chunks[i])
                                            << "\nwant: " << json::serialize(want[i]);
      }
    }
    // The same bytes split anywhere give the same chunks.
    for (std::size_t cut = 1; cut < sse.size(); ++cut) {
      std::string_view all(sse);
      StreamOutcome split = run_stream(d, ctx, {all.substr(0, cut), all.substr(cut)});
      ASSERT_EQ(split.chunks, whole.chunks) << "split at byte " << cut;
      ASSERT_EQ(split.error, whole.error) << "split at byte " << cut;
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < sse.size(); ++i) bytes.push_back(std::string_view(sse).substr(i, 1));
    EXPECT_EQ(run_stream(d, ctx, bytes).chunks, whole.chunks) << "one byte at a time";
  }
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, EveryCaseTranslatesExactly) {
  fs::path root = fs::path(SB_SOURCE_DIR) / "tests" / "golden" / GetParam();
  ASSERT_TRUE(fs::is_directory(root)) << root;
  std::vector<fs::path> cases;
  for (const auto& e : fs::directory_iterator(root)) {
    if (e.is_directory()) cases.push_back(e.path());
  }
  std::sort(cases.begin(), cases.end());
  EXPECT_GE(cases.size(), 5u);
  for (const auto& c : cases) check_case(GetParam(), c);
}

INSTANTIATE_TEST_SUITE_P(Providers, Golden, ::testing::Values("anthropic", "gemini"));

}  // namespace
}  // namespace sb::gateway
