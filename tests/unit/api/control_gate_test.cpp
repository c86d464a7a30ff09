// The gate's helpers: what a route needs, the cheap body scan, and the client's address behind
// trusted proxies.

#include <gtest/gtest.h>

#include "api/control_gate.hpp"

namespace sb::api {
namespace {

TEST(RouteRule, ScopesFollowTheIssue) {
  EXPECT_EQ(route_rule("POST", "/v1/chat/completions").scope, control::kChat);
  EXPECT_TRUE(route_rule("POST", "/v1/chat/completions").metered);
  EXPECT_EQ(route_rule("POST", "/v1/messages").scope, control::kChat);
  EXPECT_EQ(route_rule("POST", "/v1/responses").scope, control::kChat);
  EXPECT_EQ(route_rule("POST", "/v1/embeddings").scope, control::kEmbeddings);
  EXPECT_EQ(route_rule("GET", "/v1/models").scope, 0u);
  EXPECT_EQ(route_rule("POST", "/api/v1/jobs").scope, control::kJobs);
  EXPECT_EQ(route_rule("GET", "/api/v1/status/{id}").scope, control::kJobs);
  EXPECT_EQ(route_rule("DELETE", "/api/v1/jobs/{id}").action, "job.cancelled");
  EXPECT_EQ(route_rule("POST", "/api/v1/search").scope, control::kKnowledgeRead);
  EXPECT_EQ(route_rule("POST", "/api/v1/chat").scope, control::kChat);
  EXPECT_TRUE(route_rule("POST", "/api/v1/chat").metered);
  // A fan-out is limited leg by leg, not as one request.
  EXPECT_EQ(route_rule("POST", "/api/v1/fanout").scope, control::kChat);
  EXPECT_TRUE(route_rule("POST", "/api/v1/fanout").legs);
  EXPECT_FALSE(route_rule("POST", "/api/v1/fanout").metered);
  EXPECT_FALSE(route_rule("POST", "/api/v1/chat").legs);
  EXPECT_EQ(route_rule("GET", "/api/v1/assistants").scope, control::kChat);
  EXPECT_EQ(route_rule("GET", "/api/v1/conversations/{id}").scope, control::kChat);
  EXPECT_EQ(route_rule("DELETE", "/api/v1/conversations/{id}").action, "conversation.deleted");
  EXPECT_EQ(route_rule("POST", "/api/v1/conversations/{id}/restore").action, "conversation.restored");
  EXPECT_EQ(route_rule("GET", "/api/v1/documents/{id}").scope, control::kKnowledgeRead);
  EXPECT_EQ(route_rule("POST", "/api/v1/documents").scope, control::kKnowledgeWrite);
  EXPECT_EQ(route_rule("POST", "/api/v1/documents").action, "document.created");
  EXPECT_EQ(route_rule("DELETE", "/api/v1/collections/{name}").action, "collection.deleted");
  EXPECT_EQ(route_rule("POST", "/api/v1/documents/{id}/restore").action, "document.restored");
  EXPECT_EQ(route_rule("GET", "/api/v1/keys").scope, control::kAdmin);
  EXPECT_EQ(route_rule("POST", "/api/v1/keys/{id}/rotate").action, "key.rotated");
  EXPECT_EQ(route_rule("GET", "/api/v1/audit").scope, control::kAdmin);
  EXPECT_EQ(route_rule("POST", "/api/v1/providers/{name}/test").scope, control::kAdmin);
  EXPECT_EQ(route_rule("POST", "/api/v1/config/reload").action, "config.reloaded");
  EXPECT_EQ(route_rule("GET", "/api/v1/usage").scope, 0u);
  EXPECT_EQ(route_rule("GET", "/api/v1/rate-limit/status").scope, 0u);
  EXPECT_EQ(route_rule("GET", "/api/v1/something/new").scope, control::kAdmin);  // unnamed: admins only
  EXPECT_EQ(route_rule("GET", "/health").scope, 0u);
}

TEST(Scan, FindsTheFirstStringOrIntegerValueOfAKey) {
  std::string body = R"({"messages":[{"role":"user","content":"model"}], "model" : "openai/gpt-4o", "max_tokens":12})";
  EXPECT_EQ(scan_string(body, "model"), "openai/gpt-4o");
  EXPECT_EQ(scan_integer(body, "max_tokens"), 12);
  EXPECT_FALSE(scan_integer(body, "max_completion_tokens"));
  EXPECT_FALSE(scan_string(R"({"embedding_model":"x"})", "model"));
  EXPECT_FALSE(scan_string(R"({"model":"a\"b"})", "model"));
  EXPECT_EQ(scan_string(R"({"tools":{"model":{"type":"string"}},"model":"m"})", "model"), "m");
  EXPECT_FALSE(scan_string(R"({"model":"unterminated)", "model"));
  EXPECT_FALSE(scan_integer(R"({"max_tokens":-5})", "max_tokens"));
  EXPECT_FALSE(scan_string("", "model"));
  EXPECT_EQ(scan_max_tokens(R"({"max_tokens":5,"max_completion_tokens":7})"), 7);
  EXPECT_EQ(scan_max_tokens(R"({"max_output_tokens" : 9, "max_tokens":5})"), 5);
  EXPECT_EQ(scan_max_tokens(R"({"max_output_tokens":9})"), 9);
  EXPECT_FALSE(scan_max_tokens(R"({"max_tokens":"5","max_x":1,"max_)"));
}

TEST(ClientIp, BelievesXForwardedForOnlyFromTrustedProxies) {
  const std::vector<std::string> trusted = {"10.0.0.0/8", "192.168.1.1"};
  EXPECT_EQ(client_ip("203.0.113.5", "1.2.3.4", trusted), "203.0.113.5");  // not a proxy: ignored
  EXPECT_EQ(client_ip("10.1.2.3", "1.2.3.4", trusted), "1.2.3.4");
  // A client that sends its own X-Forwarded-For cannot hide behind it: the rightmost untrusted wins.
  EXPECT_EQ(client_ip("10.1.2.3", "6.6.6.6, 1.2.3.4, 192.168.1.1", trusted), "1.2.3.4");
  EXPECT_EQ(client_ip("10.1.2.3", "garbage", trusted), "10.1.2.3");
  EXPECT_EQ(client_ip("10.1.2.3", "", trusted), "10.1.2.3");
  EXPECT_EQ(client_ip("10.1.2.3", "1.2.3.4", {}), "10.1.2.3");
  EXPECT_EQ(client_ip("::1", "2001:db8::1", {"::1"}), "2001:db8::1");
}

}  // namespace
}  // namespace sb::api

namespace sb::api {
namespace {

TEST(ControlRules, AnAssistantNamedInTheBodyIsCheckedAsItsModel) {
  EXPECT_EQ(models_of(R"({"assistant":"docs","question":"x"})"), (std::vector<std::string>{"assistant/docs"}));
  EXPECT_EQ(models_of(R"({"models":["a/x","b/y",3],"request":{}})"), (std::vector<std::string>{"a/x", "b/y"}));
  EXPECT_EQ(models_of(R"({"model":"assistant/docs","messages":[]})"), (std::vector<std::string>{"assistant/docs"}));
}

}  // namespace
}  // namespace sb::api
