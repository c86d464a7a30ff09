// RAG chat through the real binary, against a fake upstream that records the prompts it gets:
// sources numbered as cited, invented markers removed, no model call without sources, memory
// across turns (and across kill -9), the rewritten follow-up used for retrieval, the SSE events
// of /api/v1/chat and the OpenAI form (citations on the message or on the final chunk),
// conversations (list, get, soft delete, restore), the apology, and bad input.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "fake_upstream.hpp"
#include "harness.hpp"

namespace sbtest {
namespace {

namespace json = boost::json;

std::string config_for(FakeUpstream& up, const std::string& extra = "") {
  return "[gateway]\nmax_retries = 0\n" + extra +
         "[[providers]]\nname = \"fake\"\ntype = \"openai\"\nbase_url = \"" + up.url() + "/v1\"\n"
         "[[providers]]\nname = \"mock\"\ntype = \"mock\"\n"
         "[[assistants]]\nname = \"docs\"\ncollections = [\"kb\"]\nmodel = \"fake/gpt\"\nmode = \"keyword\"\n"
         "top_k = 3\nmemory_turns = 2\n";
}

Behavior sse(std::vector<std::string> datas) {
  Behavior b;
  b.headers = {{"Content-Type", "text/event-stream"}};
  for (auto& d : datas) b.chunks.push_back("data: " + d + "\n\n");
  b.chunks.push_back("data: [DONE]\n\n");
  return b;
}

std::string delta(const std::string& text) {
  return R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt","choices":[{"index":0,"delta":{"content":)" +
         json::serialize(json::string(text)) + R"(},"finish_reason":null}]})";
}

const std::map<std::string, std::string> kJson = {{"Content-Type", "application/json"}};

// The messages of the n-th request the upstream received.
json::array messages_of(FakeUpstream& up, std::size_t n) {
  auto got = up.received();
  if (got.size() <= n) return {};
  return json::parse(got[n].body).at("messages").as_array();
}

class ChatTest : public ::testing::Test {
 protected:
  void start(const std::string& extra = "", std::string data_dir = "") {
    server_ = std::make_unique<Server>(ServerOptions{.config_toml = config_for(up_, extra), .data_dir = data_dir});
  }
  void SetUp() override {
    start("", dir_.path());
    ASSERT_EQ(post("/api/v1/collections", R"({"name":"kb"})")->status, 201);
    ASSERT_EQ(post("/api/v1/index", R"({"collection":"kb","external_id":"fox","title":"Foxes","tags":["animals"],)"
                                    R"("text":"Foxes are red and clever animals."})")->status, 201);
    ASSERT_EQ(post("/api/v1/index", R"({"collection":"kb","external_id":"owl","title":"Owls",)"
                                    R"("text":"Owls hunt mice at night, and foxes hunt too."})")->status, 201);
  }
  std::optional<HttpResponse> post(const std::string& path, const std::string& body) {
    return http(server_->port(), "POST", path, body, kJson);
  }
  json::value ask(const std::string& body, int status = 200) {
    auto r = post("/api/v1/chat", body);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, status) << r->body;
    return json::parse(r->body);
  }
  TempDir dir_;  // the data dir, kept across restarts
  FakeUpstream up_;
  std::unique_ptr<Server> server_;
};

TEST_F(ChatTest, AnswersWithTheCitedSourcesAndDropsInventedMarkers) {
  up_.push(completion("Foxes are red [1]. Owls hunt at night [2][7]. See [1, 9]."));
  auto v = ask(R"({"assistant":"docs","question":"What do foxes and owls do?"})");
  EXPECT_EQ(v.at("answer"), "Foxes are red [1]. Owls hunt at night [2]. See [1].");
  const auto& citations = v.at("citations").as_array();
  ASSERT_EQ(citations.size(), 2u);
  EXPECT_EQ(citations[0].at("n"), 1);
  EXPECT_EQ(citations[1].at("n"), 2);
  ASSERT_EQ(v.at("sources").as_array().size(), 2u);
  // The prompt numbered the sources as the citations say.
  auto m = messages_of(up_, 0);
  ASSERT_EQ(m.size(), 2u);
  const std::string system(m[0].at("content").as_string());
  for (const auto& c : citations) {
    const std::string title(c.at("title").as_string());
    EXPECT_NE(system.find("[" + std::to_string(c.at("n").as_int64()) + "] " + title), std::string::npos) << system;
    EXPECT_FALSE(c.at("document_id").as_string().empty());
    EXPECT_TRUE(c.at("chunk_id").is_int64());
    EXPECT_GT(c.at("score").as_double(), 0);
  }
  EXPECT_NE(system.find("Foxes are red and clever animals."), std::string::npos);
  EXPECT_EQ(m[1].at("content"), "What do foxes and owls do?");
  EXPECT_EQ(v.at("finish_reason"), "stop");
  EXPECT_EQ(v.at("usage").at("total_tokens"), 7);
  EXPECT_TRUE(v.at("conversation_id").as_string().starts_with("conv_"));
  EXPECT_TRUE(v.at("message_id").as_string().starts_with("msg_"));
  auto metrics = http(server_->port(), "GET", "/metrics");
  EXPECT_NE(metrics->body.find("switchboard_chat_invented_citations_total{assistant=\"docs\"} 2"), std::string::npos);
}

TEST_F(ChatTest, NothingRelevantIsAnsweredWithoutCallingTheModel) {
  auto v = ask(R"({"assistant":"docs","question":"quantum chromodynamics"})");
  EXPECT_EQ(v.at("answer"), "I could not find anything about that in the documents.");
  EXPECT_TRUE(v.at("citations").as_array().empty());
  EXPECT_TRUE(v.at("model").is_null());
  EXPECT_TRUE(up_.received().empty());
}

TEST_F(ChatTest, FollowUpsAreRewrittenAndTheMemorySurvivesKill9) {
  up_.push(completion("Foxes are red [1]."));
  auto first = ask(R"({"assistant":"docs","question":"What colour are foxes?","session_id":"s1"})");
  EXPECT_EQ(first.at("session_id"), "s1");
  const std::string conv(first.at("conversation_id").as_string());
  // The follow-up: one rewrite call, then the answer with the first exchange as memory.
  up_.push(completion("owls hunting at night"));
  up_.push(completion("They hunt mice [1]."));
  auto second = ask(R"({"assistant":"docs","question":"and the other ones?","session_id":"s1"})");
  EXPECT_EQ(std::string(second.at("conversation_id").as_string()), conv);
  EXPECT_EQ(second.at("query"), "owls hunting at night");
  EXPECT_EQ(second.at("sources").at(0).at("title"), "Owls") << "retrieval searched the rewritten query";
  auto rewrite = messages_of(up_, 1);
  ASSERT_EQ(rewrite.size(), 2u);
  EXPECT_NE(std::string(rewrite[1].at("content").as_string()).find("What colour are foxes?"), std::string::npos);
  auto answer = messages_of(up_, 2);
  ASSERT_EQ(answer.size(), 4u);
  EXPECT_EQ(answer[1].at("content"), "What colour are foxes?");
  EXPECT_EQ(answer[2].at("content"), "Foxes are red [1].");
  EXPECT_EQ(answer[3].at("content"), "and the other ones?") << "the model answers the question as asked";

  // The turns were stored before they were answered: kill -9, start again on the same data.
  server_->kill9();
  start("", dir_.path());
  auto got = http(server_->port(), "GET", "/api/v1/conversations/" + conv);
  ASSERT_EQ(got->status, 200) << got->body;
  auto c = json::parse(got->body);
  EXPECT_EQ(c.at("turns"), 2);
  ASSERT_EQ(c.at("messages").as_array().size(), 2u);
  EXPECT_EQ(c.at("messages").at(1).at("query"), "owls hunting at night");
  EXPECT_EQ(c.at("messages").at(0).at("citations").at(0).at("n"), 1);
  up_.push(completion("owls"));
  up_.push(completion("Yes [1]."));
  auto third = ask(R"({"assistant":"docs","question":"really?","conversation_id":")" + conv + R"("})");
  auto memory = messages_of(up_, 4);
  ASSERT_EQ(memory.size(), 6u) << "memory_turns = 2: both earlier exchanges";
  EXPECT_EQ(memory[3].at("content"), "and the other ones?");
}

TEST_F(ChatTest, TheNativeStreamSendsRetrievalDeltasCitationsThenDone) {
  up_.push(sse({delta("Foxes [1"), delta("] are red [8]"), delta(" and owls hunt [2].")}));
  auto r = post("/api/v1/chat", R"({"assistant":"docs","question":"foxes and owls","stream":true})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  std::vector<std::string> names;
  std::string text;
  std::vector<json::value> datas;
  std::size_t pos = 0;
  while ((pos = r->body.find("event: ", pos)) != std::string::npos) {
    const std::size_t nl = r->body.find('\n', pos);
    names.push_back(r->body.substr(pos + 7, nl - pos - 7));
    const std::size_t end = r->body.find("\n\n", nl);
    datas.push_back(json::parse(r->body.substr(nl + 7, end - nl - 7)));
    if (names.back() == "delta") text += datas.back().at("text").as_string();
    pos = end;
  }
  ASSERT_GE(names.size(), 4u) << r->body;
  EXPECT_EQ(names.front(), "retrieval");
  EXPECT_EQ(datas.front().at("sources").as_array().size(), 2u);
  EXPECT_EQ(names.back(), "done");
  EXPECT_EQ(text, "Foxes [1] are red  and owls hunt [2].");
  std::vector<std::int64_t> cited;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "citation") cited.push_back(datas[i].at("n").as_int64());
  }
  EXPECT_EQ(cited, (std::vector<std::int64_t>{1, 2}));
  // Each citation event comes after the delta that closed its marker.
  const auto first_citation = std::find(names.begin(), names.end(), "citation") - names.begin();
  EXPECT_EQ(names[first_citation - 1], "delta");
  EXPECT_EQ(datas.back().at("citations").as_array().size(), 2u);
  EXPECT_TRUE(datas.back().at("conversation_id").as_string().starts_with("conv_"));
  EXPECT_TRUE(json::parse(up_.received().at(0).body).at("stream").as_bool());
}

TEST_F(ChatTest, OpenAiClientsTalkToAnAssistantWholeAndStreamed) {
  auto models = json::parse(http(server_->port(), "GET", "/v1/models")->body);
  bool listed = false;
  for (const auto& m : models.at("data").as_array()) listed = listed || m.at("id") == "assistant/docs";
  EXPECT_TRUE(listed);
  EXPECT_EQ(http(server_->port(), "GET", "/v1/models/assistant/docs")->status, 200);

  up_.push(completion("Foxes are red [1] [5]."));
  auto r = post("/v1/chat/completions",
                R"({"model":"assistant/docs","messages":[{"role":"user","content":"are foxes red?"}]})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = json::parse(r->body);
  EXPECT_EQ(v.at("object"), "chat.completion");
  EXPECT_EQ(v.at("model"), "assistant/docs");
  const auto& msg = v.at("choices").at(0).at("message");
  EXPECT_EQ(msg.at("content"), "Foxes are red [1] .");
  EXPECT_EQ(msg.at("citations").at(0).at("title"), "Foxes");
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), 3);
  const std::string conv(v.at("conversation_id").as_string());

  up_.push(completion("foxes colour"));
  up_.push(sse({delta("Red [1"), delta("]."),
                R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"}));
  auto s = post("/v1/chat/completions",
                R"({"model":"assistant/docs","stream":true,"stream_options":{"include_usage":true},"conversation":")" +
                    conv + R"(","messages":[{"role":"user","content":"which colour again?"}]})");
  ASSERT_EQ(s->status, 200) << s->body;
  std::vector<json::value> chunks;
  std::size_t pos = 0;
  bool done = false;
  while ((pos = s->body.find("data: ", pos)) != std::string::npos) {
    const std::size_t end = s->body.find("\n\n", pos);
    const std::string d = s->body.substr(pos + 6, end - pos - 6);
    if (d == "[DONE]") done = true;
    else chunks.push_back(json::parse(d));
    pos = end;
  }
  EXPECT_TRUE(done);
  ASSERT_GE(chunks.size(), 4u);
  EXPECT_EQ(chunks[0].at("choices").at(0).at("delta").at("role"), "assistant");
  std::string text;
  for (const auto& c : chunks) {
    if (!c.at("choices").as_array().empty()) {
      if (const auto* t = c.at("choices").at(0).at("delta").as_object().if_contains("content")) text += t->as_string();
    }
  }
  EXPECT_EQ(text, "Red [1].");
  const auto& last = chunks[chunks.size() - 2];
  EXPECT_EQ(last.at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_EQ(last.at("citations").at(0).at("n"), 1);
  EXPECT_EQ(std::string(last.at("conversation_id").as_string()), conv);
  EXPECT_TRUE(chunks.back().at("choices").as_array().empty());
  EXPECT_EQ(chunks.back().at("usage").at("total_tokens").as_int64() >= 0, true);
  // The conversation's memory was used (its first exchange in the answer's prompt).
  auto m = messages_of(up_, 2);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[1].at("content"), "are foxes red?");
}

TEST_F(ChatTest, ConversationsAreListedDeletedAndRestored) {
  up_.push(completion("Red [1]."));
  auto v = ask(R"({"assistant":"docs","question":"foxes?","session_id":"web-1"})");
  const std::string conv(v.at("conversation_id").as_string());
  auto list = json::parse(http(server_->port(), "GET", "/api/v1/conversations?assistant=docs")->body);
  ASSERT_EQ(list.at("data").as_array().size(), 1u);
  EXPECT_EQ(std::string(list.at("data").at(0).at("id").as_string()), conv);
  EXPECT_EQ(list.at("data").at(0).at("session_id"), "web-1");
  EXPECT_EQ(std::string(list.at("first_id").as_string()), conv);
  auto del = http(server_->port(), "DELETE", "/api/v1/conversations/" + conv);
  ASSERT_EQ(del->status, 200) << del->body;
  EXPECT_FALSE(json::parse(del->body).at("deleted_at").is_null());
  EXPECT_EQ(http(server_->port(), "DELETE", "/api/v1/conversations/" + conv)->status, 409);
  EXPECT_TRUE(json::parse(http(server_->port(), "GET", "/api/v1/conversations")->body).at("data").as_array().empty());
  EXPECT_EQ(json::parse(http(server_->port(), "GET", "/api/v1/conversations?deleted=true")->body).at("data").as_array().size(), 1u);
  ask(R"({"assistant":"docs","question":"foxes?","conversation_id":")" + conv + R"("})", 404);
  // The same session id starts afresh after the reset.
  up_.push(completion("Red [1]."));
  auto fresh = ask(R"({"assistant":"docs","question":"foxes?","session_id":"web-1"})");
  EXPECT_NE(std::string(fresh.at("conversation_id").as_string()), conv);
  EXPECT_EQ(http(server_->port(), "POST", "/api/v1/conversations/" + conv + "/restore")->status, 409)
      << "the session id is live again";
  EXPECT_EQ(http(server_->port(), "GET", "/api/v1/conversations/conv_nope")->status, 404);
}

TEST_F(ChatTest, BadRequestsAreRefusedWithTheirField) {
  auto check = [&](const std::string& path, const std::string& body, int status, const std::string& param) {
    auto r = post(path, body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << body << " -> " << r->body;
    auto v = json::parse(r->body);
    EXPECT_EQ(std::string(v.at("error").at("param").as_string()), param) << r->body;
  };
  check("/api/v1/chat", R"({"assistant":"docs"})", 400, "question");
  check("/api/v1/chat", R"({"assistant":"nope","question":"x"})", 404, "assistant");
  check("/api/v1/chat", R"({"assistant":"docs","model":"fake/gpt","question":"x"})", 400, "assistant");
  check("/api/v1/chat", R"({"question":"x"})", 400, "assistant");
  check("/api/v1/chat", R"({"assistant":"docs","question":"x","colour":1})", 400, "colour");
  check("/api/v1/chat", R"({"assistant":"docs","question":"x","top_k":0})", 400, "top_k");
  check("/api/v1/chat", R"({"assistant":"docs","question":"x","temperature":9})", 400, "temperature");
  check("/api/v1/chat", R"({"assistant":"docs","question":"x","filters":{"colour":"red"}})", 400, "filters.colour");
  check("/api/v1/chat", R"({"assistant":"docs","question":"x","session_id":""})", 400, "session_id");
  check("/v1/chat/completions", R"({"model":"assistant/nope","messages":[{"role":"user","content":"x"}]})", 404, "model");
  check("/v1/chat/completions", R"({"model":"assistant/docs","messages":[{"role":"assistant","content":"x"}]})", 400,
        "messages");
  check("/v1/chat/completions", R"({"model":"assistant/docs","messages":"x"})", 400, "messages");
  EXPECT_TRUE(up_.received().empty());
  // Collections and a model instead of an assistant.
  up_.push(completion("Owls [1]."));
  auto v = ask(R"({"collections":["kb"],"model":"fake/gpt","question":"owls at night","top_k":1})");
  EXPECT_EQ(v.at("sources").as_array().size(), 1u);
  EXPECT_EQ(v.at("answer"), "Owls [1].");
}

TEST_F(ChatTest, AnUpstreamFailureIsAnErrorOrTheConfiguredApology) {
  up_.push(failing(500));
  auto r = post("/api/v1/chat", R"({"assistant":"docs","question":"foxes?"})");
  EXPECT_EQ(r->status, 502) << r->body;
  server_->stop(SIGTERM);
  start("[chat]\napology = \"Sorry, something went wrong.\"\n", dir_.path());
  up_.push(failing(500));
  auto v = ask(R"({"assistant":"docs","question":"foxes?"})");
  EXPECT_EQ(v.at("answer"), "Sorry, something went wrong.");
  EXPECT_EQ(v.at("finish_reason"), "error");
  EXPECT_FALSE(v.at("request_id").as_string().empty());
  up_.push(failing(500));
  auto o = post("/v1/chat/completions", R"({"model":"assistant/docs","messages":[{"role":"user","content":"foxes?"}]})");
  ASSERT_EQ(o->status, 200);
  EXPECT_EQ(json::parse(o->body).at("choices").at(0).at("finish_reason"), "error");
}


TEST_F(ChatTest, ARepeatedQuestionIsAnsweredFromTheCacheAtNoCost) {
  up_.push(completion("Foxes are red [1]."));
  auto first = post("/api/v1/chat", R"({"assistant":"docs","question":"what colour are foxes?"})");
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(first->header("x-switchboard-cache"), "miss");
  auto again = post("/api/v1/chat", R"({"assistant":"docs","question":"what colour are foxes?"})");
  ASSERT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(again->header("x-switchboard-cache"), "hit");
  auto a = json::parse(first->body), b = json::parse(again->body);
  EXPECT_EQ(b.at("answer"), a.at("answer"));
  EXPECT_EQ(b.at("citations"), a.at("citations"));
  EXPECT_EQ(b.at("usage").at("total_tokens"), 0) << "a hit costs nothing";
  EXPECT_NE(b.at("conversation_id"), a.at("conversation_id")) << "each its own conversation";
  EXPECT_EQ(up_.received().size(), 1u);
  // A hit replays as a stream too, with its sources and citations.
  auto s = post("/api/v1/chat", R"({"assistant":"docs","question":"what colour are foxes?","stream":true})");
  ASSERT_EQ(s->status, 200);
  EXPECT_EQ(s->header("x-switchboard-cache"), "hit");
  EXPECT_EQ(s->body.find("event: retrieval"), 0u) << s->body;
  EXPECT_NE(s->body.find("event: citation"), std::string::npos) << s->body;
  EXPECT_NE(s->body.find(R"("text":"Foxes are red [1].")"), std::string::npos) << s->body;
  auto o = post("/v1/chat/completions",
                R"({"model":"assistant/docs","stream":true,"messages":[{"role":"user","content":"what colour are foxes?"}]})");
  EXPECT_EQ(o->header("x-switchboard-cache"), "hit");
  EXPECT_NE(o->body.find(R"("content":"Foxes are red [1].")"), std::string::npos) << o->body;
  EXPECT_EQ(up_.received().size(), 1u);
  auto metrics = http(server_->port(), "GET", "/metrics")->body;
  EXPECT_NE(metrics.find("switchboard_cache_hits_total 3"), std::string::npos) << metrics;
}

TEST_F(ChatTest, EveryKindOfCollectionWriteMakesTheNextAnswerFresh) {
  const std::string q = R"({"assistant":"docs","question":"foxes owls?"})";
  auto cache_of = [&]() {
    up_.push(completion("Answer [1]."));
    auto r = post("/api/v1/chat", q);
    EXPECT_EQ(r->status, 200) << r->body;
    return r->header("x-switchboard-cache");
  };
  EXPECT_EQ(cache_of(), "miss");
  EXPECT_EQ(cache_of(), "hit");
  // A new document.
  ASSERT_EQ(post("/api/v1/index", R"({"collection":"kb","external_id":"cat","title":"Cats","text":"Cats sleep."})")->status, 201);
  EXPECT_EQ(cache_of(), "miss");
  EXPECT_EQ(cache_of(), "hit");
  // A new version of one.
  auto v2 = post("/api/v1/index", R"({"collection":"kb","external_id":"fox","title":"Foxes","text":"Foxes are orange."})");
  ASSERT_EQ(v2->status, 200) << v2->body;
  EXPECT_EQ(cache_of(), "miss");
  // The same content again writes nothing, and changes nothing.
  ASSERT_EQ(post("/api/v1/index", R"({"collection":"kb","external_id":"fox","title":"Foxes","text":"Foxes are orange."})")->status, 200);
  EXPECT_EQ(cache_of(), "hit");
  // Deleted, then restored.
  const std::string id(json::parse(v2->body).at("id").as_string());
  ASSERT_EQ(http(server_->port(), "DELETE", "/api/v1/documents/" + id)->status, 200);
  EXPECT_EQ(cache_of(), "miss");
  ASSERT_EQ(http(server_->port(), "POST", "/api/v1/documents/" + id + "/restore")->status, 200);
  EXPECT_EQ(cache_of(), "miss");
  // The embedding model changed (switched in the background).
  auto change = http(server_->port(), "PATCH", "/api/v1/collections/kb", R"({"embedding_model":"mock/embed"})", kJson);
  ASSERT_EQ(change->status, 202) << change->body;
  bool switched = false;
  for (int i = 0; i < 250 && !switched; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto c = json::parse(http(server_->port(), "GET", "/api/v1/collections/kb")->body);
    switched = c.at("embedding_model") == "mock/embed";
  }
  ASSERT_TRUE(switched);
  EXPECT_EQ(cache_of(), "miss");
  // The collection deleted and made again.
  ASSERT_EQ(http(server_->port(), "DELETE", "/api/v1/collections/kb")->status, 200);
  ASSERT_EQ(post("/api/v1/collections", R"({"name":"kb"})")->status, 201);
  ASSERT_EQ(post("/api/v1/index", R"({"collection":"kb","title":"Owls","text":"Owls and foxes."})")->status, 201);
  EXPECT_EQ(cache_of(), "miss");
}

TEST_F(ChatTest, TheCacheHeaderAndTemperatureDecideWhatIsCached) {
  auto ask_with = [&](const std::string& body, const std::string& header) {
    up_.push(completion("Red [1]."));
    auto h = kJson;
    if (!header.empty()) h["x-switchboard-cache"] = header;
    auto r = http(server_->port(), "POST", "/api/v1/chat", body, h);
    EXPECT_EQ(r->status, 200) << r->body;
    return r->header("x-switchboard-cache");
  };
  const std::string q = R"({"assistant":"docs","question":"red foxes?"})";
  EXPECT_EQ(ask_with(q, "no-store"), "bypass");
  EXPECT_EQ(ask_with(q, ""), "miss") << "no-store kept nothing";
  EXPECT_EQ(ask_with(q, ""), "hit");
  EXPECT_EQ(ask_with(q, "no-cache"), "miss") << "asked again, and stored";
  const std::string warm = R"({"assistant":"docs","question":"red foxes?","temperature":0.7})";
  EXPECT_EQ(ask_with(warm, ""), "bypass");
  EXPECT_EQ(ask_with(warm, "force"), "miss");
  EXPECT_EQ(ask_with(warm, "force"), "hit");
  EXPECT_EQ(ask_with(R"({"assistant":"docs","question":"red foxes?","cache_ttl_s":1,"top_k":2})", ""), "miss");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(ask_with(R"({"assistant":"docs","question":"red foxes?","cache_ttl_s":1,"top_k":2})", ""), "miss") << "expired";
  auto bad = http(server_->port(), "POST", "/api/v1/chat", q, {{"Content-Type", "application/json"}, {"x-switchboard-cache", "sometimes"}});
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("x-switchboard-cache"), std::string::npos);
}

TEST_F(ChatTest, TheAskCommandPrintsTheAnswerItsSourcesAndTheConversation) {
  up_.push(completion("Foxes are red [1]."));
  const std::string server = " --server http://127.0.0.1:" + std::to_string(server_->port());
  auto r = run_in(".", "ask --assistant docs \"what colour are foxes?\"" + server);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("Foxes are red [1]."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1] Foxes (fox)"), std::string::npos) << r.out;
  const auto at = r.out.find("conversation: conv_");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string conv = r.out.substr(at + 14, 29);
  up_.push(completion("foxes"));
  up_.push(completion("Still red [1]."));
  auto again = run_in(".", "ask --assistant docs --conversation " + conv + " \"really?\"" + server);
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("conversation: " + conv), std::string::npos) << again.out;
  EXPECT_EQ(messages_of(up_, 2).size(), 4u) << "the first exchange was remembered";
  EXPECT_EQ(run_in(".", "ask --assistant nope x" + server).code, 1);
  EXPECT_EQ(run_in(".", "ask x" + server).code, 2) << "no assistant named";
  EXPECT_EQ(run_in(".", "ask --assistant docs x --server http://127.0.0.1:1").code, 2) << "unreachable";
}

TEST_F(ChatTest, AssistantsAreMadeChangedAndRemovedThroughTheApi) {
  auto made = post("/api/v1/assistants", R"({"name":"helper","collections":["kb"],"model":"fake/gpt",)"
                                         R"("retrieval":{"mode":"keyword","top_k":1}})");
  ASSERT_EQ(made->status, 201) << made->body;
  auto v = json::parse(made->body);
  const std::string id(v.at("id").as_string());
  EXPECT_TRUE(id.starts_with("asst_"));
  EXPECT_EQ(made->header("location"), "/api/v1/assistants/" + id);
  EXPECT_EQ(v.at("source"), "api");
  EXPECT_EQ(v.at("retrieval").at("top_k"), 1);
  EXPECT_EQ(v.at("memory_turns"), 20);
  up_.push(completion("Owls [1]."));
  auto a = ask(R"({"assistant":"helper","question":"owls at night"})");
  EXPECT_EQ(a.at("sources").as_array().size(), 1u);
  EXPECT_NE(http(server_->port(), "GET", "/v1/models")->body.find("assistant/helper"), std::string::npos);

  auto changed = http(server_->port(), "PATCH", "/api/v1/assistants/helper", R"({"retrieval":{"top_k":2}})", kJson);
  ASSERT_EQ(changed->status, 200) << changed->body;
  EXPECT_EQ(json::parse(changed->body).at("retrieval").at("top_k"), 2);
  EXPECT_EQ(json::parse(changed->body).at("retrieval").at("mode"), "keyword") << "the rest kept";
  auto check = [&](const std::string& method, const std::string& path, const std::string& body, int status,
                   const std::string& param) {
    auto r = http(server_->port(), method, path, body, kJson);
    EXPECT_EQ(r->status, status) << body << " -> " << r->body;
    if (!param.empty()) EXPECT_EQ(std::string(json::parse(r->body).at("error").at("param").as_string()), param) << r->body;
  };
  check("POST", "/api/v1/assistants", R"({"name":"helper","collections":["kb"],"model":"fake/gpt"})", 409, "name");
  check("POST", "/api/v1/assistants", R"({"name":"docs","collections":["kb"],"model":"fake/gpt"})", 409, "name");
  check("POST", "/api/v1/assistants", R"({"name":"x","collections":[],"model":"fake/gpt"})", 400, "collections");
  check("POST", "/api/v1/assistants", R"({"name":"x","collections":["kb"],"model":"nowhere/m"})", 404, "model");
  check("POST", "/api/v1/assistants", R"({"name":"Bad Name","collections":["kb"],"model":"fake/gpt"})", 400, "name");
  check("POST", "/api/v1/assistants", R"({"name":"x","collections":["kb"],"model":"fake/gpt","colour":1})", 400, "colour");
  check("POST", "/api/v1/assistants", R"({"name":"x","collections":["kb"],"model":"fake/gpt","retrieval":{"top_k":0}})",
        400, "retrieval.top_k");
  check("POST", "/api/v1/assistants",
        R"({"name":"x","collections":["kb"],"model":"fake/gpt","retrieval":{"filters":{"colour":"red"}}})", 400,
        "retrieval.filters.colour");
  check("PATCH", "/api/v1/assistants/docs", R"({"top_k":2})", 400, "top_k");
  check("PATCH", "/api/v1/assistants/docs", R"({"memory_turns":2})", 409, "");
  check("DELETE", "/api/v1/assistants/docs", "", 409, "");
  check("PATCH", "/api/v1/assistants/nope", R"({"memory_turns":2})", 404, "");

  // Stored: there after a restart, by name or id.
  server_->stop(SIGTERM);
  start("", dir_.path());
  auto again = http(server_->port(), "GET", "/api/v1/assistants/" + id);
  ASSERT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(json::parse(again->body).at("retrieval").at("top_k"), 2);
  auto list = json::parse(http(server_->port(), "GET", "/api/v1/assistants")->body);
  EXPECT_EQ(list.at("data").as_array().size(), 2u);
  auto gone = http(server_->port(), "DELETE", "/api/v1/assistants/helper");
  ASSERT_EQ(gone->status, 200) << gone->body;
  EXPECT_EQ(json::parse(gone->body).at("deleted"), true);
  EXPECT_EQ(http(server_->port(), "GET", "/api/v1/assistants/helper")->status, 404);
  ask(R"({"assistant":"helper","question":"owls"})", 404);
}

}  // namespace
}  // namespace sbtest
