#include "gateway/json_splice.hpp"

#include <gtest/gtest.h>

namespace sb::gateway {
namespace {

TEST(SpliceModel, ReplacesOnlyTheModelValue) {
  const std::string in = R"(  { "z" : 1e-7 ,"model":  "gpt" , "t":0.70, "u":"\u00e9" }  )";
  EXPECT_EQ(splice_model(in, "gpt-4o").value(), R"(  { "z" : 1e-7 ,"model":  "gpt-4o" , "t":0.70, "u":"\u00e9" }  )");
}

TEST(SpliceModel, SkipsNestedModelsAndStringsThatLookLikeJson) {
  const std::string in =
      R"({"messages":[{"model":"inner","content":"\"model\": {[\\"}],"meta":{"model":"x"},"model":"m"})";
  EXPECT_EQ(splice_model(in, "up").value(),
            R"({"messages":[{"model":"inner","content":"\"model\": {[\\"}],"meta":{"model":"x"},"model":"up"})");
}

TEST(SpliceModel, EscapedQuotesAndBackslashesInStrings) {
  const std::string in = R"({"a":"x\"y","b":"\\","c":"\\\"q","d":"\\\\","model":"m","e":"\"model\":1"})";
  EXPECT_EQ(splice_model(in, "z").value(),
            R"({"a":"x\"y","b":"\\","c":"\\\"q","d":"\\\\","model":"z","e":"\"model\":1"})");
  EXPECT_FALSE(splice_model(R"({"a":"unterminated)", "m"));
}

TEST(SpliceModel, AnEscapedKeyStillCounts) {
  EXPECT_EQ(splice_model(R"({"mod\u0065l":"a","n":1})", "b").value(), R"({"mod\u0065l":"b","n":1})");
}

TEST(SpliceModel, TheNewNameIsEscaped) {
  EXPECT_EQ(splice_model(R"({"model":"a"})", "q\"x").value(), R"({"model":"q\"x"})");
}

TEST(SpliceModel, RefusesWhatItCannotSpliceExactly) {
  EXPECT_FALSE(splice_model(R"([1,2])", "m"));
  EXPECT_FALSE(splice_model(R"({"n":1})", "m"));
  EXPECT_FALSE(splice_model(R"({"model":"a","model":"b"})", "m"));
  EXPECT_FALSE(splice_model("", "m"));
}

TEST(RenameModel, TheFirstTopLevelModelIsRenamedInPlace) {
  std::string answer = R"({"id":"x","choices":[{"model":"no"}],"model":"a","model":"b"})";
  EXPECT_TRUE(rename_model(answer, "smart"));
  EXPECT_EQ(answer, R"({"id":"x","choices":[{"model":"no"}],"model":"smart","model":"b"})");
  std::string none = R"({"id":"x"})";
  EXPECT_FALSE(rename_model(none, "m"));
  EXPECT_EQ(none, R"({"id":"x"})");
  std::string out = "data: ";
  append_renamed(out, R"({"model":"up","n":1})", "asked");
  EXPECT_EQ(out, R"(data: {"model":"asked","n":1})");
  out.clear();
  append_renamed(out, "[DONE", "asked");
  EXPECT_EQ(out, "[DONE");
}

TEST(SpliceModel, ValuesOfEveryKindAreSkipped) {
  const std::string in = R"({"a":[1,[2,{"b":"]"}]],"c":true,"d":null,"e":-0.5E+3,"f":{},"model":7})";
  EXPECT_EQ(splice_model(in, "m").value(), R"({"a":[1,[2,{"b":"]"}]],"c":true,"d":null,"e":-0.5E+3,"f":{},"model":"m"})");
}

}  // namespace
}  // namespace sb::gateway
